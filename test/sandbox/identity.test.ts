/**
 * The sandbox's identity side against raw HTTP and against the real, unmodified @azure/identity
 * clients: the App Service managed identity endpoint (plain HTTP) and Entra's v2.0 discovery and
 * token endpoints (HTTPS, self-signed certificate trusted per client).
 */
import {
  AuthenticationRequiredError,
  ClientAssertionCredential,
  CredentialUnavailableError,
  ManagedIdentityCredential,
} from '@azure/identity';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entraV1Issuer, entraV2Issuer } from '../../sandbox/identity-context.js';
import { TOKEN_EXCHANGE_APP_ID } from '../../sandbox/world.js';
import type { Application, World } from '../../sandbox/world.js';
import { identityWorld, rawRequest, startIdentityServers, testGuid } from '../support/identity-world.js';
import type { IdentityServers, IdentityWorldIds, RawResponse } from '../support/identity-world.js';

const EXCHANGE = 'api://AzureADTokenExchange';
const ARM_SCOPE = 'https://management.azure.com/.default';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let world: World;
let ids: IdentityWorldIds;
let servers: IdentityServers;
/** Seed 003's wrong setup: an app registered in the customer tenant with an FIC trusting the home issuer. */
let customerRegisteredAppId: string;

function addApp(app: Omit<Application, 'federatedIdentityCredentials'> & Partial<Application>): Application {
  const full: Application = { federatedIdentityCredentials: [], ...app };
  world.applications.push(full);
  return full;
}

beforeAll(async () => {
  ({ world, ids } = identityWorld({ customers: 3 }));
  // Customer 2 has not provisioned the app (no SP): the multitenant app is not in that directory.
  world.servicePrincipals = world.servicePrincipals.filter((sp) => sp.tenantId !== ids.customerTenantIds[1]);
  customerRegisteredAppId = testGuid(5, 2);
  addApp({
    appId: customerRegisteredAppId,
    displayName: 'Tenant Fleet (registered by the customer)',
    homeTenantId: ids.customerTenantIds[0]!,
    signInAudience: 'AzureADMyOrg',
    federatedIdentityCredentials: [
      {
        name: 'contoso-umi',
        issuer: entraV2Issuer(ids.homeTenantId),
        subject: ids.miPrincipalId,
        audiences: [EXCHANGE],
      },
    ],
  });
  world.servicePrincipals.push({
    appId: customerRegisteredAppId,
    tenantId: ids.customerTenantIds[0]!,
    objectId: testGuid(6, 100),
  });
  servers = await startIdentityServers(world);
  // The SDK's App Service source reads these when a ManagedIdentityCredential is constructed.
  delete process.env.MSI_ENDPOINT;
  delete process.env.MSI_SECRET;
  delete process.env.IDENTITY_SERVER_THUMBPRINT;
  delete process.env.AZURE_FEDERATED_TOKEN_FILE;
  process.env.IDENTITY_ENDPOINT = servers.identityEndpoint;
  process.env.IDENTITY_HEADER = servers.identityHeader;
});

afterAll(async () => {
  await servers?.close();
});

/** A raw MI request; `query` is appended as given; `header: null` sends no X-IDENTITY-HEADER. */
function miRequest(query: string, header: string | null = servers.identityHeader): Promise<RawResponse> {
  return rawRequest(`${servers.identityEndpoint}?${query}`, {
    headers: header === null ? {} : { 'X-IDENTITY-HEADER': header },
  });
}

async function miToken(resource = EXCHANGE): Promise<string> {
  const response = await miRequest(
    `api-version=2019-08-01&resource=${encodeURIComponent(resource)}&client_id=${ids.miClientId}`,
  );
  expect(response.status).toBe(200);
  return response.json.access_token as string;
}

function tokenRequest(
  tenant: string,
  fields: Record<string, string | undefined>,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) form.set(key, value);
  return rawRequest(
    `${servers.authorityHost}/${tenant}/oauth2/v2.0/token?client-request-id=${testGuid(9, 9)}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: form.toString(),
      ca: servers.tls.certPem,
    },
  );
}

function clientCredentials(clientId: string, assertion: string, scope = ARM_SCOPE): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    client_id: clientId,
    scope,
    client_assertion_type: JWT_BEARER,
    client_assertion: assertion,
  };
}

/** Asserts an Entra error answer: status, OAuth error, code, description prefix, and no echoed secrets. */
function expectEntraError(
  response: RawResponse,
  status: number,
  error: string,
  code: number,
  secrets: string[] = [],
) {
  expect(response.status).toBe(status);
  expect(response.json.error).toBe(error);
  expect(response.json.error_codes).toEqual([code]);
  const description = response.json.error_description as string;
  expect(description.startsWith(`AADSTS${code}: `)).toBe(true);
  expect(description).toMatch(
    / Trace ID: [0-9a-f-]{36} Correlation ID: [0-9a-f-]{36} Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/,
  );
  expect(response.json.error_uri).toBe(`https://login.microsoftonline.com/error?code=${code}`);
  expect(response.json.trace_id).toMatch(/^[0-9a-f-]{36}$/);
  for (const secret of secrets) expect(response.text).not.toContain(secret);
  return description;
}

describe('managed identity endpoint (App Service 2019-08-01, raw HTTP)', () => {
  it('answers an MI token with seed-003 claims, signed by the home tenant, resource echoed exactly', async () => {
    const before = servers.ctx.counters.managedIdentity;
    const response = await miRequest(
      `api-version=2019-08-01&resource=${EXCHANGE}&client_id=${ids.miClientId}`,
    );
    expect(response.status).toBe(200);
    expect(servers.ctx.counters.managedIdentity).toBe(before + 1);
    const { access_token, expires_on, resource, token_type, client_id } = response.json;
    expect(resource).toBe(EXCHANGE);
    expect(token_type).toBe('Bearer');
    expect(client_id).toBe(ids.miClientId);
    expect(typeof expires_on).toBe('string');
    const expiresIn = Number(expires_on) - Date.now() / 1000;
    expect(expiresIn).toBeGreaterThan(24 * 3600 - 60);
    expect(expiresIn).toBeLessThanOrEqual(24 * 3600);
    const claims = decodeJwt(access_token as string);
    expect(claims).toMatchObject({
      aud: TOKEN_EXCHANGE_APP_ID,
      iss: entraV2Issuer(ids.homeTenantId),
      sub: ids.miPrincipalId,
      oid: ids.miPrincipalId,
      azp: ids.miClientId,
      azpacr: '2',
      idtyp: 'app',
      tid: ids.homeTenantId,
      ver: '2.0',
      xms_mirid: ids.miResourceId,
    });
    expect(claims.exp).toBe(Number(expires_on));
    // Verifiable for real against the home tenant's key.
    const verified = await servers.ctx.keys.verify(access_token as string, { tenantId: ids.homeTenantId });
    expect(verified.sub).toBe(ids.miPrincipalId);
  });

  it('maps the US Gov and China exchange audiences to the exchange app id; other resources are the aud', async () => {
    for (const resource of ['api://AzureADTokenExchangeUSGov', 'api://AzureADTokenExchangeChina']) {
      expect(decodeJwt(await miToken(resource)).aud).toBe(TOKEN_EXCHANGE_APP_ID);
    }
    const response = await miRequest(
      `api-version=2019-08-01&resource=https://vault.azure.net&client_id=${ids.miClientId}`,
    );
    expect(response.json.resource).toBe('https://vault.azure.net');
    expect(decodeJwt(response.json.access_token as string).aud).toBe('https://vault.azure.net');
  });

  it('selects the identity by object_id / principal_id / mi_res_id as well as client_id', async () => {
    for (const selector of [
      `object_id=${ids.miPrincipalId}`,
      `principal_id=${ids.miPrincipalId.toUpperCase()}`,
      `mi_res_id=${encodeURIComponent(ids.miResourceId)}`,
    ]) {
      const response = await miRequest(`api-version=2019-08-01&resource=${EXCHANGE}&${selector}`);
      expect(response.status).toBe(200);
      expect(response.json.client_id).toBe(ids.miClientId);
    }
  });

  it('refuses a missing or wrong X-IDENTITY-HEADER with 403, naming the header, never echoing it', async () => {
    const query = `api-version=2019-08-01&resource=${EXCHANGE}&client_id=${ids.miClientId}`;
    const missing = await miRequest(query, null);
    expect(missing.status).toBe(403);
    expect(missing.json).toMatchObject({ statusCode: 403 });
    expect(missing.json.message).toContain('X-IDENTITY-HEADER');
    const wrong = await miRequest(query, 'not-the-header-value');
    expect(wrong.status).toBe(403);
    expect(wrong.text).not.toContain('not-the-header-value');
    expect(wrong.text).not.toContain(servers.identityHeader);
    expect(wrong.json.access_token).toBeUndefined();
  });

  it('refuses an unsupported or missing api-version with ASP.NET API versioning errors', async () => {
    const old = await miRequest(`api-version=2017-09-01&resource=${EXCHANGE}&client_id=${ids.miClientId}`);
    expect(old.status).toBe(400);
    expect(old.json.error).toMatchObject({ code: 'UnsupportedApiVersion' });
    expect((old.json.error as { message: string }).message).toContain(
      "does not support the API version '2017-09-01'",
    );
    const none = await miRequest(`resource=${EXCHANGE}&client_id=${ids.miClientId}`);
    expect(none.status).toBe(400);
    expect(none.json.error).toMatchObject({ code: 'ApiVersionUnspecified' });
  });

  it('refuses a request without resource', async () => {
    const response = await miRequest(`api-version=2019-08-01&client_id=${ids.miClientId}`);
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({ statusCode: 400 });
    expect(response.json.message).toContain("'resource'");
  });

  it('refuses an unknown identity and one that is not assigned to the function app', async () => {
    const unknown = await miRequest(
      `api-version=2019-08-01&resource=${EXCHANGE}&client_id=${testGuid(3, 99)}`,
    );
    expect(unknown.status).toBe(400);
    expect(unknown.json.message).toBe(
      'No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.',
    );
    expect(unknown.json.correlationId).toMatch(/^[0-9a-f-]{36}$/);

    const onlyOther = await startIdentityServers(world, { assignedClientIds: [testGuid(3, 42)] });
    try {
      const response = await rawRequest(
        `${onlyOther.identityEndpoint}?api-version=2019-08-01&resource=${EXCHANGE}&client_id=${ids.miClientId}`,
        { headers: { 'X-IDENTITY-HEADER': onlyOther.identityHeader } },
      );
      expect(response.status).toBe(400);
      expect(response.json.message).toMatch(/^No User Assigned or Delegated Managed Identity found/);
    } finally {
      await onlyOther.close();
    }
  });

  it('refuses a request naming no identity (the app has no system-assigned identity)', async () => {
    const response = await miRequest(`api-version=2019-08-01&resource=${EXCHANGE}`);
    expect(response.status).toBe(400);
    expect(response.json.message).toBe('Unable to load the proper Managed Identity.');
  });

  it('answers 404 off /msi/token and 405 for other methods', async () => {
    const elsewhere = await rawRequest(servers.identityEndpoint.replace('/msi/token', '/metadata/identity'));
    expect(elsewhere.status).toBe(404);
    const post = await rawRequest(`${servers.identityEndpoint}?api-version=2019-08-01`, {
      method: 'POST',
      headers: { 'X-IDENTITY-HEADER': servers.identityHeader },
    });
    expect(post.status).toBe(405);
  });
});

describe('Entra discovery (raw HTTPS)', () => {
  it('publishes the v2.0 OpenID configuration on the authority host, by tenant id or domain', async () => {
    const before = servers.ctx.counters.discovery;
    for (const segment of [ids.homeTenantId, 'contoso.onmicrosoft.com']) {
      const response = await rawRequest(
        `${servers.authorityHost}/${segment}/v2.0/.well-known/openid-configuration`,
        {
          ca: servers.tls.certPem,
        },
      );
      expect(response.status).toBe(200);
      const base = `${servers.authorityHost}/${ids.homeTenantId}`;
      expect(response.json).toMatchObject({
        issuer: `${base}/v2.0`,
        token_endpoint: `${base}/oauth2/v2.0/token`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        jwks_uri: `${base}/discovery/v2.0/keys`,
        id_token_signing_alg_values_supported: ['RS256'],
      });
      expect(new URL(response.json.issuer as string).host).toBe(new URL(servers.authorityHost).host);
    }
    expect(servers.ctx.counters.discovery).toBe(before + 2);
  });

  it('answers AADSTS90002 invalid_tenant for an unknown tenant', async () => {
    const response = await rawRequest(
      `${servers.authorityHost}/nowhere.onmicrosoft.com/v2.0/.well-known/openid-configuration`,
      {
        ca: servers.tls.certPem,
      },
    );
    const description = expectEntraError(response, 400, 'invalid_tenant', 90002);
    expect(description).toContain("Tenant 'nowhere.onmicrosoft.com' not found.");
  });

  it("publishes the tenant's JWKS, which verifies its tokens (and only its tokens)", async () => {
    const jwks = await rawRequest(`${servers.authorityHost}/${ids.homeTenantId}/discovery/v2.0/keys`, {
      ca: servers.tls.certPem,
    });
    expect(jwks.status).toBe(200);
    const keySet = createLocalJWKSet(jwks.json as { keys: [] });
    const { payload } = await jwtVerify(await miToken(), keySet, { issuer: entraV2Issuer(ids.homeTenantId) });
    expect(payload.sub).toBe(ids.miPrincipalId);
    const other = await servers.ctx.keys.sign(ids.customerTenantIds[0]!, { sub: 'x' });
    await expect(jwtVerify(other, keySet)).rejects.toThrow();
  });
});

describe('Entra token endpoint: failures (raw HTTPS)', () => {
  it('AADSTS90002 for an unknown tenant (invalid_request on the token endpoint)', async () => {
    const assertion = await miToken();
    const response = await tokenRequest(testGuid(1, 777), clientCredentials(ids.appId, assertion));
    expectEntraError(response, 400, 'invalid_request', 90002, [assertion]);
  });

  it('AADSTS900144 naming each missing parameter', async () => {
    const assertion = await miToken();
    const complete = clientCredentials(ids.appId, assertion);
    for (const parameter of ['grant_type', 'client_id', 'scope', 'client_assertion_type']) {
      const response = await tokenRequest(ids.homeTenantId, { ...complete, [parameter]: undefined });
      const description = expectEntraError(response, 400, 'invalid_request', 900144, [assertion]);
      expect(description).toContain(`The request body must contain the following parameter: '${parameter}'.`);
    }
  });

  it('AADSTS7000218 (401 invalid_client) without a client assertion', async () => {
    const response = await tokenRequest(ids.homeTenantId, {
      ...clientCredentials(ids.appId, ''),
      client_assertion: undefined,
    });
    expectEntraError(response, 401, 'invalid_client', 7000218);
  });

  it('AADSTS70003 for an unsupported grant type, AADSTS90011 for another assertion type', async () => {
    const assertion = await miToken();
    const grant = await tokenRequest(ids.homeTenantId, {
      ...clientCredentials(ids.appId, assertion),
      grant_type: 'password',
    });
    expect(expectEntraError(grant, 400, 'unsupported_grant_type', 70003, [assertion])).toContain(
      "'password'",
    );
    const type = await tokenRequest(ids.homeTenantId, {
      ...clientCredentials(ids.appId, assertion),
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
    });
    expectEntraError(type, 400, 'invalid_request', 90011, [assertion]);
  });

  it('AADSTS1002012 for a scope without /.default, AADSTS28000 for two resources', async () => {
    const assertion = await miToken();
    const bad = await tokenRequest(
      ids.homeTenantId,
      clientCredentials(ids.appId, assertion, 'https://graph.microsoft.com/User.Read'),
    );
    expect(expectEntraError(bad, 400, 'invalid_scope', 1002012, [assertion])).toContain(
      'https://graph.microsoft.com/User.Read',
    );
    const two = await tokenRequest(
      ids.homeTenantId,
      clientCredentials(ids.appId, assertion, `${ARM_SCOPE} https://storage.azure.com/.default`),
    );
    expectEntraError(two, 400, 'invalid_scope', 28000, [assertion]);
  });

  it('AADSTS900561 for a GET on the token endpoint', async () => {
    const response = await rawRequest(`${servers.authorityHost}/${ids.homeTenantId}/oauth2/v2.0/token`, {
      ca: servers.tls.certPem,
    });
    expectEntraError(response, 400, 'invalid_request', 900561);
  });

  it('AADSTS700016 for an unknown app, a multitenant app not provisioned, a single-tenant app elsewhere', async () => {
    const assertion = await miToken();
    const unknown = await tokenRequest(ids.homeTenantId, clientCredentials(testGuid(5, 404), assertion));
    expect(expectEntraError(unknown, 400, 'unauthorized_client', 700016, [assertion])).toContain(
      `Application with identifier '${testGuid(5, 404)}' was not found in the directory 'Contoso'.`,
    );
    const notProvisioned = await tokenRequest(
      ids.customerTenantIds[1]!,
      clientCredentials(ids.appId, assertion),
    );
    expect(expectEntraError(notProvisioned, 400, 'unauthorized_client', 700016, [assertion])).toContain(
      "directory 'Customer 2'",
    );
    // A single-tenant app is not usable elsewhere, even with an SP there.
    const single = addApp({
      appId: testGuid(5, 3),
      displayName: 'Single',
      homeTenantId: ids.homeTenantId,
      signInAudience: 'AzureADMyOrg',
    });
    world.servicePrincipals.push({
      appId: single.appId,
      tenantId: ids.customerTenantIds[2]!,
      objectId: testGuid(6, 300),
    });
    const response = await tokenRequest(
      ids.customerTenantIds[2]!,
      clientCredentials(single.appId, assertion),
    );
    expectEntraError(response, 400, 'unauthorized_client', 700016, [assertion]);
  });

  it('AADSTS7000112 while the app is disabled in that customer tenant only, then tokens again', async () => {
    const assertion = await miToken();
    const customer = ids.customerTenantIds[0]!;
    const servicePrincipal = world.servicePrincipals.find(
      (sp) => sp.appId === ids.appId && sp.tenantId === customer,
    )!;
    servicePrincipal.accountEnabled = false;
    try {
      const disabled = await tokenRequest(customer, clientCredentials(ids.appId, assertion));
      const app = world.applications.find((candidate) => candidate.appId === ids.appId)!;
      expect(expectEntraError(disabled, 400, 'unauthorized_client', 7000112, [assertion])).toContain(
        `Application '${ids.appId}'(${app.displayName}) is disabled.`,
      );
      // Only that tenant: the home tenant still answers a token.
      expect((await tokenRequest(ids.homeTenantId, clientCredentials(ids.appId, assertion))).status).toBe(
        200,
      );
    } finally {
      servicePrincipal.accountEnabled = true;
    }
    expect((await tokenRequest(customer, clientCredentials(ids.appId, assertion))).status).toBe(200);
  });

  it('AADSTS50027 for an assertion that is not a JWT', async () => {
    const response = await tokenRequest(ids.homeTenantId, clientCredentials(ids.appId, 'not-a-jwt'));
    expectEntraError(response, 400, 'invalid_request', 50027, ['not-a-jwt']);
  });

  it('AADSTS700236 (seed 003): an Entra-issued token for an app registered in another tenant', async () => {
    const assertion = await miToken();
    const response = await tokenRequest(
      ids.customerTenantIds[0]!,
      clientCredentials(customerRegisteredAppId, assertion),
    );
    const description = expectEntraError(response, 401, 'invalid_client', 700236, [assertion]);
    expect(description).toContain(
      `AADSTS700236: Entra ID tokens issued by issuer '${entraV2Issuer(ids.homeTenantId)}' may not be used for federated identity credential flows for applications or managed identities registered in this tenant.`,
    );
    // The client-request-id is echoed as the correlation id, as Entra does.
    expect(response.json.correlation_id).toBe(testGuid(9, 9));
  });

  it('AADSTS70021 for an app without any FIC', async () => {
    const app = addApp({
      appId: testGuid(5, 10),
      displayName: 'No FIC',
      homeTenantId: ids.homeTenantId,
      signInAudience: 'AzureADMultipleOrgs',
    });
    const assertion = await miToken();
    const response = await tokenRequest(ids.homeTenantId, clientCredentials(app.appId, assertion));
    const description = expectEntraError(response, 401, 'invalid_client', 70021, [assertion]);
    expect(description).toContain(`Assertion Issuer: '${entraV2Issuer(ids.homeTenantId)}'.`);
    expect(description).toContain(`Assertion Subject: '${ids.miPrincipalId}'.`);
  });

  it('AADSTS700211 when no FIC trusts the issuer', async () => {
    const app = addApp({
      appId: testGuid(5, 11),
      displayName: 'GitHub FIC only',
      homeTenantId: ids.homeTenantId,
      signInAudience: 'AzureADMultipleOrgs',
      federatedIdentityCredentials: [
        {
          name: 'gh',
          issuer: 'https://token.actions.githubusercontent.com',
          subject: 'repo:o/r:ref:refs/heads/main',
          audiences: [EXCHANGE],
        },
      ],
    });
    const assertion = await miToken();
    const response = await tokenRequest(ids.homeTenantId, clientCredentials(app.appId, assertion));
    expect(expectEntraError(response, 401, 'invalid_client', 700211, [assertion])).toContain(
      `presented assertion issuer '${entraV2Issuer(ids.homeTenantId)}'`,
    );
  });

  it('AADSTS7000272 when the signing key is not in the issuer metadata; AADSTS700027 for a bad signature', async () => {
    // Signed by the customer tenant's key but claiming the home tenant as issuer.
    const forged = await servers.ctx.keys.sign(ids.customerTenantIds[0]!, {
      iss: entraV2Issuer(ids.homeTenantId),
      sub: ids.miPrincipalId,
      aud: TOKEN_EXCHANGE_APP_ID,
    });
    const foreignKey = await tokenRequest(ids.homeTenantId, clientCredentials(ids.appId, forged));
    expectEntraError(foreignKey, 401, 'invalid_client', 7000272, [forged]);

    // An issuer outside the sandbox's Entra (here GitHub) publishes no metadata the sandbox can read.
    const github = 'https://token.actions.githubusercontent.com';
    const ghApp = addApp({
      appId: testGuid(5, 14),
      displayName: 'GitHub FIC',
      homeTenantId: ids.homeTenantId,
      signInAudience: 'AzureADMultipleOrgs',
      federatedIdentityCredentials: [
        { name: 'gh', issuer: github, subject: 'repo:o/r:ref:refs/heads/main', audiences: [EXCHANGE] },
      ],
    });
    const ghToken = await servers.ctx.keys.sign(ids.homeTenantId, {
      iss: github,
      sub: 'repo:o/r:ref:refs/heads/main',
      aud: EXCHANGE,
    });
    const ghResponse = await tokenRequest(ids.homeTenantId, clientCredentials(ghApp.appId, ghToken));
    expect(expectEntraError(ghResponse, 401, 'invalid_client', 7000272, [ghToken])).toContain(
      `metadata of identity provider ${github}.`,
    );

    // A real MI token whose payload was altered after signing.
    const [header, payload, signature] = (await miToken()).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const tampered = [
      header,
      Buffer.from(JSON.stringify({ ...claims, xms_extra: 'x' })).toString('base64url'),
      signature,
    ].join('.');
    const response = await tokenRequest(ids.homeTenantId, clientCredentials(ids.appId, tampered));
    expect(expectEntraError(response, 401, 'invalid_client', 700027, [tampered])).toContain(
      'invalid signature',
    );
  });

  it('AADSTS700024 when the assertion is expired or not yet valid by the sandbox clock', async () => {
    const assertion = await miToken();
    try {
      servers.setClockOffset(25 * 3600 * 1000);
      const expired = await tokenRequest(ids.homeTenantId, clientCredentials(ids.appId, assertion));
      expect(expectEntraError(expired, 401, 'invalid_client', 700024, [assertion])).toMatch(
        /Current time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z, assertion valid from .+, expiry time of assertion .+\./,
      );
      servers.setClockOffset(-3600 * 1000);
      const early = await tokenRequest(ids.homeTenantId, clientCredentials(ids.appId, assertion));
      expectEntraError(early, 401, 'invalid_client', 700024, [assertion]);
      // Within Entra's 5 minute skew after expiry the assertion is still accepted.
      servers.setClockOffset((24 * 3600 + 120) * 1000);
      expect((await tokenRequest(ids.homeTenantId, clientCredentials(ids.appId, assertion))).status).toBe(
        200,
      );
    } finally {
      servers.setClockOffset(0);
    }
  });

  it('AADSTS700213 on subject mismatch, AADSTS700212 on audience mismatch', async () => {
    const otherSubject = addApp({
      appId: testGuid(5, 12),
      displayName: 'Other subject',
      homeTenantId: ids.homeTenantId,
      signInAudience: 'AzureADMultipleOrgs',
      federatedIdentityCredentials: [
        {
          name: 'other',
          issuer: entraV2Issuer(ids.homeTenantId),
          subject: testGuid(4, 2),
          audiences: [EXCHANGE],
        },
      ],
    });
    const otherAudience = addApp({
      appId: testGuid(5, 13),
      displayName: 'Other audience',
      homeTenantId: ids.homeTenantId,
      signInAudience: 'AzureADMultipleOrgs',
      federatedIdentityCredentials: [
        {
          name: 'aud',
          issuer: entraV2Issuer(ids.homeTenantId),
          subject: ids.miPrincipalId,
          audiences: ['api://something-else'],
        },
      ],
    });
    const assertion = await miToken();
    const subject = await tokenRequest(ids.homeTenantId, clientCredentials(otherSubject.appId, assertion));
    expect(expectEntraError(subject, 401, 'invalid_client', 700213, [assertion])).toContain(
      `presented assertion subject '${ids.miPrincipalId}'`,
    );
    const audience = await tokenRequest(ids.homeTenantId, clientCredentials(otherAudience.appId, assertion));
    expect(expectEntraError(audience, 401, 'invalid_client', 700212, [assertion])).toContain(
      `presented assertion audience '${TOKEN_EXCHANGE_APP_ID}'`,
    );
    // The literal audience also matches an FIC audience of api://AzureADTokenExchange.
    const literal = await servers.ctx.keys.sign(ids.homeTenantId, {
      iss: entraV2Issuer(ids.homeTenantId),
      sub: ids.miPrincipalId,
      aud: EXCHANGE,
    });
    expect((await tokenRequest(ids.homeTenantId, clientCredentials(ids.appId, literal))).status).toBe(200);
  });

  it('AADSTS500011 for an unknown resource', async () => {
    const assertion = await miToken();
    const response = await tokenRequest(
      ids.homeTenantId,
      clientCredentials(ids.appId, assertion, 'https://vault.azure.net/.default'),
    );
    expect(expectEntraError(response, 400, 'invalid_resource', 500011, [assertion])).toContain(
      'The resource principal named https://vault.azure.net was not found in the tenant named Contoso.',
    );
  });
});

describe('Entra token endpoint: success (raw HTTPS)', () => {
  it('answers a v1.0 access token of the customer SP, signed by the customer tenant, and counts per tenant', async () => {
    const assertion = await miToken();
    const customer = ids.customerTenantIds[0]!;
    const before = servers.ctx.counters.tokenByTenant.get('customer1.onmicrosoft.com') ?? 0;
    const response = await tokenRequest(
      'customer1.onmicrosoft.com',
      clientCredentials(ids.appId, assertion, 'https://storage.azure.com//.default'),
    );
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
    expect(servers.ctx.counters.tokenByTenant.get('customer1.onmicrosoft.com')).toBe(before + 1);
    // `//.default` names the resource with its trailing slash, and the audience keeps it
    // (https://learn.microsoft.com/azure/active-directory/develop/msal-v1-app-scopes: "note the two slashes").
    const claims = await servers.ctx.keys.verify(response.json.access_token as string, {
      tenantId: customer,
      audience: 'https://storage.azure.com/',
    });
    expect(claims).toMatchObject({
      aud: 'https://storage.azure.com/',
      iss: entraV1Issuer(customer),
      idp: entraV1Issuer(customer),
      appid: ids.appId,
      appidacr: '2',
      idtyp: 'app',
      oid: ids.customerSpObjectIds[0],
      sub: ids.customerSpObjectIds[0],
      tid: customer,
      ver: '1.0',
    });
    expect(claims.exp! - claims.iat!).toBe(3600);
  });
});

describe('the real SDK: ManagedIdentityCredential + ClientAssertionCredential', () => {
  function fleetCredential(tenantId: string, appId: string, mi: ManagedIdentityCredential, tls = true) {
    return new ClientAssertionCredential(
      tenantId,
      appId,
      async () => (await mi.getToken(`${EXCHANGE}/.default`)).token,
      {
        authorityHost: servers.authorityHost,
        disableInstanceDiscovery: true,
        ...(tls ? { tlsOptions: { ca: servers.tls.certPem } } : {}),
      },
    );
  }

  it('ManagedIdentityCredential gets an MI token with the seed-003 claims', async () => {
    const mi = new ManagedIdentityCredential({ clientId: ids.miClientId });
    const token = await mi.getToken(`${EXCHANGE}/.default`);
    expect(decodeJwt(token.token)).toMatchObject({
      aud: TOKEN_EXCHANGE_APP_ID,
      iss: entraV2Issuer(ids.homeTenantId),
      sub: ids.miPrincipalId,
      oid: ids.miPrincipalId,
      tid: ids.homeTenantId,
    });
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 23 * 3600 * 1000);
  });

  it('the assertion works in the home tenant (no SP there: no oid), trusting the sandbox via tlsOptions only', async () => {
    const mi = new ManagedIdentityCredential({ clientId: ids.miClientId });
    const token = await fleetCredential(ids.homeTenantId, ids.appId, mi).getToken(ARM_SCOPE);
    const claims = decodeJwt(token.token);
    expect(claims).toMatchObject({
      aud: 'https://management.azure.com',
      tid: ids.homeTenantId,
      appid: ids.appId,
      ver: '1.0',
    });
    expect(claims.oid).toBeUndefined();
    // Without tlsOptions the same credential does not trust the self-signed certificate: the TLS
    // handshake fails before any request reaches the sandbox (MSAL reports endpoints resolution).
    const discoveryBefore = servers.ctx.counters.discovery;
    const untrusting = await fleetCredential(ids.homeTenantId, ids.appId, mi, false)
      .getToken(ARM_SCOPE)
      .catch((e: unknown) => e);
    expect(untrusting).toBeInstanceOf(CredentialUnavailableError);
    expect((untrusting as Error).message).toContain('endpoints_resolution_error');
    expect(servers.ctx.counters.discovery).toBe(discoveryBefore);
  });

  it('seed 003: an app registered in the customer tenant fails with AADSTS700236', async () => {
    const mi = new ManagedIdentityCredential({ clientId: ids.miClientId });
    const error = await fleetCredential(ids.customerTenantIds[0]!, customerRegisteredAppId, mi)
      .getToken(ARM_SCOPE)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationRequiredError);
    expect((error as Error).message).toContain('700236');
    expect((error as Error).message).toContain('invalid_client');
  });

  it('the multitenant app fails with AADSTS700016 until the customer provisions its SP, then works', async () => {
    const mi = new ManagedIdentityCredential({ clientId: ids.miClientId });
    const customer = ids.customerTenantIds[1]!;
    const credential = fleetCredential(customer, ids.appId, mi);
    const error = await credential.getToken(ARM_SCOPE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationRequiredError);
    expect((error as Error).message).toContain('700016');

    // The customer runs New-AzADServicePrincipal -ApplicationId <appId>: the live world changes.
    const objectId = testGuid(6, 222);
    world.servicePrincipals.push({ appId: ids.appId, tenantId: customer, objectId });
    // Customer 2 unprovisioned again afterwards: other tests rely on the app not being in that directory.
    try {
      const token = await credential.getToken(ARM_SCOPE);
      expect(decodeJwt(token.token)).toMatchObject({
        aud: 'https://management.azure.com',
        iss: entraV1Issuer(customer),
        idp: entraV1Issuer(customer),
        appid: ids.appId,
        appidacr: '2',
        idtyp: 'app',
        oid: objectId,
        sub: objectId,
        tid: customer,
        ver: '1.0',
      });
      expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3500 * 1000);
    } finally {
      world.servicePrincipals.splice(
        world.servicePrincipals.findIndex((sp) => sp.objectId === objectId),
        1,
      );
    }
  });
});

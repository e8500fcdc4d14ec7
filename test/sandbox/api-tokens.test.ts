/**
 * The sandbox's Entra issues tokens for the provider's own API (sandbox/api-tokens.ts): the
 * client-credentials grant with a client secret, for a registered operator client, with its app roles
 * in `roles`; v2.0 or v1.0 tokens as the API registration says; Entra's errors for a wrong secret, an
 * unknown resource or a client of another tenant. Other token requests go on to the usual checks.
 */
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { worldFacts } from '../../sandbox/generator.js';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { readDemoWorld, tenantIdOf } from '../support/http.js';
import { rawRequest, type RawResponse } from '../support/identity-world.js';

let sandbox: Sandbox;
let provider: string;

beforeAll(async () => {
  sandbox = await startSandbox({ world: await readDemoWorld(), storage: { enabled: false } });
  provider = worldFacts(sandbox.store.world).homeTenantId;
});
afterAll(async () => {
  await sandbox?.close();
});

function tokenRequest(tenantId: string, form: Record<string, string>): Promise<RawResponse> {
  return rawRequest(`${sandbox.endpoints.authorityHost}/${tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    ca: sandbox.caCertPem,
  });
}

async function keysOf(tenantId: string) {
  const keys = await rawRequest(`${sandbox.endpoints.authorityHost}/${tenantId}/discovery/v2.0/keys`, {
    ca: sandbox.caCertPem,
  });
  return createLocalJWKSet(keys.json as { keys: [] });
}

describe('tokens for the provider API', () => {
  it('issues a v2.0 token with the app roles, verifiable with the tenant keys', async () => {
    const api = sandbox.apiTokens.registerApi({ tenantId: provider });
    const client = sandbox.apiTokens.registerClient({
      tenantId: provider,
      roles: ['Fleet.Read', 'Fleet.Admin'],
    });
    const response = await tokenRequest(provider, {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: client.clientSecret,
      scope: `${api.appIdUri}/.default`,
    });
    expect(response.status, response.text).toBe(200);
    const token = response.json.access_token as string;
    const { payload } = await jwtVerify(token, await keysOf(provider), {
      issuer: `${sandbox.endpoints.authorityHost}/${provider}/v2.0`,
      audience: api.appId,
    });
    expect(payload).toMatchObject({
      roles: ['Fleet.Read', 'Fleet.Admin'],
      azp: client.clientId,
      oid: client.objectId,
      tid: provider,
      ver: '2.0',
    });
  });

  it('issues a v1.0 token (sts.windows.net issuer, app id URI audience), without roles when none are assigned', async () => {
    const api = sandbox.apiTokens.registerApi({
      tenantId: provider,
      appIdUri: 'api://fleet-v1',
      tokenVersion: 1,
    });
    const client = sandbox.apiTokens.registerClient({ tenantId: provider });
    const response = await tokenRequest(provider, {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: client.clientSecret,
      scope: 'api://fleet-v1/.default',
    });
    expect(response.status, response.text).toBe(200);
    const claims = decodeJwt(response.json.access_token as string);
    expect(claims).toMatchObject({
      iss: `https://sts.windows.net/${provider}/`,
      aud: api.appIdUri,
      appid: client.clientId,
    });
    expect(claims.roles).toBeUndefined();
  });

  it.each<
    [
      string,
      (ids: { clientId: string; secret: string; uri: string }) => [string, Record<string, string>],
      number,
      string,
    ]
  >([
    [
      'a wrong secret',
      (ids) => [provider, { client_secret: 'nope', client_id: ids.clientId, scope: `${ids.uri}/.default` }],
      401,
      'AADSTS7000215',
    ],
    [
      'an unknown resource',
      (ids) => [
        provider,
        { client_secret: ids.secret, client_id: ids.clientId, scope: 'api://unknown/.default' },
      ],
      400,
      'AADSTS500011',
    ],
    [
      'the client at another tenant',
      (ids) => ['', { client_secret: ids.secret, client_id: ids.clientId, scope: `${ids.uri}/.default` }],
      400,
      'AADSTS700016',
    ],
  ])("refuses %s with Entra's error", async (_case, build, status, code) => {
    const api = sandbox.apiTokens.registerApi({ tenantId: provider });
    const client = sandbox.apiTokens.registerClient({ tenantId: provider, roles: ['Fleet.Admin'] });
    const [tenant, form] = build({
      clientId: client.clientId,
      secret: client.clientSecret,
      uri: api.appIdUri,
    });
    const response = await tokenRequest(tenant || tenantIdOf(sandbox.store.world, 'Litware'), {
      grant_type: 'client_credentials',
      ...form,
    });
    expect(response.status, response.text).toBe(status);
    expect(String(response.json.error_description)).toContain(code);
    expect(response.json.access_token).toBeUndefined();
  });

  it('leaves other clients to the usual checks (a secret is no credential for the fleet app)', async () => {
    const response = await tokenRequest(provider, {
      grant_type: 'client_credentials',
      client_id: worldFacts(sandbox.store.world).appId,
      client_secret: 'guess',
      scope: 'https://management.azure.com/.default',
    });
    expect(response.status).toBe(401);
    expect(String(response.json.error_description)).toContain('AADSTS7000218');
    expect(response.json.access_token).toBeUndefined();
  });
});

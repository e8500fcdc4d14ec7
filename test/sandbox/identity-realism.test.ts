/**
 * Real Entra and managed identity endpoint behaviours the sandbox imitates by default:
 * - the MI endpoint refuses a resource Entra does not know (an unknown app id URI, or a scope with
 *   `/.default` left on) with 400 and AADSTS500011: status and code as reported in
 *   https://github.com/AzureAD/microsoft-authentication-library-for-dotnet/issues/3979, in the App
 *   Service `{ statusCode, message, correlationId }` envelope (https://github.com/Azure/azure-sdk-for-net/issues/44685);
 * - MI tokens for ARM are v1.0 tokens (iss sts.windows.net, appid, ver 1.0) with iat and nbf backdated
 *   together, while the token for api://AzureADTokenExchange keeps its v2.0 shape (seed 003: Janne Mattila,
 *   "Managed Identity access across tenants", 2024-12-31, real decoded claims; /work/shared/seeds/003*);
 * - `https://management.azure.com//.default` names the resource with its trailing slash, which the
 *   audience keeps, and the classic `https://management.core.windows.net//.default` is accepted for ARM
 *   (https://learn.microsoft.com/azure/active-directory/develop/msal-v1-app-scopes: "note the two slashes").
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARM_AUDIENCES } from '../../sandbox/arm.js';
import { entraV1Issuer } from '../../sandbox/identity-context.js';
import type { World } from '../../sandbox/world.js';
import { identityWorld, rawRequest, startIdentityServers, testGuid } from '../support/identity-world.js';
import type { IdentityServers, IdentityWorldIds, RawResponse } from '../support/identity-world.js';

let world: World;
let ids: IdentityWorldIds;
let servers: IdentityServers;

beforeAll(async () => {
  ({ world, ids } = identityWorld({ customers: 1 }));
  servers = await startIdentityServers(world);
});
afterAll(async () => {
  await servers?.close();
});

function mi(resource: string): Promise<RawResponse> {
  return rawRequest(
    `${servers.identityEndpoint}?api-version=2019-08-01&resource=${encodeURIComponent(resource)}&client_id=${ids.miClientId}`,
    { headers: { 'X-IDENTITY-HEADER': servers.identityHeader } },
  );
}

async function entraToken(scope: string): Promise<RawResponse> {
  const assertion = (await mi('api://AzureADTokenExchange')).json.access_token as string;
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: ids.appId,
    scope,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  });
  return rawRequest(
    `${servers.authorityHost}/${ids.customerTenantIds[0]!}/oauth2/v2.0/token?client-request-id=${testGuid(9, 9)}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      ca: servers.tls.certPem,
    },
  );
}

describe('managed identity endpoint realism', () => {
  it('refuses a resource Entra does not know, and one with /.default left on, with 400 AADSTS500011', async () => {
    for (const resource of ['api://not-a-registered-app', 'https://management.azure.com/.default']) {
      const response = await mi(resource);
      expect(response.status).toBe(400);
      expect(response.json.statusCode).toBe(400);
      expect(String(response.json.message)).toMatch(
        new RegExp(
          `^AADSTS500011: The resource principal named ${resource.replace(/[.]/g, '\\.')} was not found`,
        ),
      );
      expect(response.json.access_token).toBeUndefined();
    }
  });

  it('answers v1.0 tokens for ARM with iat and nbf backdated together, and keeps the exchange token v2.0', async () => {
    const arm = await mi('https://management.azure.com/');
    expect(arm.status).toBe(200);
    const claims = decodeJwt(arm.json.access_token as string);
    expect(claims).toMatchObject({
      aud: 'https://management.azure.com/',
      iss: entraV1Issuer(ids.homeTenantId),
      appid: ids.miClientId,
      ver: '1.0',
      oid: ids.miPrincipalId,
    });
    expect(claims.iat).toBe(claims.nbf);
    expect(claims.iat!).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) - 299);
    const exchange = decodeJwt((await mi('api://AzureADTokenExchange')).json.access_token as string);
    expect(exchange).toMatchObject({ ver: '2.0', azp: ids.miClientId });
    expect(exchange.appid).toBeUndefined();
  });
});

describe('Entra scope normalisation', () => {
  it('keeps the trailing slash of https://management.azure.com//.default in the audience', async () => {
    const response = await entraToken('https://management.azure.com//.default');
    expect(response.status).toBe(200);
    expect(decodeJwt(response.json.access_token as string).aud).toBe('https://management.azure.com/');
  });

  it('accepts the classic https://management.core.windows.net//.default for an ARM token', async () => {
    const response = await entraToken('https://management.core.windows.net//.default');
    expect(response.status).toBe(200);
    const aud = decodeJwt(response.json.access_token as string).aud as string;
    expect(aud).toBe('https://management.core.windows.net/');
    expect(ARM_AUDIENCES).toContain(aud);
  });
});

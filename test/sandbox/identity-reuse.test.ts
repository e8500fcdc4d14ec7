/**
 * Token reuse with the real SDK over 50 customer tenants: one ManagedIdentityCredential and one
 * ClientAssertionCredential per tenant. The MI token is cached by MSAL (keyed on the echoed
 * `resource`) and each access token per credential instance (needs `expires_in`), so a second pass
 * over the fleet makes no request at all. Its own file: MSAL's MI cache is per process.
 */
import { ClientAssertionCredential, ManagedIdentityCredential } from '@azure/identity';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { identityWorld, startIdentityServers } from '../support/identity-world.js';
import type { IdentityServers, IdentityWorldIds } from '../support/identity-world.js';

const TENANTS = 50;
const ARM_SCOPE = 'https://management.azure.com/.default';

let ids: IdentityWorldIds;
let servers: IdentityServers;

beforeAll(async () => {
  const built = identityWorld({ customers: TENANTS });
  ids = built.ids;
  servers = await startIdentityServers(built.world);
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

it('50 tenants: first pass 1 MI request + 50 token requests, second pass none', async () => {
  const fleet = ids.customerTenantIds.map((tenantId) => {
    const mi = new ManagedIdentityCredential({ clientId: ids.miClientId });
    const credential = new ClientAssertionCredential(
      tenantId,
      ids.appId,
      async () => (await mi.getToken('api://AzureADTokenExchange/.default')).token,
      {
        authorityHost: servers.authorityHost,
        disableInstanceDiscovery: true,
        tlsOptions: { ca: servers.tls.certPem },
      },
    );
    return { tenantId, credential };
  });
  const counters = servers.ctx.counters;
  counters.reset();

  const firstTokens: string[] = [];
  for (const { tenantId, credential } of fleet) {
    const token = await credential.getToken(ARM_SCOPE);
    expect(decodeJwt(token.token).tid).toBe(tenantId);
    firstTokens.push(token.token);
  }
  expect(counters.managedIdentity).toBe(1);
  expect(counters.token).toBe(TENANTS);
  expect(counters.tokenByTenant.size).toBe(TENANTS);
  for (const tenantId of ids.customerTenantIds) expect(counters.tokenByTenant.get(tenantId)).toBe(1);
  const discoveryAfterFirstPass = counters.discovery;

  const secondTokens: string[] = [];
  for (const { credential } of fleet) secondTokens.push((await credential.getToken(ARM_SCOPE)).token);
  expect(counters.managedIdentity).toBe(1);
  expect(counters.token).toBe(TENANTS);
  expect(counters.discovery).toBe(discoveryAfterFirstPass);
  // The very same tokens came back from the caches.
  expect(secondTokens).toEqual(firstTokens);
  console.info(
    `token reuse over ${TENANTS} tenants: MI ${counters.managedIdentity}, token ${counters.token}, discovery ${counters.discovery}`,
  );
});

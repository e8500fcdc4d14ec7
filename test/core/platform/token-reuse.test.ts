/**
 * Token reuse of the PRODUCT's `CredentialChain` over 50 customer tenants, counted at the sandbox's
 * front doors: the first pass costs one managed identity request for the whole fleet and one token
 * request per tenant; the second pass costs nothing (MI token cached by MSAL, access tokens cached
 * per tenant credential, which the chain keeps). Its own file: MSAL caches the MI source and its
 * tokens per process.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateWorld, worldFacts, startSandbox, type Sandbox } from '../../../sandbox/index.js';
import type { WorldFacts } from '../../../sandbox/generator.js';
import { sandboxFleetConfig } from '../../../dev/sandbox-fleet.js';
import type { FleetConfig } from '../../../src/core/platform/config.js';
import { CredentialChain } from '../../../src/core/platform/credentials.js';
import { providerConnectionString, uniquePrefix } from '../../support/provider.js';

const TENANTS = 50;

let sandbox: Sandbox;
let facts: WorldFacts;
let config: FleetConfig;

beforeAll(async () => {
  const world = generateWorld({
    seed: 6,
    tenants: TENANTS,
    subscriptionsPerTenant: 1,
    resourcesPerSubscription: 0,
  });
  facts = worldFacts(world);
  sandbox = await startSandbox({ world });
  config = sandboxFleetConfig(sandbox, {
    providerConnectionString: providerConnectionString(),
    prefix: uniquePrefix(),
  });
});

afterAll(async () => {
  await sandbox?.close();
});

it(`${TENANTS} tenants: first pass 1 MI + ${TENANTS} token requests, second pass none`, async () => {
  expect(facts.customerTenantIds).toHaveLength(TENANTS);
  const chain = new CredentialChain({
    cloud: config.cloud,
    managedIdentityClientId: config.managedIdentityClientId,
    appClientId: config.appClientId,
  });
  const counters = sandbox.counters;
  counters.reset();

  const firstStarted = performance.now();
  const firstTokens: string[] = [];
  for (const tenantId of facts.customerTenantIds) {
    const token = await chain.armToken(tenantId);
    const claims = decodeJwt(token!.token);
    // Each token is the app's, in that tenant, as its service principal there.
    expect(claims).toMatchObject({
      tid: tenantId,
      appid: facts.appId,
      oid: facts.servicePrincipalObjectIds[tenantId],
      aud: 'https://management.azure.com',
    });
    firstTokens.push(token!.token);
  }
  const firstMs = performance.now() - firstStarted;
  expect(counters.managedIdentity).toBe(1);
  expect(counters.token).toBe(TENANTS);
  expect(counters.tokenByTenant.size).toBe(TENANTS);
  for (const tenantId of facts.customerTenantIds) expect(counters.tokenByTenant.get(tenantId)).toBe(1);
  expect(chain.tenantCount).toBe(TENANTS);
  const afterFirst = counters.snapshot();

  const secondStarted = performance.now();
  const secondTokens: string[] = [];
  for (const tenantId of facts.customerTenantIds) secondTokens.push((await chain.armToken(tenantId))!.token);
  const secondMs = performance.now() - secondStarted;
  // Not one more request of any kind: MI, token or discovery.
  expect(counters.snapshot()).toEqual(afterFirst);
  expect(secondTokens).toEqual(firstTokens);
  expect(chain.tenantCount).toBe(TENANTS);

  console.info(
    `token reuse (product chain, ${TENANTS} tenants): pass 1 ${firstMs.toFixed(0)} ms ` +
      `(MI ${afterFirst.managedIdentity}, token ${afterFirst.token}, discovery ${afterFirst.discovery}), ` +
      `pass 2 ${secondMs.toFixed(0)} ms (0 requests)`,
  );
});

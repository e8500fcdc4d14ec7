/**
 * Token reuse of the PRODUCT's `CredentialChain` over 50 customer tenants, counted at the sandbox's
 * front doors: the first pass costs one managed identity request for the whole fleet and one token
 * request per tenant; the second pass costs nothing (MI token cached by MSAL, access tokens cached
 * per tenant credential, which the chain keeps). Its own file: MSAL caches the MI source and its
 * tokens per process. Also the bound on what is kept per tenant: credentials and ARM clients.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateWorld, worldFacts, startSandbox, type Sandbox } from '../../../sandbox/index.js';
import type { WorldFacts } from '../../../sandbox/generator.js';
import { sandboxFleetConfig } from '../../../dev/sandbox-fleet.js';
import type { FleetConfig } from '../../../src/core/platform/config.js';
import { CredentialChain } from '../../../src/core/platform/credentials.js';
import { listVisibleSubscriptions } from '../../../src/core/platform/arm.js';
import { createRuntime } from '../../../src/core/runtime.js';
import { providerConnectionString, uniquePrefix } from '../../support/provider.js';

const TENANTS = 50;

let sandbox: Sandbox;
let facts: WorldFacts;
let config: FleetConfig;
/** Each tenant's subscription ids, as the world gives them. */
let subscriptionIdsByTenant: Map<string, string[]>;

beforeAll(async () => {
  const world = generateWorld({
    seed: 6,
    tenants: TENANTS,
    subscriptionsPerTenant: 1,
    resourcesPerSubscription: 0,
  });
  facts = worldFacts(world);
  subscriptionIdsByTenant = new Map();
  for (const subscription of world.subscriptions ?? []) {
    const tenantId = subscription.tenantId.toLowerCase();
    subscriptionIdsByTenant.set(tenantId, [
      ...(subscriptionIdsByTenant.get(tenantId) ?? []),
      subscription.subscriptionId.toLowerCase(),
    ]);
  }
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

it('a chain keeps the credentials of its most recent tenants only; a dropped tenant asks Entra once more', async () => {
  const kept = 10;
  const chain = new CredentialChain({
    cloud: config.cloud,
    managedIdentityClientId: config.managedIdentityClientId,
    appClientId: config.appClientId,
    cachedTenants: kept,
  });
  const counters = sandbox.counters;
  for (const tenantId of facts.customerTenantIds) await chain.armToken(tenantId);
  expect(chain.tenantCount).toBe(kept);
  counters.reset();
  // The last ten are kept: no request.
  for (const tenantId of facts.customerTenantIds.slice(-kept)) await chain.armToken(tenantId);
  expect(counters.token).toBe(0);
  // The first was dropped: its credential is built again and asks Entra once.
  const first = facts.customerTenantIds[0]!;
  const token = await chain.armToken(first);
  expect(decodeJwt(token!.token).tid).toBe(first);
  expect(counters.token).toBe(1);
  expect(counters.tokenByTenant.get(first)).toBe(1);
  expect(chain.tenantCount).toBe(kept);
});

it("the runtime keeps each tenant's ARM client: a second listing builds nothing and asks for no token", async () => {
  const runtime = createRuntime({ ...config, sweep: { ...config.sweep, cachedTenants: 5 } });
  const tenants = facts.customerTenantIds.slice(0, 5);
  const counters = sandbox.counters;
  counters.reset();
  const clients = tenants.map((tenantId) => runtime.arm.forTenant(tenantId));
  expect(new Set(clients).size).toBe(5);
  const list = async (tenantId: string): Promise<string[]> => {
    const ids: string[] = [];
    for await (const subscription of listVisibleSubscriptions(runtime.arm.forTenant(tenantId)))
      ids.push(subscription.subscriptionId);
    return ids;
  };
  for (const tenantId of tenants) expect(await list(tenantId)).toEqual(subscriptionIdsByTenant.get(tenantId));
  expect(counters.token).toBe(5);
  const afterFirst = counters.token;
  for (const tenantId of tenants) await list(tenantId);
  expect(counters.token).toBe(afterFirst);
  tenants.forEach((tenantId, i) => expect(runtime.arm.forTenant(tenantId.toUpperCase())).toBe(clients[i]));
  // A sixth tenant drops the least recently used client (the first, touched longest ago).
  runtime.arm.forTenant(facts.customerTenantIds[5]!);
  expect(runtime.arm.size).toBe(5);
  expect(runtime.arm.forTenant(tenants[0]!)).not.toBe(clients[0]);
  expect(() => runtime.arm.forTenant('not-a-tenant')).toThrow();
});

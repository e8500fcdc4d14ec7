/**
 * Scale: generated subscriptions are streamed by index, never materialised. A world with a
 * 1,000,000-resource block holds only its drift, and a 100,000-resource subscription is listed page
 * by page through the real SDK client, one request a page. Counts only: time and memory are the
 * benchmark's (bench/).
 */
import { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorld, worldFacts } from '../../sandbox/generator.js';
import { WorldStore } from '../../sandbox/state.js';
import { MintingCredential, startArm, type ArmFixture } from './arm.fixture.js';

describe('sandbox ARM at scale', () => {
  let arm: ArmFixture;
  const world = generateWorld({
    seed: 5,
    tenants: 1,
    subscriptionsPerTenant: 1,
    resourcesPerSubscription: 100_000,
  });

  beforeAll(async () => {
    arm = await startArm(world, { pageSize: 1000 });
  });
  afterAll(async () => {
    await arm?.close();
  });

  it('holds a 1,000,000-resource world as its overlay only', () => {
    const big = generateWorld({
      seed: 9,
      tenants: 2,
      subscriptionsPerTenant: 1,
      resourcesPerSubscription: 1_000_000,
    });
    const store = new WorldStore(big);
    const subscriptionId = store.world.generatedResources[0]!.subscriptionId;
    expect(store.resourceCount(subscriptionId)).toBe(1_000_000);
    const lastPage = store.scanResources(subscriptionId, { cursor: 999_000, limit: 1000 });
    expect(lastPage.items).toHaveLength(1000);
    expect(lastPage.next).toBeUndefined();
    const drift = store.driftGenerated(subscriptionId, { seed: 1, remove: 1000, modify: 1000, add: 100 });
    expect(drift.removed).toHaveLength(1000);
    expect(store.resourceCount(subscriptionId)).toBe(1_000_000 - 1000 + 100);
    // Counted, not weighed (memory belongs to the benchmark): no generated resource joined the world's
    // list, and the store holds exactly the drift: 1,000 removed, 1,000 modified, 100 added.
    expect(store.world.resources).toHaveLength(big.resources?.length ?? 0);
    const held = store.snapshot().generatedDrift ?? [];
    expect(
      held.map((entry) => [
        entry.subscriptionId,
        entry.removed.length,
        entry.modified.length,
        entry.added.length,
      ]),
    ).toEqual([[subscriptionId, 1000, 1000, 100]]);
  });

  it('lists a 100,000-resource subscription page by page with the real SDK client', async () => {
    const facts = worldFacts(world);
    const tenantId = facts.customerTenantIds[0]!;
    const subscriptionId = arm.store.subscriptionsOfTenant(tenantId)[0]!.subscriptionId;
    const credential = new MintingCredential(arm.keys, {
      tenantId,
      objectId: facts.servicePrincipalObjectIds[tenantId]!,
      appId: facts.appId,
    });
    const client = new ResourceManagementClient(credential, subscriptionId, {
      endpoint: arm.endpoint,
      tlsOptions: { ca: arm.caCertPem },
    });
    const before = arm.counters.arm;
    let pages = 0;
    let total = 0;
    let lastName = '';
    for await (const page of client.resources.list().byPage()) {
      pages++;
      total += page.length;
      lastName = page.at(-1)?.name ?? lastName;
    }
    expect(pages).toBe(100);
    expect(total).toBe(100_000);
    expect(lastName).toMatch(/099999$/);
    // One request per page: the SDK followed nextLink 99 times and never retried.
    expect(arm.counters.arm - before).toBe(100);
  });
});

/**
 * Scale: generated subscriptions are streamed by index, never materialised. A world with a
 * 1,000,000-resource block costs the store almost nothing, and a 100,000-resource subscription is
 * listed page by page through the real SDK client.
 */
import { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorld, worldFacts } from '../../sandbox/generator.js';
import { WorldStore } from '../../sandbox/state.js';
import { MintingCredential, startArm, type ArmFixture } from './arm.fixture.js';

const MB = 1024 * 1024;
const heapMb = (): number => process.memoryUsage().heapUsed / MB;

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

  it('holds a 1,000,000-resource world in O(overlay) memory', () => {
    const big = generateWorld({
      seed: 9,
      tenants: 2,
      subscriptionsPerTenant: 1,
      resourcesPerSubscription: 1_000_000,
    });
    const before = heapMb();
    const store = new WorldStore(big);
    const subscriptionId = store.world.generatedResources[0]!.subscriptionId;
    expect(store.resourceCount(subscriptionId)).toBe(1_000_000);
    const lastPage = store.scanResources(subscriptionId, { cursor: 999_000, limit: 1000 });
    expect(lastPage.items).toHaveLength(1000);
    expect(lastPage.next).toBeUndefined();
    const drift = store.driftGenerated(subscriptionId, { seed: 1, remove: 1000, modify: 1000, add: 100 });
    expect(drift.removed).toHaveLength(1000);
    expect(store.resourceCount(subscriptionId)).toBe(1_000_000 - 1000 + 100);
    const after = heapMb();
    console.log(
      `store of 2 x 1,000,000 generated resources + 2,100 drift: heap +${(after - before).toFixed(1)} MB`,
    );
    // Materialised, 2,000,000 resource objects would take well over 500 MB.
    expect(after - before).toBeLessThan(25);
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
    const baseline = heapMb();
    let peak = baseline;
    let pages = 0;
    let total = 0;
    let lastName = '';
    const started = performance.now();
    for await (const page of client.resources.list().byPage()) {
      pages++;
      total += page.length;
      lastName = page.at(-1)?.name ?? lastName;
      if (pages % 10 === 0) peak = Math.max(peak, heapMb());
    }
    const seconds = (performance.now() - started) / 1000;
    expect(pages).toBe(100);
    expect(total).toBe(100_000);
    expect(lastName).toMatch(/099999$/);
    console.log(
      `listed 100,000 resources in ${pages} pages in ${seconds.toFixed(1)} s; heap baseline ${baseline.toFixed(1)} MB, ` +
        `peak sampled ${peak.toFixed(1)} MB, rss ${(process.memoryUsage().rss / MB).toFixed(0)} MB`,
    );
  });
});

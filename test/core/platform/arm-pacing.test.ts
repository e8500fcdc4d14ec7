/**
 * ARM pacing and backoff (src/core/platform/arm-pacing.ts) against the sandbox ARM with the real SDK
 * client: a subscription's reads slow down from the remaining-reads headers before ARM throttles them
 * (no 429 at all where an unpaced client meets several), and a 429 without Retry-After is backed off
 * and retried instead of failing at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArmPacer } from '../../../src/core/platform/arm-pacing.js';
import { listInventoryItems, resourceClient } from '../../../src/core/platform/arm.js';
import { sandboxCloud } from '../../../src/core/platform/cloud.js';
import { quirksWorld } from '../../support/quirks-world.js';
import { MintingCredential, startArm, type ArmFixture } from '../../sandbox/arm.fixture.js';

const { world, ids } = quirksWorld();
let arm: ArmFixture;

async function inventory(pacer: ArmPacer): Promise<number> {
  const cloud = sandboxCloud({
    authorityHost: 'https://127.0.0.1:1',
    armEndpoint: arm.endpoint,
    storageEndpoint: 'https://127.0.0.1:1',
    caCertPem: arm.caCertPem,
  });
  const credential = new MintingCredential(arm.keys, {
    tenantId: ids.tenantId,
    objectId: ids.readerObjectId,
  });
  const client = resourceClient(credential, { cloud, maxRetries: 3, pacer });
  let items = 0;
  for await (const _ of listInventoryItems(client, ids.subscriptionId)) items++;
  return items;
}

beforeAll(async () => {
  arm = await startArm(world, { pageSize: 1 });
});
afterAll(async () => {
  await arm.close();
});

describe('ARM pacing', () => {
  it("paces a subscription's reads from the remaining-reads headers: no 429 where the bucket would run dry", async () => {
    // 10 reads of burst at 20/s: two inventories of 1-item pages take about 20 reads.
    arm.setSettings({ throttle: { enabled: true, burst: 10, refillPerSecond: 20 } });
    arm.counters.reset();
    const pacer = new ArmPacer({ lowWater: 4, refillPerSecond: 20 });
    const expected = world.resources!.length + 1;
    expect(await inventory(pacer)).toBe(expected);
    expect(await inventory(pacer)).toBe(expected);
    expect(arm.counters.arm).toBeGreaterThan(15);
    expect(arm.counters.armThrottled).toBe(0);
  });

  it('backs off and retries a 429 without Retry-After instead of failing', async () => {
    arm.setSettings({
      throttle: false,
      faults: [{ kind: '429', count: 2, omitRetryAfter: true, match: { pathIncludes: '/resources' } }],
    });
    arm.counters.reset();
    try {
      const pacer = new ArmPacer({ backoffBaseMs: 10, lowWater: 4 });
      expect(await inventory(pacer)).toBe(world.resources!.length + 1);
      expect(arm.counters.armThrottled).toBe(2);
    } finally {
      arm.setSettings({ faults: [] });
    }
  });
});

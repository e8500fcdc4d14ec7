/**
 * The sandbox ARM's 2024 throttling model: per (subscription, principal) buckets and a global
 * subscription bucket 15 times larger shared by every principal, both reported in headers; 429s with
 * and (as an injected fault) without Retry-After. Source:
 * https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling
 * ("a global subscription limit that's equivalent to 15 times the individual service principal limit";
 * headers x-ms-ratelimit-remaining-subscription-reads and x-ms-ratelimit-remaining-subscription-global-reads).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { quirksWorld } from '../support/quirks-world.js';
import { armClaims, rawGet, startArm, type ArmFixture } from './arm.fixture.js';

const { world, ids } = quirksWorld();
let arm: ArmFixture;

const token = (objectId = ids.readerObjectId) =>
  arm.keys.sign(ids.tenantId, armClaims({ tenantId: ids.tenantId, objectId }));
const path = () => `/subscriptions/${ids.subscriptionId}/resourcegroups?api-version=2025-04-01`;

// An ARM of its own for each test: the tests spend the principal's and the global buckets (which
// barely refill) and change the throttle settings, and each counts remaining reads from full buckets.
beforeEach(async () => {
  arm = await startArm(world, { throttle: { burst: 4, refillPerSecond: 0.001 } });
});
afterEach(async () => {
  await arm.close();
});

describe('sandbox ARM throttling (2024 model)', () => {
  it('reports the principal and the global remaining reads, the global one 15 times larger', async () => {
    const first = await rawGet(arm, path(), await token());
    expect(first.status).toBe(200);
    expect(first.headers['x-ms-ratelimit-remaining-subscription-reads']).toBe('3');
    expect(first.headers['x-ms-ratelimit-remaining-subscription-global-reads']).toBe(String(4 * 15 - 1));
  });

  it('throttles a principal at its own limit with 429 and Retry-After, while the global bucket still has reads', async () => {
    const bearer = await token();
    const answers = [];
    // One read more than the burst of 4 (the bucket starts full: no earlier test spent any of it).
    for (let i = 0; i < 5; i++) answers.push(await rawGet(arm, path(), bearer));
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.body.error?.code).toBe('SubscriptionRequestsThrottled');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(arm.counters.armThrottled).toBeGreaterThan(0);
    // Another principal of the same subscription still reads (the global bucket is not empty).
    const otherId = '40000000-0000-4000-8000-0000000000aa';
    arm.store.grantRole(otherId, 'Reader', `/subscriptions/${ids.subscriptionId}`);
    const other = await rawGet(arm, path(), await token(otherId));
    expect(other.status).toBe(200);
  });

  it('answers an injected 429 without Retry-After when the fault says so', async () => {
    arm.setSettings({ throttle: false, faults: [{ kind: '429', count: 1, omitRetryAfter: true }] });
    try {
      const answer = await rawGet(arm, path(), await token());
      expect(answer.status).toBe(429);
      expect(answer.headers['retry-after']).toBeUndefined();
    } finally {
      arm.setSettings({ faults: [] });
    }
  });
});

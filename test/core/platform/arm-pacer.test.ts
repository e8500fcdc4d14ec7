/**
 * The ARM pacer's rules one by one (src/core/platform/arm-pacing.ts), with its sleep injected so each
 * wait is recorded instead of slept: when a subscription's reads wait and for how long, which headers
 * say what is left, and the backoff a 429 without Retry-After is given. arm-pacing.test.ts shows the
 * same policy keeping the sandbox's ARM from throttling through the real SDK client.
 */
import {
  createHttpHeaders,
  createPipelineRequest,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { ArmPacer, armPacingPolicy, type ArmPacerOptions } from '../../../src/core/platform/arm-pacing.js';

const SUB_READS = 'x-ms-ratelimit-remaining-subscription-reads';
const GLOBAL_READS = 'x-ms-ratelimit-remaining-subscription-global-reads';
const SUB = 'sub-a';

/** A pacer whose waits are recorded (and not slept). */
function recordingPacer(options: Partial<ArmPacerOptions> = {}) {
  const waits: number[] = [];
  const pacer = new ArmPacer({
    lowWater: 25,
    refillPerSecond: 25,
    maxWaitMs: 10_000,
    ...options,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  });
  return { pacer, waits };
}

function answer(
  status: number,
  headers: Record<string, string> = {},
  request?: PipelineRequest,
): PipelineResponse {
  return {
    request: request ?? createPipelineRequest({ url: 'https://management.azure.com/' }),
    status,
    headers: createHttpHeaders(headers),
  };
}

/** The waits of `count` paced requests of SUB after ARM said `left` reads are left. */
async function waitsAfter(left: number, count: number, options: Partial<ArmPacerOptions> = {}) {
  const { pacer, waits } = recordingPacer(options);
  pacer.observe(SUB, answer(200, { [SUB_READS]: String(left) }));
  for (let i = 0; i < count; i++) await pacer.pace(SUB);
  return waits;
}

describe('ArmPacer.scopeOf', () => {
  it("names a subscription read's subscription lower-cased, and no scope for a tenant-level read", () => {
    expect(ArmPacer.scopeOf('https://management.azure.com/subscriptions/ABC-Def/resources?x=1')).toBe(
      'abc-def',
    );
    expect(ArmPacer.scopeOf('https://management.azure.com/subscriptions?api-version=1')).toBeUndefined();
  });
});

describe('ArmPacer.pace', () => {
  it('does not wait while ARM has said nothing of the subscription', async () => {
    const { pacer, waits } = recordingPacer();
    await pacer.pace(SUB);
    expect(waits).toEqual([]);
  });

  it('waits for the bucket to refill to the low-water mark only once the remaining reads fall under it', async () => {
    // 25 left is at the mark: no wait; then 24 is under it: a 25th of a second's refill (40 ms).
    expect(await waitsAfter(25, 2)).toEqual([40]);
    expect(await waitsAfter(26, 3)).toEqual([40]);
  });

  it('waits (lowWater - left) / refill seconds, at most maxWaitMs', async () => {
    expect(await waitsAfter(5, 1)).toEqual([800]);
    expect(await waitsAfter(5, 1, { lowWater: 25, refillPerSecond: 10 })).toEqual([2_000]);
    expect(await waitsAfter(0, 1, { maxWaitMs: 300 })).toEqual([300]);
  });

  it('counts the wait as refilled to just under the mark, so the next request waits one read more', async () => {
    expect(await waitsAfter(5, 3)).toEqual([800, 40, 40]);
  });

  it('never waits when the bucket does not refill', async () => {
    expect(await waitsAfter(0, 3, { refillPerSecond: 0 })).toEqual([]);
  });

  it('keeps each subscription its own count', async () => {
    const { pacer, waits } = recordingPacer();
    pacer.observe(SUB, answer(200, { [SUB_READS]: '0' }));
    await pacer.pace('sub-b');
    expect(waits).toEqual([]);
  });
});

describe('ArmPacer.observe', () => {
  it('keeps the lowest of the remaining-reads headers', async () => {
    const { pacer, waits } = recordingPacer();
    pacer.observe(SUB, answer(200, { [SUB_READS]: '100', [GLOBAL_READS]: '5' }));
    await pacer.pace(SUB);
    pacer.observe(SUB, answer(200, { [SUB_READS]: '15', [GLOBAL_READS]: '100' }));
    await pacer.pace(SUB);
    expect(waits).toEqual([800, 400]);
  });

  it('counts a header only when it is present and a number', async () => {
    const { pacer, waits } = recordingPacer();
    // One header alone is enough (the absent one does not count as anything).
    pacer.observe(SUB, answer(200, { [GLOBAL_READS]: '5' }));
    await pacer.pace(SUB);
    // A header that is not a number leaves what the last answer said.
    pacer.observe(SUB, answer(200, { [SUB_READS]: '5' }));
    pacer.observe(SUB, answer(200, { [SUB_READS]: 'plenty', [GLOBAL_READS]: 'plenty' }));
    await pacer.pace(SUB);
    // An answer without the headers leaves it too.
    pacer.observe(SUB, answer(200, { [SUB_READS]: '5' }));
    pacer.observe(SUB, answer(200));
    await pacer.pace(SUB);
    expect(waits).toEqual([800, 800, 800]);
  });
});

describe('ArmPacer.backOff', () => {
  const retryAfterMs = (response: PipelineResponse) => response.headers.get('retry-after-ms');

  it('gives a 429 without Retry-After a backoff doubling per attempt of the same request, capped', () => {
    const { pacer } = recordingPacer({ backoffBaseMs: 1_000, maxBackoffMs: 5_000 });
    const request = createPipelineRequest({ url: 'https://management.azure.com/subscriptions/s/resources' });
    const delays = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = answer(429, {}, request);
      pacer.backOff(request, response);
      delays.push(retryAfterMs(response));
    }
    expect(delays).toEqual(['1000', '2000', '4000', '5000', '5000']);
    // Another request starts again from the base.
    const other = createPipelineRequest({ url: request.url });
    const response = answer(429, {}, other);
    pacer.backOff(other, response);
    expect(retryAfterMs(response)).toBe('1000');
  });

  it('leaves a 429 that says when to retry, and any other answer, as they are', () => {
    const { pacer } = recordingPacer();
    for (const header of ['retry-after', 'retry-after-ms', 'x-ms-retry-after-ms']) {
      const response = answer(429, { [header]: '7' });
      pacer.backOff(response.request, response);
      expect(Object.fromEntries(response.headers)).toEqual({ [header]: '7' });
    }
    for (const status of [200, 503]) {
      const response = answer(status);
      pacer.backOff(response.request, response);
      expect(retryAfterMs(response)).toBeUndefined();
    }
  });
});

describe('armPacingPolicy', () => {
  it("is named armPacing and paces, observes and backs off a subscription's reads, case-insensitively", async () => {
    const { pacer, waits } = recordingPacer();
    const policy = armPacingPolicy(pacer);
    expect(policy.name).toBe('armPacing');
    const request = createPipelineRequest({
      url: 'https://management.azure.com/subscriptions/SUB-A/resources',
    });
    const first = await policy.sendRequest(request, (sent) =>
      Promise.resolve(answer(200, { [SUB_READS]: '5' }, sent)),
    );
    expect(first.status).toBe(200);
    expect(waits).toEqual([]);
    const throttled = await policy.sendRequest(
      createPipelineRequest({ url: 'https://management.azure.com/subscriptions/sub-a/resourcegroups' }),
      (sent) => Promise.resolve(answer(429, {}, sent)),
    );
    expect(waits).toEqual([800]);
    expect(throttled.headers.get('retry-after-ms')).toBe('1000');
  });

  it('does not pace tenant-level reads', async () => {
    const { pacer, waits } = recordingPacer();
    const policy = armPacingPolicy(pacer);
    const request = createPipelineRequest({
      url: 'https://management.azure.com/subscriptions?api-version=1',
    });
    for (let i = 0; i < 2; i++)
      await policy.sendRequest(request, (sent) => Promise.resolve(answer(200, { [SUB_READS]: '0' }, sent)));
    expect(waits).toEqual([]);
  });
});

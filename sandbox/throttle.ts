/**
 * ARM's read throttling (the 2024+ token-bucket model): one bucket per (scope, principal), where the
 * scope is a subscription or, for tenant-level calls like GET /subscriptions, the tenant. A request
 * takes one token; tokens refill continuously. An empty bucket answers 429 with Retry-After.
 */

export interface ThrottleSettings {
  /** Off: every request passes (the remaining-reads header then reports the burst). */
  enabled: boolean;
  /** Bucket size: requests allowed in a burst (ARM: 250 reads). */
  burst: number;
  /** Tokens added per second (ARM: 25 reads/s). */
  refillPerSecond: number;
}

export const DEFAULT_THROTTLE: ThrottleSettings = { enabled: true, burst: 250, refillPerSecond: 25 };

export interface ThrottleDecision {
  allowed: boolean;
  /** Whole tokens left after this request (the x-ms-ratelimit-remaining-*-reads header). */
  remaining: number;
  /** When refused: whole seconds until one token is back (the Retry-After header). */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private settingsKey = '';

  /** Takes one token from the bucket of `key` (e.g. `${subscriptionId}|${oid}`). */
  take(key: string, settings: ThrottleSettings, nowMs: number = Date.now()): ThrottleDecision {
    if (!settings.enabled) return { allowed: true, remaining: settings.burst, retryAfterSeconds: 0 };
    // New limits start every bucket afresh (as if the sandbox had just started with them).
    const settingsKey = `${settings.burst}/${settings.refillPerSecond}`;
    if (settingsKey !== this.settingsKey) {
      this.buckets.clear();
      this.settingsKey = settingsKey;
    }
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: settings.burst, updatedAt: nowMs };
      this.buckets.set(key, bucket);
    }
    const elapsedSeconds = Math.max(0, nowMs - bucket.updatedAt) / 1000;
    bucket.tokens = Math.min(settings.burst, bucket.tokens + elapsedSeconds * settings.refillPerSecond);
    bucket.updatedAt = nowMs;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, remaining: Math.floor(bucket.tokens), retryAfterSeconds: 0 };
    }
    const secondsToOneToken =
      settings.refillPerSecond > 0 ? (1 - bucket.tokens) / settings.refillPerSecond : 3600;
    return { allowed: false, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(secondsToOneToken)) };
  }

  reset(): void {
    this.buckets.clear();
  }
}

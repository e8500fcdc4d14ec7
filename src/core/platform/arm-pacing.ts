/**
 * Pacing of ARM reads, per subscription, before ARM throttles (the 2024 token-bucket model: 250 reads
 * burst and 25/s refill per subscription and principal, a global subscription bucket 15 times that:
 * https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling).
 * Every answer says what is left (`x-ms-ratelimit-remaining-subscription-reads` and
 * `...-subscription-global-reads`); when the lowest falls under a low-water mark, the next request of
 * that subscription waits for the bucket to refill that far instead of spending it to nothing.
 * Tenant-level reads (GET /subscriptions, one or two per tenant and sweep) are not paced.
 *
 * And a 429 without Retry-After: the SDK's throttling retry honours Retry-After only, and its
 * exponential retry skips 429, so such an answer failed at once. This policy gives it an exponential
 * `retry-after-ms` (its attempt count), and the SDK's own retry policy then waits and retries it,
 * within the client's maxRetries: the SDK's policy stays in charge of everything else.
 */
import type { PipelinePolicy, PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';

const REMAINING_HEADERS = [
  'x-ms-ratelimit-remaining-subscription-reads',
  'x-ms-ratelimit-remaining-subscription-global-reads',
];
const RETRY_AFTER_HEADERS = ['retry-after', 'retry-after-ms', 'x-ms-retry-after-ms'];
const SUBSCRIPTION_OF = /^\/subscriptions\/([^/?]+)/i;

export interface ArmPacerOptions {
  /** Remaining reads under which requests wait (default 25: one second of ARM's refill). */
  lowWater: number;
  /** Reads the bucket refills per second (ARM: 25 per principal). */
  refillPerSecond: number;
  /** Longest wait before one request, in milliseconds. */
  maxWaitMs: number;
  /** First backoff of a 429 without Retry-After, doubled per attempt, in milliseconds. */
  backoffBaseMs: number;
  /** Longest backoff of a 429 without Retry-After, in milliseconds. */
  maxBackoffMs: number;
  sleep: (ms: number) => Promise<void>;
}

export const DEFAULT_PACER_OPTIONS: ArmPacerOptions = {
  lowWater: 25,
  refillPerSecond: 25,
  maxWaitMs: 10_000,
  backoffBaseMs: 1_000,
  maxBackoffMs: 30_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** What ARM last said is left, per subscription, counted down per request. */
export class ArmPacer {
  private readonly remaining = new Map<string, number>();
  private readonly attempts = new WeakMap<PipelineRequest, number>();
  readonly options: ArmPacerOptions;

  constructor(options: Partial<ArmPacerOptions> = {}) {
    this.options = { ...DEFAULT_PACER_OPTIONS, ...options };
  }

  /** The subscription a request reads in; undefined for tenant-level reads. */
  static scopeOf(url: string): string | undefined {
    return SUBSCRIPTION_OF.exec(new URL(url).pathname)?.[1]?.toLowerCase();
  }

  /** Waits, when the scope's remaining reads are low, for the bucket to refill to the low-water mark. */
  async pace(scope: string): Promise<void> {
    const left = this.remaining.get(scope);
    if (left === undefined) return;
    const { lowWater, refillPerSecond, maxWaitMs } = this.options;
    if (left < lowWater && refillPerSecond > 0) {
      const waitMs = Math.min(maxWaitMs, ((lowWater - left) / refillPerSecond) * 1000);
      // Counted as refilled before the wait, so requests waiting together do not all wait again.
      this.remaining.set(scope, lowWater - 1);
      await this.options.sleep(waitMs);
      return;
    }
    this.remaining.set(scope, left - 1);
  }

  /** Records what an answer says is left (the lowest of the headers it carries). */
  observe(scope: string, response: PipelineResponse): void {
    let lowest: number | undefined;
    for (const name of REMAINING_HEADERS) {
      const value = Number(response.headers.get(name));
      if (response.headers.has(name) && Number.isFinite(value)) lowest = Math.min(lowest ?? value, value);
    }
    if (lowest !== undefined) this.remaining.set(scope, lowest);
  }

  /** Gives a 429 without any Retry-After an exponential one, so the SDK's retry policy backs off. */
  backOff(request: PipelineRequest, response: PipelineResponse): void {
    if (response.status !== 429 || RETRY_AFTER_HEADERS.some((name) => response.headers.has(name))) return;
    const attempt = (this.attempts.get(request) ?? 0) + 1;
    this.attempts.set(request, attempt);
    const { backoffBaseMs, maxBackoffMs } = this.options;
    const delay = Math.min(maxBackoffMs, backoffBaseMs * 2 ** (attempt - 1));
    response.headers.set('retry-after-ms', String(Math.round(delay)));
  }
}

/** The pacer shared by every ARM client of this process (a subscription's budget is the process's). */
export const sharedArmPacer = new ArmPacer();

/** The pipeline policy (place it per retry, so it sees every attempt) pacing through `pacer`. */
export function armPacingPolicy(pacer: ArmPacer): PipelinePolicy {
  return {
    name: 'armPacing',
    async sendRequest(request, next) {
      const scope = ArmPacer.scopeOf(request.url);
      if (scope) await pacer.pace(scope);
      const response = await next(request);
      if (scope) pacer.observe(scope, response);
      pacer.backOff(request, response);
      return response;
    },
  };
}

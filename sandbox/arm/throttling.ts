/**
 * ARM's read throttling at the front door (the 2024 model,
 * https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling):
 * a request takes a token from the (scope, principal) bucket and, for a subscription, from the
 * subscription's global bucket, 15 times the principal's limit and shared by every principal. Both
 * are reported (`x-ms-ratelimit-remaining-subscription-reads` and
 * `x-ms-ratelimit-remaining-subscription-global-reads`); an empty bucket answers 429 with Retry-After.
 */
import type { AccessTokenClaims } from '../keys.js';
import type { ThrottleSettings, TokenBuckets } from '../throttle.js';
import { ArmError } from './errors.js';

/** Charges one read; sets the remaining-reads header on `headers`; throws a 429 ArmError when empty. */
/** The global subscription limit is this many times the per-principal one. */
export const GLOBAL_LIMIT_FACTOR = 15;

export function chargeRead(
  buckets: TokenBuckets,
  globalBuckets: TokenBuckets,
  throttle: ThrottleSettings,
  subscriptionId: string | undefined,
  claims: AccessTokenClaims,
  headers: Record<string, string>,
): void {
  const scopeKey = subscriptionId?.toLowerCase() ?? `tenant:${claims.tid}`;
  const decision = buckets.take(`${scopeKey}|${claims.oid}`, throttle);
  const remainingHeader =
    subscriptionId !== undefined
      ? 'x-ms-ratelimit-remaining-subscription-reads'
      : 'x-ms-ratelimit-remaining-tenant-reads';
  headers[remainingHeader] = String(decision.remaining);
  if (decision.allowed && subscriptionId !== undefined) {
    const global = globalBuckets.take(subscriptionId.toLowerCase(), {
      ...throttle,
      burst: throttle.burst * GLOBAL_LIMIT_FACTOR,
      refillPerSecond: throttle.refillPerSecond * GLOBAL_LIMIT_FACTOR,
    });
    headers['x-ms-ratelimit-remaining-subscription-global-reads'] = String(global.remaining);
    if (!global.allowed) {
      throw new ArmError(
        429,
        'SubscriptionRequestsThrottled',
        `Number of 'read' requests for subscription '${subscriptionId}' exceeded the global limit. Please try again after ` +
          `'${global.retryAfterSeconds}' seconds after the additional tokens are replenished. ` +
          'Please refer to https://aka.ms/arm-throttling for additional information.',
        { 'retry-after': String(global.retryAfterSeconds) },
      );
    }
  }
  if (!decision.allowed) {
    const scopeText =
      subscriptionId !== undefined ? `subscription '${subscriptionId}'` : `tenant '${claims.tid}'`;
    throw new ArmError(
      429,
      'SubscriptionRequestsThrottled',
      `Number of 'read' requests for ${scopeText} actor '${claims.oid}' exceeded. Please try again after ` +
        `'${decision.retryAfterSeconds}' seconds after the additional tokens are replenished. ` +
        'Please refer to https://aka.ms/arm-throttling for additional information.',
      { 'retry-after': String(decision.retryAfterSeconds) },
    );
  }
}

/**
 * ARM's read throttling at the front door: takes a token from the (scope, principal) bucket, reports
 * what is left in the remaining-reads header and refuses an empty bucket with 429 and Retry-After.
 */
import type { AccessTokenClaims } from '../keys.js';
import type { ThrottleSettings, TokenBuckets } from '../throttle.js';
import { ArmError } from './errors.js';

/** Charges one read; sets the remaining-reads header on `headers`; throws a 429 ArmError when empty. */
export function chargeRead(
  buckets: TokenBuckets,
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

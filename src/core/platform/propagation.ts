/**
 * Entra and Azure RBAC are eventually consistent: a service principal provisioned a moment ago is not
 * yet found by the token endpoint (AADSTS700016), and a role granted a moment ago is not yet honoured
 * by ARM or Storage (AuthorizationFailed, no subscription visible, AuthorizationPermissionMismatch)
 * ("Role assignment changes can take up to 10 minutes to take effect":
 * https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---role-assignment-changes-are-not-being-detected).
 * A tenant registered within the grace period that fails with one of these is most likely still
 * propagating: onboarding's verify retries it, and its failures do not open its circuit breaker.
 */
import type { Diagnosis } from './diagnosis.js';

/** Minutes after registration during which a propagation-like failure is expected (RBAC: up to 10). */
export const ONBOARDING_GRACE_MINUTES = 30;

const PROPAGATION_CODES = new Set([
  'AADSTS700016',
  'AuthorizationFailed',
  'NoVisibleSubscriptions',
  'SubscriptionNotVisible',
  'AuthorizationPermissionMismatch',
]);

/** Whether a failure is of the kinds propagation causes (whoever's change is still on its way). */
export function isPropagationLike(diagnosis: Pick<Diagnosis, 'code'> | undefined): boolean {
  return diagnosis !== undefined && PROPAGATION_CODES.has(diagnosis.code);
}

/** Whole minutes since `since` (ISO), or undefined when it is not a date. */
export function minutesSince(since: string | undefined, now: Date): number | undefined {
  const at = since ? Date.parse(since) : NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, Math.floor((now.getTime() - at) / 60_000));
}

/**
 * Whether a tenant registered at `registeredAt` failing with `diagnosis` is likely still propagating.
 * `graceMinutes` has no default: each caller passes the configured grace
 * (TENANT_FLEET_ONBOARDING_GRACE_MINUTES), so that none can quietly ignore the setting.
 */
export function likelyPropagation(
  diagnosis: Pick<Diagnosis, 'code'> | undefined,
  registeredAt: string | undefined,
  now: Date,
  graceMinutes: number,
): boolean {
  const minutes = minutesSince(registeredAt, now);
  return isPropagationLike(diagnosis) && minutes !== undefined && minutes < graceMinutes;
}

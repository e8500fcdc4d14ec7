/**
 * A tenant's sweep health in the registry: the circuit breaker (skip a tenant after N failed sweeps in
 * a row until an operator resets it or onboarding is verified again) and what a run's outcome, a
 * verification or a reset changes in its row. Pure: TenantRegistry writes the changes.
 */
import type { Diagnosis } from '../platform/diagnosis.js';
import type { SweepOutcomeStatus, TenantRecord } from './registry-row.js';
import { likelyPropagation } from '../platform/propagation.js';

/** Row changes of a tenant. */
export type RowChanges = Record<string, unknown>;

/** True when the tenant failed enough sweeps in a row to be skipped until reset or verified. */
export function isCircuitOpen(record: TenantRecord, threshold: number): boolean {
  return record.consecutiveFailures >= threshold;
}

/** Closes the circuit breaker (an operator fixed the cause). */
export function circuitResetChanges(now: string): RowChanges {
  return { consecutiveFailures: 0, updatedAt: now };
}

/** An onboarding check's result: verified closes the circuit; a diagnosis is kept as the last error. */
export function verificationChanges(verified: boolean, now: string, diagnosis?: Diagnosis): RowChanges {
  return {
    onboardingState: verified ? 'verified' : 'failed',
    ...(verified ? { consecutiveFailures: 0 } : {}),
    ...(diagnosis
      ? { lastErrorCode: diagnosis.code, lastErrorMessage: diagnosis.meaning, lastErrorAt: now }
      : {}),
    updatedAt: now,
  };
}

/**
 * A tenant's outcome in a run. Idempotent per run: undefined when the row already says this outcome
 * of this run, and a run's failure is counted once however often it is reported.
 *
 * A healthy tenant that stays healthy (succeeded again, verified, no failures counted) changes nothing:
 * its row keeps the sweep that made it healthy (`lastSweep`) and is not written, which saves every
 * sweep a registry write per tenant (docs/performance.md). The run's tenant rows record every sweep.
 */
export function sweepOutcomeChanges(
  current: TenantRecord,
  runId: string,
  status: SweepOutcomeStatus,
  now: string,
  diagnosis: Diagnosis | undefined,
  /**
   * Minutes after registration in which propagation-like failures do not count: the configured
   * TENANT_FLEET_ONBOARDING_GRACE_MINUTES, with no default here either (platform/propagation.ts).
   */
  onboardingGraceMinutes: number,
): RowChanges | undefined {
  if (current.lastSweep?.runId === runId && current.lastSweep.status === status) return undefined;
  if (staysHealthy(current, status)) return undefined;
  const alreadyCounted = current.lastSweep?.runId === runId;
  // A tenant not yet verified, registered within the grace period, failing as propagation does
  // (platform/propagation.ts): the failure is recorded but does not count towards the breaker.
  const propagating =
    current.onboardingState !== 'verified' &&
    likelyPropagation(diagnosis, current.createdAt, new Date(now), onboardingGraceMinutes);
  const failures =
    status === 'failed' ? current.consecutiveFailures + (alreadyCounted || propagating ? 0 : 1) : 0;
  return {
    lastSweepRunId: runId,
    lastSweepStatus: status,
    lastSweepAt: now,
    consecutiveFailures: failures,
    ...(status !== 'failed' && current.onboardingState !== 'verified' ? { onboardingState: 'verified' } : {}),
    ...(diagnosis
      ? {
          lastErrorCode: diagnosis.code,
          lastErrorMessage: `${diagnosis.meaning} Fix: ${diagnosis.fix}`.slice(0, 2000),
          lastErrorAt: now,
        }
      : {}),
    updatedAt: now,
  };
}

/** A succeeded sweep of a tenant whose row already says it is healthy: nothing to record. */
function staysHealthy(current: TenantRecord, status: SweepOutcomeStatus): boolean {
  return (
    status === 'succeeded' &&
    current.lastSweep?.status === 'succeeded' &&
    current.consecutiveFailures === 0 &&
    current.onboardingState === 'verified'
  );
}

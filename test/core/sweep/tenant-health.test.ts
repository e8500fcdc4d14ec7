/**
 * A tenant's sweep health on its own (pure row changes; test/core/sweep/registry.test.ts writes them
 * through the registry): the circuit breaker's threshold, what a verification or a reset changes, and
 * what each sweep outcome records, once per run, with propagation-like failures in the grace period
 * not counted.
 */
import { describe, expect, it } from 'vitest';
import type { Diagnosis } from '../../../src/core/platform/diagnosis.js';
import { ONBOARDING_GRACE_MINUTES } from '../../../src/core/platform/propagation.js';
import type { TenantRecord } from '../../../src/core/sweep/registry-row.js';
import {
  circuitResetChanges,
  isCircuitOpen,
  sweepOutcomeChanges,
  verificationChanges,
} from '../../../src/core/sweep/tenant-health.js';

const NOW = '2030-06-01T12:00:00.000Z';

function record(fields: Partial<TenantRecord> = {}): TenantRecord {
  return {
    tenantId: 'a0a0a0a0-0000-0000-0000-000000000001',
    displayName: 'Contoso',
    enabled: true,
    tags: [],
    subscriptions: { mode: 'all', include: [], exclude: [] },
    cloud: 'AzurePublicCloud',
    onboardingState: 'verified',
    consecutiveFailures: 0,
    createdAt: '2030-01-01T00:00:00.000Z',
    updatedAt: '2030-01-01T00:00:00.000Z',
    etag: 'W/"1"',
    ...fields,
  };
}

function diagnosis(code: string): Diagnosis {
  return {
    code,
    category: 'permission',
    owner: 'customer',
    meaning: `${code} happened.`,
    fix: 'Grant the role.',
    retryable: false,
  } as Diagnosis;
}

describe('the circuit breaker', () => {
  it('opens at the threshold, not before', () => {
    expect(isCircuitOpen(record({ consecutiveFailures: 2 }), 3)).toBe(false);
    expect(isCircuitOpen(record({ consecutiveFailures: 3 }), 3)).toBe(true);
    expect(isCircuitOpen(record({ consecutiveFailures: 4 }), 3)).toBe(true);
  });

  it('is closed by a reset and by a verification, not by a failed check', () => {
    expect(circuitResetChanges(NOW)).toEqual({ consecutiveFailures: 0, updatedAt: NOW });
    expect(verificationChanges(true, NOW)).toEqual({
      onboardingState: 'verified',
      consecutiveFailures: 0,
      updatedAt: NOW,
    });
    expect(verificationChanges(false, NOW, diagnosis('AuthorizationFailed'))).toEqual({
      onboardingState: 'failed',
      lastErrorCode: 'AuthorizationFailed',
      lastErrorMessage: 'AuthorizationFailed happened.',
      lastErrorAt: NOW,
      updatedAt: NOW,
    });
  });
});

describe('sweepOutcomeChanges', () => {
  it('counts a failure once per run and records the diagnosis with its fix', () => {
    const failed = sweepOutcomeChanges(
      record({ consecutiveFailures: 1 }),
      'run-2',
      'failed',
      NOW,
      diagnosis('AuthorizationFailed'),
      ONBOARDING_GRACE_MINUTES,
    );
    expect(failed).toEqual({
      lastSweepRunId: 'run-2',
      lastSweepStatus: 'failed',
      lastSweepAt: NOW,
      consecutiveFailures: 2,
      lastErrorCode: 'AuthorizationFailed',
      lastErrorMessage: 'AuthorizationFailed happened. Fix: Grant the role.',
      lastErrorAt: NOW,
      updatedAt: NOW,
    });
    // The same outcome of the same run again: nothing to write.
    const counted = record({
      consecutiveFailures: 2,
      lastSweep: { runId: 'run-2', status: 'failed', at: NOW },
    });
    expect(
      sweepOutcomeChanges(counted, 'run-2', 'failed', NOW, undefined, ONBOARDING_GRACE_MINUTES),
    ).toBeUndefined();
    // The same run reported again with another outcome: recorded, not counted again.
    const partial = record({
      consecutiveFailures: 2,
      lastSweep: { runId: 'run-2', status: 'partial', at: NOW },
    });
    expect(
      sweepOutcomeChanges(partial, 'run-2', 'failed', NOW, undefined, ONBOARDING_GRACE_MINUTES),
    ).toMatchObject({ consecutiveFailures: 2 });
  });

  it('cuts a long diagnosis at 2000 characters', () => {
    const long = { ...diagnosis('X'), meaning: 'm'.repeat(3000) };
    const changes = sweepOutcomeChanges(record(), 'run-1', 'failed', NOW, long, ONBOARDING_GRACE_MINUTES);
    expect(changes?.lastErrorMessage).toBe('m'.repeat(2000));
  });

  it('resets the count on success or partial, and verifies a tenant not verified yet', () => {
    const failing = record({ consecutiveFailures: 2, onboardingState: 'failed' });
    expect(
      sweepOutcomeChanges(failing, 'run-3', 'partial', NOW, undefined, ONBOARDING_GRACE_MINUTES),
    ).toEqual({
      lastSweepRunId: 'run-3',
      lastSweepStatus: 'partial',
      lastSweepAt: NOW,
      consecutiveFailures: 0,
      onboardingState: 'verified',
      updatedAt: NOW,
    });
    expect(
      sweepOutcomeChanges(
        record({ consecutiveFailures: 1 }),
        'run-3',
        'succeeded',
        NOW,
        undefined,
        ONBOARDING_GRACE_MINUTES,
      ),
    ).toEqual({
      lastSweepRunId: 'run-3',
      lastSweepStatus: 'succeeded',
      lastSweepAt: NOW,
      consecutiveFailures: 0,
      updatedAt: NOW,
    });
    // A failure does not verify.
    expect(
      sweepOutcomeChanges(
        record({ onboardingState: 'pending' }),
        'run-3',
        'failed',
        NOW,
        undefined,
        ONBOARDING_GRACE_MINUTES,
      ),
    ).not.toHaveProperty('onboardingState');
  });

  it('writes nothing for a healthy tenant that stays healthy, and something for any other', () => {
    const healthy = record({ lastSweep: { runId: 'run-1', status: 'succeeded', at: NOW } });
    expect(
      sweepOutcomeChanges(healthy, 'run-2', 'succeeded', NOW, undefined, ONBOARDING_GRACE_MINUTES),
    ).toBeUndefined();
    for (const notQuite of [
      record({ lastSweep: { runId: 'run-1', status: 'partial', at: NOW } }),
      record({ lastSweep: { runId: 'run-1', status: 'succeeded', at: NOW }, consecutiveFailures: 1 }),
      record({ lastSweep: { runId: 'run-1', status: 'succeeded', at: NOW }, onboardingState: 'pending' }),
      record(),
    ])
      expect(
        sweepOutcomeChanges(notQuite, 'run-2', 'succeeded', NOW, undefined, ONBOARDING_GRACE_MINUTES),
      ).toMatchObject({
        lastSweepRunId: 'run-2',
      });
    expect(
      sweepOutcomeChanges(healthy, 'run-2', 'partial', NOW, undefined, ONBOARDING_GRACE_MINUTES),
    ).toMatchObject({
      lastSweepStatus: 'partial',
    });
  });

  it('does not count a propagation-like failure of a tenant registered within the grace period', () => {
    const fresh = record({ onboardingState: 'pending', createdAt: '2030-06-01T11:50:00.000Z' });
    const propagating = diagnosis('AuthorizationFailed');
    expect(
      sweepOutcomeChanges(fresh, 'run-1', 'failed', NOW, propagating, ONBOARDING_GRACE_MINUTES),
    ).toMatchObject({
      consecutiveFailures: 0,
      lastErrorCode: 'AuthorizationFailed',
    });
    // Counted: past the grace period (here 5 minutes), another kind of failure, or a verified tenant.
    expect(sweepOutcomeChanges(fresh, 'run-1', 'failed', NOW, propagating, 5)).toMatchObject({
      consecutiveFailures: 1,
    });
    expect(
      sweepOutcomeChanges(
        fresh,
        'run-1',
        'failed',
        NOW,
        diagnosis('SubscriptionDisabled'),
        ONBOARDING_GRACE_MINUTES,
      ),
    ).toMatchObject({
      consecutiveFailures: 1,
    });
    expect(
      sweepOutcomeChanges(
        { ...fresh, onboardingState: 'verified' },
        'run-1',
        'failed',
        NOW,
        propagating,
        ONBOARDING_GRACE_MINUTES,
      ),
    ).toMatchObject({ consecutiveFailures: 1 });
  });
});

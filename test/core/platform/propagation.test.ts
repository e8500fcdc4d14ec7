/**
 * Which failures look like Entra/RBAC propagation and for how long after registration they are
 * expected (pure; test/core/operations/onboarding-propagation.test.ts drives it through onboarding).
 */
import { describe, expect, it } from 'vitest';
import {
  isPropagationLike,
  likelyPropagation,
  minutesSince,
  ONBOARDING_GRACE_MINUTES,
} from '../../../src/core/platform/propagation.js';

const NOW = new Date('2030-06-01T12:00:00.000Z');

describe('propagation', () => {
  it('is the kind of failure a fresh service principal or role assignment causes', () => {
    for (const code of [
      'AADSTS700016',
      'AuthorizationFailed',
      'NoVisibleSubscriptions',
      'SubscriptionNotVisible',
      'AuthorizationPermissionMismatch',
    ])
      expect(isPropagationLike({ code }), code).toBe(true);
    for (const code of ['AADSTS7000215', 'SubscriptionDisabled', 'ServiceUnavailable', ''])
      expect(isPropagationLike({ code }), code).toBe(false);
    expect(isPropagationLike(undefined)).toBe(false);
  });

  it('counts whole minutes since a time, never less than 0, and nothing for what is no time', () => {
    expect(minutesSince('2030-06-01T11:50:30.000Z', NOW)).toBe(9);
    expect(minutesSince('2030-06-01T11:50:00.000Z', NOW)).toBe(10);
    expect(minutesSince('2030-06-01T12:05:00.000Z', NOW)).toBe(0);
    expect(minutesSince('not a time', NOW)).toBeUndefined();
    expect(minutesSince('', NOW)).toBeUndefined();
    expect(minutesSince(undefined, NOW)).toBeUndefined();
  });

  it(`is likely within ${ONBOARDING_GRACE_MINUTES} minutes of registration (or the grace given), not at its end`, () => {
    const failed = { code: 'AuthorizationFailed' };
    expect(ONBOARDING_GRACE_MINUTES).toBe(30);
    expect(likelyPropagation(failed, '2030-06-01T11:30:30.000Z', NOW, ONBOARDING_GRACE_MINUTES)).toBe(true);
    expect(likelyPropagation(failed, '2030-06-01T11:30:00.000Z', NOW, ONBOARDING_GRACE_MINUTES)).toBe(false);
    expect(likelyPropagation(failed, '2030-06-01T11:55:00.000Z', NOW, 5)).toBe(false);
    expect(likelyPropagation(failed, '2030-06-01T11:55:30.000Z', NOW, 5)).toBe(true);
    expect(likelyPropagation(failed, '2030-06-01T11:59:00.000Z', NOW, 0)).toBe(false);
    expect(
      likelyPropagation(
        { code: 'SubscriptionDisabled' },
        '2030-06-01T11:59:00.000Z',
        NOW,
        ONBOARDING_GRACE_MINUTES,
      ),
    ).toBe(false);
    expect(likelyPropagation(failed, undefined, NOW, ONBOARDING_GRACE_MINUTES)).toBe(false);
  });
});

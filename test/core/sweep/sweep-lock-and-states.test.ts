/**
 * The sweep lock against the real Table service (Azurite): one run at a time, the refusal naming the
 * run that holds it, release only by the holder and idempotent. And the subscription state rule on its
 * own (which visible subscriptions are swept, kept or reported). The sweep tests drive both in a run.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AZURE_CLOUDS } from '../../../src/core/platform/cloud.js';
import type { VisibleSubscription } from '../../../src/core/platform/arm.js';
import { ConflictError } from '../../../src/core/platform/errors.js';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import { classifySubscriptions } from '../../../src/core/sweep/subscription-states.js';
import { SweepLock } from '../../../src/core/sweep/sweep-lock.js';
import type { TenantWarning } from '../../../src/core/sweep/tenant-sweep.js';
import { testConfig } from '../../support/provider.js';

const config = testConfig();
const storage = new ProviderStorage(config);

beforeAll(async () => {
  await storage.ensureResources();
});

describe('the sweep lock', () => {
  it('is held by one run at a time; another is refused as busy, naming the holder', async () => {
    const lock = new SweepLock(storage.table(config.names.runsTable));
    expect(await lock.holder()).toBeUndefined();
    await lock.acquire('run-a', '2030-01-01T00:00:00Z');
    expect(await lock.holder()).toMatchObject({ runId: 'run-a', acquiredAt: '2030-01-01T00:00:00Z' });
    const busy = await lock.acquire('run-b', '2030-01-01T00:01:00Z').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(busy).toBeInstanceOf(ConflictError);
    expect(busy).toMatchObject({ kind: 'busy', message: 'a sweep is already running (run run-a)' });

    await lock.release('run-b'); // not the holder: nothing happens
    expect((await lock.holder())?.runId).toBe('run-a');
    await lock.release('run-a');
    expect(await lock.holder()).toBeUndefined();
    await lock.release('run-a'); // again: nothing to do
    await lock.acquire('run-b', '2030-01-01T00:02:00Z');
    expect((await lock.holder())?.runId).toBe('run-b');
    await lock.release('run-b');
  });

  it('fails on what is not a conflict (its table is missing)', async () => {
    const lock = new SweepLock(storage.table(`tnolock${randomUUID().slice(0, 8)}`));
    await expect(lock.acquire('run-a', 'now')).rejects.toMatchObject({ statusCode: 404 });
    await expect(lock.holder()).resolves.toBeUndefined();
  });
});

describe('the subscription state rule', () => {
  it('sweeps usable subscriptions, keeps Disabled ones and reports them, reports Deleted ones it knew', () => {
    const visible = (subscriptionId: string, state: string): VisibleSubscription => ({
      subscriptionId,
      displayName: subscriptionId,
      state,
      tenantId: 't',
    });
    const warnings: TenantWarning[] = [];
    const result = classifySubscriptions(
      [
        visible('s-enabled', 'Enabled'),
        visible('s-warned', 'Warned'),
        visible('s-pastdue', 'PastDue'),
        visible('s-disabled', 'Disabled'),
        visible('s-deleted-known', 'Deleted'),
        visible('s-deleted-unknown', 'Deleted'),
      ],
      new Set(['s-deleted-known', 's-enabled']),
      { cloud: AZURE_CLOUDS.AzurePublicCloud, appClientId: randomUUID(), tenantId: 't' },
      warnings,
    );
    expect(result.swept.map((s) => s.subscriptionId)).toEqual(['s-enabled', 's-warned', 's-pastdue']);
    expect(result.kept).toEqual(['s-disabled']);
    expect(warnings.map((w) => [w.scope, w.id, w.diagnosis.code])).toEqual([
      ['subscription', 's-disabled', 'SubscriptionDisabled'],
      ['subscription', 's-deleted-known', 'SubscriptionDeleted'],
    ]);
    expect(warnings[0]!.diagnosis.detail).toBe('s-disabled');
  });
});

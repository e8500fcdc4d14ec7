/**
 * The sweep's decisions that need no customer cloud: which tenants a run skips (excluded, circuit
 * open), a tenant removed while its message waits, a run that fails to start, a lock left without its
 * run, and the timer skipping a tick while a run is busy. Each test builds its own installation (own
 * tables and queue), so any test runs alone. Everything goes through the public entry points
 * (startSweep, processTenantMessage, the timer handler).
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext, type Timer } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError } from '../../../src/core/platform/errors.js';
import { createRuntime, setRuntime, type FleetRuntime } from '../../../src/core/runtime.js';
import { newRunId } from '../../../src/core/sweep/runs.js';
import { processTenantMessage, recordPoisonMessage, startSweep } from '../../../src/core/sweep/sweep.js';
import { sweepTimer } from '../../../src/functions/sweepTimer.js';
import { testConfig } from '../../support/provider.js';
import { queuedSweepMessages } from '../../support/sweep-queue.js';

/** A fresh installation with `count` registered, enabled tenants. */
async function installation(count: number, now?: () => Date) {
  const runtime = createRuntime(testConfig(), { log: () => undefined, ...(now ? { now } : {}) });
  await runtime.storage.ensureResources();
  const tenantIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const { tenantId } = await runtime.registry.add(
      { tenantId: randomUUID(), displayName: `Customer ${i}` },
      'test',
    );
    tenantIds.push(tenantId);
  }
  return { runtime, tenantIds };
}

/** The tenant ids of the messages a run enqueued (read without removing them). */
async function queuedTenantIds(runtime: FleetRuntime): Promise<string[]> {
  return (await queuedSweepMessages(runtime)).map((message) => message.tenantId).sort();
}

async function failThreeRuns(runtime: FleetRuntime, tenantId: string): Promise<void> {
  for (let i = 0; i < runtime.config.sweep.circuitBreakerThreshold; i++) {
    await runtime.registry.recordSweepOutcome(
      tenantId,
      newRunId(new Date(Date.UTC(2026, 0, 1, i))),
      'failed',
    );
  }
}

describe('tenants a run does not sweep', () => {
  it('skips an excluded tenant: recorded as skipped with TenantExcluded and its reason, not enqueued', async () => {
    const { runtime, tenantIds } = await installation(2);
    const [kept, excluded] = tenantIds as [string, string];
    await runtime.registry.update(excluded, { enabled: false, reason: 'contract paused' }, 'bob');

    const result = await startSweep(runtime, { trigger: 'timer' });

    expect(result).toMatchObject({ queued: 1, skipped: 1, invalid: 0 });
    expect(await queuedTenantIds(runtime)).toEqual([kept]);
    expect(await runtime.runs.getTenant(result.runId, excluded)).toMatchObject({
      status: 'skipped',
      diagnosisCode: 'TenantExcluded',
      diagnosisDetail: 'contract paused',
    });
    expect((await runtime.runs.getTenant(result.runId, excluded))?.endedAt).toBe(
      (await runtime.runs.getRun(result.runId)).startedAt,
    );
  });

  it('skips a tenant whose circuit breaker is open on a scheduled run, and names its last failure', async () => {
    const { runtime, tenantIds } = await installation(2);
    const [kept, broken] = tenantIds as [string, string];
    await failThreeRuns(runtime, broken);
    expect(runtime.registry.isCircuitOpen(await runtime.registry.get(broken))).toBe(true);

    const result = await startSweep(runtime, { trigger: 'timer' });

    expect(result).toMatchObject({ queued: 1, skipped: 1 });
    expect(await queuedTenantIds(runtime)).toEqual([kept]);
    expect(await runtime.runs.getTenant(result.runId, broken)).toMatchObject({
      status: 'skipped',
      diagnosisCode: 'CircuitOpen',
      diagnosisDetail: '3 failures in a row; last: unknown',
    });
  });

  it('still sweeps a circuit-open tenant an operator names on demand', async () => {
    const { runtime, tenantIds } = await installation(2);
    const broken = tenantIds[1]!;
    await failThreeRuns(runtime, broken);

    const result = await startSweep(runtime, { trigger: 'http', tenantIds: [broken.toUpperCase()] });

    expect(result).toMatchObject({ queued: 1, skipped: 0 });
    expect(await queuedTenantIds(runtime)).toEqual([broken]);
    expect((await runtime.runs.getTenant(result.runId, broken))?.status).toBe('queued');
  });

  it('closes a run at once when every tenant is skipped, releasing the lock', async () => {
    const { runtime, tenantIds } = await installation(1);
    await runtime.registry.update(tenantIds[0]!, { enabled: false, reason: 'offboarding' }, 'bob');
    const result = await startSweep(runtime, { trigger: 'timer' });
    expect(result).toMatchObject({ queued: 0, skipped: 1 });
    expect(await runtime.runs.getRun(result.runId)).toMatchObject({
      status: 'completed',
      totals: { tenants: 1, skipped: 1 },
    });
    expect(await runtime.runs.lockHolder()).toBeUndefined();
  });
});

describe('a tenant removed while its message waits', () => {
  it('records the tenant as skipped with TenantRemoved and closes the drained run', async () => {
    const { runtime, tenantIds } = await installation(1);
    const tenantId = tenantIds[0]!;
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    await runtime.registry.remove(tenantId);

    const outcome = await processTenantMessage(runtime, { v: 1, runId, tenantId }, { dequeueCount: 1 });

    expect(outcome).toBe('skipped');
    expect(await runtime.runs.getTenant(runId, tenantId)).toMatchObject({
      status: 'skipped',
      diagnosisCode: 'TenantRemoved',
      attempts: 1,
    });
    expect(await runtime.runs.getRun(runId)).toMatchObject({
      status: 'completed',
      totals: { tenants: 1, skipped: 1 },
    });
    await expect(runtime.registry.get(tenantId)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('a redelivered message of a tenant already finished', () => {
  it("records the run's outcome in the registry (a worker that died after the run row), and sweeps nothing", async () => {
    const { runtime, tenantIds } = await installation(3);
    const [partial, failed, skipped] = tenantIds as [string, string, string];
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    const endedAt = new Date().toISOString();
    // Each worker wrote its tenant's run row, then died before the registry write.
    await runtime.runs.finishTenant(runId, partial, 'partial', { endedAt, resources: 7 });
    await runtime.runs.finishTenant(runId, failed, 'failed', { endedAt });
    await runtime.runs.finishTenant(runId, skipped, 'skipped', { endedAt });

    for (const tenantId of tenantIds)
      expect(await processTenantMessage(runtime, { v: 1, runId, tenantId }, { dequeueCount: 2 })).toBe(
        'duplicate',
      );

    expect(await runtime.registry.get(partial)).toMatchObject({
      lastSweep: { runId, status: 'partial' },
      consecutiveFailures: 0,
    });
    expect(await runtime.registry.get(failed)).toMatchObject({
      lastSweep: { runId, status: 'failed' },
      consecutiveFailures: 1,
    });
    // A skipped tenant was not swept: the registry keeps saying so.
    expect((await runtime.registry.get(skipped)).lastSweep).toBeUndefined();
    // The rows stay as the workers wrote them, and the drained run is closed.
    expect(await runtime.runs.getTenant(runId, partial)).toMatchObject({ status: 'partial', resources: 7 });
    expect(await runtime.runs.getRun(runId)).toMatchObject({
      status: 'completedWithErrors',
      totals: { tenants: 3, partial: 1, failed: 1, skipped: 1 },
    });
  });

  it('is recorded when the tenant was removed meanwhile, without failing', async () => {
    const { runtime, tenantIds } = await installation(1);
    const tenantId = tenantIds[0]!;
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    await runtime.runs.finishTenant(runId, tenantId, 'succeeded', { endedAt: new Date().toISOString() });
    await runtime.registry.remove(tenantId);
    expect(await processTenantMessage(runtime, { v: 1, runId, tenantId }, { dequeueCount: 2 })).toBe(
      'duplicate',
    );
    expect(await runtime.runs.getRun(runId)).toMatchObject({ status: 'completed' });
  });
});

describe('a message that reached the poison queue', () => {
  it('records the tenant as failed in the run and in the registry, once', async () => {
    const { runtime, tenantIds } = await installation(1);
    const tenantId = tenantIds[0]!;
    const { runId } = await startSweep(runtime, { trigger: 'timer' });

    expect(await recordPoisonMessage(runtime, { v: 1, runId, tenantId })).toBe('recorded');
    expect(await recordPoisonMessage(runtime, { v: 1, runId, tenantId })).toBe('duplicate');

    expect(await runtime.runs.getTenant(runId, tenantId)).toMatchObject({
      status: 'failed',
      diagnosisCode: 'PoisonMessage',
    });
    expect(await runtime.registry.get(tenantId)).toMatchObject({
      consecutiveFailures: 1,
      lastSweep: { runId, status: 'failed' },
      lastError: { code: 'PoisonMessage' },
    });
    expect(await runtime.runs.getRun(runId)).toMatchObject({
      status: 'completedWithErrors',
      totals: { tenants: 1, failed: 1 },
    });
  });

  it('still records the run when the tenant was removed from the registry meanwhile', async () => {
    const { runtime, tenantIds } = await installation(1);
    const tenantId = tenantIds[0]!;
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    await runtime.registry.remove(tenantId);
    expect(await recordPoisonMessage(runtime, { v: 1, runId, tenantId })).toBe('recorded');
    expect((await runtime.runs.getTenant(runId, tenantId))?.status).toBe('failed');
  });
});

describe('the sweep lock', () => {
  it('closes a run that fails to start, so the next run is not refused as busy', async () => {
    const { runtime, tenantIds } = await installation(1);
    // A registry row under a tenant id that does not parse: `get` reports it as invalid (not missing),
    // so the run starts, and then finds no valid row for the tenant asked for.
    const broken = randomUUID();
    await runtime.storage
      .table(runtime.config.names.tenantsTable)
      .upsertEntity({ partitionKey: 'tenant', rowKey: broken, enabled: 'yes' });

    await expect(startSweep(runtime, { trigger: 'http', tenantIds: [broken] })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(await runtime.runs.lockHolder()).toBeUndefined();
    const [failed] = await runtime.runs.listRuns(1);
    expect(failed).toMatchObject({ status: 'completed', totals: { tenants: 0 } });

    const next = await startSweep(runtime, { trigger: 'http', tenantIds: [tenantIds[0]!] });
    expect(next).toMatchObject({ queued: 1 });
  });

  it('releases a lock left without its run (a crash at start) and starts a new run', async () => {
    const { runtime, tenantIds } = await installation(1);
    const orphan = newRunId(new Date(Date.UTC(2026, 0, 1)));
    await runtime.runs.acquireLock(orphan, new Date().toISOString());
    await expect(runtime.runs.getRun(orphan)).rejects.toBeInstanceOf(NotFoundError);

    const result = await startSweep(runtime, { trigger: 'timer' });

    expect(result).toMatchObject({ queued: 1 });
    expect(result.closedStuckRun).toBeUndefined();
    expect((await runtime.runs.lockHolder())?.runId).toBe(result.runId);
    expect(await queuedTenantIds(runtime)).toEqual(tenantIds);
  });

  it('refuses a second run while the first is within its timeout', async () => {
    const { runtime } = await installation(1);
    const first = await startSweep(runtime, { trigger: 'timer' });
    const refused = await startSweep(runtime, { trigger: 'timer' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConflictError);
    expect(refused).toMatchObject({ kind: 'busy' });
    expect((refused as Error).message).toContain(first.runId);
  });
});

describe('the sweep timer', () => {
  function timerContext() {
    const lines: Array<[string, string]> = [];
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: 'sweepTimer',
      logHandler: (level, ...args) => lines.push([level, args.map(String).join(' ')]),
    });
    return { context, lines };
  }
  const timer: Timer = {
    isPastDue: false,
    schedule: { adjustForDST: false },
    scheduleStatus: { last: '', next: '', lastUpdated: '' },
  };

  it('skips a tick with a warning while a run is busy, and starts nothing', async () => {
    const { runtime } = await installation(1);
    setRuntime(runtime);
    try {
      const first = await startSweep(runtime, { trigger: 'timer' });
      const { context, lines } = timerContext();

      await expect(sweepTimer(timer, context)).resolves.toBeUndefined();

      const { startedAt } = await runtime.runs.getRun(first.runId);
      expect(lines).toEqual([
        ['warning', `sweep skipped: run ${first.runId} is still in progress (started ${startedAt})`],
      ]);
      expect((await runtime.runs.listRuns()).map((run) => run.runId)).toEqual([first.runId]);
    } finally {
      setRuntime(undefined);
    }
  });

  it('starts a run on a free tick and logs what it queued', async () => {
    const { runtime } = await installation(2);
    setRuntime(runtime);
    try {
      const { context, lines } = timerContext();
      await sweepTimer({ ...timer, isPastDue: true }, context);
      const [run] = await runtime.runs.listRuns();
      expect(lines).toEqual([
        [
          'information',
          `run ${run!.runId}: 2 tenants queued, 0 skipped, 0 invalid rows (timer was past due)`,
        ],
      ]);
    } finally {
      setRuntime(undefined);
    }
  });

  it('fails the tick for anything other than a busy run', async () => {
    const { runtime } = await installation(0);
    // The lock cannot be read (storage trouble): the tick must fail, not pass as "skipped".
    const runs = Object.assign(Object.create(Object.getPrototypeOf(runtime.runs) as object), runtime.runs, {
      lockHolder: () => Promise.reject(new Error('table unavailable')),
    }) as FleetRuntime['runs'];
    setRuntime({ ...runtime, runs });
    try {
      const { context, lines } = timerContext();
      await expect(sweepTimer(timer, context)).rejects.toThrow('table unavailable');
      expect(lines).toEqual([]);
    } finally {
      setRuntime(undefined);
    }
  });
});

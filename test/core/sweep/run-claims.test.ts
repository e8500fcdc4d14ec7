/**
 * A worker's claim on a tenant row (beginTenant) lets it finish the row without reading it again; a
 * claim made stale by another delivery must neither overwrite that delivery's result nor count twice.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { diagnosisFor } from '../../../src/core/platform/diagnosis.js';
import { ConflictError } from '../../../src/core/platform/errors.js';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import { newRunId, RunStore } from '../../../src/core/sweep/runs.js';
import { testConfig } from '../../support/provider.js';

const config = testConfig();
const storage = new ProviderStorage(config);
const runs = new RunStore(storage.table(config.names.runsTable), storage.table(config.names.runTenantsTable));

beforeAll(async () => {
  await storage.ensureResources();
});

async function queuedTenant(): Promise<{ runId: string; tenantId: string }> {
  const runId = newRunId(new Date());
  const tenantId = randomUUID();
  await runs.addTenants(runId, [{ tenantId, displayName: 'Litware', status: 'queued' }]);
  return { runId, tenantId };
}

describe('tenant claims', () => {
  it('finishes a claimed tenant from the claim, with its duration', async () => {
    const { runId, tenantId } = await queuedTenant();
    const claim = await runs.beginTenant(runId, tenantId, 1, '2026-11-23T10:00:00.000Z');
    expect(claim?.startedAt).toBe('2026-11-23T10:00:00.000Z');
    expect(typeof claim?.etag).toBe('string');
    const finished = await runs.finishTenant(
      runId,
      tenantId,
      'succeeded',
      { endedAt: '2026-11-23T10:00:02.500Z', resources: 7 },
      claim,
    );
    expect(finished).toBe(true);
    expect(await runs.getTenant(runId, tenantId)).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      durationMs: 2500,
      resources: 7,
      displayName: 'Litware',
    });
  });

  it("finishes a first delivery against the ETag the run's start wrote, without a claim write", async () => {
    const runId = newRunId(new Date());
    const tenantIds = Array.from({ length: 150 }, () => randomUUID());
    const etags = await runs.addTenants(
      runId,
      tenantIds.map((tenantId) => ({ tenantId, displayName: 'Litware', status: 'queued' as const })),
    );
    // Two transactions (100 + 50 rows), every row's ETag returned, each the row's as stored.
    expect(etags.size).toBe(150);
    const [first, last] = [tenantIds[0]!, tenantIds[149]!];
    expect(etags.get(first)).toBe((await runs.getTenant(runId, first))!.etag);
    expect(etags.get(last)).toBe((await runs.getTenant(runId, last))!.etag);
    const claim = { etag: etags.get(first)!, startedAt: '2026-11-23T10:00:00.000Z', attempt: 1 };
    expect(
      await runs.finishTenant(runId, first, 'succeeded', { endedAt: '2026-11-23T10:00:01.000Z' }, claim),
    ).toBe(true);
    expect(await runs.getTenant(runId, first)).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      startedAt: '2026-11-23T10:00:00.000Z',
      durationMs: 1000,
    });
    // The same message delivered again, after the result: its ETag is stale, the row is read, and the
    // finished result stands.
    expect(
      await runs.finishTenant(runId, first, 'failed', { endedAt: '2026-11-23T10:00:09.000Z' }, claim),
    ).toBe(false);
    expect((await runs.getTenant(runId, first))!.status).toBe('succeeded');
  });

  it('refuses a second claim once the tenant is finished', async () => {
    const { runId, tenantId } = await queuedTenant();
    const claim = await runs.beginTenant(runId, tenantId, 1, new Date().toISOString());
    await runs.finishTenant(runId, tenantId, 'succeeded', { endedAt: new Date().toISOString() }, claim);
    expect(await runs.beginTenant(runId, tenantId, 2, new Date().toISOString())).toBeUndefined();
  });

  it('keeps the result of the delivery that finished first when a stale claim finishes', async () => {
    const { runId, tenantId } = await queuedTenant();
    // Two deliveries of the same message claim the tenant one after the other: the first claim's
    // ETag is stale as soon as the second delivery writes.
    const first = await runs.beginTenant(runId, tenantId, 1, '2026-11-23T10:00:00.000Z');
    const second = await runs.beginTenant(runId, tenantId, 2, '2026-11-23T10:05:00.000Z');
    expect(second?.etag).not.toBe(first?.etag);
    expect(
      await runs.finishTenant(runId, tenantId, 'failed', { endedAt: '2026-11-23T10:06:00.000Z' }, second),
    ).toBe(true);
    // The first delivery's write is refused by its ETag, the row is read, and it is already terminal.
    expect(
      await runs.finishTenant(runId, tenantId, 'succeeded', { endedAt: '2026-11-23T10:07:00.000Z' }, first),
    ).toBe(false);
    expect(await runs.getTenant(runId, tenantId)).toMatchObject({ status: 'failed', attempts: 2 });
  });

  it('records the result even when the claimed row was deleted meanwhile', async () => {
    const { runId, tenantId } = await queuedTenant();
    const claim = await runs.beginTenant(runId, tenantId, 1, '2026-11-23T10:00:00.000Z');
    await storage.table(config.names.runTenantsTable).deleteEntity(runId, tenantId);
    expect(
      await runs.finishTenant(runId, tenantId, 'succeeded', { endedAt: '2026-11-23T10:00:01.000Z' }, claim),
    ).toBe(true);
    expect(await runs.getTenant(runId, tenantId)).toMatchObject({ status: 'succeeded' });
  });

  it('finishes after a stale claim when the row is still running (another write in between)', async () => {
    const { runId, tenantId } = await queuedTenant();
    const first = await runs.beginTenant(runId, tenantId, 1, '2026-11-23T10:00:00.000Z');
    await runs.beginTenant(runId, tenantId, 2, '2026-11-23T10:05:00.000Z');
    expect(
      await runs.finishTenant(runId, tenantId, 'succeeded', { endedAt: '2026-11-23T10:00:03.000Z' }, first),
    ).toBe(true);
    // The duration comes from the row as stored (the first start is kept across deliveries).
    expect(await runs.getTenant(runId, tenantId)).toMatchObject({ status: 'succeeded', durationMs: 3000 });
  });
});

/**
 * A RunStore whose table runs `between` right after each of its first `times` row reads (found or
 * not): another worker's write landing between this worker's read and its conditional write.
 */
function racingStore(
  which: 'runs' | 'runTenants',
  between: (race: number) => Promise<unknown>,
  times = 1,
): { store: RunStore; raced: () => boolean; reads: () => number } {
  let reads = 0;
  const wrap = (table: ReturnType<typeof storage.table>) =>
    new Proxy(table, {
      get(target, property, receiver) {
        if (property !== 'getEntity') return Reflect.get(target, property, receiver) as unknown;
        return async (...args: Parameters<typeof table.getEntity>) => {
          try {
            return await target.getEntity(...args);
          } finally {
            if (reads++ < times) await between(reads);
          }
        };
      },
    });
  const runsTable = storage.table(config.names.runsTable);
  const tenantsTable = storage.table(config.names.runTenantsTable);
  const store = new RunStore(
    which === 'runs' ? wrap(runsTable) : runsTable,
    which === 'runTenants' ? wrap(tenantsTable) : tenantsTable,
  );
  return { store, raced: () => reads > 0, reads: () => reads };
}

describe('races between workers', () => {
  it('gives no claim when another delivery finishes the tenant between the read and the claim', async () => {
    const { runId, tenantId } = await queuedTenant();
    const { store, raced } = racingStore('runTenants', () =>
      runs.finishTenant(runId, tenantId, 'succeeded', { endedAt: '2026-11-23T10:00:01.000Z', resources: 4 }),
    );
    expect(await store.beginTenant(runId, tenantId, 2, '2026-11-23T10:00:02.000Z')).toBeUndefined();
    expect(raced()).toBe(true);
    expect(await runs.getTenant(runId, tenantId)).toMatchObject({ status: 'succeeded', resources: 4 });
  });

  it('claims without an ETag when another delivery only started the tenant in between', async () => {
    const { runId, tenantId } = await queuedTenant();
    const { store, raced } = racingStore('runTenants', () =>
      runs.beginTenant(runId, tenantId, 1, '2026-11-23T10:00:00.000Z'),
    );
    const claim = await store.beginTenant(runId, tenantId, 2, '2026-11-23T10:00:05.000Z');
    expect(raced()).toBe(true);
    // The start of the delivery that got there first is kept; no ETag: finishing reads the row first.
    expect(claim).toEqual({ startedAt: '2026-11-23T10:00:00.000Z' });
    expect(
      await store.finishTenant(runId, tenantId, 'succeeded', { endedAt: '2026-11-23T10:00:06.000Z' }, claim),
    ).toBe(true);
    expect(await runs.getTenant(runId, tenantId)).toMatchObject({ status: 'succeeded', durationMs: 6000 });
  });

  it('keeps the totals of the worker that closed the run first when two close it at once', async () => {
    const runId = newRunId(new Date('2026-11-23T10:00:00Z'));
    const tenantId = randomUUID();
    await runs.createRun({ runId, trigger: 'timer', status: 'running', startedAt: '2026-11-23T10:00:00Z' });
    await runs.addTenants(runId, [{ tenantId, displayName: 'Litware', status: 'queued' }]);
    await runs.finishTenant(runId, tenantId, 'succeeded', { endedAt: '2026-11-23T10:00:01.000Z' });
    const { store, raced } = racingStore('runs', () => runs.finalizeRun(runId, '2026-11-23T10:00:02.000Z'));

    const closed = await store.finalizeRun(runId, '2026-11-23T10:00:03.000Z');

    expect(raced()).toBe(true);
    expect(closed).toMatchObject({
      status: 'completed',
      endedAt: '2026-11-23T10:00:02.000Z',
      totals: { tenants: 1, succeeded: 1 },
    });
  });

  it('keeps the result of a delivery that created the missing row between the read and the create', async () => {
    const runId = newRunId(new Date());
    const tenantId = randomUUID();
    const { store, raced } = racingStore('runTenants', () =>
      runs.finishTenant(runId, tenantId, 'succeeded', { endedAt: '2026-11-23T10:00:01.000Z', resources: 4 }),
    );
    // The row is missing when read; the other delivery's create lands first, so this create conflicts
    // (409), the row is read again and is terminal.
    expect(await store.finishTenant(runId, tenantId, 'failed', { endedAt: '2026-11-23T10:00:02.000Z' })).toBe(
      false,
    );
    expect(raced()).toBe(true);
    expect(await runs.getTenant(runId, tenantId)).toMatchObject({ status: 'succeeded', resources: 4 });
  });

  it('gives up after five conflicting writes in a row, naming the tenant and the run', async () => {
    const { runId, tenantId } = await queuedTenant();
    // Another delivery claims the tenant again after every read, one time more than the store tries.
    const { store, reads } = racingStore(
      'runTenants',
      (race) => runs.beginTenant(runId, tenantId, race, '2026-11-23T10:00:00.000Z'),
      6,
    );
    const result = store.finishTenant(runId, tenantId, 'succeeded', { endedAt: '2026-11-23T10:00:01.000Z' });
    await expect(result).rejects.toBeInstanceOf(ConflictError);
    await expect(result).rejects.toThrow(`could not record the result of tenant ${tenantId} in run ${runId}`);
    expect(reads()).toBe(5);
    expect(await runs.getTenant(runId, tenantId)).toMatchObject({ status: 'running' });
  });

  it('counts a tenant its worker finished while the stuck run was being closed as that worker recorded it', async () => {
    const runId = newRunId(new Date('2026-11-23T10:00:00Z'));
    const [finishing, stuck] = [randomUUID(), randomUUID()];
    await runs.createRun({ runId, trigger: 'timer', status: 'running', startedAt: '2026-11-23T10:00:00Z' });
    await runs.addTenants(runId, [
      { tenantId: finishing, displayName: 'Litware', status: 'queued' },
      { tenantId: stuck, displayName: 'Contoso', status: 'queued' },
    ]);
    // Right after the close reads the first tenant row to abandon it, both workers write: one claims its
    // tenant (the close's write is then refused and retried), the other finishes its tenant.
    const { store, raced } = racingStore('runTenants', async () => {
      for (const tenantId of [finishing, stuck]) {
        const claim = await runs.beginTenant(runId, tenantId, 1, '2026-11-23T10:00:01.000Z');
        if (tenantId === finishing)
          await runs.finishTenant(
            runId,
            tenantId,
            'succeeded',
            { endedAt: '2026-11-23T11:00:00.000Z', resources: 6 },
            claim,
          );
      }
    });
    const diagnosis = diagnosisFor('RunTimedOut', { cloud: config.cloud, appClientId: config.appClientId });

    const closed = await store.finalizeRun(runId, '2026-11-23T12:00:00.000Z', { abandonPending: diagnosis });

    expect(raced()).toBe(true);
    expect(await runs.getTenant(runId, finishing)).toMatchObject({ status: 'succeeded', resources: 6 });
    expect(await runs.getTenant(runId, stuck)).toMatchObject({ status: 'abandoned' });
    expect(closed.totals).toMatchObject({ tenants: 2, succeeded: 1, abandoned: 1, resources: 6 });
  });
});

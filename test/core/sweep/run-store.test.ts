/**
 * The run store against Azurite: runs listed newest first up to a limit, closing a run (status and
 * totals from its tenant rows, a closed run left as it was, a stuck run's unfinished tenants
 * abandoned), the tenant rows of one run, and what the store does when the service refuses it (an
 * identity that may only read, or only write). Each test has its own installation (own tables), so
 * any test runs alone and in any order. Races between workers are in run-claims.test.ts.
 */
import { randomUUID } from 'node:crypto';
import {
  AzureNamedKeyCredential,
  AzureSASCredential,
  generateTableSas,
  type RestError,
  TableClient,
  type TableSasPermissions,
} from '@azure/data-tables';
import { createDefaultHttpClient } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import type { FleetConfig } from '../../../src/core/platform/config.js';
import { diagnosisFor } from '../../../src/core/platform/diagnosis.js';
import { ConflictError, NotFoundError } from '../../../src/core/platform/errors.js';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import { newRunId, RunStore, type RunStatus, type TenantRunStatus } from '../../../src/core/sweep/runs.js';
import { providerConnectionString, testConfig } from '../../support/provider.js';

async function installation() {
  const config = testConfig();
  const storage = new ProviderStorage(config);
  await storage.ensureResources();
  const store = new RunStore(
    storage.table(config.names.runsTable),
    storage.table(config.names.runTenantsTable),
  );
  return { config, store };
}

/** A running run started at `startedAt`, with one queued row per tenant id. */
async function runningRun(store: RunStore, startedAt: string, tenantIds: string[] = []): Promise<string> {
  const runId = newRunId(new Date(startedAt));
  await store.createRun({ runId, trigger: 'timer', status: 'running', startedAt });
  await store.addTenants(
    runId,
    tenantIds.map((tenantId) => ({ tenantId, displayName: 'Litware', status: 'queued' as const })),
  );
  return runId;
}

describe('run rows', () => {
  it('are listed newest first, never more than the limit', async () => {
    const { store } = await installation();
    const oldest = await runningRun(store, '2026-11-23T10:00:00.000Z');
    const middle = await runningRun(store, '2026-11-23T11:00:00.000Z');
    const newest = await runningRun(store, '2026-11-23T12:00:00.000Z');
    const ids = async (limit?: number) => (await store.listRuns(limit)).map((run) => run.runId);

    expect(await ids(1)).toEqual([newest]);
    expect(await ids(2)).toEqual([newest, middle]);
    expect(await ids(3)).toEqual([newest, middle, oldest]);
    expect(await ids(5)).toEqual([newest, middle, oldest]);
    expect(await ids()).toEqual([newest, middle, oldest]);
  });

  it('say what is wrong with an id that is not a run id, or a run that does not exist', async () => {
    const { store } = await installation();
    await expect(store.getRun('not-a-run')).rejects.toThrow(new NotFoundError("'not-a-run' is not a run id"));
    const missing = newRunId(new Date('2026-11-23T10:00:00.000Z'));
    await expect(store.getRun(missing)).rejects.toThrow(new NotFoundError(`run ${missing} does not exist`));
  });
});

describe('closing a run', () => {
  const outcomes: Array<[TenantRunStatus, RunStatus]> = [
    ['succeeded', 'completed'],
    ['skipped', 'completed'],
    ['partial', 'completedWithErrors'],
    ['failed', 'completedWithErrors'],
    ['invalid', 'completedWithErrors'],
    ['abandoned', 'completedWithErrors'],
  ];

  it.each(outcomes)('counts a %s tenant, and the run is %s', async (tenantStatus, runStatus) => {
    const { store } = await installation();
    const tenantId = randomUUID();
    const runId = await runningRun(store, '2026-11-23T10:00:00.000Z', [tenantId]);
    await store.finishTenant(runId, tenantId, tenantStatus, { endedAt: '2026-11-23T10:00:01.000Z' });

    const closed = await store.finalizeRun(runId, '2026-11-23T10:00:02.000Z');

    expect(closed).toMatchObject({ status: runStatus, endedAt: '2026-11-23T10:00:02.000Z' });
    const others = outcomes.filter(([status]) => status !== tenantStatus);
    expect(closed.totals).toMatchObject({
      tenants: 1,
      [tenantStatus]: 1,
      ...Object.fromEntries(others.map(([status]) => [status, 0])),
    });
    expect(await store.getRun(runId)).toMatchObject({ status: runStatus, totals: closed.totals });
  });

  it("adds up its tenants' counts", async () => {
    const { store } = await installation();
    const [first, second, third] = [randomUUID(), randomUUID(), randomUUID()];
    const runId = await runningRun(store, '2026-11-23T10:00:00.000Z', [first, second, third]);
    const endedAt = '2026-11-23T10:00:01.000Z';
    await store.finishTenant(runId, first, 'succeeded', { endedAt, resources: 3, blobs: 1, blobBytes: 10 });
    await store.finishTenant(runId, second, 'succeeded', { endedAt, resources: 4, blobs: 2, added: 5 });
    await store.finishTenant(runId, third, 'skipped', { endedAt });

    const closed = await store.finalizeRun(runId, '2026-11-23T10:00:02.000Z');

    expect(closed.totals).toMatchObject({
      tenants: 3,
      succeeded: 2,
      skipped: 1,
      resources: 7,
      blobs: 3,
      blobBytes: 10,
      added: 5,
      removed: 0,
    });
    expect((await store.getRun(runId)).totals).toEqual(closed.totals);
  });

  it('leaves a run already closed as it was, and releases a lock still held for it', async () => {
    const { store } = await installation();
    const tenantId = randomUUID();
    const runId = await runningRun(store, '2026-11-23T10:00:00.000Z', [tenantId]);
    await store.finishTenant(runId, tenantId, 'failed', { endedAt: '2026-11-23T10:00:01.000Z' });
    await store.finalizeRun(runId, '2026-11-23T10:00:02.000Z');
    await store.acquireLock(runId, '2026-11-23T10:00:00.000Z');

    const again = await store.finalizeRun(runId, '2026-11-23T10:30:00.000Z');

    expect(again).toMatchObject({ status: 'completedWithErrors', endedAt: '2026-11-23T10:00:02.000Z' });
    expect(await store.getRun(runId)).toMatchObject({ endedAt: '2026-11-23T10:00:02.000Z' });
    expect(await store.lockHolder()).toBeUndefined();
  });

  it('leaves unfinished tenants as they are unless it is told to abandon them', async () => {
    const { store } = await installation();
    const [finished, waiting] = [randomUUID(), randomUUID()];
    const runId = await runningRun(store, '2026-11-23T10:00:00.000Z', [finished, waiting]);
    await store.finishTenant(runId, finished, 'succeeded', { endedAt: '2026-11-23T10:00:01.000Z' });

    const closed = await store.finalizeRun(runId, '2026-11-23T10:00:02.000Z');

    expect(closed.totals).toMatchObject({ tenants: 2, succeeded: 1, abandoned: 0 });
    expect(await store.getTenant(runId, waiting)).toMatchObject({ status: 'queued' });
  });

  it("closes a stuck run as timedOut: its queued and running tenants abandoned with the run's diagnosis", async () => {
    const { config, store } = await installation();
    const [queued, running, finished] = [randomUUID(), randomUUID(), randomUUID()];
    const runId = await runningRun(store, '2026-11-23T10:00:00.000Z', [queued, running, finished]);
    await store.beginTenant(runId, running, 1, '2026-11-23T10:00:01.000Z');
    await store.finishTenant(runId, finished, 'succeeded', { endedAt: '2026-11-23T10:00:02.000Z' });
    const diagnosis = diagnosisFor('RunTimedOut', { cloud: config.cloud, appClientId: config.appClientId });

    const closed = await store.finalizeRun(runId, '2026-11-23T12:00:00.000Z', { abandonPending: diagnosis });

    expect(closed).toMatchObject({
      status: 'timedOut',
      totals: { tenants: 3, abandoned: 2, succeeded: 1 },
    });
    for (const tenantId of [queued, running]) {
      expect(await store.getTenant(runId, tenantId)).toMatchObject({
        status: 'abandoned',
        endedAt: '2026-11-23T12:00:00.000Z',
        diagnosisCode: 'RunTimedOut',
        diagnosisFix: diagnosis.fix,
      });
    }
    const kept = await store.getTenant(runId, finished);
    expect(kept).toMatchObject({ status: 'succeeded', endedAt: '2026-11-23T10:00:02.000Z' });
    expect(kept?.diagnosisCode).toBeUndefined();
  });
});

describe('tenant rows of a run', () => {
  it('are listed for that run only', async () => {
    const { store } = await installation();
    const [a1, a2, b1] = [randomUUID(), randomUUID(), randomUUID()];
    const runA = await runningRun(store, '2026-11-23T10:00:00.000Z', [a1, a2]);
    await runningRun(store, '2026-11-23T11:00:00.000Z', [b1]);

    const listed: string[] = [];
    for await (const tenant of store.listTenants(runA)) listed.push(tenant.tenantId);

    expect(listed.sort()).toEqual([a1, a2].sort());
  });

  it('are written for a run of any size: none at all, or exactly one full transaction', async () => {
    const { store } = await installation();
    const empty = newRunId(new Date('2026-11-23T10:00:00.000Z'));
    expect((await store.addTenants(empty, [])).size).toBe(0);

    const full = newRunId(new Date('2026-11-23T11:00:00.000Z'));
    const tenantIds = Array.from({ length: 100 }, () => randomUUID());
    const etags = await store.addTenants(
      full,
      tenantIds.map((tenantId) => ({ tenantId, displayName: 'Litware', status: 'queued' as const })),
    );
    expect([...etags.keys()].sort()).toEqual([...tenantIds].sort());
  });

  it('are running once claimed, and the run is drained only when none is queued or running', async () => {
    const { store } = await installation();
    const tenantId = randomUUID();
    const runId = await runningRun(store, '2026-11-23T10:00:00.000Z', [tenantId]);
    expect(await store.isRunDrained(runId)).toBe(false);

    await store.beginTenant(runId, tenantId, 1, '2026-11-23T10:00:01.000Z');
    expect(await store.getTenant(runId, tenantId)).toMatchObject({ status: 'running', attempts: 1 });
    expect(await store.isRunDrained(runId)).toBe(false);

    await store.finishTenant(runId, tenantId, 'succeeded', { endedAt: '2026-11-23T10:00:02.000Z' });
    expect(await store.isRunDrained(runId)).toBe(true);
  });

  it('are created, unnamed, by a claim or a result for a tenant the run has no row for', async () => {
    const { store } = await installation();
    const runId = await runningRun(store, '2026-11-23T10:00:00.000Z');
    const [claimed, finished] = [randomUUID(), randomUUID()];

    await store.beginTenant(runId, claimed, 2, '2026-11-23T10:00:01.000Z');
    await store.finishTenant(runId, finished, 'failed', { endedAt: '2026-11-23T10:00:02.000Z' });

    expect(await store.getTenant(runId, claimed)).toMatchObject({
      displayName: '',
      status: 'running',
      attempts: 2,
      startedAt: '2026-11-23T10:00:01.000Z',
    });
    expect(await store.getTenant(runId, finished)).toMatchObject({
      displayName: '',
      status: 'failed',
      attempts: 0,
      endedAt: '2026-11-23T10:00:02.000Z',
    });
  });

  it('keep the snapshot blob a result names', async () => {
    const { store } = await installation();
    const tenantId = randomUUID();
    const runId = await runningRun(store, '2026-11-23T10:00:00.000Z', [tenantId]);
    const snapshotBlob = `snapshots/${runId}/${tenantId}.json`;

    await store.finishTenant(runId, tenantId, 'succeeded', {
      endedAt: '2026-11-23T10:00:01.000Z',
      snapshotBlob,
    });

    expect((await store.getTenant(runId, tenantId))?.snapshotBlob).toBe(snapshotBlob);
  });
});

/**
 * The installation's run store as seen by an identity with only `permissions` on its tables (a table
 * SAS, enforced by Azurite), and the methods of the requests it sent.
 */
function restrictedStore(config: FleetConfig, permissions: TableSasPermissions) {
  const settings = new Map(
    providerConnectionString()
      .split(';')
      .filter(Boolean)
      .map((part) => [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)]),
  );
  const key = new AzureNamedKeyCredential(settings.get('AccountName')!, settings.get('AccountKey')!);
  const methods: string[] = [];
  const http = createDefaultHttpClient();
  const table = (name: string) =>
    new TableClient(
      settings.get('TableEndpoint')!,
      name,
      new AzureSASCredential(
        generateTableSas(name, key, { permissions, expiresOn: new Date(Date.now() + 3_600_000) }),
      ),
      {
        allowInsecureConnection: true,
        httpClient: {
          sendRequest: (request) => {
            methods.push(request.method);
            return http.sendRequest(request);
          },
        },
      },
    );
  const store = new RunStore(table(config.names.runsTable), table(config.names.runTenantsTable));
  return { store, writes: () => methods.filter((method) => method !== 'GET').length };
}

/** The service's refusal of an identity without the permission (not a missing row, not a race). */
const forbidden = expect.objectContaining({ name: 'RestError', statusCode: 403 }) as RestError;

describe('when the service refuses the store', () => {
  it('reports a refused read as the refusal, not as a missing tenant row or run', async () => {
    const { config, store } = await installation();
    const tenantId = randomUUID();
    const runId = await runningRun(store, '2026-11-23T10:00:00.000Z', [tenantId]);
    const { store: writeOnly } = restrictedStore(config, { add: true, update: true });

    await expect(writeOnly.getTenant(runId, tenantId)).rejects.toEqual(forbidden);
    await expect(writeOnly.getRun(runId)).rejects.toEqual(forbidden);
  });

  it('reports a refused claim, not taking it for another delivery that claimed the tenant first', async () => {
    const { config, store } = await installation();
    const tenantId = randomUUID();
    const runId = await runningRun(store, '2026-11-23T10:00:00.000Z', [tenantId]);
    const { store: readOnly } = restrictedStore(config, { query: true });

    await expect(readOnly.beginTenant(runId, tenantId, 1, '2026-11-23T10:00:01.000Z')).rejects.toEqual(
      forbidden,
    );
    expect(await store.getTenant(runId, tenantId)).toMatchObject({ status: 'queued', attempts: 0 });
  });

  it('reports a refused result at once: no conflict, and the write is not sent again', async () => {
    const { config, store } = await installation();
    const tenantId = randomUUID();
    const runId = newRunId(new Date('2026-11-23T10:00:00.000Z'));
    const etags = await store.addTenants(runId, [{ tenantId, displayName: 'Litware', status: 'queued' }]);
    const { store: readOnly, writes } = restrictedStore(config, { query: true });
    const claim = { etag: etags.get(tenantId)!, startedAt: '2026-11-23T10:00:00.000Z', attempt: 1 };

    const result = readOnly.finishTenant(
      runId,
      tenantId,
      'succeeded',
      { endedAt: '2026-11-23T10:00:01.000Z' },
      claim,
    );

    await expect(result).rejects.toEqual(forbidden);
    await expect(result).rejects.not.toBeInstanceOf(ConflictError);
    expect(writes()).toBe(1);
    expect(await store.getTenant(runId, tenantId)).toMatchObject({ status: 'queued' });
  });

  it('reports a refused close, not taking it for another worker that closed the run first', async () => {
    const { config, store } = await installation();
    const tenantId = randomUUID();
    const runId = await runningRun(store, '2026-11-23T10:00:00.000Z', [tenantId]);
    await store.finishTenant(runId, tenantId, 'succeeded', { endedAt: '2026-11-23T10:00:01.000Z' });
    const { store: readOnly } = restrictedStore(config, { query: true });

    await expect(readOnly.finalizeRun(runId, '2026-11-23T10:00:02.000Z')).rejects.toEqual(forbidden);
    expect(await store.getRun(runId)).toMatchObject({ status: 'running' });
  });
});

/**
 * Run records: the run rows, their tenant rows (run-tenants.ts) and the sweep lock (sweep-lock.ts).
 * Run totals are computed from the tenant rows when the last one finishes, never incremented. What the
 * rows hold is run-records.ts.
 */
import { odata, type TableClient } from '@azure/data-tables';
import type { Diagnosis } from '../platform/diagnosis.js';
import { NotFoundError } from '../platform/errors.js';
import { hasStatus } from '../storage/table-errors.js';
import {
  COUNT_FIELDS,
  emptyCounts,
  isRunId,
  RUN_PARTITION,
  runRowKey,
  toRun,
  type RunRecord,
  type RunStatus,
  type RunTotals,
} from './run-records.js';
import { RunTenants } from './run-tenants.js';
import { SweepLock } from './sweep-lock.js';

// Callers import run types and ids from here, as before the split.
export * from './run-records.js';

export class RunStore {
  readonly lock: SweepLock;
  readonly tenants: RunTenants;

  constructor(
    private readonly runs: TableClient,
    runTenants: TableClient,
  ) {
    this.lock = new SweepLock(runs);
    this.tenants = new RunTenants(runTenants);
  }

  // ---- the sweep lock (sweep-lock.ts) -----------------------------------------------------------

  acquireLock: SweepLock['acquire'] = (...args) => this.lock.acquire(...args);
  lockHolder: SweepLock['holder'] = () => this.lock.holder();
  releaseLock: SweepLock['release'] = (...args) => this.lock.release(...args);

  // ---- tenants in a run (run-tenants.ts) --------------------------------------------------------

  addTenants: RunTenants['addTenants'] = (...args) => this.tenants.addTenants(...args);
  getTenant: RunTenants['getTenant'] = (...args) => this.tenants.getTenant(...args);
  listTenants: RunTenants['listTenants'] = (...args) => this.tenants.listTenants(...args);
  beginTenant: RunTenants['beginTenant'] = (...args) => this.tenants.beginTenant(...args);
  finishTenant: RunTenants['finishTenant'] = (...args) => this.tenants.finishTenant(...args);
  isRunDrained: RunTenants['isRunDrained'] = (...args) => this.tenants.isRunDrained(...args);

  // ---- runs -------------------------------------------------------------------------------------

  async createRun(run: RunRecord): Promise<void> {
    await this.runs.upsertEntity(
      {
        partitionKey: RUN_PARTITION,
        rowKey: runRowKey(run.runId),
        runId: run.runId,
        trigger: run.trigger,
        status: run.status,
        startedAt: run.startedAt,
      },
      'Replace',
    );
  }

  async getRun(runId: string): Promise<RunRecord> {
    if (!isRunId(runId)) throw new NotFoundError(`'${runId}' is not a run id`);
    try {
      const entity = await this.runs.getEntity<Record<string, unknown>>(RUN_PARTITION, runRowKey(runId));
      return toRun(entity);
    } catch (error) {
      if (hasStatus(error, 404)) throw new NotFoundError(`run ${runId} does not exist`);
      throw error;
    }
  }

  /** Newest first. */
  async listRuns(limit = 50): Promise<RunRecord[]> {
    const result: RunRecord[] = [];
    const pages = this.runs
      .listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${RUN_PARTITION}` },
      })
      .byPage({ maxPageSize: Math.min(limit, 1000) });
    for await (const page of pages) {
      for (const entity of page) {
        result.push(toRun(entity));
        if (result.length >= limit) return result;
      }
    }
    return result;
  }

  /**
   * Closes a run: totals from its tenant rows, the final status, the lock released. Idempotent: a run
   * already closed is returned as is. With `abandonPending` (stuck runs), queued or running tenants are
   * marked `abandoned` first.
   */
  async finalizeRun(
    runId: string,
    now: string,
    options: { abandonPending?: Diagnosis } = {},
  ): Promise<RunRecord> {
    const run = await this.getRun(runId);
    if (run.status !== 'running') {
      await this.releaseLock(runId);
      return run;
    }
    const totals: RunTotals = {
      tenants: 0,
      succeeded: 0,
      partial: 0,
      failed: 0,
      skipped: 0,
      invalid: 0,
      abandoned: 0,
      ...emptyCounts(),
    };
    for await (const listed of this.listTenants(runId)) {
      let tenant = listed;
      if (options.abandonPending && (tenant.status === 'queued' || tenant.status === 'running')) {
        await this.finishTenant(runId, tenant.tenantId, 'abandoned', {
          endedAt: now,
          diagnosis: options.abandonPending,
        });
        // Read back: abandoned now, or finished by its worker meanwhile (then counted as it recorded it).
        tenant = (await this.getTenant(runId, tenant.tenantId)) ?? tenant;
      }
      const { status } = tenant;
      totals.tenants++;
      if (
        status === 'succeeded' ||
        status === 'partial' ||
        status === 'failed' ||
        status === 'skipped' ||
        status === 'invalid' ||
        status === 'abandoned'
      ) {
        totals[status]++;
      }
      for (const field of COUNT_FIELDS) totals[field] += tenant[field] ?? 0;
    }
    const status: RunStatus = options.abandonPending
      ? 'timedOut'
      : totals.failed + totals.invalid + totals.abandoned + totals.partial > 0
        ? 'completedWithErrors'
        : 'completed';
    try {
      await this.runs.updateEntity(
        {
          partitionKey: RUN_PARTITION,
          rowKey: runRowKey(runId),
          status,
          endedAt: now,
          totals: JSON.stringify(totals),
        },
        'Merge',
        { etag: run.etag },
      );
    } catch (error) {
      // Another worker closed it at the same moment: theirs stands, and they release the lock.
      if (!hasStatus(error, 412)) throw error;
      return this.getRun(runId);
    }
    await this.releaseLock(runId);
    // As written (not read back: a worker that closes a run needs only its status).
    const { etag: _etag, ...closed } = run;
    return { ...closed, status, endedAt: now, totals };
  }
}

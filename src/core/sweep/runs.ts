/**
 * Run records. One row per run (`runs`, partition `run`, newest first) and one row per tenant in the
 * run (`runtenants`, partition = run id). A `lock` row in `runs` keeps sweeps from overlapping.
 * A tenant row moves queued -> running -> a terminal status exactly once (ETag-guarded), so a
 * redelivered message never counts a tenant twice; run totals are computed from the tenant rows
 * when the last one finishes, never incremented.
 */
import { randomBytes } from 'node:crypto';
import { odata, RestError, type TableClient } from '@azure/data-tables';
import type { Diagnosis } from '../platform/diagnosis.js';
import { ConflictError, NotFoundError } from '../platform/errors.js';
import { TableBatchWriter } from '../storage/table-batch.js';
import { newestFirstKey } from '../storage/table-keys.js';

export type RunTrigger = 'timer' | 'http' | 'cli';
export type RunStatus = 'running' | 'completed' | 'completedWithErrors' | 'timedOut';
export type TenantRunStatus =
  'queued' | 'running' | 'succeeded' | 'partial' | 'failed' | 'skipped' | 'invalid' | 'abandoned';

export const TERMINAL_TENANT_STATUSES: readonly TenantRunStatus[] = [
  'succeeded',
  'partial',
  'failed',
  'skipped',
  'invalid',
  'abandoned',
];

export interface TenantRunCounts {
  subscriptions: number;
  resourceGroups: number;
  resources: number;
  /** Resources taken into a subscription's first inventory (its baseline), not counted as added. */
  baselined: number;
  added: number;
  removed: number;
  modified: number;
  storageAccounts: number;
  storageRefused: number;
  blobs: number;
  blobBytes: number;
}

export interface TenantRunRecord extends Partial<TenantRunCounts> {
  runId: string;
  tenantId: string;
  displayName: string;
  status: TenantRunStatus;
  attempts: number;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  diagnosisCode?: string;
  diagnosisMeaning?: string;
  diagnosisFix?: string;
  diagnosisDetail?: string;
  /** JSON list of per-subscription and per-account problems that did not fail the tenant. */
  warnings?: string;
  snapshotBlob?: string;
  etag?: string;
}

/** A tenant row moved to `running` by `beginTenant`: its ETag after that write, and when it started. */
export interface TenantClaim {
  /** Absent when the claim was taken after a conflict (the row is then read before it is finished). */
  etag?: string;
  startedAt: string;
}

export interface RunTotals extends TenantRunCounts {
  tenants: number;
  succeeded: number;
  partial: number;
  failed: number;
  skipped: number;
  invalid: number;
  abandoned: number;
}

export interface RunRecord {
  runId: string;
  trigger: RunTrigger;
  status: RunStatus;
  startedAt: string;
  endedAt?: string;
  totals?: RunTotals;
  etag?: string;
}

const RUN_PARTITION = 'run';
const LOCK_PARTITION = 'lock';
const LOCK_ROW = 'sweep';

/** Run ids sort by time and say when they started: `20261123T063000123Z-3f9a1c`. */
export function newRunId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

const RUN_ID_PATTERN = /^(\d{8}T\d{9}Z)-[0-9a-f]{6}$/;

export function isRunId(value: unknown): boolean {
  return typeof value === 'string' && RUN_ID_PATTERN.test(value);
}

function runStartMs(runId: string): number {
  const stamp = RUN_ID_PATTERN.exec(runId)?.[1];
  if (!stamp) throw new NotFoundError(`'${runId}' is not a run id`);
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}.${stamp.slice(15, 18)}Z`;
  return Date.parse(iso);
}

function runRowKey(runId: string): string {
  return `${newestFirstKey(runStartMs(runId))}_${runId}`;
}

function isStatus(error: unknown, status: number): boolean {
  return error instanceof RestError && error.statusCode === status;
}

const COUNT_FIELDS: Array<keyof TenantRunCounts> = [
  'subscriptions',
  'resourceGroups',
  'resources',
  'baselined',
  'added',
  'removed',
  'modified',
  'storageAccounts',
  'storageRefused',
  'blobs',
  'blobBytes',
];

export class RunStore {
  constructor(
    private readonly runs: TableClient,
    private readonly runTenants: TableClient,
  ) {}

  // ---- the sweep lock -------------------------------------------------------------------------

  /** Takes the lock for `runId`; throws ConflictError('busy') with the holder when a run is going. */
  async acquireLock(runId: string, now: string): Promise<void> {
    try {
      await this.runs.createEntity({
        partitionKey: LOCK_PARTITION,
        rowKey: LOCK_ROW,
        runId,
        acquiredAt: now,
      });
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
      const holder = await this.lockHolder();
      throw new ConflictError(`a sweep is already running (run ${holder?.runId ?? 'unknown'})`, 'busy');
    }
  }

  async lockHolder(): Promise<{ runId: string; acquiredAt: string; etag: string } | undefined> {
    try {
      const entity = await this.runs.getEntity<{ runId: string; acquiredAt: string }>(
        LOCK_PARTITION,
        LOCK_ROW,
      );
      return { runId: entity.runId, acquiredAt: entity.acquiredAt, etag: entity.etag };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** Releases the lock if `runId` still holds it (idempotent). */
  async releaseLock(runId: string): Promise<void> {
    const holder = await this.lockHolder();
    if (!holder || holder.runId !== runId) return;
    try {
      await this.runs.deleteEntity(LOCK_PARTITION, LOCK_ROW, { etag: holder.etag });
    } catch (error) {
      if (!isStatus(error, 404) && !isStatus(error, 412)) throw error;
    }
  }

  // ---- runs -----------------------------------------------------------------------------------

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
      if (isStatus(error, 404)) throw new NotFoundError(`run ${runId} does not exist`);
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

  // ---- tenants in a run -----------------------------------------------------------------------

  /** Writes the initial tenant rows of a run in transactions of up to 100. */
  async addTenants(runId: string, rows: Array<Omit<TenantRunRecord, 'runId' | 'attempts'>>): Promise<void> {
    const writer = new TableBatchWriter(this.runTenants);
    for (const row of rows) {
      await writer.upsert({ partitionKey: runId, rowKey: row.tenantId, ...flatten(row), attempts: 0 });
    }
    await writer.flush();
  }

  async getTenant(runId: string, tenantId: string): Promise<TenantRunRecord | undefined> {
    try {
      const entity = await this.runTenants.getEntity<Record<string, unknown>>(runId, tenantId);
      return toTenantRun(entity);
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async *listTenants(runId: string): AsyncGenerator<TenantRunRecord> {
    for await (const entity of this.runTenants.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${runId}` },
    })) {
      yield toTenantRun(entity);
    }
  }

  /**
   * Moves a tenant row to `running` (attempt n) unless it is already terminal. Returns undefined when
   * the tenant was already finished (a redelivered message: nothing to do); otherwise the claim, whose
   * ETag lets `finishTenant` write without reading the row again.
   */
  async beginTenant(
    runId: string,
    tenantId: string,
    attempt: number,
    now: string,
  ): Promise<TenantClaim | undefined> {
    const current = await this.getTenant(runId, tenantId);
    if (current && TERMINAL_TENANT_STATUSES.includes(current.status)) return undefined;
    const startedAt = current?.startedAt ?? now;
    const patch = { partitionKey: runId, rowKey: tenantId, status: 'running', attempts: attempt, startedAt };
    if (!current) {
      const written = await this.runTenants.upsertEntity({ ...patch, displayName: '' }, 'Merge');
      return { etag: written.etag, startedAt };
    }
    try {
      const written = await this.runTenants.updateEntity(patch, 'Merge', { etag: current.etag });
      return { etag: written.etag, startedAt };
    } catch (error) {
      if (!isStatus(error, 412)) throw error;
      // Someone else moved it meanwhile: look again.
      const again = await this.getTenant(runId, tenantId);
      if (again && TERMINAL_TENANT_STATUSES.includes(again.status)) return undefined;
      return { startedAt: again?.startedAt ?? startedAt };
    }
  }

  /**
   * Finishes a tenant row once. Returns false if it was already terminal (another delivery won).
   * With the claim from `beginTenant`, the first attempt writes against the claim's ETag instead of
   * reading the row: a row changed since (another delivery) fails that write, and the row is read.
   */
  async finishTenant(
    runId: string,
    tenantId: string,
    status: TenantRunStatus,
    details: Partial<TenantRunCounts> & {
      endedAt: string;
      diagnosis?: Diagnosis;
      warnings?: unknown[];
      snapshotBlob?: string;
    },
    claim?: TenantClaim,
  ): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const fromClaim = attempt === 0 && claim?.etag !== undefined;
      const current: Pick<TenantRunRecord, 'status' | 'startedAt' | 'etag'> | undefined = fromClaim
        ? { status: 'running', startedAt: claim.startedAt, etag: claim.etag }
        : await this.getTenant(runId, tenantId);
      if (current && TERMINAL_TENANT_STATUSES.includes(current.status)) return false;
      const startedAt = current?.startedAt;
      const entity: Record<string, unknown> & { partitionKey: string; rowKey: string } = {
        partitionKey: runId,
        rowKey: tenantId,
        status,
        endedAt: details.endedAt,
        ...(startedAt ? { durationMs: Date.parse(details.endedAt) - Date.parse(startedAt) } : {}),
      };
      for (const field of COUNT_FIELDS) if (details[field] !== undefined) entity[field] = details[field];
      if (details.diagnosis) {
        Object.assign(entity, {
          diagnosisCode: details.diagnosis.code,
          diagnosisMeaning: details.diagnosis.meaning,
          diagnosisFix: details.diagnosis.fix,
          diagnosisDetail: details.diagnosis.detail,
        });
      }
      if (details.warnings?.length) entity.warnings = boundedJsonList(details.warnings, 30_000);
      if (details.snapshotBlob) entity.snapshotBlob = details.snapshotBlob;
      try {
        if (current) await this.runTenants.updateEntity(entity, 'Merge', { etag: current.etag });
        else await this.runTenants.createEntity({ displayName: '', attempts: 0, ...entity });
        return true;
      } catch (error) {
        // 412/409: written by someone else meanwhile; 404 on the claim's write: the row is gone (it is
        // created again from a fresh read). Either way, read and try again.
        if (!isStatus(error, 412) && !isStatus(error, 409) && !(fromClaim && isStatus(error, 404)))
          throw error;
      }
    }
    throw new ConflictError(`could not record the result of tenant ${tenantId} in run ${runId}`, 'etag');
  }

  /** True when no tenant of the run is still queued or running. */
  async isRunDrained(runId: string): Promise<boolean> {
    const pending = this.runTenants
      .listEntities({
        queryOptions: {
          filter: odata`PartitionKey eq ${runId} and (status eq ${'queued'} or status eq ${'running'})`,
          select: ['RowKey'],
        },
      })
      .byPage({ maxPageSize: 1 });
    for await (const page of pending) if (page.length > 0) return false;
    return true;
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
      ...(Object.fromEntries(COUNT_FIELDS.map((field) => [field, 0])) as unknown as TenantRunCounts),
    };
    for await (const tenant of this.listTenants(runId)) {
      let status = tenant.status;
      if (options.abandonPending && (status === 'queued' || status === 'running')) {
        if (
          await this.finishTenant(runId, tenant.tenantId, 'abandoned', {
            endedAt: now,
            diagnosis: options.abandonPending,
          })
        ) {
          status = 'abandoned';
        }
      }
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
      // Another worker closed it at the same moment: theirs stands.
      if (!isStatus(error, 412)) throw error;
    }
    await this.releaseLock(runId);
    return this.getRun(runId);
  }
}

/**
 * A JSON list that fits a Table string property (32K characters): whole items are kept while they fit
 * and a last `{ truncated: n }` item says how many were left out, so the value always parses.
 */
export function boundedJsonList(items: unknown[], maxChars: number): string {
  const kept: unknown[] = [];
  let length = 2;
  for (const [index, item] of items.entries()) {
    const text = JSON.stringify(item);
    const reserve = index < items.length - 1 ? 40 : 0; // room for the truncation marker
    if (length + text.length + 1 + reserve > maxChars) {
      kept.push({ truncated: items.length - index });
      break;
    }
    kept.push(item);
    length += text.length + 1;
  }
  return JSON.stringify(kept);
}

function flatten(row: Omit<TenantRunRecord, 'runId' | 'attempts'>): Record<string, unknown> {
  const { tenantId: _tenantId, etag: _etag, ...rest } = row;
  return Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function toRun(entity: Record<string, unknown>): RunRecord {
  const run: RunRecord = {
    runId: text(entity.runId),
    trigger: entity.trigger as RunTrigger,
    status: entity.status as RunStatus,
    startedAt: text(entity.startedAt),
    etag: text(entity.etag),
  };
  if (typeof entity.endedAt === 'string') run.endedAt = entity.endedAt;
  if (typeof entity.totals === 'string') run.totals = JSON.parse(entity.totals) as RunTotals;
  return run;
}

function toTenantRun(entity: Record<string, unknown>): TenantRunRecord {
  const record: TenantRunRecord = {
    runId: text(entity.partitionKey),
    tenantId: text(entity.rowKey),
    displayName: text(entity.displayName),
    status: entity.status as TenantRunStatus,
    attempts: Number(entity.attempts ?? 0),
    etag: text(entity.etag),
  };
  for (const key of [
    'startedAt',
    'endedAt',
    'diagnosisCode',
    'diagnosisMeaning',
    'diagnosisFix',
    'diagnosisDetail',
    'warnings',
    'snapshotBlob',
  ] as const) {
    if (typeof entity[key] === 'string' && entity[key] !== '') record[key] = entity[key];
  }
  if (typeof entity.durationMs === 'number') record.durationMs = entity.durationMs;
  for (const field of COUNT_FIELDS) if (typeof entity[field] === 'number') record[field] = entity[field];
  return record;
}

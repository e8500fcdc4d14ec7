/**
 * The tenant rows of a run (`runtenants` table, partition = run id). A tenant row moves queued ->
 * running -> a terminal status exactly once (ETag-guarded), so a redelivered message never counts a
 * tenant twice.
 */
import { odata, type TableClient } from '@azure/data-tables';
import type { Diagnosis } from '../platform/diagnosis.js';
import { ConflictError } from '../platform/errors.js';
import { MAX_BATCH } from '../storage/table-batch.js';
import { submitBatch, type BatchAction } from '../storage/table-transaction.js';
import { hasStatus } from '../storage/table-errors.js';
import {
  boundedJsonList,
  COUNT_FIELDS,
  flatten,
  TERMINAL_TENANT_STATUSES,
  toTenantRun,
  type TenantClaim,
  type TenantRunCounts,
  type TenantRunRecord,
  type TenantRunStatus,
} from './run-records.js';

export class RunTenants {
  constructor(private readonly runTenants: TableClient) {}

  /**
   * Writes the initial tenant rows of a run in transactions of up to 100 (they share the run's
   * partition). Returns each row's ETag by tenant id: the sweep message carries it, so a worker's first
   * write to the row (its result) needs no read before it.
   */
  async addTenants(
    runId: string,
    rows: Array<Omit<TenantRunRecord, 'runId' | 'attempts'>>,
  ): Promise<Map<string, string>> {
    const etags = new Map<string, string>();
    for (let start = 0; start < rows.length; start += MAX_BATCH) {
      const chunk = rows.slice(start, start + MAX_BATCH);
      const written = await submitBatch(
        this.runTenants,
        chunk.map((row): BatchAction => [
          'upsert',
          { partitionKey: runId, rowKey: row.tenantId, ...flatten(row), attempts: 0 },
        ]),
        { etags: true },
      );
      chunk.forEach((row, index) => {
        if (written[index]) etags.set(row.tenantId, written[index]);
      });
    }
    return etags;
  }

  async getTenant(runId: string, tenantId: string): Promise<TenantRunRecord | undefined> {
    try {
      const entity = await this.runTenants.getEntity<Record<string, unknown>>(runId, tenantId);
      return toTenantRun(entity);
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
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
      if (!hasStatus(error, 412)) throw error;
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
        // A claim that never wrote `running` (a first delivery) writes what that write would have.
        ...(fromClaim && claim.attempt !== undefined ? { attempts: claim.attempt, startedAt } : {}),
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
        if (!hasStatus(error, 412) && !hasStatus(error, 409) && !(fromClaim && hasStatus(error, 404)))
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
}

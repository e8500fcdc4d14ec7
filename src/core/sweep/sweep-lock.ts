/**
 * The sweep lock: a `lock` row in the `runs` table keeps sweeps from overlapping. Created by the run
 * that takes it, deleted (against its ETag) by the run that holds it.
 */
import type { TableClient } from '@azure/data-tables';
import { ConflictError } from '../platform/errors.js';
import { hasStatus } from '../storage/table-errors.js';

const LOCK_PARTITION = 'lock';
const LOCK_ROW = 'sweep';

export class SweepLock {
  constructor(private readonly runs: TableClient) {}

  /** Takes the lock for `runId`; throws ConflictError('busy') with the holder when a run is going. */
  async acquire(runId: string, now: string): Promise<void> {
    try {
      await this.runs.createEntity({
        partitionKey: LOCK_PARTITION,
        rowKey: LOCK_ROW,
        runId,
        acquiredAt: now,
      });
    } catch (error) {
      if (!hasStatus(error, 409)) throw error;
      const holder = await this.holder();
      throw new ConflictError(`a sweep is already running (run ${holder?.runId ?? 'unknown'})`, 'busy');
    }
  }

  async holder(): Promise<{ runId: string; acquiredAt: string; etag: string } | undefined> {
    try {
      const entity = await this.runs.getEntity<{ runId: string; acquiredAt: string }>(
        LOCK_PARTITION,
        LOCK_ROW,
      );
      return { runId: entity.runId, acquiredAt: entity.acquiredAt, etag: entity.etag };
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** Releases the lock if `runId` still holds it (idempotent). */
  async release(runId: string): Promise<void> {
    const holder = await this.holder();
    if (!holder || holder.runId !== runId) return;
    try {
      await this.runs.deleteEntity(LOCK_PARTITION, LOCK_ROW, { etag: holder.etag });
    } catch (error) {
      if (!hasStatus(error, 404) && !hasStatus(error, 412)) throw error;
    }
  }
}

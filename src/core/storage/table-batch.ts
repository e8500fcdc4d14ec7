/**
 * Batches Table writes into entity group transactions: at most 100 operations, all in one partition
 * (the service's limits). Writes are upserts and deletes, so replaying a batch after a redelivered
 * message is harmless; a delete whose entity is already gone (404) is not an error. Transactions are
 * sent by table-transaction.ts (the SDK's own assembly costs more CPU per row than the rest of a sweep).
 */
import { RestError, type TableClient, type TableEntity } from '@azure/data-tables';
import { submitBatch, type BatchAction } from './table-transaction.js';

export const MAX_BATCH = 100;

export interface BatchStats {
  /** Entities written or deleted. */
  operations: number;
  /** Requests sent to the Table service (transactions and single fallbacks). */
  requests: number;
}

export class TableBatchWriter {
  /** Per partition: the actions not sent yet, and where each row key is among them. */
  private readonly pending = new Map<string, { actions: BatchAction[]; rows: Map<string, number> }>();
  readonly stats: BatchStats = { operations: 0, requests: 0 };

  /**
   * @param beforeFlush runs before any transaction of this writer is sent; the inventory uses it to
   *   flush change records first, so a crash never leaves a row written without its change.
   */
  constructor(
    private readonly table: TableClient,
    private readonly beforeFlush?: () => Promise<void>,
  ) {}

  /**
   * Queues an upsert; returns a promise only when a transaction is sent (every 100 rows of a
   * partition), so a caller writing row after row awaits only those (docs/performance.md).
   */
  upsert(entity: TableEntity): Promise<void> | undefined {
    return this.add(entity.partitionKey, ['upsert', entity]);
  }

  /**
   * Queues a merge: only the properties given are set, the row's others are kept (an unchanged
   * subscription's marker keeps its manifest so). A promise only when a transaction is sent.
   */
  merge(entity: TableEntity): Promise<void> | undefined {
    return this.add(entity.partitionKey, ['merge', entity]);
  }

  /** Queues a delete; a promise only when a transaction is sent, as `upsert`. */
  delete(partitionKey: string, rowKey: string): Promise<void> | undefined {
    return this.add(partitionKey, ['delete', { partitionKey, rowKey }]);
  }

  private add(partitionKey: string, action: BatchAction): Promise<void> | undefined {
    let batch = this.pending.get(partitionKey);
    if (!batch) {
      batch = { actions: [], rows: new Map<string, number>() };
      this.pending.set(partitionKey, batch);
    }
    // One entity may appear only once per transaction. A row already pending and not yet sent is
    // replaced: upserts replace whole rows, so only a row's last write decides what is stored; a merge
    // is folded into the pending write it follows (after a delete, it is a whole row of its properties).
    const rowKey = action[1].rowKey;
    const samePending = batch.rows.get(rowKey);
    if (samePending !== undefined) {
      batch.actions[samePending] = followedBy(batch.actions[samePending]!, action);
      return undefined;
    }
    batch.rows.set(rowKey, batch.actions.length);
    batch.actions.push(action);
    return batch.actions.length >= MAX_BATCH ? this.flushPartition(partitionKey) : undefined;
  }

  async flush(): Promise<void> {
    for (const partitionKey of [...this.pending.keys()]) await this.flushPartition(partitionKey);
  }

  private async flushPartition(partitionKey: string): Promise<void> {
    const actions = this.pending.get(partitionKey)?.actions;
    this.pending.delete(partitionKey);
    if (!actions?.length) return;
    await this.beforeFlush?.();
    this.stats.requests++;
    try {
      await submitBatch(this.table, actions);
    } catch (error) {
      // A delete of a row that is already gone fails the whole transaction (404): replay one by one.
      if (!(error instanceof RestError) || error.statusCode !== 404) throw error;
      for (const action of actions) await this.single(action);
    }
    this.stats.operations += actions.length;
  }

  private async single(action: BatchAction): Promise<void> {
    this.stats.requests++;
    if (action[0] === 'delete') {
      try {
        await this.table.deleteEntity(action[1].partitionKey, action[1].rowKey);
      } catch (error) {
        if (!(error instanceof RestError) || error.statusCode !== 404) throw error;
      }
    } else {
      await this.table.upsertEntity(action[1], action[0] === 'upsert' ? 'Replace' : 'Merge');
    }
  }
}

/** What one pending write of a row and the next one amount to, as one write. */
function followedBy(pending: BatchAction, next: BatchAction): BatchAction {
  if (next[0] !== 'merge') return next;
  if (pending[0] === 'delete') return ['upsert', next[1]];
  return [pending[0], { ...pending[1], ...next[1] }];
}

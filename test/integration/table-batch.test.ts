/**
 * The batch writer against the real Table service (Azurite): transactions of at most 100 in one
 * partition, a row written twice before it was sent goes once with its last content, and a delete of a
 * row that is already gone (404 for the whole transaction) is replayed row by row.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { odata } from '@azure/data-tables';
import { ProviderStorage } from '../../src/core/provider-storage.js';
import { MAX_BATCH, TableBatchWriter } from '../../src/core/table-batch.js';
import { testConfig } from '../support/provider.js';

const config = testConfig();
const storage = new ProviderStorage(config);
const table = storage.table(config.names.inventoryTable);

async function rowsOf(partitionKey: string): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  for await (const row of table.listEntities<Record<string, unknown>>({
    queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
  }))
    rows.push(row);
  return rows;
}

beforeAll(async () => {
  await storage.ensureResources();
});

describe('TableBatchWriter', () => {
  it('sends full transactions of 100 and the rest on flush, partition by partition', async () => {
    const writer = new TableBatchWriter(table);
    for (let i = 0; i < 250; i++) await writer.upsert({ partitionKey: 'batch-a', rowKey: `r${i}`, n: i });
    for (let i = 0; i < 30; i++) await writer.upsert({ partitionKey: 'batch-b', rowKey: `r${i}`, n: i });
    expect(writer.stats).toEqual({ operations: 2 * MAX_BATCH, requests: 2 });
    await writer.flush();
    expect(writer.stats).toEqual({ operations: 280, requests: 4 });
    expect(await rowsOf('batch-a')).toHaveLength(250);
    expect(await rowsOf('batch-b')).toHaveLength(30);
  });

  it('keeps only the last write of a row not sent yet, in one transaction', async () => {
    const writer = new TableBatchWriter(table);
    await writer.upsert({ partitionKey: 'batch-c', rowKey: 'marker', state: 'pending', extra: 'x' });
    await writer.upsert({ partitionKey: 'batch-c', rowKey: 'row', n: 1 });
    await writer.upsert({ partitionKey: 'batch-c', rowKey: 'marker', state: 'final' });
    await writer.flush();
    expect(writer.stats).toEqual({ operations: 2, requests: 1 });
    const marker = (await rowsOf('batch-c')).find((row) => row.rowKey === 'marker')!;
    expect(marker.state).toBe('final');
    expect(marker).not.toHaveProperty('extra'); // a Replace upsert: the last write is the whole row
  });

  it('replays a transaction row by row when a delete finds its row gone, and still writes the rest', async () => {
    const writer = new TableBatchWriter(table);
    await writer.upsert({ partitionKey: 'batch-d', rowKey: 'kept', n: 1 });
    await writer.delete('batch-d', 'never-written');
    await writer.upsert({ partitionKey: 'batch-d', rowKey: 'also-kept', n: 2 });
    await writer.flush();
    expect(writer.stats).toEqual({ operations: 3, requests: 4 }); // the transaction, then 3 singles
    expect((await rowsOf('batch-d')).map((row) => row.rowKey).sort()).toEqual(['also-kept', 'kept']);
  });

  it('flushes what must go first (beforeFlush) before each of its transactions', async () => {
    const order: string[] = [];
    const send = table.submitTransaction.bind(table);
    const spied = Object.assign(Object.create(table) as typeof table, {
      submitTransaction: async (...args: Parameters<typeof table.submitTransaction>) => {
        order.push('transaction');
        return send(...args);
      },
    });
    const ordered = new TableBatchWriter(spied, async () => {
      order.push('before');
      await Promise.resolve();
    });
    for (let i = 0; i < 150; i++) await ordered.upsert({ partitionKey: 'batch-e', rowKey: `r${i}` });
    await ordered.flush();
    expect(order).toEqual(['before', 'transaction', 'before', 'transaction']);
  });
});

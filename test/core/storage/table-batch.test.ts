/**
 * The batch writer against the real Table service (Azurite): transactions of at most 100 in one
 * partition, a row written twice before it was sent goes once with its last content, and a delete of a
 * row that is already gone (404 for the whole transaction) is replayed row by row.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { odata, type TableClient } from '@azure/data-tables';
import type { PipelineRequest } from '@azure/core-rest-pipeline';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import { MAX_BATCH, TableBatchWriter } from '../../../src/core/storage/table-batch.js';
import { testConfig } from '../../support/provider.js';
import { refusingTable } from '../../support/refusing-table.js';

const config = testConfig();
const storage = new ProviderStorage(config);
const table = storage.table(config.names.inventoryTable);

function rowsOf(partitionKey: string): Promise<Array<Record<string, unknown>>> {
  return rowsIn(table, partitionKey);
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

  it('merges a row: the properties given are set, the others kept; a missing row is inserted', async () => {
    await table.upsertEntity({ partitionKey: 'batch-m', rowKey: 'kept', a: 'old', b: 'stays' }, 'Replace');
    const writer = new TableBatchWriter(table);
    await writer.merge({ partitionKey: 'batch-m', rowKey: 'kept', a: 'new' });
    await writer.merge({ partitionKey: 'batch-m', rowKey: 'new', a: 'only' });
    await writer.flush();
    expect(writer.stats).toEqual({ operations: 2, requests: 1 });
    const stored = await rowsOf('batch-m');
    expect(stored.find((row) => row.rowKey === 'kept')).toMatchObject({ a: 'new', b: 'stays' });
    expect(stored.find((row) => row.rowKey === 'new')).toMatchObject({ a: 'only' });
  });

  it('folds a merge into the pending write of its row: into an upsert, a merge, or after a delete a whole row', async () => {
    for (const rowKey of ['upserted', 'merged', 'deleted'])
      await table.upsertEntity({ partitionKey: 'batch-f', rowKey, a: 'stored', b: 'stored' }, 'Replace');
    const writer = new TableBatchWriter(table);
    await writer.upsert({ partitionKey: 'batch-f', rowKey: 'upserted', a: 'upsert' });
    await writer.merge({ partitionKey: 'batch-f', rowKey: 'upserted', c: 'merge' });
    await writer.merge({ partitionKey: 'batch-f', rowKey: 'merged', a: 'first' });
    await writer.merge({ partitionKey: 'batch-f', rowKey: 'merged', c: 'second' });
    await writer.delete('batch-f', 'deleted');
    await writer.merge({ partitionKey: 'batch-f', rowKey: 'deleted', c: 'merge' });
    await writer.flush();
    expect(writer.stats).toEqual({ operations: 3, requests: 1 });
    const stored = Object.fromEntries(
      (await rowsOf('batch-f')).map((row) => [String(row.rowKey), { a: row.a, b: row.b, c: row.c }]),
    );
    expect(stored).toEqual({
      upserted: { a: 'upsert', b: undefined, c: 'merge' }, // the upsert replaced the row, with the merge's c
      merged: { a: 'first', b: 'stored', c: 'second' },
      deleted: { a: undefined, b: undefined, c: 'merge' }, // gone, then only what the merge set
    });
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
    // What is stored when beforeFlush runs: nothing before the first transaction, 100 rows before the second.
    const storedBefore: number[] = [];
    const writer = new TableBatchWriter(table, async () => {
      storedBefore.push((await rowsOf('batch-e')).length);
    });
    for (let i = 0; i < 150; i++) await writer.upsert({ partitionKey: 'batch-e', rowKey: `r${i}` });
    await writer.flush();
    expect(storedBefore).toEqual([0, 100]);
    expect(await rowsOf('batch-e')).toHaveLength(150);
  });

  it('stores every kind of value the writers use, and keys with quotes and escapes, exactly', async () => {
    const writer = new TableBatchWriter(table);
    const when = new Date('2026-11-23T05:00:00.000Z');
    const binary = new Uint8Array([0, 1, 2, 250, 255]);
    const rowKey = "it's 100%2f sure (really)";
    // Values that come back as they went (binary and dates are compared below).
    const plain = {
      text: 'ünïcode ✓ "quoted"',
      count: 42,
      negative: -7,
      ratio: 0.25,
      large: 2 ** 40,
      flag: false,
      big: 9_007_199_254_740_993n,
    };
    await writer.upsert({ partitionKey: "batch-f's", rowKey, ...plain, chunk: binary, when });
    await writer.flush();
    const row = await table.getEntity<Record<string, unknown>>("batch-f's", rowKey);
    expect(row).toMatchObject(plain);
    expect(new Uint8Array(row.chunk as Uint8Array)).toEqual(binary);
    expect(new Date(row.when as Date).toISOString()).toBe(when.toISOString());
  });
});

describe('TableBatchWriter when the service refuses', () => {
  const isTransaction = (request: PipelineRequest) => request.url.endsWith('/$batch');

  it('does not replay a transaction refused for another reason than a missing row: the caller sees it', async () => {
    const wired = await refusingTable();
    wired.refuse = (request) => (isTransaction(request) ? 503 : undefined);
    const writer = new TableBatchWriter(wired.table);
    await writer.upsert({ partitionKey: 'p', rowKey: 'a', n: 1 });
    await writer.upsert({ partitionKey: 'p', rowKey: 'b', n: 2 });
    await expect(writer.flush()).rejects.toMatchObject({ statusCode: 503 });
    // Row by row the writes would have gone through: none was tried.
    wired.refuse = undefined;
    expect(await rowsIn(wired.table, 'p')).toEqual([]);
    expect(writer.stats.requests).toBe(1);
  });

  it('deletes the rows that exist when it replays, and fails on a delete refused for another reason', async () => {
    const wired = await refusingTable();
    await wired.table.createEntity({ partitionKey: 'p', rowKey: 'old', n: 0 });
    const writer = new TableBatchWriter(wired.table);
    await writer.delete('p', 'old');
    await writer.delete('p', 'never-written'); // the whole transaction fails with 404
    await writer.upsert({ partitionKey: 'p', rowKey: 'new', n: 1 });
    await writer.flush();
    expect((await rowsIn(wired.table, 'p')).map((row) => row.rowKey)).toEqual(['new']);

    await wired.table.createEntity({ partitionKey: 'q', rowKey: 'old', n: 0 });
    const failing = new TableBatchWriter(wired.table);
    await failing.delete('q', 'never-written');
    await failing.delete('q', 'old');
    // The transaction's 404 leads to the replay; the replayed delete of `old` is refused with a 503.
    wired.refuse = (request) =>
      request.method === 'DELETE' && request.url.includes("'old'") ? 503 : undefined;
    await expect(failing.flush()).rejects.toMatchObject({ statusCode: 503 });
    wired.refuse = undefined;
    expect((await rowsIn(wired.table, 'q')).map((row) => row.rowKey)).toEqual(['old']);
  });
});

async function rowsIn(table: TableClient, partitionKey: string): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  for await (const row of table.listEntities<Record<string, unknown>>({
    queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
  }))
    rows.push(row);
  return rows;
}

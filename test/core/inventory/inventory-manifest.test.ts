/**
 * The inventory manifest (src/core/inventory/inventory-manifest.ts): the compact previous state in a
 * subscription's marker row. Unit checks of its encoding, then against the real Table service
 * (Azurite): an unchanged subscription is read with one point read and no query, and a sweep that
 * dies after writing part of its changes leaves the marker flagged, so the next sweep reads the
 * partition and records every change exactly once.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { odata, type TableClient } from '@azure/data-tables';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { InventoryItem } from '../../../src/core/platform/arm.js';
import {
  contentDigest,
  contentHash,
  inventoryPartition,
  SUBSCRIPTION_MARKER,
} from '../../../src/core/inventory/inventory.js';
import { SubscriptionSync } from '../../../src/core/inventory/subscription-sync.js';
import { TableBatchWriter } from '../../../src/core/storage/table-batch.js';
import {
  contentHashWords,
  HashManifest,
  KeySet,
  MANIFEST_CHUNK_BYTES,
  MANIFEST_VERSION,
  rowKeyHash,
} from '../../../src/core/inventory/inventory-manifest.js';
import { inventoryFixture } from '../../support/provider.js';

describe('manifest encoding', () => {
  it('sorts entries by key, keeps a repeated key once, and finds each one', () => {
    const builder = HashManifest.builder();
    const keys = Array.from({ length: 5000 }, (_, i) => rowKeyHash(`row-${i}`));
    keys.forEach(([hi, lo], i) => builder.add(hi, lo, i, i + 1));
    builder.add(keys[7]![0], keys[7]![1], 99, 99); // the same key again
    const manifest = builder.build();
    expect(manifest.size).toBe(5000);
    keys.forEach(([hi, lo], i) => {
      const index = manifest.indexOf(hi, lo);
      expect(index).toBeGreaterThanOrEqual(0);
      expect(manifest.sameContent(index, i, i + 1)).toBe(true);
    });
    expect(manifest.indexOf(...rowKeyHash('not-there'))).toBe(-1);
  });

  it("takes a resource's content hash and its manifest words from one digest, as stored before", () => {
    const items = [
      resource(1),
      resource(2, { tags: { b: '1', B: '2', a: '3' }, sku: { name: 'Standard_LRS', tier: 'Standard' } }),
    ];
    for (const item of items) {
      const digest = contentDigest(item);
      expect(digest.hash).toBe(contentHash(item));
      expect(digest.hash).toHaveLength(32);
      expect(digest.words).toEqual(contentHashWords(contentHash(item)));
    }
    expect(contentDigest(items[0]!).hash).not.toBe(contentDigest(items[1]!).hash);
  });

  it('round-trips through 64 KiB binary chunks and refuses chunks that do not match', () => {
    const builder = HashManifest.builder();
    for (let i = 0; i < 10_000; i++) builder.add(...rowKeyHash(`r${i}`), i, 0);
    const manifest = builder.build();
    const chunks = manifest.toChunks();
    expect(chunks).toHaveLength(Math.ceil((10_000 * 16) / MANIFEST_CHUNK_BYTES));
    expect(chunks.every((chunk) => chunk.length <= MANIFEST_CHUNK_BYTES)).toBe(true);
    const back = HashManifest.fromChunks(chunks, 10_000)!;
    expect(back.size).toBe(10_000);
    // Every entry is found again with its content (an index of -1 on both sides would prove nothing).
    for (let i = 0; i < 10_000; i++) {
      const index = back.indexOf(...rowKeyHash(`r${i}`));
      expect(index).toBe(manifest.indexOf(...rowKeyHash(`r${i}`)));
      expect(back.sameContent(index, i, 0)).toBe(true);
    }
    expect(back.indexOf(...rowKeyHash('not-there'))).toBe(-1);
    expect(HashManifest.fromChunks(chunks, 9_999)).toBeUndefined();
    const shuffled = [chunks[1]!, chunks[0]!, ...chunks.slice(2)];
    expect(HashManifest.fromChunks(shuffled, 10_000)).toBeUndefined();
  });

  it('KeySet tells a new key from a repeated one, the zero key included, across growth', () => {
    const set = new KeySet();
    expect(set.add(0, 0)).toBe(true);
    expect(set.add(0, 0)).toBe(false);
    for (let i = 1; i <= 20_000; i++) expect(set.add(i * 7919, i)).toBe(true);
    for (let i = 1; i <= 20_000; i++) expect(set.add(i * 7919, i)).toBe(false);
  });
});

const { config, storage, tables, tenantId, subscription } = inventoryFixture();
const partition = inventoryPartition(tenantId, subscription.subscriptionId);

/** Counts the requests a TableClient sends, by kind. */
function countRequests(table: TableClient): { queries: number; pointReads: number } {
  const counts = { queries: 0, pointReads: 0 };
  const policy: PipelinePolicy = {
    name: 'count-requests',
    sendRequest: (request, next) => {
      if (request.method === 'GET') {
        if (/\(\)(\?|$)/.test(new URL(request.url).pathname + '?')) counts.queries++;
        else counts.pointReads++;
      }
      return next(request);
    },
  };
  table.pipeline.addPolicy(policy);
  return counts;
}

function resource(index: number, patch: Partial<InventoryItem> = {}): InventoryItem {
  return {
    id: `/subscriptions/${subscription.subscriptionId}/resourceGroups/rg-${index % 3}/providers/Microsoft.Compute/disks/disk-${index}`,
    name: `disk-${index}`,
    type: 'Microsoft.Compute/disks',
    location: 'westeurope',
    resourceGroup: `rg-${index % 3}`,
    subscriptionId: subscription.subscriptionId,
    tags: { env: 'prod' },
    ...patch,
  };
}

async function* stream(items: InventoryItem[], failAfter?: number): AsyncGenerator<InventoryItem> {
  let given = 0;
  for (const item of items) {
    if (failAfter !== undefined && given++ === failAfter) throw new Error('worker died');
    yield await Promise.resolve(item); // as from ARM: one item at a time, asynchronously
  }
}

async function sweep(runId: string, items: InventoryItem[], failAfter?: number) {
  const sync = new SubscriptionSync(tables);
  const result = await sync.syncSubscription(
    { tenantId, runId, now: new Date().toISOString() },
    subscription,
    stream(items, failAfter),
  );
  return { result, stats: sync.stats() };
}

async function marker(): Promise<Record<string, unknown>> {
  return tables.inventory.getEntity<Record<string, unknown>>(partition, SUBSCRIPTION_MARKER);
}

async function changesOf(runId: string): Promise<Array<Record<string, unknown>>> {
  const rows = [];
  for await (const row of tables.changes.listEntities<Record<string, unknown>>({
    queryOptions: { filter: odata`PartitionKey eq ${tenantId} and runId eq ${runId}` },
  }))
    rows.push(row);
  return rows;
}

beforeAll(async () => {
  await storage.ensureResources();
});

describe('a first sweep is a baseline', () => {
  // Its own subscription: this block starts from an empty partition.
  const baselineSubscription = { ...subscription, subscriptionId: randomUUID() };
  const baselinePartition = inventoryPartition(tenantId, baselineSubscription.subscriptionId);
  const items = Array.from({ length: 230 }, (_, i) =>
    resource(i, {
      id: `/subscriptions/${baselineSubscription.subscriptionId}/resourceGroups/rg-${i % 3}/providers/Microsoft.Compute/disks/disk-${i}`,
      subscriptionId: baselineSubscription.subscriptionId,
    }),
  );
  const syncBaseline = async (runId: string, current: InventoryItem[], failAfter?: number) =>
    new SubscriptionSync(tables).syncSubscription(
      { tenantId, runId, now: new Date().toISOString() },
      baselineSubscription,
      stream(current, failAfter),
    );
  const storedRows = async (): Promise<number> => {
    let count = 0;
    for await (const entity of tables.inventory.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${baselinePartition}`, select: ['RowKey'] },
    }))
      if (entity.rowKey !== SUBSCRIPTION_MARKER) count++;
    return count;
  };

  it('that died half-way is resumed as a baseline: no resource is ever reported as added', async () => {
    await expect(syncBaseline('run-b1', items, 150)).rejects.toThrow('worker died');
    const pending = await tables.inventory.getEntity<Record<string, unknown>>(
      baselinePartition,
      SUBSCRIPTION_MARKER,
    );
    expect(pending.baselinePending).toBe(true);
    expect(await storedRows()).toBe(99); // the first transaction: the pending marker and 99 rows
    expect(await changesOf('run-b1')).toHaveLength(0);

    // Resumed by the next delivery with 10 resources gone meanwhile: they were never reported, so they
    // leave without a change record; everything else is the baseline.
    const result = await syncBaseline('run-b2', items.slice(10));
    expect(result).toMatchObject({ items: 220, baselined: 220, added: 0, removed: 0, modified: 0 });
    expect(await storedRows()).toBe(220);
    const changes = await changesOf('run-b2');
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ changeType: 'baseline', items: 220 });
    const final = await tables.inventory.getEntity<Record<string, unknown>>(
      baselinePartition,
      SUBSCRIPTION_MARKER,
    );
    expect(final.baselinePending).toBeUndefined();
    expect(final).toMatchObject({ manifestEntries: 220 });
  });

  it('after the baseline, new resources are changes again', async () => {
    const result = await syncBaseline('run-b3', items);
    expect(result).toMatchObject({ baselined: 0, added: 10, removed: 0, modified: 0 });
    expect((await changesOf('run-b3')).map((change) => change.changeType)).toEqual(Array(10).fill('added'));
  });
});

describe("a tenant's baseline records written together", () => {
  const deferredSubscription = { ...subscription, subscriptionId: randomUUID() };
  const items = Array.from({ length: 30 }, (_, i) =>
    resource(i, {
      id: `/subscriptions/${deferredSubscription.subscriptionId}/resourceGroups/rg-0/providers/Microsoft.Compute/disks/disk-${i}`,
      subscriptionId: deferredSubscription.subscriptionId,
    }),
  );
  const syncWith = (runId: string, writer: TableBatchWriter) =>
    new SubscriptionSync(tables, writer).syncSubscription(
      { tenantId, runId, now: new Date().toISOString() },
      deferredSubscription,
      stream(items),
    );
  const baselineOf = async (runId: string) =>
    (await changesOf(runId)).filter(
      (change) =>
        change.changeType === 'baseline' && change.subscriptionId === deferredSubscription.subscriptionId,
    );

  it("leaves the record to the tenant's writer, and writes it again on a redelivery of a run that died before it", async () => {
    // The sweep dies after the subscription's rows and final marker, before the tenant's writer is flushed.
    const lost = new TableBatchWriter(tables.changes);
    expect(await syncWith('run-d1', lost)).toMatchObject({ items: 30, baselined: 30 });
    expect(await baselineOf('run-d1')).toHaveLength(0);
    const written = await tables.inventory.getEntity<Record<string, unknown>>(
      inventoryPartition(tenantId, deferredSubscription.subscriptionId),
      SUBSCRIPTION_MARKER,
    );
    expect(written.baselineRunId).toBe('run-d1');

    // The redelivery finds the baseline finished (nothing rewritten) and records it once more.
    const again = new TableBatchWriter(tables.changes);
    expect(await syncWith('run-d1', again)).toMatchObject({ items: 30, added: 0, modified: 0 });
    await again.flush();
    const records = await baselineOf('run-d1');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ items: 30 });

    // The next run records no baseline, and its marker no longer names one.
    const next = new TableBatchWriter(tables.changes);
    await syncWith('run-d2', next);
    await next.flush();
    expect(await baselineOf('run-d2')).toHaveLength(0);
    const after = await tables.inventory.getEntity<Record<string, unknown>>(
      inventoryPartition(tenantId, deferredSubscription.subscriptionId),
      SUBSCRIPTION_MARKER,
    );
    expect(after.baselineRunId).toBeUndefined();
  });
});

describe('previous state from the marker row', () => {
  const first = Array.from({ length: 250 }, (_, i) => resource(i));

  it('stores a manifest of every row in the marker after a sweep', async () => {
    await sweep('run-1', first);
    const row = await marker();
    expect(row).toMatchObject({ manifestVersion: MANIFEST_VERSION, manifestEntries: 250 });
    expect(row.syncing).toBeUndefined();
  });

  it('reads an unchanged subscription with one point read, no query, and writes only the marker', async () => {
    const counting = { inventory: storage.table(config.names.inventoryTable), changes: tables.changes };
    const counts = countRequests(counting.inventory);
    const sync = new SubscriptionSync(counting);
    const result = await sync.syncSubscription(
      { tenantId, runId: 'run-2', now: new Date().toISOString() },
      subscription,
      stream(first),
    );
    expect(result).toMatchObject({ items: 250, added: 0, removed: 0, modified: 0 });
    expect(counts).toEqual({ queries: 0, pointReads: 1 });
    expect(sync.stats().inventory).toEqual({ operations: 1, requests: 1 });
  });

  it('after a sweep died half-way, the next one reads the partition and records each change once', async () => {
    const added = Array.from({ length: 120 }, (_, i) => resource(1000 + i));
    const modified = first.slice(0, 50).map((item) => ({ ...item, tags: { env: 'dev' } }));
    // New resources first: more than 100 changes, so some are flushed before the worker dies.
    const drifted = [...added, ...modified, ...first.slice(50, 200)]; // 200..249 removed
    await expect(sweep('run-3', drifted, 160)).rejects.toThrow('worker died');
    expect((await marker()).syncing).toBe(true);

    const { result } = await sweep('run-4', drifted);
    const crashed = await changesOf('run-3');
    const finished = await changesOf('run-4');
    const all = [...crashed, ...finished];
    const byType = (type: string) => all.filter((change) => change.changeType === type);
    expect(new Set(byType('added').map((change) => change.name)).size).toBe(120);
    expect(byType('added')).toHaveLength(120);
    expect(byType('modified')).toHaveLength(50);
    expect(byType('removed')).toHaveLength(50);
    expect(result.added + crashed.filter((change) => change.changeType === 'added').length).toBe(120);

    const row = await marker();
    expect(row.syncing).toBeUndefined();
    expect(row).toMatchObject({ manifestEntries: 320 });
    let stored = 0;
    for await (const entity of tables.inventory.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${partition}`, select: ['RowKey'] },
    }))
      if (entity.rowKey !== SUBSCRIPTION_MARKER) stored++;
    expect(stored).toBe(320);
  });

  it('detects removals and changes against the manifest (a point read, then a query only for the gone rows)', async () => {
    const current = [
      ...Array.from({ length: 120 }, (_, i) => resource(1000 + i)),
      ...first.slice(0, 50).map((item) => ({ ...item, tags: { env: 'dev' } })),
      ...first.slice(50, 198), // 198 and 199 are gone
    ];
    current[0] = { ...current[0]!, location: 'northeurope' };
    const { result } = await sweep('run-5', current);
    expect(result).toMatchObject({ added: 0, removed: 2, modified: 1 });
    const changes = await changesOf('run-5');
    expect(changes.map((change) => `${String(change.changeType)}:${String(change.name)}`).sort()).toEqual(
      ['modified:disk-1000', 'removed:disk-198', 'removed:disk-199'].sort(),
    );
    expect(await marker()).toMatchObject({ manifestEntries: 318 });
  });
});

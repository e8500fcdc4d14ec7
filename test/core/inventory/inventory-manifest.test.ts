/**
 * The inventory manifest (src/core/inventory/inventory-manifest.ts): the compact previous state in a
 * subscription's marker row. Unit checks of its encoding, then against the real Table service
 * (Azurite): an unchanged subscription is read with one point read and no query, and a sweep that
 * dies after writing part of its changes leaves the marker flagged, so the next sweep reads the
 * partition and records every change exactly once. A subscription too large for a manifest: in
 * inventory-manifest-large.test.ts (minutes on Azurite).
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
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
import { manifestSyncFixture } from '../../support/manifest-sync.js';

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

describe('manifest encoding at its edges', () => {
  it('orders keys that share their high word by the low one, and compares both content words', () => {
    const builder = HashManifest.builder();
    for (const [hi, lo, content] of [
      [5, 2, 52],
      [6, 0, 60],
      [5, 1, 51],
      [4, 9, 49],
      [5, 3, 53],
    ] as const)
      builder.add(hi, lo, content, content + 1000);
    const manifest = builder.build();
    expect(Array.from({ length: manifest.size }, (_, i) => manifest.keyAt(i))).toEqual([
      [4, 9],
      [5, 1],
      [5, 2],
      [5, 3],
      [6, 0],
    ]);
    expect([
      manifest.indexOf(5, 1),
      manifest.indexOf(5, 3),
      manifest.indexOf(5, 4),
      manifest.indexOf(6, 0),
    ]).toEqual([1, 3, -1, 4]);
    expect(manifest.sameContent(2, 52, 1052)).toBe(true);
    expect(manifest.sameContent(2, 52, 1053)).toBe(false);
    expect(manifest.sameContent(2, 53, 1052)).toBe(false);
    // Stored and read back, the same order is valid; the same keys in another order, or twice, are not.
    expect(HashManifest.fromChunks(manifest.toChunks(), 5)?.indexOf(5, 3)).toBe(3);
    const words = (...entries: number[][]) => [
      new Uint8Array(Buffer.concat(entries.map((e) => Buffer.from(new Uint32Array(e).buffer).swap32()))),
    ];
    expect(HashManifest.fromChunks(words([5, 2, 0, 0], [5, 1, 0, 0]), 2)).toBeUndefined();
    expect(HashManifest.fromChunks(words([5, 1, 0, 0], [5, 1, 0, 0]), 2)).toBeUndefined();
    expect(HashManifest.fromChunks(words([5, 1, 0, 0], [5, 2, 0, 0]), 2)?.size).toBe(2);
  });

  it('refuses an entry count that is no count, and reads an empty manifest', () => {
    for (const entries of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1])
      expect(HashManifest.fromChunks([], entries), String(entries)).toBeUndefined();
    expect(HashManifest.fromChunks([], 0)?.size).toBe(0);
  });

  it('fills whole chunks exactly: 4,096 entries are one chunk of 64 KiB', () => {
    const builder = HashManifest.builder();
    for (let i = 0; i < MANIFEST_CHUNK_BYTES / 16; i++) builder.add(...rowKeyHash(`k${i}`), i, i);
    expect(
      builder
        .build()
        .toChunks()
        .map((chunk) => chunk.length),
    ).toEqual([MANIFEST_CHUNK_BYTES]);
  });

  it('reads the first 64 bits of a content hash, and zeros for one too short', () => {
    expect(contentHashWords(Buffer.from([0, 0, 0, 1, 0, 0, 0, 2]).toString('base64url'))).toEqual([1, 2]);
    expect(contentHashWords(Buffer.from([0, 0, 0, 1, 0, 0, 2]).toString('base64url'))).toEqual([0, 0]);
    expect(contentHashWords('')).toEqual([0, 0]);
  });

  it('KeySet keeps keys with one zero word apart from the zero key and from each other, across growth', () => {
    const set = new KeySet();
    expect([set.add(0, 7), set.add(7, 0), set.add(0, 0)]).toEqual([true, true, true]);
    expect([set.add(0, 7), set.add(7, 0), set.add(0, 0)]).toEqual([false, false, false]);
    for (let i = 1; i <= 3000; i++) expect(set.add(0, i) || i === 7, `(0, ${i})`).toBe(true);
    for (let i = 1; i <= 3000; i++) expect(set.add(i, 0) || i === 7, `(${i}, 0)`).toBe(true);
    for (let i = 1; i <= 3000; i++) expect([set.add(0, i), set.add(i, 0)]).toEqual([false, false]);
    expect(set.add(1, 1)).toBe(true);
  });
});

const {
  config,
  storage,
  tables,
  tenantId,
  countRequests,
  newSubscription,
  resource,
  stream,
  sweep,
  marker,
  storedRows,
  changesOf,
} = manifestSyncFixture();

beforeAll(async () => {
  await storage.ensureResources();
});

describe('a first sweep is a baseline', () => {
  /** 230 disks of a subscription of their own. */
  function baselineScope() {
    const target = newSubscription();
    const items = Array.from({ length: 230 }, (_, i) => resource(i, {}, target));
    const syncBaseline = async (runId: string, current: InventoryItem[], failAfter?: number) =>
      (await sweep(runId, current, failAfter, target)).result;
    return { target, items, syncBaseline };
  }
  const runIds = () => ({ crashed: `run-${randomUUID()}`, resumed: `run-${randomUUID()}` });

  /** A baseline that died after its first transaction, resumed with the first 10 resources gone. */
  async function crashedThenResumed(scope: ReturnType<typeof baselineScope>, runs = runIds()) {
    await expect(scope.syncBaseline(runs.crashed, scope.items, 150)).rejects.toThrow('worker died');
    const pending = await marker(scope.target);
    const rowsAfterCrash = await storedRows(scope.target);
    const result = await scope.syncBaseline(runs.resumed, scope.items.slice(10));
    return { pending, rowsAfterCrash, result };
  }

  it('that died half-way is resumed as a baseline: no resource is ever reported as added', async () => {
    const scope = baselineScope();
    const runs = runIds();
    const { pending, rowsAfterCrash, result } = await crashedThenResumed(scope, runs);
    expect(pending.baselinePending).toBe(true);
    expect(rowsAfterCrash).toBe(99); // the first transaction: the pending marker and 99 rows
    expect(await changesOf(runs.crashed)).toHaveLength(0);

    // Resumed by the next delivery with 10 resources gone meanwhile: they were never reported, so they
    // leave without a change record; everything else is the baseline.
    expect(result).toMatchObject({ items: 220, baselined: 220, added: 0, removed: 0, modified: 0 });
    expect(await storedRows(scope.target)).toBe(220);
    const changes = await changesOf(runs.resumed);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ changeType: 'baseline', items: 220 });
    const final = await marker(scope.target);
    expect(final.baselinePending).toBeUndefined();
    expect(final).toMatchObject({ manifestEntries: 220 });
  });

  it('after the baseline, new resources are changes again', async () => {
    const scope = baselineScope();
    await crashedThenResumed(scope);
    const runId = `run-${randomUUID()}`;
    const result = await scope.syncBaseline(runId, scope.items);
    expect(result).toMatchObject({ baselined: 0, added: 10, removed: 0, modified: 0 });
    expect((await changesOf(runId)).map((change) => change.changeType)).toEqual(Array(10).fill('added'));
  });
});

describe("a tenant's baseline records written together", () => {
  const deferredSubscription = newSubscription();
  const items = Array.from({ length: 30 }, (_, i) => resource(i, {}, deferredSubscription));
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

    // The next run records no baseline and writes nothing: the marker still names run-d1, which only
    // a redelivery of run-d1 reads.
    const next = new TableBatchWriter(tables.changes);
    await syncWith('run-d2', next);
    await next.flush();
    expect(await baselineOf('run-d2')).toHaveLength(0);
    const after = await tables.inventory.getEntity<Record<string, unknown>>(
      inventoryPartition(tenantId, deferredSubscription.subscriptionId),
      SUBSCRIPTION_MARKER,
    );
    expect(after).toMatchObject({ baselineRunId: 'run-d1', lastRunId: 'run-d1' });
  });
});

describe('previous state from the marker row', () => {
  /** A subscription of its own with 250 disks swept once: the state each test starts from. */
  async function sweptOnce() {
    const target = newSubscription();
    const first = Array.from({ length: 250 }, (_, i) => resource(i, {}, target));
    await sweep(`run-${randomUUID()}`, first, undefined, target);
    return { target, first, disk: (index: number) => resource(index, {}, target) };
  }

  /** 120 new disks, the first 50 retagged, 200..249 gone: more than 100 changes. */
  function drift({ first, disk }: Awaited<ReturnType<typeof sweptOnce>>): InventoryItem[] {
    const added = Array.from({ length: 120 }, (_, i) => disk(1000 + i));
    const modified = first.slice(0, 50).map((item) => ({ ...item, tags: { env: 'dev' } }));
    // New resources first, so some changes are flushed before a worker that dies at 160 does.
    return [...added, ...modified, ...first.slice(50, 200)];
  }

  it('stores a manifest of every row in the marker after a sweep', async () => {
    const { target } = await sweptOnce();
    const row = await marker(target);
    expect(row).toMatchObject({ manifestVersion: MANIFEST_VERSION, manifestEntries: 250 });
    expect(row.syncing).toBeUndefined();
  });

  it('reads an unchanged subscription with one point read, no query, and writes only the marker', async () => {
    const { target, first } = await sweptOnce();
    const counting = { inventory: storage.table(config.names.inventoryTable), changes: tables.changes };
    const counts = countRequests(counting.inventory);
    const sync = new SubscriptionSync(counting);
    const result = await sync.syncSubscription(
      { tenantId, runId: `run-${randomUUID()}`, now: new Date().toISOString() },
      target,
      stream(first),
    );
    expect(result).toMatchObject({ items: 250, added: 0, removed: 0, modified: 0 });
    expect(counts).toEqual({ queries: 0, pointReads: 1 });
    expect(sync.stats().inventory).toEqual({ operations: 0, requests: 0 });
  });

  it('after a sweep died half-way, the next one reads the partition and records each change once', async () => {
    const swept = await sweptOnce();
    const drifted = drift(swept);
    const [crashedRun, finishedRun] = [`run-${randomUUID()}`, `run-${randomUUID()}`];
    await expect(sweep(crashedRun, drifted, 160, swept.target)).rejects.toThrow('worker died');
    expect((await marker(swept.target)).syncing).toBe(true);

    const { result } = await sweep(finishedRun, drifted, undefined, swept.target);
    const crashed = await changesOf(crashedRun);
    const finished = await changesOf(finishedRun);
    const all = [...crashed, ...finished];
    const byType = (type: string) => all.filter((change) => change.changeType === type);
    expect(new Set(byType('added').map((change) => change.name)).size).toBe(120);
    expect(byType('added')).toHaveLength(120);
    expect(byType('modified')).toHaveLength(50);
    expect(byType('removed')).toHaveLength(50);
    expect(result.added + crashed.filter((change) => change.changeType === 'added').length).toBe(120);

    const row = await marker(swept.target);
    expect(row.syncing).toBeUndefined();
    expect(row).toMatchObject({ manifestEntries: 320 });
    expect(await storedRows(swept.target)).toBe(320);
  });

  it('detects removals and changes against the manifest (a point read, then a query only for the gone rows)', async () => {
    const swept = await sweptOnce();
    await sweep(`run-${randomUUID()}`, drift(swept), undefined, swept.target);
    const current = [
      ...Array.from({ length: 120 }, (_, i) => swept.disk(1000 + i)),
      ...swept.first.slice(0, 50).map((item) => ({ ...item, tags: { env: 'dev' } })),
      ...swept.first.slice(50, 198), // 198 and 199 are gone
    ];
    current[0] = { ...current[0]!, location: 'northeurope' };
    const runId = `run-${randomUUID()}`;
    const { result } = await sweep(runId, current, undefined, swept.target);
    expect(result).toMatchObject({ added: 0, removed: 2, modified: 1 });
    const changes = await changesOf(runId);
    expect(changes.map((change) => `${String(change.changeType)}:${String(change.name)}`).sort()).toEqual(
      ['modified:disk-1000', 'removed:disk-198', 'removed:disk-199'].sort(),
    );
    expect(await marker(swept.target)).toMatchObject({ manifestEntries: 318 });
  });
});

/**
 * Page digests (src/core/inventory/page-digests.ts): a listing whose pages are the stored ones compares
 * no resource, and everything else is still found exactly, against the real Table service (Azurite).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { InventoryItem } from '../../../src/core/platform/arm.js';
import { comparedJson } from '../../../src/core/inventory/inventory.js';
import { ListingDigests, pageDigest, sameDigests } from '../../../src/core/inventory/page-digests.js';
import { SubscriptionSync } from '../../../src/core/inventory/subscription-sync.js';
import { manifestSyncFixture } from '../../support/manifest-sync.js';

const { storage, tables, tenantId, newSubscription, resource, marker, changesOf } = manifestSyncFixture();
type Subscription = ReturnType<typeof newSubscription>;

const digestOf = (items: InventoryItem[]): Uint8Array => pageDigest(items, items.map(comparedJson));

/** `items` in pages of `size`, as listInventoryPages gives them. */
function pages(items: InventoryItem[], size: number): InventoryItem[][] {
  const out: InventoryItem[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function* listing(pageList: InventoryItem[][]): AsyncGenerator<InventoryItem[]> {
  for (const page of pageList) yield await Promise.resolve(page);
}

async function sweep(runId: string, target: Subscription, pageList: InventoryItem[][], heldItems?: number) {
  const sync = new SubscriptionSync(tables);
  const result = await sync.syncSubscription(
    { tenantId, runId, now: new Date().toISOString() },
    target,
    listing(pageList),
    heldItems === undefined ? {} : { heldItems },
  );
  return { result, stats: sync.stats() };
}

function disks(target: Subscription, count: number): InventoryItem[] {
  return Array.from({ length: count }, (_, index) => resource(index, {}, target));
}

beforeAll(async () => {
  await storage.ensureResources();
});

describe('pageDigest', () => {
  const target = newSubscription();
  const items = disks(target, 3);

  it('is the same for ids spelled in another casing, as ARM does from one listing to the next', () => {
    const respelled = items.map((item) => ({
      ...item,
      id: item.id
        .replace('/resourceGroups/rg-', '/resourceGroups/RG-')
        .replace('Microsoft.Compute', 'microsoft.compute'),
      type: 'microsoft.compute/disks',
    }));
    expect(sameDigests(digestOf(respelled), digestOf(items))).toBe(true);
  });

  it('differs for anything change detection compares, and for the order of the items', () => {
    const base = digestOf(items);
    const variants: InventoryItem[][] = [
      [{ ...items[0]!, name: 'Disk-0' }, ...items.slice(1)],
      [{ ...items[0]!, tags: { env: 'test' } }, ...items.slice(1)],
      [{ ...items[0]!, location: 'northeurope' }, ...items.slice(1)],
      [{ ...items[0]!, sku: { name: 'Premium_LRS' } }, ...items.slice(1)],
      [{ ...items[0]!, id: `${items[0]!.id}x` }, ...items.slice(1)],
      [items[1]!, items[0]!, items[2]!],
      items.slice(0, 2),
    ];
    for (const variant of variants) expect(sameDigests(digestOf(variant), base)).toBe(false);
  });
});

describe('ListingDigests', () => {
  const target = newSubscription();
  const [a, b, c] = pages(disks(target, 6), 2).map(digestOf) as [Uint8Array, Uint8Array, Uint8Array];
  const stored = (() => {
    const listing = new ListingDigests(undefined);
    [a, b, c].forEach((digest) => listing.add(digest));
    return listing.toStore()!;
  })();

  it('says which pages are the stored ones at their place, and whether the whole listing is', () => {
    const same = new ListingDigests(stored);
    expect([a, b, c].map((digest) => same.add(digest))).toEqual([true, true, true]);
    expect(same.sameAsStored).toBe(true);

    const shorter = new ListingDigests(stored);
    expect([a, b].map((digest) => shorter.add(digest))).toEqual([true, true]);
    expect(shorter.sameAsStored).toBe(false);

    const swapped = new ListingDigests(stored);
    expect([a, c, b].map((digest) => swapped.add(digest))).toEqual([true, false, false]);
    expect(swapped.sameAsStored).toBe(false);
  });

  it('stores nothing when an item came on its own, outside a page', () => {
    const listing = new ListingDigests(stored);
    listing.add(a);
    listing.add(undefined);
    listing.add(c);
    expect(listing.sameAsStored).toBe(false);
    expect(listing.toStore()).toBeUndefined();
  });
});

describe('a sweep whose listing is the stored one', () => {
  it('compares no resource, writes nothing, and counts as before', async () => {
    const target = newSubscription();
    const items = disks(target, 250);
    const first = await sweep('run-1', target, pages(items, 100));
    expect(first.result).toMatchObject({ items: 250, baselined: 250, sameListing: false });
    expect((await marker(target)).pageDigests).toBeInstanceOf(Uint8Array);

    const repeat = await sweep('run-2', target, pages(items, 100));
    expect(repeat.result).toMatchObject({
      items: 250,
      resourceGroups: 0,
      added: 0,
      removed: 0,
      modified: 0,
      sameListing: true,
    });
    expect(repeat.stats.inventory).toMatchObject({ requests: 0, operations: 0 });
    expect(repeat.stats.changes.requests).toBe(0);
    expect(await marker(target)).toMatchObject({ lastRunId: 'run-1', items: 250 });
  });

  it('still finds a change in any page, a removal and an addition, exactly', async () => {
    const target = newSubscription();
    const items = disks(target, 250);
    await sweep('run-1', target, pages(items, 100));

    const modified = items.map((item, i) => (i === 150 ? { ...item, tags: { env: 'test' } } : item));
    const second = await sweep('modified-run-2', target, pages(modified, 100));
    expect(second.result).toMatchObject({
      items: 250,
      modified: 1,
      added: 0,
      removed: 0,
      sameListing: false,
    });
    expect((await changesOf('modified-run-2')).map((row) => row.changeType)).toEqual(['modified']);

    // Back as it was: the stored digests are the last listing's, so this is a change again.
    const reverted = await sweep('run-3', target, pages(items, 100));
    expect(reverted.result).toMatchObject({ modified: 1, sameListing: false });
    expect((await sweep('run-4', target, pages(items, 100))).result).toMatchObject({
      modified: 0,
      sameListing: true,
    });

    const fewer = items.filter((_, i) => i !== 249);
    expect((await sweep('run-5', target, pages(fewer, 100))).result).toMatchObject({
      items: 249,
      removed: 1,
      sameListing: false,
    });
    const more = [...fewer, resource(999, {}, target)];
    expect((await sweep('run-6', target, pages(more, 100))).result).toMatchObject({
      items: 250,
      added: 1,
      removed: 0,
      sameListing: false,
    });
  });

  it('takes the same resources in other pages as unchanged, and then trusts the new pages', async () => {
    const target = newSubscription();
    const items = disks(target, 250);
    await sweep('run-1', target, pages(items, 100));
    const regrouped = await sweep('run-2', target, pages(items, 50));
    expect(regrouped.result).toMatchObject({
      items: 250,
      added: 0,
      removed: 0,
      modified: 0,
      sameListing: false,
    });
    expect(regrouped.stats.inventory.requests).toBe(1);
    expect((await sweep('run-3', target, pages(items, 50))).result.sameListing).toBe(true);
    expect((await sweep('run-4', target, pages(items, 100))).result).toMatchObject({
      modified: 0,
      sameListing: false,
    });
  });

  it('keeps no digests for a listing that repeats an item, and counts it once', async () => {
    const target = newSubscription();
    const items = disks(target, 200);
    // ARM's page boundary repeating the last item of the first page.
    const repeating = [items.slice(0, 100), items.slice(99, 200)];
    await sweep('run-1', target, repeating);
    expect((await marker(target)).pageDigests).toBeUndefined();
    const second = await sweep('run-2', target, repeating);
    expect(second.result).toMatchObject({ items: 200, added: 0, modified: 0, sameListing: false });
    expect(second.result.storageAccounts).toEqual([]);
  });

  it('gives the snapshot and fleet views every item once, as a sweep that compares them does', async () => {
    const target = newSubscription();
    const items = [
      ...disks(target, 120),
      resource(500, { type: 'Microsoft.Storage/storageAccounts', name: 'st500' }, target),
    ];
    await sweep('run-1', target, pages(items, 50));
    const seen: string[] = [];
    const sync = new SubscriptionSync(tables);
    const result = await sync.syncSubscription(
      { tenantId, runId: 'run-2', now: new Date().toISOString(), onItem: (item) => void seen.push(item.id) },
      target,
      listing(pages(items, 50)),
    );
    expect(result.sameListing).toBe(true);
    expect(seen).toEqual(items.map((item) => item.id));
    expect(result.storageAccounts.map((account) => account.name)).toEqual(['st500']);
  });

  it('in a subscription larger than it holds, takes stored pages from the manifest and finds the rest', async () => {
    const target = newSubscription();
    const items = disks(target, 250);
    await sweep('run-1', target, pages(items, 100), 50);
    const unchanged = await sweep('run-2', target, pages(items, 100), 50);
    expect(unchanged.result).toMatchObject({ items: 250, modified: 0, removed: 0, sameListing: false });
    // Found the same resource by resource: no row and no marker written (the digests are the same).
    expect(unchanged.stats.inventory.requests).toBe(0);

    const changed = items.map((item, i) => (i === 120 ? { ...item, location: 'northeurope' } : item));
    const second = await sweep('held-run-3', target, pages(changed.slice(0, 240), 100), 50);
    expect(second.result).toMatchObject({
      items: 240,
      modified: 1,
      removed: 10,
      added: 0,
      sameListing: false,
    });
    expect((await changesOf('held-run-3')).filter((row) => row.changeType === 'modified')).toHaveLength(1);
  });
});

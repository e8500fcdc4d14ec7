/**
 * A subscription's inventory sync with change history (what a row holds and how a change is computed
 * is inventory.ts). For one subscription:
 *  1. read the previous state's key and content hashes: the manifest in the marker row (one point read,
 *     see inventory-manifest.ts); no marker means no rows (a first sweep); a marker without a usable
 *     manifest means one partition query projected to two columns;
 *  2. stream the current resources from ARM; a new key is `added`, a different hash is `modified`
 *     (the previous row is read to say what changed), the same hash costs nothing;
 *  3. keys left over are `removed`.
 * Change records are written before the inventory rows they describe and are keyed by run and resource,
 * so a redelivered message (a crash half-way) neither loses nor duplicates a change.
 * An unchanged subscription costs one read and no write: its marker row is written only when something
 * it says changed (the subscription's name or state, its counts, its page digests). Like a resource row,
 * the marker's `lastRunId` and `lastModified` name the sweep that last wrote it, not the last one that
 * saw it: no reader needs the latter, and the run's rows say which subscriptions each run read.
 *
 * The marker also keeps the digest of every page ARM listed (page-digests.ts). A page that is the one
 * stored at its place holds the items it held then, whose content hashes are the manifest's: none is
 * hashed again. A listing whose every page is the stored one is the stored inventory: no resource is
 * compared at all (the common case of a repeat sweep). Its pages are held until the listing ends, as
 * one different page means every resource must be looked up in the manifest after all.
 *
 * A subscription's first sweep is its baseline: its resources are written without a change record each
 * (one `baseline` record says how many were taken in). Onboarding a tenant of 100,000 resources thus
 * writes 100,000 rows, not 200,000, and its change history starts with what changed after onboarding
 * instead of 100,000 `added` entries. The marker row goes into the baseline's first transaction with
 * `baselinePending`, so a baseline that dies half-way is resumed as a baseline (never as additions).
 */
import { odata, type TableClient } from '@azure/data-tables';
import { hasStatus } from '../storage/table-errors.js';
import type { InventoryItem, VisibleSubscription } from '../platform/arm.js';
import { canonicalType } from '../platform/arm-casing.js';
import {
  contentHashWords,
  HashManifest,
  KeySet,
  keyText,
  MANIFEST_MAX_CHUNKS,
  MANIFEST_MAX_ENTRIES,
  MANIFEST_VERSION,
  rowKeyHash,
} from './inventory-manifest.js';
import {
  BASELINE_CHANGE,
  changeDetails,
  changedFields,
  changeRow,
  comparedJson,
  contentDigest,
  inventoryPartition,
  inventoryRow,
  storedToItem,
  SUBSCRIPTION_MARKER,
  type ChangeType,
  type ComparedField,
  type StoredRow,
} from './inventory.js';
import { ListingDigests, PAGE_DIGESTS_VERSION, pageDigest, sameDigests } from './page-digests.js';
import { TableBatchWriter, type BatchStats } from '../storage/table-batch.js';
import { resourceRowKey } from '../storage/table-keys.js';

export interface SubscriptionSyncResult {
  subscriptionId: string;
  items: number;
  resourceGroups: number;
  /** Items taken into a first inventory (a baseline): no change record each. */
  baselined: number;
  added: number;
  removed: number;
  modified: number;
  /** Storage accounts found (for the storage inventory). */
  storageAccounts: Array<{ id: string; name: string; subscriptionId: string; resourceGroup: string }>;
  /** ARM listed every page as the last sweep stored it: no resource was compared. */
  sameListing: boolean;
}

/** A marker row as read back (the manifest's chunks are `manifest0`, `manifest1`, ...). */
interface MarkerRow {
  /** The run whose baseline this is (its baseline record may still be unwritten; see baselineWriter). */
  baselineRunId?: string;
  manifestVersion?: number;
  manifestEntries?: number;
  syncing?: boolean;
  baselinePending?: boolean;
  pageDigests?: unknown;
  pageDigestsVersion?: number;
  displayName?: string;
  state?: string;
  items?: number;
  resourceGroups?: number;
  [chunk: `manifest${number}`]: unknown;
}

/** What a marker says of its subscription besides the manifest (rewritten only when one differs). */
type MarkerFacts = Pick<MarkerRow, 'displayName' | 'state' | 'items' | 'resourceGroups'>;

function sameFacts(stored: MarkerFacts | undefined, current: Required<MarkerFacts>): boolean {
  return (
    stored !== undefined &&
    stored.displayName === current.displayName &&
    stored.state === current.state &&
    stored.items === current.items &&
    stored.resourceGroups === current.resourceGroups
  );
}

interface PreviousState {
  manifest: HashManifest;
  /** From the marker's manifest (a sweep that changes rows must flag the marker first). */
  fromMarker: boolean;
  /** No finished inventory yet (no marker and no rows, or a baseline that did not finish). */
  baseline: boolean;
  /** The run that took the finished baseline, when the marker says so. */
  baselineRunId?: string;
  /** The digests of the listing the manifest was taken of (page-digests.ts), when the marker has them. */
  pageDigests?: Uint8Array;
  /** What the marker says besides its manifest, when it is read from the marker. */
  facts?: MarkerFacts;
}

export interface InventoryTables {
  inventory: TableClient;
  changes: TableClient;
}

export interface SyncContext {
  tenantId: string;
  runId: string;
  now: string;
  /** Called for every current item (the snapshot writer). */
  onItem?: (item: InventoryItem) => void | Promise<void>;
}

function isPage(entry: InventoryItem | readonly InventoryItem[]): entry is readonly InventoryItem[] {
  return Array.isArray(entry);
}

/**
 * Items a sweep holds while its listing is the stored one (their pages' items, until the listing ends
 * or a page differs). A larger subscription looks each resource up in its manifest as it arrives.
 */
const HELD_ITEMS = 10_000;

export class SubscriptionSync {
  readonly inventoryWriter: TableBatchWriter;
  readonly changesWriter: TableBatchWriter;

  /**
   * @param baselineWriter where baseline records go, when the caller collects a tenant's in one writer
   *   and flushes it after its subscriptions (they share the tenant's change partition: one transaction
   *   instead of one per subscription). The marker of such a baseline names its run, so a sweep that
   *   dies before the flush writes the record again on the message's redelivery. Without it, each sync
   *   writes its own record before its marker.
   */
  constructor(
    private readonly tables: InventoryTables,
    private readonly baselineWriter?: TableBatchWriter,
  ) {
    this.changesWriter = new TableBatchWriter(tables.changes);
    this.inventoryWriter = new TableBatchWriter(tables.inventory, () => this.changesWriter.flush());
  }

  /** Requests and operations of both writers (for the benchmark and the unchanged-costs-nothing test). */
  stats(): { inventory: BatchStats; changes: BatchStats } {
    return { inventory: { ...this.inventoryWriter.stats }, changes: { ...this.changesWriter.stats } };
  }

  /**
   * The previous state of a partition: the manifest in its marker row (one point read) when the last
   * sweep finished there, else the partition itself (a query: sweeps after a crash, unfinished
   * baselines, subscriptions too large for a manifest).
   *
   * No marker means no rows, without asking: a partition's rows are only ever written after its marker
   * (a baseline's first transaction carries it) and the marker is deleted only after its rows. This
   * matters: a first sweep would otherwise query every new partition, and Azurite answers a query by
   * scanning the whole table (docs/performance.md).
   */
  private async previousState(partition: string): Promise<PreviousState> {
    const marker = await this.previousRow<MarkerRow>(partition, SUBSCRIPTION_MARKER);
    if (!marker) return { manifest: HashManifest.empty, fromMarker: false, baseline: true };
    if (marker.manifestVersion === MANIFEST_VERSION && !marker.syncing) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < MANIFEST_MAX_CHUNKS; i++) {
        const chunk = marker[`manifest${i}`];
        if (chunk instanceof Uint8Array) chunks.push(chunk);
      }
      const manifest = HashManifest.fromChunks(chunks, Number(marker.manifestEntries));
      const baselineRunId = marker.baselineRunId ? { baselineRunId: marker.baselineRunId } : {};
      const pageDigests =
        marker.pageDigestsVersion === PAGE_DIGESTS_VERSION && marker.pageDigests instanceof Uint8Array
          ? { pageDigests: marker.pageDigests }
          : {};
      const facts = {
        displayName: marker.displayName,
        state: marker.state,
        items: marker.items,
        resourceGroups: marker.resourceGroups,
      };
      if (manifest)
        return { manifest, fromMarker: true, baseline: false, facts, ...baselineRunId, ...pageDigests };
    }
    const builder = HashManifest.builder();
    const entities = this.tables.inventory.listEntities<{ contentHash?: string }>({
      queryOptions: { filter: odata`PartitionKey eq ${partition}`, select: ['RowKey', 'contentHash'] },
    });
    for await (const entity of entities) {
      if (entity.rowKey === SUBSCRIPTION_MARKER || !entity.rowKey) continue;
      builder.add(...rowKeyHash(entity.rowKey), ...contentHashWords(entity.contentHash ?? ''));
    }
    return { manifest: builder.build(), fromMarker: false, baseline: marker.baselinePending === true };
  }

  /** The row keys of a partition whose key hash is in `wanted` (the rows a manifest says are gone). */
  private async *rowKeysOf(partition: string, wanted: Set<string>): AsyncGenerator<string> {
    const entities = this.tables.inventory.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${partition}`, select: ['RowKey'] },
    });
    for await (const entity of entities) {
      if (entity.rowKey === SUBSCRIPTION_MARKER || !entity.rowKey) continue;
      if (wanted.has(keyText(...rowKeyHash(entity.rowKey)))) yield entity.rowKey;
    }
  }

  private async previousRow<Row extends object = StoredRow>(
    partition: string,
    rowKey: string,
  ): Promise<Row | undefined> {
    try {
      return await this.tables.inventory.getEntity<Row>(partition, rowKey);
    } catch (error) {
      if (hasStatus(error, 404)) return undefined;
      throw error;
    }
  }

  private async recordChange(
    context: SyncContext,
    type: ChangeType,
    item: InventoryItem,
    fields: ComparedField[],
    before?: InventoryItem,
  ): Promise<void> {
    await this.changesWriter.upsert(
      changeRow(context, type, item, changeDetails(type, item, fields, before)),
    );
  }

  /** The one change record of a subscription's baseline (keyed by run and subscription: idempotent). */
  private async recordBaseline(
    context: SyncContext,
    subscription: VisibleSubscription,
    result: SubscriptionSyncResult,
  ): Promise<void> {
    const subject = {
      id: `/subscriptions/${subscription.subscriptionId}`,
      name: subscription.displayName,
      type: 'Microsoft.Resources/subscriptions',
      subscriptionId: subscription.subscriptionId,
    };
    await (this.baselineWriter ?? this.changesWriter).upsert(
      changeRow(context, BASELINE_CHANGE, subject, {
        changedFields: '[]',
        before: '',
        after: JSON.stringify({ items: result.items, resourceGroups: result.resourceGroups }),
        items: result.items,
      }),
    );
  }

  /**
   * Synchronises one subscription's inventory with the current `items` stream: items one by one, or
   * pages of them (listInventoryPages: one step of the stream per page instead of per item).
   */
  async syncSubscription(
    context: SyncContext,
    subscription: VisibleSubscription,
    items: AsyncIterable<InventoryItem | readonly InventoryItem[]>,
    options: {
      /** The subscription left the scope: its rows go, and an unfinished baseline records nothing. */
      retiring?: boolean;
      /** Items held while the listing is the stored one (default HELD_ITEMS; tests make it small). */
      heldItems?: number;
    } = {},
  ): Promise<SubscriptionSyncResult> {
    const partition = inventoryPartition(context.tenantId, subscription.subscriptionId);
    // The previous state is read while ARM's first pages are on their way (both are round trips).
    const previousRead = this.previousState(partition);
    previousRead.catch(() => undefined); // a failure surfaces at the await below
    let previous: PreviousState | undefined;
    const result: SubscriptionSyncResult = {
      subscriptionId: subscription.subscriptionId,
      items: 0,
      resourceGroups: 0,
      baselined: 0,
      added: 0,
      removed: 0,
      modified: 0,
      storageAccounts: [],
      sameListing: false,
    };
    const markerProperties = {
      partitionKey: partition,
      rowKey: SUBSCRIPTION_MARKER,
      tenantId: context.tenantId,
      subscriptionId: subscription.subscriptionId,
      displayName: subscription.displayName,
      state: subscription.state,
      lastRunId: context.runId,
    };
    let seen = new Uint8Array(0);
    const seenNew = new KeySet();
    const next = HashManifest.builder();
    let markedSyncing = false;
    /** Whether anything differs from the previous state (a row added, changed or gone). */
    let changed = false;
    /**
     * Before the first change is written, a marker whose manifest this sweep relies on is flagged:
     * if the sweep dies half-way, the next one sees the flag and reads the partition instead of a
     * manifest that no longer matches the rows. An unchanged subscription never pays this write.
     */
    const beforeChange = async (state: PreviousState): Promise<void> => {
      changed = true;
      if (!state.fromMarker || markedSyncing) return;
      markedSyncing = true;
      await this.tables.inventory.updateEntity(
        { partitionKey: partition, rowKey: SUBSCRIPTION_MARKER, syncing: true },
        'Merge',
      );
      this.inventoryWriter.stats.requests++;
      this.inventoryWriter.stats.operations++;
    };
    /**
     * A baseline's first write is its marker, flagged `baselinePending`, in the same transaction as the
     * first rows: if the sweep dies half-way, the next one finds the flag and goes on as a baseline.
     * A subscription whose rows fit one transaction replaces the pending marker with the final one
     * before anything is sent (the batch writer keeps the last write of a row), so it costs nothing.
     */
    let baselineStarted = false;
    const beforeBaselineWrite = async (): Promise<void> => {
      if (baselineStarted) return;
      baselineStarted = true;
      await this.inventoryWriter.upsert({ ...markerProperties, baselinePending: true });
    };
    let listing = new ListingDigests(undefined);
    /** Items listed, a repeated one included (a listing that repeats one keeps no digests). */
    let listed = 0;
    /** Pages of a listing the same as the stored one so far, taken but not yet looked up. */
    let held: Array<readonly InventoryItem[]> | undefined;
    let heldItems = 0;
    const heldLimit = options.heldItems ?? HELD_ITEMS;
    // The per-item steps below are plain functions that return a promise only when there is something
    // to wait for (a transaction sent, a change written, the snapshot's flush): an async function per
    // item would cost a promise and a microtask turn for every resource of a sweep.
    /** Counts an item, and gives it to the snapshot and the fleet views. */
    const take = (item: InventoryItem): void | Promise<void> => {
      result.items++;
      const type = canonicalType(item.type);
      if (type === 'microsoft.resources/resourcegroups') result.resourceGroups++;
      if (type === 'microsoft.storage/storageaccounts') {
        result.storageAccounts.push({
          id: item.id,
          name: item.name,
          subscriptionId: item.subscriptionId,
          resourceGroup: item.resourceGroup,
        });
      }
      return context.onItem?.(item);
    };
    /** A baseline's row, unless an earlier delivery of this baseline wrote it with the same content. */
    const baselineRow = (
      state: PreviousState,
      item: InventoryItem,
      rowKey: string,
      index: number,
      content: { hash: string; words: [number, number] },
    ): void | Promise<void> => {
      result.baselined++;
      if (index >= 0 && state.manifest.sameContent(index, content.words[0], content.words[1])) return;
      const write = () =>
        this.inventoryWriter.upsert(
          inventoryRow(context, partition, item, content.hash, context.now, rowKey),
        );
      // A promise only when a transaction is sent (every 100 rows).
      return baselineStarted ? write() : beforeBaselineWrite().then(write);
    };
    /** An item new since the previous state, or whose content hash differs from its row's. */
    const difference = async (
      state: PreviousState,
      item: InventoryItem,
      rowKey: string,
      index: number,
      hash: string,
    ): Promise<void> => {
      await beforeChange(state);
      if (index < 0) {
        result.added++;
        await this.recordChange(context, 'added', item, []);
        await this.inventoryWriter.upsert(inventoryRow(context, partition, item, hash, context.now, rowKey));
        return;
      }
      const before = await this.previousRow(partition, rowKey);
      const beforeItem = before ? storedToItem(before, subscription.subscriptionId) : undefined;
      const fields = beforeItem ? changedFields(beforeItem, item) : [];
      // A hash stored by an older spelling rule (platform/arm-casing.ts) with no compared field changed:
      // the row takes the new hash, and nothing is reported.
      if (!beforeItem || fields.length > 0) {
        result.modified++;
        await this.recordChange(context, 'modified', item, fields, beforeItem);
      }
      await this.inventoryWriter.upsert(
        inventoryRow(context, partition, item, hash, before?.firstSeen ?? context.now, rowKey),
      );
    };
    /** Compares an item with the previous state, once it is counted. `known`: see visit. */
    const compare = (
      state: PreviousState,
      item: InventoryItem,
      json: string | undefined,
      known: boolean,
      rowKey: string,
      index: number,
      key: [number, number],
    ): void | Promise<void> => {
      if (known && index >= 0) {
        const [contentHi, contentLo] = state.manifest.contentAt(index);
        next.add(key[0], key[1], contentHi, contentLo);
        return;
      }
      const content = contentDigest(item, json);
      next.add(key[0], key[1], content.words[0], content.words[1]);
      if (state.baseline) return baselineRow(state, item, rowKey, index, content);
      if (index < 0 || !state.manifest.sameContent(index, content.words[0], content.words[1]))
        return difference(state, item, rowKey, index, content.hash);
    };
    /**
     * One item against the previous state. `known`: its page is the one stored at its place, so its
     * content hash is the manifest's; `taken`: counted already (a held page).
     */
    const visit = (
      state: PreviousState,
      item: InventoryItem,
      json: string | undefined,
      known: boolean,
      taken: boolean,
    ): void | Promise<void> => {
      const rowKey = resourceRowKey(item.id);
      const key = rowKeyHash(rowKey);
      const index = state.manifest.indexOf(key[0], key[1]);
      // A page boundary can repeat an item; count it once.
      if (index >= 0) {
        if (seen[index]) return;
        seen[index] = 1;
      } else if (!seenNew.add(key[0], key[1])) {
        return;
      }
      const counted = taken ? undefined : take(item);
      if (counted) return counted.then(() => compare(state, item, json, known, rowKey, index, key));
      return compare(state, item, json, known, rowKey, index, key);
    };
    /** The listing is not the stored one after all: the held pages are looked up now. */
    const release = async (state: PreviousState): Promise<void> => {
      const pages = held ?? [];
      held = undefined;
      for (const page of pages)
        for (const item of page) {
          const pending = visit(state, item, undefined, true, true);
          if (pending) await pending;
        }
    };
    for await (const entry of items) {
      if (!previous) {
        previous = await previousRead;
        seen = new Uint8Array(previous.manifest.size);
        listing = new ListingDigests(previous.pageDigests);
        // Held only where the whole stored listing can be: a larger one never ends the same within the limit.
        if (previous.pageDigests && previous.manifest.size <= heldLimit) held = [];
      }
      const page = isPage(entry) ? entry : [entry];
      listed += page.length;
      // What change detection compares of each item, taken once: for the page's digest and its hashes.
      const jsons = page.map(comparedJson);
      const known = listing.add(isPage(entry) ? pageDigest(page, jsons) : undefined);
      if (held) {
        if (known && heldItems + page.length <= heldLimit) {
          // A page of a stored listing holds no item twice (page-digests.ts): each is counted as it comes.
          for (const item of page) {
            const pending = take(item);
            if (pending) await pending;
          }
          held.push(page);
          heldItems += page.length;
          continue;
        }
        await release(previous);
      }
      for (let i = 0; i < page.length; i++) {
        const pending = visit(previous, page[i]!, jsons[i], known, false);
        if (pending) await pending;
      }
    }
    if (!previous) {
      previous = await previousRead;
      seen = new Uint8Array(previous.manifest.size);
    }
    result.sameListing = held !== undefined && listing.sameAsStored;
    if (!result.sameListing) await release(previous);
    // What was there before and is not any more: the manifest knows their key hashes; the partition
    // says which rows they are (a query, only when something is gone).
    const gone = new Set<string>();
    if (!result.sameListing)
      for (let i = 0; i < previous.manifest.size; i++)
        if (!seen[i]) gone.add(keyText(...previous.manifest.keyAt(i)));
    if (gone.size > 0) {
      await beforeChange(previous);
      if (previous.baseline) await beforeBaselineWrite();
      for await (const rowKey of this.rowKeysOf(partition, gone)) {
        // Rows of an unfinished baseline were never reported: they go without a change record.
        const before = previous.baseline ? undefined : await this.previousRow(partition, rowKey);
        if (before) {
          result.removed++;
          const item = storedToItem(before, subscription.subscriptionId);
          await this.recordChange(context, 'removed', item, []);
        }
        await this.inventoryWriter.delete(partition, rowKey);
      }
    }
    // A baseline records itself; so does a redelivery of the run that took it, when its record may not
    // have been written (a deferred record: the marker says which run took the baseline).
    const baselineRun =
      !options.retiring &&
      (previous.baseline || (this.baselineWriter !== undefined && previous.baselineRunId === context.runId));
    if (baselineRun) await this.recordBaseline(context, subscription, result);
    const facts = {
      displayName: subscription.displayName,
      state: subscription.state,
      items: result.items,
      resourceGroups: result.resourceGroups,
    };
    const sweptProperties = { ...markerProperties, ...facts, lastModified: context.now };
    // Digests describe the listing the manifest is taken of: none for a listing that repeated an item.
    const pageDigests = listed === result.items ? listing.toStore() : undefined;
    const digestProperties = pageDigests ? { pageDigests, pageDigestsVersion: PAGE_DIGESTS_VERSION } : {};
    if (previous.fromMarker && !changed && !baselineRun) {
      // Nothing changed since the manifest the marker holds: it is this sweep's manifest too, neither
      // built nor sent again. The marker is merged only where what it says differs: the stored digests
      // still describe a listing of this manifest, and a different listing's replace them. A baseline's
      // run, named until a later sweep rewrites the marker, is left named: only a redelivery of that
      // run reads it (baselineRun below), and a later run's id never equals it.
      const newDigests = pageDigests !== undefined && !sameDigests(pageDigests, previous.pageDigests);
      if (newDigests || !sameFacts(previous.facts, facts))
        await this.inventoryWriter.merge({ ...sweptProperties, ...(newDigests ? digestProperties : {}) });
    } else {
      const manifest = result.sameListing ? previous.manifest : next.build();
      const manifestProperties: Record<string, unknown> = {};
      if (manifest.size <= MANIFEST_MAX_ENTRIES) {
        manifestProperties.manifestVersion = MANIFEST_VERSION;
        manifestProperties.manifestEntries = manifest.size;
        manifest.toChunks().forEach((chunk, i) => (manifestProperties[`manifest${i}`] = chunk));
      }
      await this.inventoryWriter.upsert({
        ...sweptProperties,
        ...(baselineRun && this.baselineWriter ? { baselineRunId: context.runId } : {}),
        ...manifestProperties,
        // Only with the manifest: a subscription too large for one is read from its partition.
        ...(manifestProperties.manifestVersion === undefined ? {} : digestProperties),
      });
    }
    await this.inventoryWriter.flush();
    return result;
  }

  /** A subscription that left the scope: every resource is removed, then its marker. */
  async retireSubscription(
    context: SyncContext,
    subscription: VisibleSubscription,
  ): Promise<SubscriptionSyncResult> {
    const result = await this.syncSubscription(context, subscription, (async function* () {})(), {
      retiring: true,
    });
    await this.inventoryWriter.delete(
      inventoryPartition(context.tenantId, subscription.subscriptionId),
      SUBSCRIPTION_MARKER,
    );
    await this.inventoryWriter.flush();
    return result;
  }
}

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
 * An unchanged subscription costs one read and one write: its marker row (last swept and counts merged
 * into it; its manifest, the same as before, is kept and not sent again).
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
  contentDigest,
  inventoryPartition,
  inventoryRow,
  storedToItem,
  SUBSCRIPTION_MARKER,
  type ChangeType,
  type ComparedField,
  type StoredRow,
} from './inventory.js';
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
}

/** A marker row as read back (the manifest's chunks are `manifest0`, `manifest1`, ...). */
interface MarkerRow {
  /** The run whose baseline this is (its baseline record may still be unwritten; see baselineWriter). */
  baselineRunId?: string;
  manifestVersion?: number;
  manifestEntries?: number;
  syncing?: boolean;
  baselinePending?: boolean;
  [chunk: `manifest${number}`]: unknown;
}

interface PreviousState {
  manifest: HashManifest;
  /** From the marker's manifest (a sweep that changes rows must flag the marker first). */
  fromMarker: boolean;
  /** No finished inventory yet (no marker and no rows, or a baseline that did not finish). */
  baseline: boolean;
  /** The run that took the finished baseline, when the marker says so. */
  baselineRunId?: string;
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
      if (manifest) return { manifest, fromMarker: true, baseline: false, ...baselineRunId };
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
    for await (const entry of items) {
      if (!previous) {
        previous = await previousRead;
        seen = new Uint8Array(previous.manifest.size);
      }
      for (const item of isPage(entry) ? entry : [entry]) {
        const rowKey = resourceRowKey(item.id);
        const [keyHi, keyLo] = rowKeyHash(rowKey);
        const index = previous.manifest.indexOf(keyHi, keyLo);
        // A page boundary can repeat an item; count it once.
        if (index >= 0) {
          if (seen[index]) continue;
          seen[index] = 1;
        } else if (!seenNew.add(keyHi, keyLo)) {
          continue;
        }
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
        // Awaited only when it returns a promise (the snapshot's rare flush): one microtask turn less per item.
        const onItem = context.onItem?.(item);
        if (onItem) await onItem;
        const {
          hash,
          words: [contentHi, contentLo],
        } = contentDigest(item);
        next.add(keyHi, keyLo, contentHi, contentLo);
        if (previous.baseline) {
          // Rows an earlier delivery of this baseline wrote with the same content are not written again.
          result.baselined++;
          if (index < 0 || !previous.manifest.sameContent(index, contentHi, contentLo)) {
            if (!baselineStarted) await beforeBaselineWrite();
            // Awaited only when a transaction is sent (every 100 rows).
            const sent = this.inventoryWriter.upsert(
              inventoryRow(context, partition, item, hash, context.now, rowKey),
            );
            if (sent) await sent;
          }
        } else if (index < 0) {
          result.added++;
          await beforeChange(previous);
          await this.recordChange(context, 'added', item, []);
          await this.inventoryWriter.upsert(
            inventoryRow(context, partition, item, hash, context.now, rowKey),
          );
        } else if (!previous.manifest.sameContent(index, contentHi, contentLo)) {
          await beforeChange(previous);
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
        }
      }
    }
    if (!previous) {
      previous = await previousRead;
      seen = new Uint8Array(previous.manifest.size);
    }
    // What was there before and is not any more: the manifest knows their key hashes; the partition
    // says which rows they are (a query, only when something is gone).
    const gone = new Set<string>();
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
    const sweptProperties = {
      ...markerProperties,
      lastSweptAt: context.now,
      items: result.items,
      resourceGroups: result.resourceGroups,
    };
    if (previous.fromMarker && !changed && !baselineRun) {
      // Nothing changed since the manifest the marker holds: it is this sweep's manifest too. The
      // marker's other properties are merged and its manifest kept, neither built nor sent again. A
      // merge cannot remove a property: the baseline's run, named until now, is blanked instead.
      await this.inventoryWriter.merge({
        ...sweptProperties,
        ...(previous.baselineRunId ? { baselineRunId: '' } : {}),
      });
    } else {
      const manifest = next.build();
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

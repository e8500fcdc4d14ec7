/**
 * Inventory with change history. For one subscription:
 *  1. read the previous state's key and content hashes: the manifest in the marker row (one point read,
 *     see inventory-manifest.ts); no marker means no rows (a first sweep); a marker without a usable
 *     manifest means one partition query projected to two columns;
 *  2. stream the current resources from ARM; a new key is `added`, a different hash is `modified`
 *     (the previous row is read to say what changed), the same hash costs nothing;
 *  3. keys left over are `removed`.
 * Change records are written before the inventory rows they describe and are keyed by run and resource,
 * so a redelivered message (a crash half-way) neither loses nor duplicates a change.
 * An unchanged subscription costs one read and one write: its marker row (last swept, counts, manifest).
 *
 * A subscription's first sweep is its baseline: its resources are written without a change record each
 * (one `baseline` record says how many were taken in). Onboarding a tenant of 100,000 resources thus
 * writes 100,000 rows, not 200,000, and its change history starts with what changed after onboarding
 * instead of 100,000 `added` entries. The marker row goes into the baseline's first transaction with
 * `baselinePending`, so a baseline that dies half-way is resumed as a baseline (never as additions).
 */
import { hash } from 'node:crypto';
import { odata, RestError, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { InventoryItem, VisibleSubscription } from '../platform/arm.js';
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
import { canonicalLocation, canonicalType } from '../platform/arm-casing.js';
import type { KnownStorageAccounts } from './storage-inventory.js';
import { TableBatchWriter, type BatchStats } from '../storage/table-batch.js';
import { resourceGlobalKey, resourceRowKey, underscorePrefixRange } from '../storage/table-keys.js';

/** Row key of a subscription's marker row; `!` sorts before every escaped resource key. */
export const SUBSCRIPTION_MARKER = '!subscription';

/**
 * Row key of a tenant's marker row, in the partition named by the tenant id alone (outside the
 * `{tenantId}_` range of its subscriptions' partitions): the subscriptions that may have an inventory.
 */
export const TENANT_MARKER = '!tenant';

export type ChangeType = 'added' | 'removed' | 'modified';
/** The change record of a subscription's first inventory (one per subscription, not per resource). */
export const BASELINE_CHANGE = 'baseline';
export const COMPARED_FIELDS = ['name', 'type', 'location', 'tags', 'sku', 'kind', 'managedBy'] as const;
export type ComparedField = (typeof COMPARED_FIELDS)[number];

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

/** What a tenant's marker row says (see TENANT_MARKER). */
export interface TenantMarker {
  /** The subscriptions that may have an inventory. */
  subscriptionIds: string[];
  /** False when the list was rebuilt by a query (the marker is then rewritten). */
  stored: boolean;
  /** The storage accounts that may have rows; absent when the marker predates this list. */
  storageAccounts?: KnownStorageAccounts;
}

/**
 * Longest list the tenant marker stores in one property. A string property holds at most 64 KiB (32K
 * UTF-16 characters), and a longer value fails the whole write, and with it the tenant's sweep.
 */
export const MAX_MARKER_LIST_CHARS = 30_000;

/**
 * A marker list as stored: JSON, or '' when it is too long for a property (about 750 subscriptions or
 * 450 storage accounts). '' reads as "not stored", and sweeps then find the list by a query, as they did
 * before the marker held it: slower for such a tenant, never a failed sweep.
 */
function markerList(value: unknown): string {
  const json = JSON.stringify(value);
  return json.length <= MAX_MARKER_LIST_CHARS ? json : '';
}

/** The marker's lists as stored (JSON in a string property each). */
const markerLists = {
  subscriptions: z.array(z.string()),
  storageAccounts: z.record(z.string(), z.string()),
};

/** A marker list as read: undefined when absent, too long to have been stored ('') or unreadable. */
function readMarkerList<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // not JSON
  }
}

export function inventoryPartition(tenantId: string, subscriptionId: string): string {
  return `${tenantId}_${subscriptionId}`;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

/** The fields change detection compares, in a canonical order. */
function comparedView(item: Pick<InventoryItem, ComparedField>): Record<ComparedField, unknown> {
  return {
    name: item.name,
    type: canonicalType(item.type),
    location: canonicalLocation(item.location),
    tags: canonical(item.tags ?? {}),
    sku: canonical(item.sku ?? null),
    kind: item.kind ?? null,
    managedBy: item.managedBy ?? null,
  };
}

export function contentHash(item: InventoryItem): string {
  // One-shot hash: half the CPU of createHash().update().digest() for a value this small (measured).
  return hash('sha256', JSON.stringify(comparedView(item)), 'base64url').slice(0, 32);
}

interface StoredRow {
  resourceId: string;
  name: string;
  type: string;
  location: string;
  tags: string;
  sku?: string;
  kind?: string;
  managedBy?: string;
  firstSeen: string;
}

function storedToItem(row: StoredRow, subscriptionId: string): InventoryItem {
  const item: InventoryItem = {
    id: row.resourceId,
    name: row.name,
    type: row.type,
    location: row.location,
    resourceGroup: '',
    subscriptionId,
    tags: JSON.parse(row.tags || '{}') as Record<string, string>,
  };
  if (row.sku) item.sku = JSON.parse(row.sku) as Record<string, unknown>;
  if (row.kind) item.kind = row.kind;
  if (row.managedBy) item.managedBy = row.managedBy;
  return item;
}

/** Which compared fields differ between two versions of a resource. */
export function changedFields(before: InventoryItem, after: InventoryItem): ComparedField[] {
  const a = comparedView(before);
  const b = comparedView(after);
  return COMPARED_FIELDS.filter((field) => JSON.stringify(a[field]) !== JSON.stringify(b[field]));
}

/** A marker row as read back (the manifest's chunks are `manifest0`, `manifest1`, ...). */
interface MarkerRow {
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

export class InventorySync {
  readonly inventoryWriter: TableBatchWriter;
  readonly changesWriter: TableBatchWriter;

  constructor(private readonly tables: InventoryTables) {
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
   * scanning the whole table (400 scans of a growing table made up most of Azurite's CPU in the
   * benchmark's first sweep).
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
      if (manifest) return { manifest, fromMarker: true, baseline: false };
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
      if (error instanceof RestError && error.statusCode === 404) return undefined;
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
    const summary = (value: InventoryItem | undefined): string | undefined =>
      value
        ? JSON.stringify(Object.fromEntries(fields.map((field) => [field, comparedView(value)[field]])))
        : undefined;
    await this.writeChange(context, type, item, {
      changedFields: JSON.stringify(fields),
      before: summary(before) ?? '',
      after: type === 'removed' ? '' : (summary(item) ?? ''),
    });
  }

  /**
   * One change row: keyed by run and resource (a redelivery rewrites the same row), in the tenant's
   * partition, with what the change says (`details`).
   */
  private async writeChange(
    context: SyncContext,
    changeType: ChangeType | typeof BASELINE_CHANGE,
    subject: Pick<InventoryItem, 'id' | 'name' | 'type' | 'subscriptionId'>,
    details: { changedFields: string; before: string; after: string; items?: number },
  ): Promise<void> {
    await this.changesWriter.upsert({
      partitionKey: context.tenantId,
      rowKey: `${context.runId}_${resourceGlobalKey(subject.id)}`,
      runId: context.runId,
      changeType,
      resourceId: subject.id,
      name: subject.name,
      type: subject.type,
      subscriptionId: subject.subscriptionId,
      ...details,
      detectedAt: context.now,
    });
  }

  private async writeItem(
    context: SyncContext,
    partition: string,
    item: InventoryItem,
    hash: string,
    firstSeen: string,
  ): Promise<void> {
    await this.inventoryWriter.upsert({
      partitionKey: partition,
      rowKey: resourceRowKey(item.id),
      // The tenant and subscription are the partition key's: not repeated in every row. Absent optional
      // fields are left out (a Replace upsert removes them): every property costs serialization on both
      // sides and storage on the service.
      resourceId: item.id,
      name: item.name,
      type: item.type,
      // OData has no case-insensitive compare: a lower-cased copy lets the results API filter by type.
      typeLower: item.type.toLowerCase(),
      location: item.location,
      resourceGroup: item.resourceGroup,
      tags: JSON.stringify(item.tags),
      ...(item.sku ? { sku: JSON.stringify(item.sku) } : {}),
      ...(item.kind ? { kind: item.kind } : {}),
      ...(item.managedBy ? { managedBy: item.managedBy } : {}),
      // When the resource last changed in Azure (ARM's changedTime), as of this write.
      ...(item.changedTime ? { changedInAzure: item.changedTime } : {}),
      contentHash: hash,
      firstSeen,
      lastModified: context.now,
      lastRunId: context.runId,
    });
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
    await this.writeChange(context, BASELINE_CHANGE, subject, {
      changedFields: '[]',
      before: '',
      after: JSON.stringify({ items: result.items, resourceGroups: result.resourceGroups }),
      items: result.items,
    });
  }

  /** Synchronises one subscription's inventory with the current `items` stream. */
  async syncSubscription(
    context: SyncContext,
    subscription: VisibleSubscription,
    items: AsyncIterable<InventoryItem>,
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
    /**
     * Before the first change is written, a marker whose manifest this sweep relies on is flagged:
     * if the sweep dies half-way, the next one sees the flag and reads the partition instead of a
     * manifest that no longer matches the rows. An unchanged subscription never pays this write.
     */
    const beforeChange = async (state: PreviousState): Promise<void> => {
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
    for await (const item of items) {
      if (!previous) {
        previous = await previousRead;
        seen = new Uint8Array(previous.manifest.size);
      }
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
      if (item.type.toLowerCase() === 'microsoft.resources/resourcegroups') result.resourceGroups++;
      if (item.type.toLowerCase() === 'microsoft.storage/storageaccounts') {
        result.storageAccounts.push({
          id: item.id,
          name: item.name,
          subscriptionId: item.subscriptionId,
          resourceGroup: item.resourceGroup,
        });
      }
      await context.onItem?.(item);
      const hash = contentHash(item);
      const [contentHi, contentLo] = contentHashWords(hash);
      next.add(keyHi, keyLo, contentHi, contentLo);
      if (previous.baseline) {
        // Rows an earlier delivery of this baseline wrote with the same content are not written again.
        result.baselined++;
        if (index < 0 || !previous.manifest.sameContent(index, contentHi, contentLo)) {
          await beforeBaselineWrite();
          await this.writeItem(context, partition, item, hash, context.now);
        }
      } else if (index < 0) {
        result.added++;
        await beforeChange(previous);
        await this.recordChange(context, 'added', item, []);
        await this.writeItem(context, partition, item, hash, context.now);
      } else if (!previous.manifest.sameContent(index, contentHi, contentLo)) {
        await beforeChange(previous);
        const before = await this.previousRow(partition, rowKey);
        const beforeItem = before ? storedToItem(before, subscription.subscriptionId) : undefined;
        const fields = beforeItem ? changedFields(beforeItem, item) : [];
        // A hash stored by an older spelling rule (platform/arm-casing.ts) with no compared field changed: the
        // row takes the new hash, and nothing is reported.
        if (!beforeItem || fields.length > 0) {
          result.modified++;
          await this.recordChange(context, 'modified', item, fields, beforeItem);
        }
        await this.writeItem(context, partition, item, hash, before?.firstSeen ?? context.now);
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
    if (previous.baseline && !options.retiring) await this.recordBaseline(context, subscription, result);
    const manifest = next.build();
    const manifestProperties: Record<string, unknown> = {};
    if (manifest.size <= MANIFEST_MAX_ENTRIES) {
      manifestProperties.manifestVersion = MANIFEST_VERSION;
      manifestProperties.manifestEntries = manifest.size;
      manifest.toChunks().forEach((chunk, i) => (manifestProperties[`manifest${i}`] = chunk));
    }
    await this.inventoryWriter.upsert({
      ...markerProperties,
      lastSweptAt: context.now,
      items: result.items,
      resourceGroups: result.resourceGroups,
      ...manifestProperties,
    });
    await this.inventoryWriter.flush();
    return result;
  }

  /** Subscriptions of the tenant that have an inventory (their marker rows). */
  async inventoriedSubscriptions(tenantId: string): Promise<VisibleSubscription[]> {
    const found: VisibleSubscription[] = [];
    const rows = this.tables.inventory.listEntities<{
      subscriptionId?: string;
      displayName?: string;
      state?: string;
    }>({
      queryOptions: {
        filter: `${underscorePrefixRange('PartitionKey', tenantId)} and ${odata`RowKey eq ${SUBSCRIPTION_MARKER}`}`,
        // Marker rows carry the manifest (up to 1 MiB): read only what is needed here.
        select: ['subscriptionId', 'displayName', 'state'],
      },
    });
    for await (const row of rows) {
      if (!row.subscriptionId) continue;
      found.push({
        subscriptionId: row.subscriptionId,
        displayName: row.displayName ?? '',
        state: row.state ?? '',
        tenantId,
      });
    }
    return found;
  }

  /**
   * The subscriptions of a tenant that may have an inventory: its marker row (one point read). No
   * marker means none (it is written before a tenant's first subscription is synced), without a query;
   * an unreadable marker is rebuilt from its subscriptions' marker rows (a query over its partitions).
   */
  async tenantSubscriptions(tenantId: string): Promise<TenantMarker> {
    const marker = await this.previousRow<{ subscriptions?: string; storageAccounts?: string }>(
      tenantId,
      TENANT_MARKER,
    );
    // No marker: no subscription has an inventory, and (the marker names accounts before their rows
    // are written) no account has rows.
    if (!marker) return { subscriptionIds: [], stored: false, storageAccounts: {} };
    const storageAccounts = readMarkerList(markerLists.storageAccounts, marker.storageAccounts);
    const withAccounts = storageAccounts ? { storageAccounts } : {};
    const subscriptionIds = readMarkerList(markerLists.subscriptions, marker.subscriptions);
    if (subscriptionIds) return { subscriptionIds, stored: true, ...withAccounts };
    // Unreadable or too long to store: rebuilt by a query (the sweep rewrites the marker).
    const found = await this.inventoriedSubscriptions(tenantId);
    return {
      subscriptionIds: found.map((subscription) => subscription.subscriptionId),
      stored: false,
      ...withAccounts,
    };
  }

  /**
   * Records which subscriptions of a tenant may have an inventory. Written before a new subscription
   * is synced (so a sweep that dies half-way never leaves an inventory nobody will retire) and after
   * subscriptions were retired; a sweep whose subscriptions did not change writes nothing.
   */
  async recordTenantSubscriptions(
    tenantId: string,
    subscriptionIds: Iterable<string>,
    /** Written along when known (a new marker starts with none), saving the request of their own. */
    storageAccounts?: KnownStorageAccounts,
  ): Promise<void> {
    await this.mergeTenantMarker(tenantId, { subscriptions: [...subscriptionIds].sort(), storageAccounts });
  }

  /**
   * Records which storage accounts of a tenant may have rows in the storage table, and their
   * subscriptions; the same rule: before new accounts' rows are written, after accounts were retired.
   */
  async recordTenantStorageAccounts(tenantId: string, accounts: KnownStorageAccounts): Promise<void> {
    await this.mergeTenantMarker(tenantId, { storageAccounts: accounts });
  }

  /** Writes the given lists into the tenant's marker row (Merge: the other list is kept). */
  private async mergeTenantMarker(
    tenantId: string,
    lists: { subscriptions?: string[]; storageAccounts?: KnownStorageAccounts | undefined },
  ): Promise<void> {
    const properties: Record<string, string> = {};
    if (lists.subscriptions) properties.subscriptions = markerList(lists.subscriptions);
    if (lists.storageAccounts) {
      const sorted = Object.entries(lists.storageAccounts).sort(([a], [b]) => a.localeCompare(b));
      properties.storageAccounts = markerList(Object.fromEntries(sorted));
    }
    await this.tables.inventory.upsertEntity(
      { partitionKey: tenantId, rowKey: TENANT_MARKER, ...properties },
      'Merge',
    );
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

/**
 * The changes a run recorded for a tenant, counted from the change rows themselves: a tenant whose
 * first delivery died half-way wrote part of them then, so counting only what this delivery found
 * would under-count (and counting both would double-count).
 */
export async function countRunChanges(
  changes: TableClient,
  tenantId: string,
  runId: string,
): Promise<Record<ChangeType | 'baselined', number>> {
  const counts: Record<ChangeType | 'baselined', number> = {
    baselined: 0,
    added: 0,
    removed: 0,
    modified: 0,
  };
  const rows = changes.listEntities<{ changeType?: string; items?: number }>({
    queryOptions: {
      filter: `${odata`PartitionKey eq ${tenantId}`} and ${underscorePrefixRange('RowKey', runId)}`,
      select: ['changeType', 'items'],
    },
  });
  for await (const row of rows) {
    if (row.changeType === BASELINE_CHANGE) counts.baselined += Number(row.items ?? 0);
    else if (row.changeType === 'added' || row.changeType === 'removed' || row.changeType === 'modified')
      counts[row.changeType]++;
  }
  return counts;
}

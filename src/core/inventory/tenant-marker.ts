/**
 * A tenant's marker row in the inventory table: which of its subscriptions may have an inventory and
 * which storage accounts may have rows in the storage table. One point read tells a sweep what to
 * retire; it is written before new subscriptions or accounts get rows and after some were retired.
 */
import { odata, type TableClient } from '@azure/data-tables';
import { hasStatus } from '../storage/table-errors.js';
import { z } from 'zod';
import type { VisibleSubscription } from '../platform/arm.js';
import type { KnownStorageAccounts } from './storage-inventory.js';
import { underscorePrefixRange } from '../storage/table-keys.js';
import { SUBSCRIPTION_MARKER } from './inventory.js';

/**
 * Row key of a tenant's marker row, in the partition named by the tenant id alone (outside the
 * `{tenantId}_` range of its subscriptions' partitions): the subscriptions that may have an inventory.
 */
export const TENANT_MARKER = '!tenant';

/** What a tenant's marker row says (see TENANT_MARKER). */
export interface TenantMarker {
  /** The subscriptions that may have an inventory. */
  subscriptionIds: string[];
  /** False when the list was rebuilt by a query (the marker is then rewritten). */
  stored: boolean;
  /** The storage accounts that may have rows; absent when the marker predates this list. */
  storageAccounts?: KnownStorageAccounts;
  /** The tenant's latest snapshot blob (a sweep that changed nothing points its run at it). */
  snapshotBlob?: string;
  /**
   * The display name the tenant's aggregate row carries; absent until a sweep wrote one (a sweep that
   * changed nothing leaves an aggregate of the same name alone, tenant-sweep.ts).
   */
  aggregateName?: string;
}

/** What a tenant without a marker row has: no subscription with an inventory, no account with rows. */
export function noMarker(): TenantMarker {
  return { subscriptionIds: [], stored: false, storageAccounts: {} };
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

/** Reads and writes tenants' marker rows in the inventory table. */
export class TenantMarkers {
  constructor(private readonly inventory: TableClient) {}

  /**
   * The subscriptions of a tenant that may have an inventory: its marker row (one point read). No
   * marker means none (it is written before a tenant's first subscription is synced), without a query;
   * an unreadable marker is rebuilt from its subscriptions' marker rows (a query over its partitions).
   */
  async read(tenantId: string): Promise<TenantMarker> {
    let marker: {
      subscriptions?: string;
      storageAccounts?: string;
      snapshotBlob?: string;
      aggregateName?: string;
    };
    try {
      marker = await this.inventory.getEntity(tenantId, TENANT_MARKER);
    } catch (error) {
      if (!hasStatus(error, 404)) throw error;
      // No marker: no subscription has an inventory, and (the marker names accounts before their rows
      // are written) no account has rows.
      return noMarker();
    }
    const storageAccounts = readMarkerList(markerLists.storageAccounts, marker.storageAccounts);
    const withAccounts = {
      ...(storageAccounts ? { storageAccounts } : {}),
      ...(typeof marker.snapshotBlob === 'string' && marker.snapshotBlob
        ? { snapshotBlob: marker.snapshotBlob }
        : {}),
      ...(typeof marker.aggregateName === 'string' ? { aggregateName: marker.aggregateName } : {}),
    };
    const subscriptionIds = readMarkerList(markerLists.subscriptions, marker.subscriptions);
    if (subscriptionIds) return { subscriptionIds, stored: true, ...withAccounts };
    // Unreadable or too long to store: rebuilt by a query (the sweep rewrites the marker).
    const found = await inventoriedSubscriptions(this.inventory, tenantId);
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
  async recordSubscriptions(
    tenantId: string,
    subscriptionIds: Iterable<string>,
    /** Written along when known (a new marker starts with none), saving the request of their own. */
    storageAccounts?: KnownStorageAccounts,
    /** A snapshot blob written along (see recordSnapshot), saving its request. */
    snapshotBlob?: string,
  ): Promise<void> {
    await this.merge(tenantId, { subscriptions: [...subscriptionIds].sort(), storageAccounts, snapshotBlob });
  }

  /**
   * Creates a tenant's marker row for its first sweep, which then needs no read of it: the given
   * subscriptions, no storage account, this run's snapshot and the aggregate's name. False, writing
   * nothing, when the tenant has a marker already (it is then read, and recordSubscriptions merges).
   */
  async create(
    tenantId: string,
    subscriptionIds: Iterable<string>,
    snapshotBlob: string | undefined,
    aggregateName: string,
  ): Promise<boolean> {
    const properties = markerProperties({
      subscriptions: [...subscriptionIds].sort(),
      storageAccounts: {},
      snapshotBlob,
    });
    try {
      await this.inventory.createEntity({
        partitionKey: tenantId,
        rowKey: TENANT_MARKER,
        ...properties,
        aggregateName,
      });
      return true;
    } catch (error) {
      if (hasStatus(error, 409)) return false;
      throw error;
    }
  }

  /** Records the display name the tenant's aggregate row now carries (after that row is written). */
  async recordAggregateName(tenantId: string, aggregateName: string): Promise<void> {
    await this.inventory.upsertEntity(
      { partitionKey: tenantId, rowKey: TENANT_MARKER, aggregateName },
      'Merge',
    );
  }

  /**
   * Records which storage accounts of a tenant may have rows in the storage table, and their
   * subscriptions; the same rule: before new accounts' rows are written, after accounts were retired.
   */
  async recordStorageAccounts(tenantId: string, accounts: KnownStorageAccounts): Promise<void> {
    await this.merge(tenantId, { storageAccounts: accounts });
  }

  /** Records the tenant's latest snapshot blob, written after the blob itself (Merge: lists kept). */
  async recordSnapshot(tenantId: string, blobName: string): Promise<void> {
    await this.inventory.upsertEntity(
      { partitionKey: tenantId, rowKey: TENANT_MARKER, snapshotBlob: blobName },
      'Merge',
    );
  }

  /** Writes the given lists into the tenant's marker row (Merge: the other list is kept). */
  private async merge(
    tenantId: string,
    lists: {
      subscriptions?: string[];
      storageAccounts?: KnownStorageAccounts | undefined;
      snapshotBlob?: string | undefined;
    },
  ): Promise<void> {
    await this.inventory.upsertEntity(
      { partitionKey: tenantId, rowKey: TENANT_MARKER, ...markerProperties(lists) },
      'Merge',
    );
  }
}

/** A marker's lists as stored properties (the absent ones left out, so a Merge keeps them). */
function markerProperties(lists: {
  subscriptions?: string[];
  storageAccounts?: KnownStorageAccounts | undefined;
  snapshotBlob?: string | undefined;
}): Record<string, string> {
  const properties: Record<string, string> = {};
  if (lists.snapshotBlob) properties.snapshotBlob = lists.snapshotBlob;
  if (lists.subscriptions) properties.subscriptions = markerList(lists.subscriptions);
  if (lists.storageAccounts) {
    const sorted = Object.entries(lists.storageAccounts).sort(([a], [b]) => a.localeCompare(b));
    properties.storageAccounts = markerList(Object.fromEntries(sorted));
  }
  return properties;
}

/** Subscriptions of the tenant that have an inventory (their marker rows: a query over its partitions). */
export async function inventoriedSubscriptions(
  inventory: TableClient,
  tenantId: string,
): Promise<VisibleSubscription[]> {
  const found: VisibleSubscription[] = [];
  const rows = inventory.listEntities<{
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

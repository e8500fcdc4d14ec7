/**
 * Per-tenant aggregates, written once per tenant per sweep, so the fleet views answer from a few reads
 * instead of scanning every inventory row: resources by type, by location and by subscription, and the
 * storage summary. One row per tenant in the `aggregates` table (partition `tenant`), replaced whole by
 * each sweep of the tenant (a redelivered message rewrites the same row).
 *
 * The overview's totals and the explorer's charts read the whole partition (one query, one row per
 * tenant); the explorer uses the counts to query only the tenants (and subscriptions) that hold the
 * filtered type or location.
 */
import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { text } from '../storage/entity-fields.js';
import type { InventoryItem } from '../platform/arm.js';
import { canonicalType } from '../platform/arm-casing.js';

const PARTITION = 'tenant';
/** A Table string property holds 32K UTF-16 characters; a longer count map keeps its largest entries. */
const MAX_MAP_CHARS = 30_000;

export interface TenantAggregate {
  tenantId: string;
  displayName: string;
  runId: string;
  at: string;
  resources: number;
  resourceGroups: number;
  byType: Record<string, number>;
  byLocation: Record<string, number>;
  bySubscription: Record<string, number>;
  storageAccounts: number;
  storageRefused: number;
  publicContainers: number;
  blobs: number;
  blobBytes: number;
}

/** Counts what the sweep sees, item by item (fed from the same callback as the snapshot). */
export class InventoryAggregate {
  resources = 0;
  resourceGroups = 0;
  readonly byType = new Map<string, number>();
  readonly byLocation = new Map<string, number>();
  readonly bySubscription = new Map<string, number>();

  add(item: InventoryItem): void {
    const type = canonicalType(item.type);
    // Resource groups are inventory rows too (the explorer lists them), but not counted as resources.
    if (type === 'microsoft.resources/resourcegroups') this.resourceGroups++;
    else this.resources++;
    bump(this.byType, type);
    bump(this.byLocation, (item.location || 'global').toLowerCase());
    bump(this.bySubscription, item.subscriptionId.toLowerCase());
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** A count map as stored: largest first, cut to fit one property. */
function storedMap(map: Map<string, number> | Record<string, number>): string {
  const entries = (map instanceof Map ? [...map] : Object.entries(map)).sort((a, b) => b[1] - a[1]);
  let kept = entries;
  let text = JSON.stringify(Object.fromEntries(kept));
  while (text.length > MAX_MAP_CHARS && kept.length > 0) {
    kept = kept.slice(0, Math.floor(kept.length * 0.9));
    text = JSON.stringify(Object.fromEntries(kept));
  }
  return text;
}

const countMap = z.record(z.string(), z.number());

function readMap(value: unknown): Record<string, number> {
  if (typeof value !== 'string') return {};
  try {
    const parsed = countMap.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

export interface StorageSummary {
  accounts: number;
  refused: number;
  publicContainers: number;
  blobs: number;
  blobBytes: number;
}

/** Replaces the tenant's aggregate row (one write). */
export async function writeTenantAggregate(
  table: TableClient,
  tenant: { tenantId: string; displayName: string; runId: string; at: string },
  aggregate: InventoryAggregate,
  storage: StorageSummary,
): Promise<void> {
  await table.upsertEntity(
    {
      partitionKey: PARTITION,
      rowKey: tenant.tenantId,
      displayName: tenant.displayName,
      runId: tenant.runId,
      at: tenant.at,
      resources: aggregate.resources,
      resourceGroups: aggregate.resourceGroups,
      byType: storedMap(aggregate.byType),
      byLocation: storedMap(aggregate.byLocation),
      bySubscription: storedMap(aggregate.bySubscription),
      storageAccounts: storage.accounts,
      storageRefused: storage.refused,
      publicContainers: storage.publicContainers,
      blobs: storage.blobs,
      blobBytes: storage.blobBytes,
    },
    'Replace',
  );
}

/** Every tenant's aggregate (one query over one partition), by tenant id. */
export async function readTenantAggregates(table: TableClient): Promise<Map<string, TenantAggregate>> {
  const result = new Map<string, TenantAggregate>();
  const rows = table.listEntities<Record<string, unknown>>({
    queryOptions: { filter: `PartitionKey eq '${PARTITION}'` },
  });
  for await (const row of rows) {
    const tenantId = String(row.rowKey);
    result.set(tenantId, {
      tenantId,
      displayName: text(row.displayName),
      runId: text(row.runId),
      at: text(row.at),
      resources: Number(row.resources ?? 0),
      resourceGroups: Number(row.resourceGroups ?? 0),
      byType: readMap(row.byType),
      byLocation: readMap(row.byLocation),
      bySubscription: readMap(row.bySubscription),
      storageAccounts: Number(row.storageAccounts ?? 0),
      storageRefused: Number(row.storageRefused ?? 0),
      publicContainers: Number(row.publicContainers ?? 0),
      blobs: Number(row.blobs ?? 0),
      blobBytes: Number(row.blobBytes ?? 0),
    });
  }
  return result;
}

/** Sums count maps (the charts across the selected tenants). */
export function sumCounts(maps: Iterable<Record<string, number>>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const map of maps)
    for (const [key, count] of Object.entries(map)) total[key] = (total[key] ?? 0) + count;
  return total;
}

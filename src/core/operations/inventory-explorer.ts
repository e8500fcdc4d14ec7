/**
 * The inventory across tenants: filters by tenant, subscription, resource group, type, location, tag
 * and text, one page at a time. The tenants' aggregate rows (one query) say which tenants hold the
 * filtered type, location or subscription, so only those tenants' partitions are queried; type and
 * subscription are answered by the Table service (`typeLower`, the partition key), the rest in memory.
 * A page reads at most PAGE_BUDGET table pages: a rare match answers with fewer rows and a token
 * rather than scanning on.
 */
import { odata } from '@azure/data-tables';
import { z } from 'zod';
import { text } from '../storage/entity-fields.js';
import { readTenantAggregates, sumCounts, type TenantAggregate } from '../inventory/aggregates.js';
import { inventoryPartition, SUBSCRIPTION_MARKER } from '../inventory/inventory.js';
import { InputError } from '../platform/errors.js';
import { GUID_PATTERN } from '../platform/ids.js';
import type { FleetRuntime } from '../runtime.js';
import { underscorePrefixRange } from '../storage/table-keys.js';
import { decodeCursor, encodeCursor, PAGE_BUDGET } from './fleet-cursor.js';
import { queryPage, type Page } from './results.js';

const lowerGuid = z
  .string()
  .regex(GUID_PATTERN, 'must be a GUID')
  .transform((value) => value.toLowerCase());

export const inventoryFilterSchema = z
  .object({
    tenantId: lowerGuid.optional(),
    subscriptionId: lowerGuid.optional(),
    resourceGroup: z.string().trim().min(1).max(90).optional(),
    type: z
      .string()
      .regex(
        /^[A-Za-z0-9.]+\/[A-Za-z0-9/]+$/,
        'must be a resource type such as Microsoft.Compute/virtualMachines',
      )
      .transform((value) => value.toLowerCase())
      .optional(),
    location: z
      .string()
      .regex(/^[A-Za-z0-9 -]{1,64}$/, 'must be a location such as westeurope')
      .transform((value) => value.toLowerCase())
      .optional(),
    /** `key` (the tag is present) or `key=value`. */
    tag: z.string().min(1).max(512).optional(),
    /** Text in the name, resource group or id (case-insensitive). */
    q: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

export type InventoryFilter = z.output<typeof inventoryFilterSchema>;

/** Parses query parameters into a filter; the first problem is a 400 naming the parameter. */
export function parseInventoryFilter(query: Record<string, string | undefined>): InventoryFilter {
  const present = Object.fromEntries(
    Object.entries(query).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = inventoryFilterSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(String(issue.path[0] ?? 'query'), issue.message);
  }
  return parsed.data;
}

export interface FleetResource {
  tenantId: string;
  tenantName: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  type: string;
  location: string;
  tags: Record<string, string>;
  resourceId: string;
  firstSeen: string;
  lastModified: string;
}

/** The tenants whose counts say they may hold a match, in a stable order (tenant id). */
function candidates(aggregates: Map<string, TenantAggregate>, filter: InventoryFilter): TenantAggregate[] {
  return [...aggregates.values()]
    .filter(
      (tenant) =>
        (!filter.tenantId || tenant.tenantId === filter.tenantId) &&
        (!filter.type || (tenant.byType[filter.type] ?? 0) > 0) &&
        (!filter.location || (tenant.byLocation[filter.location] ?? 0) > 0) &&
        (!filter.subscriptionId || (tenant.bySubscription[filter.subscriptionId] ?? 0) > 0),
    )
    .sort((a, b) => a.tenantId.localeCompare(b.tenantId));
}

function tenantQuery(tenantId: string, filter: InventoryFilter): string {
  const partitions = filter.subscriptionId
    ? odata`PartitionKey eq ${inventoryPartition(tenantId, filter.subscriptionId)}`
    : underscorePrefixRange('PartitionKey', tenantId);
  let query = `${partitions} and ${odata`RowKey ne ${SUBSCRIPTION_MARKER}`}`;
  if (filter.type) query += ` and ${odata`typeLower eq ${filter.type}`}`;
  return query;
}

function parseTags(value: unknown): Record<string, string> {
  if (typeof value !== 'string' || value === '') return {};
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, string>)
      : {};
  } catch {
    return {};
  }
}

function toResource(row: Record<string, unknown>, tenant: TenantAggregate): FleetResource {
  return {
    tenantId: tenant.tenantId,
    tenantName: tenant.displayName,
    subscriptionId: String(row.partitionKey).slice(tenant.tenantId.length + 1),
    resourceGroup: text(row.resourceGroup),
    name: text(row.name),
    type: text(row.type),
    location: text(row.location),
    tags: parseTags(row.tags),
    resourceId: text(row.resourceId),
    firstSeen: text(row.firstSeen),
    lastModified: text(row.lastModified),
  };
}

/** The filters the Table service cannot answer. */
function matchesInMemory(resource: FleetResource, filter: InventoryFilter): boolean {
  if (filter.location && resource.location.toLowerCase() !== filter.location) return false;
  if (filter.resourceGroup && resource.resourceGroup.toLowerCase() !== filter.resourceGroup.toLowerCase())
    return false;
  if (filter.tag) {
    const [key, ...rest] = filter.tag.split('=');
    const wanted = rest.length > 0 ? rest.join('=') : undefined;
    const entry = Object.entries(resource.tags).find(([name]) => name.toLowerCase() === key!.toLowerCase());
    if (!entry || (wanted !== undefined && entry[1] !== wanted)) return false;
  }
  if (filter.q) {
    const text = filter.q.toLowerCase();
    if (
      ![resource.name, resource.resourceGroup, resource.resourceId].some((field) =>
        field.toLowerCase().includes(text),
      )
    )
      return false;
  }
  return true;
}

export interface InventoryPage extends Page<FleetResource> {
  /** Tenants whose partitions the filter has to look at (from the aggregates). */
  tenantsMatched: number;
}

export async function exploreInventory(
  runtime: FleetRuntime,
  filter: InventoryFilter,
  options: { top?: number; continuationToken?: string } = {},
): Promise<InventoryPage> {
  const top = options.top ?? 50;
  if (!Number.isInteger(top) || top < 1 || top > 1000) throw new InputError('top', 'must be from 1 to 1000');
  const cursor = decodeCursor(options.continuationToken);
  const table = runtime.storage.table(runtime.config.names.inventoryTable);
  const tenants = candidates(
    await readTenantAggregates(runtime.storage.table(runtime.config.names.aggregatesTable)),
    filter,
  );
  const items: FleetResource[] = [];
  let budget = PAGE_BUDGET;
  let index = cursor ? tenants.findIndex((tenant) => tenant.tenantId >= cursor.t) : 0;
  if (index < 0) index = tenants.length;
  let token = cursor && tenants[index]?.tenantId === cursor.t ? cursor.k : undefined;
  while (index < tenants.length) {
    const tenant = tenants[index]!;
    if (budget-- === 0)
      return {
        items,
        continuationToken: encodeCursor({ v: 1, t: tenant.tenantId, ...(token ? { k: token } : {}) }),
        tenantsMatched: tenants.length,
      };
    const page = await queryPage(table, tenantQuery(tenant.tenantId, filter), {
      top: top - items.length,
      ...(token ? { continuationToken: token } : {}),
    });
    for (const row of page.rows) {
      const resource = toResource(row, tenant);
      if (matchesInMemory(resource, filter)) items.push(resource);
    }
    token = page.continuationToken;
    if (!token) index++;
    if (items.length >= top) {
      const next = tenants[index];
      return {
        items,
        ...(next
          ? { continuationToken: encodeCursor({ v: 1, t: next.tenantId, ...(token ? { k: token } : {}) }) }
          : {}),
        tenantsMatched: tenants.length,
      };
    }
  }
  return { items, tenantsMatched: tenants.length };
}

/** Every matching resource, streamed tenant by tenant and page by page (the exports). */
export async function* inventoryRows(
  runtime: FleetRuntime,
  filter: InventoryFilter,
): AsyncGenerator<FleetResource> {
  const table = runtime.storage.table(runtime.config.names.inventoryTable);
  const tenants = candidates(
    await readTenantAggregates(runtime.storage.table(runtime.config.names.aggregatesTable)),
    filter,
  );
  for (const tenant of tenants) {
    const pages = table
      .listEntities<Record<string, unknown>>({
        queryOptions: { filter: tenantQuery(tenant.tenantId, filter) },
      })
      .byPage({ maxPageSize: 1000 });
    for await (const page of pages) {
      for (const row of page) {
        const resource = toResource(row, tenant);
        if (matchesInMemory(resource, filter)) yield resource;
      }
    }
  }
}

export interface InventoryFacets {
  tenants: number;
  resources: number;
  byType: Record<string, number>;
  byLocation: Record<string, number>;
  /** Every tenant with an inventory (for the explorer's tenant filter). */
  tenantNames: Array<{ tenantId: string; displayName: string }>;
}

/** Counts by type and location across the selected tenants, from the aggregates alone (one query). */
export async function inventoryFacets(runtime: FleetRuntime, tenantId?: string): Promise<InventoryFacets> {
  const aggregates = await readTenantAggregates(runtime.storage.table(runtime.config.names.aggregatesTable));
  const all = [...aggregates.values()];
  const selected = tenantId ? all.filter((tenant) => tenant.tenantId === tenantId.toLowerCase()) : all;
  return {
    tenants: selected.length,
    resources: selected.reduce((sum, tenant) => sum + tenant.resources, 0),
    byType: sumCounts(selected.map((tenant) => tenant.byType)),
    byLocation: sumCounts(selected.map((tenant) => tenant.byLocation)),
    tenantNames: all
      .map((tenant) => ({ tenantId: tenant.tenantId, displayName: tenant.displayName }))
      .sort((a, b) => a.displayName.localeCompare(b.displayName)),
  };
}

/**
 * What an inventory row and a change row hold, and how a change is computed. Pure: no table access
 * (the sync that reads and writes rows is subscription-sync.ts; the tenant's marker row is
 * tenant-marker.ts).
 *
 * The inventory table holds one partition per tenant and subscription (`inventoryPartition`) with a
 * row per resource or resource group (`inventoryRow`) and the subscription's marker row
 * (`SUBSCRIPTION_MARKER`). A resource has changed when the hash of its compared fields
 * (`COMPARED_FIELDS`, `contentHash`) differs from its row's; `changedFields` says which. The changes
 * table holds one row per change and run (`changeRow`), and one `baseline` row for a subscription's
 * first inventory.
 */
import { hash } from 'node:crypto';
import type { InventoryItem } from '../platform/arm.js';
import { canonicalLocation, canonicalType } from '../platform/arm-casing.js';
import { resourceGlobalKey, resourceRowKey } from '../storage/table-keys.js';

/** Row key of a subscription's marker row; `!` sorts before every escaped resource key. */
export const SUBSCRIPTION_MARKER = '!subscription';

export type ChangeType = 'added' | 'removed' | 'modified';
/** The change record of a subscription's first inventory (one per subscription, not per resource). */
export const BASELINE_CHANGE = 'baseline';
export const COMPARED_FIELDS = ['name', 'type', 'location', 'tags', 'sku', 'kind', 'managedBy'] as const;
export type ComparedField = (typeof COMPARED_FIELDS)[number];

export function inventoryPartition(tenantId: string, subscriptionId: string): string {
  return `${tenantId}_${subscriptionId}`;
}

/**
 * The order `localeCompare` gives (a collator made with the same, default, arguments compares
 * identically, so stored content hashes stay valid), without setting up a comparison per call.
 */
const KEY_ORDER = new Intl.Collator();

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => KEY_ORDER.compare(a, b))
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
  return contentDigest(item).hash;
}

/**
 * The content hash as stored and its first 64 bits as two words (what a manifest keeps), from one
 * digest: the same values as `contentHash` and `contentHashWords(contentHash)`, without encoding the
 * digest and decoding it again for every resource of a sweep.
 */
export function contentDigest(item: InventoryItem): { hash: string; words: [number, number] } {
  // One-shot hash: cheaper than createHash().update().digest() for a value this small (docs/performance.md).
  const digest = hash('sha256', JSON.stringify(comparedView(item)), 'buffer');
  return {
    hash: digest.toString('base64url').slice(0, 32),
    words: [digest.readUInt32BE(0), digest.readUInt32BE(4)],
  };
}

/** An inventory row as read back (the fields change detection needs). */
export interface StoredRow {
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

export function storedToItem(row: StoredRow, subscriptionId: string): InventoryItem {
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

/** Where a row is written: the run that wrote it, and when. */
export interface RowContext {
  tenantId: string;
  runId: string;
  now: string;
}

/** The inventory row of a resource (or resource group) with its content hash. */
export function inventoryRow(
  context: RowContext,
  partition: string,
  item: InventoryItem,
  hash: string,
  firstSeen: string,
  /** The item's row key when the caller has it already (resourceRowKey). */
  rowKey: string = resourceRowKey(item.id),
): Record<string, unknown> & { partitionKey: string; rowKey: string } {
  return {
    partitionKey: partition,
    rowKey,
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
  };
}

/** What a change row says about a change: the fields that changed, with their values before and after. */
export function changeDetails(
  type: ChangeType,
  item: InventoryItem,
  fields: ComparedField[],
  before?: InventoryItem,
): { changedFields: string; before: string; after: string } {
  const summary = (value: InventoryItem | undefined): string | undefined =>
    value
      ? JSON.stringify(Object.fromEntries(fields.map((field) => [field, comparedView(value)[field]])))
      : undefined;
  return {
    changedFields: JSON.stringify(fields),
    before: summary(before) ?? '',
    after: type === 'removed' ? '' : (summary(item) ?? ''),
  };
}

/**
 * One change row: keyed by run and resource (a redelivery rewrites the same row), in the tenant's
 * partition, with what the change says (`details`).
 */
export function changeRow(
  context: RowContext,
  changeType: ChangeType | typeof BASELINE_CHANGE,
  subject: Pick<InventoryItem, 'id' | 'name' | 'type' | 'subscriptionId'>,
  details: { changedFields: string; before: string; after: string; items?: number },
): Record<string, unknown> & { partitionKey: string; rowKey: string } {
  return {
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
  };
}

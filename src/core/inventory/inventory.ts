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
import { base64urlWords } from './inventory-manifest.js';

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

/**
 * A flat object's keys in KEY_ORDER, remembered for the last few lists of keys seen: a sweep's tags
 * and SKUs repeat a few lists of keys, so the collator runs once per list instead of once per resource.
 */
class KeyOrder {
  private readonly lists: Array<{ keys: readonly string[]; sorted: readonly string[] }> = [];
  private next = 0;

  of(keys: string[]): readonly string[] {
    if (keys.length < 2) return keys;
    for (const list of this.lists) if (sameKeys(list.keys, keys)) return list.sorted;
    // Sorted with the keys whose value is undefined: a stable sort leaves the others as canonical's.
    const sorted = [...keys].sort((a, b) => KEY_ORDER.compare(a, b));
    // An object lists integer-like keys first, in numeric order, whatever order they were set in:
    // so did the object canonical() builds, and so its JSON.
    const indices = sorted.filter(isArrayIndex).sort((a, b) => Number(a) - Number(b));
    const list = {
      keys,
      sorted: indices.length ? [...indices, ...sorted.filter((key) => !isArrayIndex(key))] : sorted,
    };
    this.lists[this.next] = list;
    this.next = (this.next + 1) % KEY_LISTS;
    return list.sorted;
  }
}

/** Lists of keys a KeyOrder remembers. */
const KEY_LISTS = 8;

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A key an object enumerates before its other keys (an array index: 0 to 2^32 - 2, canonical digits). */
function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 4_294_967_295;
}

const TAG_KEYS = new KeyOrder();
const SKU_KEYS = new KeyOrder();

/**
 * `JSON.stringify(canonical(value))` of a flat object (strings, numbers, booleans, nulls: tags, a SKU),
 * written directly; undefined for anything else (the caller then takes the general way).
 */
function flatCanonicalJson(value: object, order: KeyOrder): string | undefined {
  if (Array.isArray(value)) return undefined;
  let json = '';
  for (const key of order.of(Object.keys(value))) {
    const field = (value as Record<string, unknown>)[key];
    if (field === undefined) continue;
    if (
      typeof field === 'object'
        ? field !== null
        : typeof field !== 'string' && typeof field !== 'number' && typeof field !== 'boolean'
    )
      return undefined;
    json += `${json ? ',' : ''}${JSON.stringify(key)}:${JSON.stringify(field)}`;
  }
  return `{${json}}`;
}

/** An optional string field as comparedView has it in JSON (`?? null`); undefined for anything else. */
function optionalJson(value: unknown): string | undefined {
  if (value === undefined || value === null) return 'null';
  return typeof value === 'string' ? JSON.stringify(value) : undefined;
}

/**
 * `JSON.stringify(comparedView(item))`, the text a content hash is taken of, written without the
 * intermediate objects and arrays (byte for byte the same text: stored hashes stay valid;
 * test/core/inventory/content-hash.test.ts compares the two).
 */
export function comparedJson(item: InventoryItem): string {
  const tags = item.tags ?? {};
  const tagsJson = typeof tags === 'object' ? flatCanonicalJson(tags, TAG_KEYS) : undefined;
  const sku = item.sku ?? null;
  const skuJson =
    sku === null ? 'null' : typeof sku === 'object' ? flatCanonicalJson(sku, SKU_KEYS) : undefined;
  const kindJson = optionalJson(item.kind);
  const managedByJson = optionalJson(item.managedBy);
  if (
    tagsJson === undefined ||
    skuJson === undefined ||
    kindJson === undefined ||
    managedByJson === undefined ||
    typeof item.name !== 'string'
  )
    return JSON.stringify(comparedView(item));
  return (
    `{"name":${JSON.stringify(item.name)},"type":${JSON.stringify(canonicalType(item.type))},` +
    `"location":${JSON.stringify(canonicalLocation(item.location))},"tags":${tagsJson},"sku":${skuJson},` +
    `"kind":${kindJson},"managedBy":${managedByJson}}`
  );
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
 * digest and decoding it again for every resource of a sweep. `json`: the item's comparedJson, when the
 * caller has it already (a page's digest is taken of it, page-digests.ts).
 */
export function contentDigest(
  item: InventoryItem,
  json: string = comparedJson(item),
): { hash: string; words: [number, number] } {
  // One-shot hash: cheaper than createHash().update().digest() for a value this small, and as text it
  // needs no Buffer (docs/performance.md).
  const digest = hash('sha256', json, 'base64url');
  return { hash: digest.slice(0, 32), words: base64urlWords(digest) };
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
  const row: Record<string, unknown> & { partitionKey: string; rowKey: string } = {
    partitionKey: partition,
    rowKey,
    // The tenant and subscription are the partition key's: not repeated in every row. Absent optional
    // fields are left out (a Replace upsert removes them): every property costs serialization on both
    // sides and storage on the service.
    resourceId: item.id,
    name: item.name,
    type: item.type,
    // OData has no case-insensitive compare: a lower-cased copy lets the results API filter by type.
    typeLower: canonicalType(item.type),
    location: item.location,
    resourceGroup: item.resourceGroup,
    tags: JSON.stringify(item.tags),
  };
  // Set one by one in this order (no object spread per field: this runs for every row written).
  if (item.sku) row.sku = JSON.stringify(item.sku);
  if (item.kind) row.kind = item.kind;
  if (item.managedBy) row.managedBy = item.managedBy;
  // When the resource last changed in Azure (ARM's changedTime), as of this write.
  if (item.changedTime) row.changedInAzure = item.changedTime;
  row.contentHash = hash;
  row.firstSeen = firstSeen;
  row.lastModified = context.now;
  row.lastRunId = context.runId;
  return row;
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

/**
 * Reads of what sweeps wrote: inventory, changes and storage results of a tenant, page by page with
 * the Table service's own continuation tokens (opaque to callers).
 */
import { odata, type TableClient } from '@azure/data-tables';
import { underscorePrefixRange } from '../storage/table-keys.js';
import { InputError } from '../platform/errors.js';
import { parseSubscriptionId, parseTenantId } from '../platform/ids.js';
import { inventoryPartition, SUBSCRIPTION_MARKER } from '../inventory/inventory.js';
import { isRunId } from '../sweep/runs.js';
import type { FleetRuntime } from '../runtime.js';

export interface Page<T> {
  items: T[];
  continuationToken?: string;
}

export interface PageOptions {
  top?: number;
  continuationToken?: string;
}

const MAX_PAGE = 1000;

export function pageSize(top: number | undefined): number {
  if (top === undefined) return 100;
  if (!Number.isInteger(top) || top < 1 || top > MAX_PAGE)
    throw new InputError('top', `must be an integer from 1 to ${MAX_PAGE}`);
  return top;
}

function parseJsonField(value: unknown): unknown {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * The Table SDK's continuation token is base64 JSON `{ nextPartitionKey, nextRowKey? }`. One this API
 * never issued either fails inside the SDK's serializer or silently restarts at page 1 (a client's
 * paging loop would never end): refuse it.
 */
function checkContinuationToken(raw: string): void {
  const token = decodeToken(raw);
  const valid =
    raw.length <= 4096 &&
    /^[A-Za-z0-9+/_-]+=*$/.test(raw) &&
    !!token &&
    typeof token === 'object' &&
    !Array.isArray(token) &&
    typeof token.nextPartitionKey === 'string' &&
    token.nextPartitionKey !== '' &&
    (token.nextRowKey === undefined || typeof token.nextRowKey === 'string');
  if (!valid) throw new InputError('continuationToken', 'is not a token this API returned');
}

function decodeToken(raw: string): { nextPartitionKey?: unknown; nextRowKey?: unknown } | null {
  try {
    return JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as {
      nextPartitionKey?: unknown;
      nextRowKey?: unknown;
    } | null;
  } catch {
    return null;
  }
}

/** One page of a query, resumed from the caller's continuation token (refused when not one we issued; the
 * fleet views page with it too). */
export async function queryPage(
  table: TableClient,
  filter: string,
  options: PageOptions,
): Promise<{ rows: Array<Record<string, unknown>>; continuationToken?: string }> {
  if (options.continuationToken !== undefined) checkContinuationToken(options.continuationToken);
  const iterator = table.listEntities<Record<string, unknown>>({ queryOptions: { filter } }).byPage({
    maxPageSize: pageSize(options.top),
    ...(options.continuationToken ? { continuationToken: options.continuationToken } : {}),
  });
  try {
    const next = await iterator.next();
    if (next.done) return { rows: [] };
    const continuationToken = next.value.continuationToken;
    return { rows: [...next.value], ...(continuationToken ? { continuationToken } : {}) };
  } catch (error) {
    // A token that passed the check can still fail in the SDK's request serializer: a lone surrogate in
    // a key (valid JSON) fails percent-encoding with a URIError, which would otherwise be a 500.
    if (error instanceof TypeError || error instanceof SyntaxError || error instanceof URIError)
      throw new InputError('continuationToken', 'is not a token this API returned');
    throw error;
  }
}

export interface InventoryEntry {
  resourceId: string;
  name: string;
  type: string;
  location: string;
  resourceGroup: string;
  subscriptionId: string;
  tags: unknown;
  sku?: unknown;
  kind?: string;
  firstSeen: string;
  lastModified: string;
}

export async function listInventory(
  runtime: FleetRuntime,
  tenantIdInput: string,
  options: PageOptions & { subscriptionId?: string; type?: string } = {},
): Promise<Page<InventoryEntry>> {
  const tenantId = parseTenantId(tenantIdInput);
  const table = runtime.storage.table(runtime.config.names.inventoryTable);
  const partitionFilter = options.subscriptionId
    ? odata`PartitionKey eq ${inventoryPartition(tenantId, parseSubscriptionId(options.subscriptionId))}`
    : underscorePrefixRange('PartitionKey', tenantId);
  let filter = `${partitionFilter} and ${odata`RowKey ne ${SUBSCRIPTION_MARKER}`}`;
  if (options.type !== undefined) {
    if (!/^[A-Za-z0-9.]+\/[A-Za-z0-9/]+$/.test(options.type))
      throw new InputError('type', 'must be a resource type such as Microsoft.Compute/virtualMachines');
    filter += ` and ${odata`typeLower eq ${options.type.toLowerCase()}`}`;
  }
  const { rows, continuationToken } = await queryPage(table, filter, options);
  return {
    items: rows.map((row) => ({
      resourceId: String(row.resourceId),
      name: String(row.name),
      type: String(row.type),
      location: String(row.location),
      resourceGroup: String(row.resourceGroup),
      // Rows carry it in their partition key only (`{tenantId}_{subscriptionId}`).
      subscriptionId: String(row.partitionKey).slice(tenantId.length + 1),
      tags: parseJsonField(row.tags) ?? {},
      ...(row.sku ? { sku: parseJsonField(row.sku) } : {}),
      ...(typeof row.kind === 'string' && row.kind ? { kind: row.kind } : {}),
      firstSeen: String(row.firstSeen),
      lastModified: String(row.lastModified),
    })),
    ...(continuationToken ? { continuationToken } : {}),
  };
}

export interface ChangeEntry {
  runId: string;
  changeType: string;
  resourceId: string;
  name: string;
  type: string;
  subscriptionId: string;
  changedFields: unknown;
  before?: unknown;
  after?: unknown;
  detectedAt: string;
}

export async function listChanges(
  runtime: FleetRuntime,
  tenantIdInput: string,
  options: PageOptions & { runId?: string } = {},
): Promise<Page<ChangeEntry>> {
  const tenantId = parseTenantId(tenantIdInput);
  let filter = odata`PartitionKey eq ${tenantId}`;
  if (options.runId !== undefined) {
    if (!isRunId(options.runId)) throw new InputError('runId', 'is not a run id');
    filter += ` and ${underscorePrefixRange('RowKey', options.runId)}`;
  }
  const table = runtime.storage.table(runtime.config.names.changesTable);
  const { rows, continuationToken } = await queryPage(table, filter, options);
  return {
    items: rows.map((row) => ({
      runId: String(row.runId),
      changeType: String(row.changeType),
      resourceId: String(row.resourceId),
      name: String(row.name),
      type: String(row.type),
      subscriptionId: String(row.subscriptionId),
      changedFields: parseJsonField(row.changedFields) ?? [],
      ...(row.before ? { before: parseJsonField(row.before) } : {}),
      ...(row.after ? { after: parseJsonField(row.after) } : {}),
      detectedAt: String(row.detectedAt),
    })),
    ...(continuationToken ? { continuationToken } : {}),
  };
}

export async function listStorageResults(
  runtime: FleetRuntime,
  tenantIdInput: string,
): Promise<Array<Record<string, unknown>>> {
  const tenantId = parseTenantId(tenantIdInput);
  const table = runtime.storage.table(runtime.config.names.storageTable);
  const accounts = new Map<
    string,
    Record<string, unknown> & { containers: Array<Record<string, unknown>> }
  >();
  for await (const row of table.listEntities<Record<string, unknown>>({
    queryOptions: { filter: odata`PartitionKey eq ${tenantId}` },
  })) {
    const name = String(row.accountName);
    const account = accounts.get(name) ?? { accountName: name, containers: [] };
    const { partitionKey: _pk, rowKey: _rk, etag: _etag, timestamp: _ts, kind, ...fields } = row;
    if (kind === 'container') account.containers.push(fields);
    else Object.assign(account, fields);
    accounts.set(name, account);
  }
  return [...accounts.values()];
}

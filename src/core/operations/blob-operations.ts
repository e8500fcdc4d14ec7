/**
 * Blob operations in a customer's storage account, acting as the provider's app in that tenant.
 * The tenant must be registered and enabled, and the account must be one the tenant's own storage
 * inventory found within the tenant's subscription scope (a sweep records it): a registration for
 * subscription A never reaches an account of subscription B. Names, prefixes and tokens are validated;
 * the URL comes from the cloud profile. Reads are bounded by bytes and pinned to the ETag they report.
 * Writes and deletes are explicit: create needs `If-None-Match: *`, replace and delete the ETag.
 */
import { RestError, type BlobRequestConditions } from '@azure/storage-blob';
import {
  ConflictError,
  InputError,
  NotFoundError,
  PreconditionRequiredError,
  StateConflictError,
  errorCodeOf,
} from '../platform/errors.js';
import {
  parseBlobName,
  parseContainerName,
  parseStorageAccountName,
  parseTenantId,
} from '../platform/ids.js';
import type { FleetRuntime } from '../runtime.js';
import { customerBlobService } from '../inventory/storage-inventory.js';
import { inSubscriptionScope } from '../sweep/registry-row.js';

/** Largest blob returned or accepted through the API (use the SDK directly for bulk data). */
export const MAX_BLOB_BYTES = 4 * 1024 * 1024;
/** Storage's own continuation tokens are well under this; anything longer was not issued by it. */
export const MAX_CONTINUATION_TOKEN = 2048;
export const MAX_PREFIX = 1024;

export interface BlobEntry {
  name: string;
  size: number;
  contentType?: string;
  lastModified?: string;
  etag?: string;
}

/** The precondition of a write: create only (`If-None-Match: *`) or replace this version (`If-Match`). */
export type WriteCondition = { ifNoneMatch: '*' } | { ifMatch: string };

// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** A strong or weak entity tag as Storage issues them (`"0x8DC..."`). */
const ETAG = /^(W\/)?"[\x21\x23-\x7e]{1,256}"$/;

/** An ETag a caller sent, checked before it reaches Storage (`*` is not an ETag here). */
export function parseEtag(value: string, header: 'If-Match' | 'If-None-Match' = 'If-Match'): string {
  if (!ETAG.test(value))
    throw new InputError(header, 'must be the quoted ETag of the blob as returned by this API');
  return value;
}

/**
 * The account, resolved from the tenant's storage inventory and checked against the tenant's current
 * subscription scope, then a client acting in that tenant.
 */
async function serviceFor(runtime: FleetRuntime, tenantIdInput: string, accountInput: string) {
  const tenantId = parseTenantId(tenantIdInput);
  const account = parseStorageAccountName(accountInput);
  const tenant = await runtime.registry.get(tenantId);
  if (!tenant.enabled)
    throw new ConflictError(`tenant ${tenant.tenantId} is excluded; enable it first`, 'exists');
  const subscriptionId = await inventoriedSubscription(runtime, tenantId, account);
  if (subscriptionId === undefined)
    throw new NotFoundError(
      `storage account ${account} is not in the storage inventory of tenant ${tenantId}: sweep the tenant first (POST /api/runs), or check the account name`,
    );
  if (!subscriptionId || !inSubscriptionScope(tenant.subscriptions, subscriptionId))
    throw new NotFoundError(
      `storage account ${account} is in subscription ${subscriptionId || '(unknown)'}, outside the subscription scope of tenant ${tenantId}: widen the scope (PATCH /api/tenants/${tenantId}, subscriptions) and sweep again`,
    );
  return customerBlobService(runtime.config.cloud, account, runtime.chain.forTenant(tenant.tenantId));
}

/** The subscription recorded for the account in the tenant's storage inventory ('' when unknown). */
async function inventoriedSubscription(
  runtime: FleetRuntime,
  tenantId: string,
  account: string,
): Promise<string | undefined> {
  const table = runtime.storage.table(runtime.config.names.storageTable);
  try {
    const row = await table.getEntity<{ kind?: string; subscriptionId?: string }>(tenantId, account);
    return typeof row.subscriptionId === 'string' ? row.subscriptionId : '';
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 404) return undefined;
    throw error;
  }
}

const LEASE_CODES = new Set([
  'LeaseIdMissing',
  'LeaseNotPresentWithBlobOperation',
  'LeaseIdMismatchWithBlobOperation',
  'LeaseLost',
  'LeaseIdMismatchWithLeaseOperation',
  'LeaseNotPresentWithLeaseOperation',
]);

/** Maps Storage's ordinary refusals to the caller's terms; anything else goes on to the diagnosis. */
function storageRefusal(error: unknown, what: string): never {
  if (!(error instanceof RestError)) throw error;
  const code = errorCodeOf(error) ?? '';
  if (error.statusCode === 404) throw new NotFoundError(`${what} does not exist`);
  if (LEASE_CODES.has(code))
    throw new StateConflictError(
      code,
      `${what} is leased (${code}): release or break the lease in the customer's storage first`,
    );
  if (code === 'SnapshotsPresent')
    throw new StateConflictError(
      code,
      `${what} has snapshots (SnapshotsPresent): delete them first, or repeat with ?deleteSnapshots=include to delete the blob with its snapshots`,
    );
  if (code === 'ConditionNotMet' || error.statusCode === 412)
    throw new ConflictError(`${what} was changed by someone else (its ETag differs); read it again`, 'etag');
  if (code === 'BlobAlreadyExists')
    throw new ConflictError(
      `${what} already exists; to replace it send If-Match with its ETag instead of If-None-Match: *`,
      'etag',
    );
  if (
    code === 'OutOfRangeInput' ||
    code === 'InvalidQueryParameterValue' ||
    code === 'InvalidHeaderValue' ||
    code === 'InvalidInput'
  )
    throw new InputError('request', `${what}: Storage refused the request as invalid (${code})`);
  throw error;
}

export async function listContainers(runtime: FleetRuntime, tenantId: string, account: string) {
  const service = await serviceFor(runtime, tenantId, account);
  const containers: Array<{ name: string; publicAccess: string; lastModified?: string }> = [];
  for await (const container of service.listContainers()) {
    containers.push({
      name: container.name,
      publicAccess: container.properties.publicAccess ?? 'none',
      lastModified: container.properties.lastModified.toISOString(),
    });
  }
  return containers;
}

export interface ListBlobsOptions {
  prefix?: string;
  top?: number;
  continuationToken?: string;
}

/** Checks a listing's caller-given parts before any outbound call. */
export function checkListOptions(options: ListBlobsOptions): void {
  const top = options.top ?? 100;
  if (!Number.isInteger(top) || top < 1 || top > 5000)
    throw new InputError('top', 'must be an integer from 1 to 5000');
  if (options.prefix !== undefined) {
    if (options.prefix.length > MAX_PREFIX)
      throw new InputError('prefix', `is longer than ${MAX_PREFIX} characters`);
    if (CONTROL.test(options.prefix)) throw new InputError('prefix', 'must not contain control characters');
  }
  if (options.continuationToken !== undefined) {
    if (options.continuationToken.length > MAX_CONTINUATION_TOKEN)
      throw new InputError(
        'continuationToken',
        `is longer than ${MAX_CONTINUATION_TOKEN} characters: not a token this API returned`,
      );
    if (!/^[\x21-\x7e]+$/.test(options.continuationToken))
      throw new InputError('continuationToken', 'must be visible ASCII: not a token this API returned');
  }
}

export async function listBlobs(
  runtime: FleetRuntime,
  tenantId: string,
  account: string,
  container: string,
  options: ListBlobsOptions = {},
): Promise<{ items: BlobEntry[]; continuationToken?: string }> {
  checkListOptions(options);
  const containerName = parseContainerName(container);
  const service = await serviceFor(runtime, tenantId, account);
  const client = service.getContainerClient(containerName);
  try {
    const pages = client.listBlobsFlat(options.prefix ? { prefix: options.prefix } : {}).byPage({
      maxPageSize: options.top ?? 100,
      ...(options.continuationToken ? { continuationToken: options.continuationToken } : {}),
    });
    const page = await pages.next();
    if (page.done) return { items: [] };
    const items = page.value.segment.blobItems.map((blob) => ({
      name: blob.name,
      size: blob.properties.contentLength ?? 0,
      ...(blob.properties.contentType ? { contentType: blob.properties.contentType } : {}),
      lastModified: blob.properties.lastModified.toISOString(),
      ...(blob.properties.etag ? { etag: blob.properties.etag } : {}),
    }));
    return {
      items,
      ...(page.value.continuationToken ? { continuationToken: page.value.continuationToken } : {}),
    };
  } catch (error) {
    return storageRefusal(error, `container ${containerName}`);
  }
}

/** Reads a blob: at most MAX_BLOB_BYTES, and exactly the version whose ETag it returns. */
export async function readBlob(
  runtime: FleetRuntime,
  tenantId: string,
  account: string,
  container: string,
  blob: string,
): Promise<{ content: Buffer; contentType: string; etag?: string }> {
  const containerName = parseContainerName(container);
  const blobName = parseBlobName(blob);
  const service = await serviceFor(runtime, tenantId, account);
  const client = service.getContainerClient(containerName).getBlobClient(blobName);
  try {
    const properties = await client.getProperties();
    const size = properties.contentLength ?? 0;
    if (size > MAX_BLOB_BYTES) {
      throw new InputError('blob', `is ${size} bytes; the API returns at most ${MAX_BLOB_BYTES}`);
    }
    const conditions: BlobRequestConditions = properties.etag ? { ifMatch: properties.etag } : {};
    // The count bounds the read even if the blob grew since; the ETag makes a change a 412, not a mix.
    const content = size === 0 ? Buffer.alloc(0) : await client.downloadToBuffer(0, size, { conditions });
    return {
      content,
      contentType: properties.contentType ?? 'application/octet-stream',
      ...(properties.etag ? { etag: properties.etag } : {}),
    };
  } catch (error) {
    return storageRefusal(error, `blob ${containerName}/${blobName}`);
  }
}

/** A media type Storage will store as given (no control characters, visible ASCII, bounded). */
function parseContentType(value: string): string {
  if (value.length > 256 || !/^[\w.+-]+\/[\w.+-]+(\s*;[\x20-\x7e]*)?$/.test(value))
    throw new InputError('content-type', 'is not a media type (such as text/plain; charset=utf-8)');
  return value;
}

/** Creates (`If-None-Match: *`) or replaces (`If-Match`) a blob; without a condition, nothing is written. */
export async function writeBlob(
  runtime: FleetRuntime,
  tenantId: string,
  account: string,
  container: string,
  blob: string,
  content: Buffer,
  contentType = 'application/octet-stream',
  condition?: WriteCondition,
): Promise<{ etag?: string; size: number; created: boolean }> {
  if (!condition)
    throw new PreconditionRequiredError(
      'If-Match',
      'writing a blob needs If-None-Match: * to create it, or If-Match with its ETag to replace it',
    );
  if (content.length > MAX_BLOB_BYTES) throw new InputError('body', `is over ${MAX_BLOB_BYTES} bytes`);
  const type = parseContentType(contentType);
  const containerName = parseContainerName(container);
  const blobName = parseBlobName(blob);
  const conditions: BlobRequestConditions =
    'ifMatch' in condition ? { ifMatch: parseEtag(condition.ifMatch) } : { ifNoneMatch: '*' };
  const service = await serviceFor(runtime, tenantId, account);
  const client = service.getContainerClient(containerName).getBlockBlobClient(blobName);
  try {
    const result = await client.uploadData(content, {
      blobHTTPHeaders: { blobContentType: type },
      conditions,
    });
    return {
      ...(result.etag ? { etag: result.etag } : {}),
      size: content.length,
      created: !('ifMatch' in condition),
    };
  } catch (error) {
    return storageRefusal(error, `blob ${containerName}/${blobName}`);
  }
}

/** Deletes the blob version named by `ifMatch` (with its snapshots only when asked). */
export async function deleteBlob(
  runtime: FleetRuntime,
  tenantId: string,
  account: string,
  container: string,
  blob: string,
  ifMatch?: string,
  options: { includeSnapshots?: boolean } = {},
): Promise<void> {
  if (!ifMatch)
    throw new PreconditionRequiredError('If-Match', 'deleting a blob needs If-Match with its ETag');
  const etag = parseEtag(ifMatch);
  const containerName = parseContainerName(container);
  const blobName = parseBlobName(blob);
  const service = await serviceFor(runtime, tenantId, account);
  const client = service.getContainerClient(containerName).getBlobClient(blobName);
  try {
    await client.delete({
      conditions: { ifMatch: etag },
      ...(options.includeSnapshots ? { deleteSnapshots: 'include' as const } : {}),
    });
  } catch (error) {
    // Storage answers a condition on a blob that is gone with 412: say it is gone (404) instead.
    if (error instanceof RestError && error.statusCode === 412 && !(await client.exists()))
      throw new NotFoundError(`blob ${containerName}/${blobName} does not exist`);
    storageRefusal(error, `blob ${containerName}/${blobName}`);
  }
}

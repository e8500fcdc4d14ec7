/**
 * Blob operations in a customer's storage account, acting as the provider's app in that tenant.
 * The tenant must be registered and enabled; account, container and blob names are validated; the URL
 * comes from the cloud profile. Reads are size-capped so one request cannot exhaust the worker.
 */
import { RestError } from '@azure/storage-blob';
import { ConflictError, InputError, NotFoundError } from '../platform/errors.js';
import { parseBlobName, parseContainerName, parseStorageAccountName } from '../platform/ids.js';
import type { FleetRuntime } from '../runtime.js';
import { customerBlobService } from '../inventory/storage-inventory.js';

/** Largest blob returned or accepted through the API (use the SDK directly for bulk data). */
export const MAX_BLOB_BYTES = 4 * 1024 * 1024;

export interface BlobEntry {
  name: string;
  size: number;
  contentType?: string;
  lastModified?: string;
  etag?: string;
}

async function serviceFor(runtime: FleetRuntime, tenantId: string, account: string) {
  const tenant = await runtime.registry.get(tenantId);
  if (!tenant.enabled)
    throw new ConflictError(`tenant ${tenant.tenantId} is excluded; enable it first`, 'exists');
  return customerBlobService(
    runtime.config.cloud,
    parseStorageAccountName(account),
    runtime.chain.forTenant(tenant.tenantId),
  );
}

function notFound(error: unknown, what: string): never {
  if (error instanceof RestError && error.statusCode === 404)
    throw new NotFoundError(`${what} does not exist`);
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

export async function listBlobs(
  runtime: FleetRuntime,
  tenantId: string,
  account: string,
  container: string,
  options: { prefix?: string; top?: number; continuationToken?: string } = {},
): Promise<{ items: BlobEntry[]; continuationToken?: string }> {
  const top = options.top ?? 100;
  if (!Number.isInteger(top) || top < 1 || top > 5000)
    throw new InputError('top', 'must be an integer from 1 to 5000');
  if (options.prefix !== undefined && options.prefix.length > 1024)
    throw new InputError('prefix', 'is longer than 1024 characters');
  const service = await serviceFor(runtime, tenantId, account);
  const client = service.getContainerClient(parseContainerName(container));
  try {
    const pages = client.listBlobsFlat(options.prefix ? { prefix: options.prefix } : {}).byPage({
      maxPageSize: top,
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
    return notFound(error, `container ${container}`);
  }
}

export async function readBlob(
  runtime: FleetRuntime,
  tenantId: string,
  account: string,
  container: string,
  blob: string,
): Promise<{ content: Buffer; contentType: string; etag?: string }> {
  const service = await serviceFor(runtime, tenantId, account);
  const client = service.getContainerClient(parseContainerName(container)).getBlobClient(parseBlobName(blob));
  try {
    const properties = await client.getProperties();
    if ((properties.contentLength ?? 0) > MAX_BLOB_BYTES) {
      throw new InputError(
        'blob',
        `is ${properties.contentLength} bytes; the API returns at most ${MAX_BLOB_BYTES}`,
      );
    }
    const content = await client.downloadToBuffer();
    return {
      content,
      contentType: properties.contentType ?? 'application/octet-stream',
      ...(properties.etag ? { etag: properties.etag } : {}),
    };
  } catch (error) {
    return notFound(error, `blob ${container}/${blob}`);
  }
}

/** Writes a blob (idempotent: the same body again gives the same blob). */
export async function writeBlob(
  runtime: FleetRuntime,
  tenantId: string,
  account: string,
  container: string,
  blob: string,
  content: Buffer,
  contentType = 'application/octet-stream',
): Promise<{ etag?: string; size: number }> {
  if (content.length > MAX_BLOB_BYTES) throw new InputError('body', `is over ${MAX_BLOB_BYTES} bytes`);
  if (!/^[\w.+-]+\/[\w.+-]+(;.*)?$/.test(contentType))
    throw new InputError('content-type', 'is not a media type');
  const service = await serviceFor(runtime, tenantId, account);
  const client = service
    .getContainerClient(parseContainerName(container))
    .getBlockBlobClient(parseBlobName(blob));
  try {
    const result = await client.uploadData(content, { blobHTTPHeaders: { blobContentType: contentType } });
    return { ...(result.etag ? { etag: result.etag } : {}), size: content.length };
  } catch (error) {
    return notFound(error, `container ${container}`);
  }
}

export async function deleteBlob(
  runtime: FleetRuntime,
  tenantId: string,
  account: string,
  container: string,
  blob: string,
): Promise<void> {
  const service = await serviceFor(runtime, tenantId, account);
  const client = service.getContainerClient(parseContainerName(container)).getBlobClient(parseBlobName(blob));
  try {
    await client.delete();
  } catch (error) {
    notFound(error, `blob ${container}/${blob}`);
  }
}

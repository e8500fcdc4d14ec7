/**
 * Blob operations in a customer's storage account, as the provider's app in that tenant. The account
 * must be in the tenant's storage inventory within its subscription scope (src/core/operations/blob-operations.ts).
 *   GET    /api/tenants/{t}/storage/{account}/containers                    list containers (Fleet.CustomerData.Read)
 *   GET    /api/tenants/{t}/storage/{account}/containers/{c}/blobs          list blobs (?prefix=&top=&continuationToken=)
 *   GET    /api/tenants/{t}/storage/{account}/containers/{c}/blobs/{*name}  read a blob (at most 4 MiB)
 *   PUT    same   write a blob (Fleet.Admin; If-None-Match: * to create, If-Match: <etag> to replace)
 *   DELETE same   delete a blob (Fleet.Admin; If-Match: <etag>; ?deleteSnapshots=include)
 * Every call is audited: reads of customer data too.
 */
import { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import {
  deleteBlob,
  listBlobs,
  listContainers,
  MAX_BLOB_BYTES,
  readBlob,
  writeBlob,
  type WriteCondition,
} from '../core/operations/blob-operations.js';
import { errorCodeOf, InputError, NotFoundError } from '../core/platform/errors.js';
import type { Role } from '../core/auth/caller.js';
import { httpRoute } from './shared/routes.js';
import {
  handle,
  header,
  intQuery,
  json,
  readBody,
  type AuditTarget,
  type HandlerScope,
} from './shared/http.js';

function target(request: HttpRequest) {
  return {
    tenantId: request.params.tenantId ?? '',
    account: request.params.account ?? '',
    container: request.params.container ?? '',
    blob: request.params.blobName ?? '',
  };
}

/** Reading customer data needs Fleet.CustomerData.Read; changing it Fleet.Admin. */
function blobRole(request: HttpRequest): Role {
  return request.method === 'GET' || request.method === 'HEAD' ? 'Fleet.CustomerData.Read' : 'Fleet.Admin';
}

function blobAudit(request: HttpRequest): AuditTarget {
  const { tenantId, account, container, blob } = target(request);
  const action =
    request.method === 'PUT'
      ? 'blob.write'
      : request.method === 'DELETE'
        ? 'blob.delete'
        : blob
          ? 'blob.read'
          : 'blob.list';
  return { action, tenantId: tenantId.toLowerCase(), target: `${account}/${container}/${blob}` };
}

/**
 * An account name that exists nowhere has no DNS name in Azure (`ENOTFOUND`, after the client's
 * retries); the sandbox's storage front answers `InvalidUri` as Azure's front end does for an unknown
 * host. Either way the caller named an account that is not there: a 404 naming it, not a 500.
 */
async function inAccount<T>(account: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    const code = errorCodeOf(error);
    if (code === 'ENOTFOUND' || code === 'InvalidUri')
      throw new NotFoundError(`storage account ${account} does not exist`);
    throw error;
  }
}

export const storageContainers = handle(
  'Fleet.CustomerData.Read',
  async (request, { runtime }) => {
    const { tenantId, account } = target(request);
    return json(200, { items: await inAccount(account, () => listContainers(runtime, tenantId, account)) });
  },
  {
    audit: (request) => ({
      action: 'container.list',
      tenantId: target(request).tenantId.toLowerCase(),
      target: target(request).account,
    }),
  },
);

export const storageBlobs = handle(
  blobRole,
  async (request, scope) => inAccount(target(request).account, () => blobOperation(request, scope)),
  { audit: blobAudit },
);

/** The write's precondition from If-None-Match / If-Match (exactly one of them). */
function writeCondition(request: HttpRequest): WriteCondition | undefined {
  const ifNoneMatch = header(request, 'if-none-match');
  const ifMatch = header(request, 'if-match');
  if (ifNoneMatch !== undefined && ifMatch !== undefined)
    throw new InputError('If-Match', 'send either If-None-Match: * (create) or If-Match (replace), not both');
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch !== '*') throw new InputError('If-None-Match', 'must be * (create only)');
    return { ifNoneMatch: '*' };
  }
  if (ifMatch !== undefined) {
    if (ifMatch === '*') throw new InputError('If-Match', 'must be the ETag of the blob to replace, not *');
    return { ifMatch };
  }
  return undefined;
}

/** Headers that keep a browser from rendering customer content as part of any page. */
const CONTENT_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "sandbox; default-src 'none'",
};

function attachment(blob: string): string {
  const base = blob.split('/').pop() ?? 'blob';
  const ascii = base.replace(/[^\w.-]/g, '_').slice(0, 100) || 'blob';
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`;
}

async function blobOperation(
  request: HttpRequest,
  { runtime, audit }: HandlerScope,
): Promise<HttpResponseInit> {
  const { tenantId, account, container, blob } = target(request);
  if (!blob && request.method !== 'GET')
    throw new InputError('blobName', 'a blob name is required to write or delete');
  if (!blob) {
    const top = intQuery(request, 'top');
    const prefix = request.query.get('prefix');
    const continuationToken = request.query.get('continuationToken');
    const page = await listBlobs(runtime, tenantId, account, container, {
      ...(top !== undefined ? { top } : {}),
      ...(prefix ? { prefix } : {}),
      ...(continuationToken ? { continuationToken } : {}),
    });
    return json(200, page);
  }
  if (request.method === 'PUT') {
    const condition = writeCondition(request);
    const contentType = header(request, 'content-type');
    if (condition && 'ifMatch' in condition) audit({ etagBefore: condition.ifMatch });
    const body = condition ? await readBody(request, MAX_BLOB_BYTES) : Buffer.alloc(0);
    const result = await writeBlob(runtime, tenantId, account, container, blob, body, contentType, condition);
    if (result.etag) audit({ etagAfter: result.etag });
    const { created, ...rest } = result;
    return json(created ? 201 : 200, { name: blob, ...rest }, result.etag ? { etag: result.etag } : {});
  }
  if (request.method === 'DELETE') {
    const ifMatch = header(request, 'if-match');
    if (ifMatch) audit({ etagBefore: ifMatch });
    const snapshots = request.query.get('deleteSnapshots');
    if (snapshots !== null && snapshots !== 'include')
      throw new InputError('deleteSnapshots', "must be 'include' (delete the blob with its snapshots)");
    await deleteBlob(runtime, tenantId, account, container, blob, ifMatch, {
      includeSnapshots: snapshots === 'include',
    });
    return { status: 204 };
  }
  const { content, contentType, etag } = await readBlob(runtime, tenantId, account, container, blob);
  if (etag) audit({ etagBefore: etag });
  return {
    status: 200,
    body: content,
    headers: {
      // A stored type that is not a plain media type is served as bytes, never passed on as is.
      'content-type': /^[\w.+-]+\/[\w.+-]+(\s*;[\x20-\x7e]*)?$/.test(contentType)
        ? contentType
        : 'application/octet-stream',
      'content-disposition': attachment(blob),
      ...CONTENT_HEADERS,
      ...(etag ? { etag } : {}),
    },
  };
}

httpRoute('storageContainers', {
  route: 'tenants/{tenantId}/storage/{account}/containers',
  methods: ['GET'],
  handler: storageContainers,
});
httpRoute('storageBlobs', {
  route: 'tenants/{tenantId}/storage/{account}/containers/{container}/blobs/{*blobName}',
  methods: ['GET', 'PUT', 'DELETE'],
  handler: storageBlobs,
});

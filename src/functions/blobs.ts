/**
 * Blob operations in a customer's storage account, as the provider's app in that tenant:
 *   GET    /api/tenants/{t}/storage/{account}/containers                    list containers
 *   GET    /api/tenants/{t}/storage/{account}/containers/{c}/blobs          list blobs (?prefix=&top=&continuationToken=)
 *   GET    /api/tenants/{t}/storage/{account}/containers/{c}/blobs/{*name}  read a blob (at most 4 MiB)
 *   PUT    same                                                             write a blob (Fleet.Admin)
 *   DELETE same                                                             delete a blob (Fleet.Admin)
 */
import { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import {
  deleteBlob,
  listBlobs,
  listContainers,
  readBlob,
  writeBlob,
} from '../core/operations/blob-operations.js';
import { errorCodeOf, InputError, NotFoundError } from '../core/platform/errors.js';
import type { FleetRuntime } from '../core/runtime.js';
import { httpRoute } from './shared/routes.js';
import { handle, intQuery, json } from './shared/http.js';
import { roleForMethod } from './shared/auth.js';

function target(request: HttpRequest) {
  return {
    tenantId: request.params.tenantId ?? '',
    account: request.params.account ?? '',
    container: request.params.container ?? '',
    blob: request.params.blobName ?? '',
  };
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

export const storageContainers = handle('Fleet.Read', async (request, { runtime }) => {
  const { tenantId, account } = target(request);
  return json(200, { items: await inAccount(account, () => listContainers(runtime, tenantId, account)) });
});

export const storageBlobs = handle(roleForMethod, async (request, { runtime }) => {
  return inAccount(target(request).account, () => blobOperation(request, runtime));
});

async function blobOperation(request: HttpRequest, runtime: FleetRuntime): Promise<HttpResponseInit> {
  const { tenantId, account, container, blob } = target(request);
  if (!blob && request.method !== 'GET')
    throw new InputError('blobName', 'a blob name is required to write or delete');
  if (!blob) {
    const top = intQuery(request, 'top');
    const page = await listBlobs(runtime, tenantId, account, container, {
      ...(top !== undefined ? { top } : {}),
      ...(request.query.get('prefix') ? { prefix: request.query.get('prefix')! } : {}),
      ...(request.query.get('continuationToken')
        ? { continuationToken: request.query.get('continuationToken')! }
        : {}),
    });
    return json(200, page);
  }
  if (request.method === 'PUT') {
    const body = Buffer.from(await request.arrayBuffer());
    const result = await writeBlob(
      runtime,
      tenantId,
      account,
      container,
      blob,
      body,
      request.headers.get('content-type') ?? undefined,
    );
    return json(201, { name: blob, ...result });
  }
  if (request.method === 'DELETE') {
    await deleteBlob(runtime, tenantId, account, container, blob);
    return { status: 204 };
  }
  const { content, contentType, etag } = await readBlob(runtime, tenantId, account, container, blob);
  return {
    status: 200,
    body: content,
    headers: { 'content-type': contentType, 'cache-control': 'no-store', ...(etag ? { etag } : {}) },
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

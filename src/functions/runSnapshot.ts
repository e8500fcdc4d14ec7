/** GET /api/runs/{runId}/tenants/{tenantId}/snapshot: the tenant's inventory snapshot of that run (gzip NDJSON), streamed. */
import type { Readable } from 'node:stream';
import { NotFoundError } from '../core/platform/errors.js';
import { parseTenantId } from '../core/platform/ids.js';
import { httpRoute } from './shared/routes.js';
import { handle } from './shared/http.js';

export const runSnapshot = handle('Fleet.Read', async (request, { runtime }) => {
  const runId = request.params.runId ?? '';
  const tenantId = parseTenantId(request.params.tenantId ?? '');
  await runtime.runs.getRun(runId); // 404 for an unknown run
  const row = await runtime.runs.getTenant(runId, tenantId);
  if (!row?.snapshotBlob) throw new NotFoundError(`run ${runId} kept no snapshot of tenant ${tenantId}`);
  const blob = runtime.storage
    .container(runtime.config.names.snapshotsContainer)
    .getBlobClient(row.snapshotBlob);
  const download = await blob.download();
  return {
    status: 200,
    body: download.readableStreamBody as Readable,
    headers: {
      'content-type': 'application/gzip',
      'content-disposition': `attachment; filename="${tenantId}-${runId}.ndjson.gz"`,
      'cache-control': 'no-store',
      ...(download.contentLength !== undefined ? { 'content-length': String(download.contentLength) } : {}),
    },
  };
});

httpRoute('runSnapshot', {
  route: 'runs/{runId}/tenants/{tenantId}/snapshot',
  methods: ['GET'],
  handler: runSnapshot,
});

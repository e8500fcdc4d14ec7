/** GET /api/runs/{runId}: the run and every tenant in it (status, counts, diagnosis). */
import { app } from '@azure/functions';
import type { TenantRunRecord } from '../core/runs.js';
import { handle, json } from './shared/http.js';

export const run = handle('Fleet.Read', async (request, { runtime }) => {
  const record = await runtime.runs.getRun(request.params.runId ?? '');
  const tenants: TenantRunRecord[] = [];
  for await (const tenant of runtime.runs.listTenants(record.runId)) {
    const { etag: _etag, ...rest } = tenant;
    tenants.push(rest);
  }
  const { etag: _etag, ...run } = record;
  return json(200, { ...run, tenants });
});

app.http('run', { route: 'runs/{runId}', methods: ['GET'], authLevel: 'anonymous', handler: run });

/** GET /api/runs/{runId}: the run and every tenant in it (status, counts, diagnosis, warnings). */
import { app } from '@azure/functions';
import type { TenantRunRecord } from '../core/runs.js';
import { handle, json } from './shared/http.js';

type TenantView = Omit<TenantRunRecord, 'etag' | 'warnings'> & {
  warnings?: unknown[];
  /** The stored warnings were cut to fit a table property and can no longer be read. */
  warningsTruncated?: true;
};

/**
 * Warnings are stored as a JSON string (Table storage has no lists); callers get the list itself, not
 * a string they would have to parse again. A stored value cut at the property's size limit is not
 * JSON any more: say so instead of failing the whole run.
 */
function tenantView(tenant: TenantRunRecord): TenantView {
  const { etag: _etag, warnings, ...rest } = tenant;
  if (!warnings) return rest;
  try {
    const parsed: unknown = JSON.parse(warnings);
    if (Array.isArray(parsed)) return { ...rest, warnings: parsed };
  } catch {
    // fall through: truncated or hand-written
  }
  return { ...rest, warningsTruncated: true };
}

export const run = handle('Fleet.Read', async (request, { runtime }) => {
  const record = await runtime.runs.getRun(request.params.runId ?? '');
  const tenants: TenantView[] = [];
  for await (const tenant of runtime.runs.listTenants(record.runId)) tenants.push(tenantView(tenant));
  const { etag: _etag, ...run } = record;
  return json(200, { ...run, tenants });
});

app.http('run', { route: 'runs/{runId}', methods: ['GET'], authLevel: 'anonymous', handler: run });

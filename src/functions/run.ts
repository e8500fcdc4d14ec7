/** GET /api/runs/{runId}: the run and every tenant in it (status, counts, diagnosis, warnings). */
import { readBoundedJsonList, type TenantRunRecord } from '../core/sweep/runs.js';
import { httpRoute } from './shared/routes.js';
import { handle, json } from './shared/http.js';

type TenantView = Omit<TenantRunRecord, 'etag' | 'warnings'> & {
  warnings?: unknown[];
  /** How many warnings were left out to fit a table property (the list keeps the first ones). */
  warningsOmitted?: number;
  /** A stored value that is not a JSON list (written by hand or by an older version). */
  warningsUnreadable?: true;
};

/**
 * Warnings are stored as a JSON string (Table storage has no lists); callers get the list itself, not
 * a string they would have to parse again. A list cut to fit the property says how many were left out.
 */
function tenantView(tenant: TenantRunRecord): TenantView {
  const { etag: _etag, warnings, ...rest } = tenant;
  if (!warnings) return rest;
  const list = readBoundedJsonList(warnings);
  if (!list) return { ...rest, warningsUnreadable: true };
  return {
    ...rest,
    warnings: list.items,
    ...(list.omitted !== undefined ? { warningsOmitted: list.omitted } : {}),
  };
}

export const run = handle('Fleet.Read', async (request, { runtime }) => {
  const record = await runtime.runs.getRun(request.params.runId ?? '');
  const tenants: TenantView[] = [];
  for await (const tenant of runtime.runs.listTenants(record.runId)) tenants.push(tenantView(tenant));
  const { etag: _etag, ...run } = record;
  return json(200, { ...run, tenants });
});

httpRoute('run', { route: 'runs/{runId}', methods: ['GET'], handler: run });

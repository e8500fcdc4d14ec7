/** GET /api/tenants (list, with invalid rows reported) and POST /api/tenants (register). */
import { isInvalidRow, type InvalidTenantRow, type TenantRecord } from '../core/sweep/registry.js';
import { httpRoute } from './shared/routes.js';
import { handle, json, readJson } from './shared/http.js';
import { roleForMethod } from './shared/auth.js';

export const tenants = handle(
  roleForMethod,
  async (request, { runtime, actor, audit }) => {
    if (request.method === 'POST') {
      const record = await runtime.registry.add(await readJson(request), actor);
      audit({ etagAfter: record.etag, tenantId: record.tenantId, target: `tenants/${record.tenantId}` });
      return json(201, record, { etag: record.etag, location: `/api/tenants/${record.tenantId}` });
    }
    const enabledOnly = request.query.get('enabled') === 'true';
    const tag = request.query.get('tag');
    const items: TenantRecord[] = [];
    const invalid: InvalidTenantRow[] = [];
    for await (const row of runtime.registry.list({ enabledOnly })) {
      if (isInvalidRow(row)) invalid.push(row);
      else if (!tag || row.tags.includes(tag))
        items.push({ ...row, circuitOpen: runtime.registry.isCircuitOpen(row) } as TenantRecord);
    }
    return json(200, { items, invalid });
  },
  {
    // The tenant id is in the body, read by the handler: the row names the collection.
    audit: (request) =>
      request.method === 'POST' ? { action: 'tenant.create', target: 'tenants' } : undefined,
  },
);

httpRoute('tenants', { route: 'tenants', methods: ['GET', 'POST'], handler: tenants });

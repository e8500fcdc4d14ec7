/** GET, PATCH (If-Match) and DELETE /api/tenants/{tenantId}. */
import { app } from '@azure/functions';
import { handle, json, readJson } from './shared/http.js';
import { roleForMethod } from './shared/auth.js';

export const tenant = handle(roleForMethod, async (request, { runtime, actor }) => {
  const tenantId = request.params.tenantId ?? '';
  const ifMatch = request.headers.get('if-match') ?? undefined;
  if (request.method === 'PATCH') {
    const record = await runtime.registry.update(tenantId, await readJson(request), actor, ifMatch);
    return json(200, record, { etag: record.etag });
  }
  if (request.method === 'DELETE') {
    await runtime.registry.remove(tenantId, ifMatch);
    return { status: 204 };
  }
  const record = await runtime.registry.get(tenantId);
  return json(200, { ...record, circuitOpen: runtime.registry.isCircuitOpen(record) }, { etag: record.etag });
});

app.http('tenant', {
  route: 'tenants/{tenantId}',
  methods: ['GET', 'PATCH', 'DELETE'],
  authLevel: 'anonymous',
  handler: tenant,
});

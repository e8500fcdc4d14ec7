/** POST /api/tenants/{tenantId}/reset: closes the circuit breaker after the cause was fixed. */
import { httpRoute } from './shared/routes.js';
import { handle, json } from './shared/http.js';

export const tenantReset = handle('Fleet.Admin', async (request, { runtime }) => {
  const record = await runtime.registry.resetCircuit(request.params.tenantId ?? '');
  return json(200, record, { etag: record.etag });
});

httpRoute('tenantReset', { route: 'tenants/{tenantId}/reset', methods: ['POST'], handler: tenantReset });

/** POST /api/tenants/{tenantId}/reset: closes the circuit breaker after the cause was fixed. */
import { httpRoute } from './shared/routes.js';
import { handle, json } from './shared/http.js';

export const tenantReset = handle(
  'Fleet.Admin',
  async (request, { runtime, audit }) => {
    const record = await runtime.registry.resetCircuit(request.params.tenantId ?? '');
    audit({ etagAfter: record.etag });
    return json(200, record, { etag: record.etag });
  },
  {
    audit: (request) => {
      const tenantId = (request.params.tenantId ?? '').toLowerCase();
      return { action: 'tenant.reset', tenantId, target: `tenants/${tenantId}` };
    },
  },
);

httpRoute('tenantReset', { route: 'tenants/{tenantId}/reset', methods: ['POST'], handler: tenantReset });

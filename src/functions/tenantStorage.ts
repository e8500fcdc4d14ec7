/** GET /api/tenants/{tenantId}/storage: the storage inventory (accounts, containers, refusals). */
import { listStorageResults } from '../core/operations/results.js';
import { httpRoute } from './shared/routes.js';
import { handle, json } from './shared/http.js';

export const tenantStorage = handle('Fleet.Read', async (request, { runtime }) => {
  return json(200, { items: await listStorageResults(runtime, request.params.tenantId ?? '') });
});

httpRoute('tenantStorage', { route: 'tenants/{tenantId}/storage', methods: ['GET'], handler: tenantStorage });

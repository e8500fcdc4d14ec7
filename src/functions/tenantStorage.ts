/** GET /api/tenants/{tenantId}/storage: the storage inventory (accounts, containers, refusals). */
import { app } from '@azure/functions';
import { listStorageResults } from '../core/operations/results.js';
import { handle, json } from './shared/http.js';

export const tenantStorage = handle('Fleet.Read', async (request, { runtime }) => {
  return json(200, { items: await listStorageResults(runtime, request.params.tenantId ?? '') });
});

app.http('tenantStorage', {
  route: 'tenants/{tenantId}/storage',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: tenantStorage,
});

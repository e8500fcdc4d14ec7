/** GET /api/tenants/{tenantId}/inventory?subscriptionId=&type=&top=&continuationToken= */
import { listInventory } from '../core/operations/results.js';
import { httpRoute } from './shared/routes.js';
import { handle, intQuery, json } from './shared/http.js';

export const tenantInventory = handle('Fleet.Read', async (request, { runtime }) => {
  const top = intQuery(request, 'top');
  // An opaque Table SDK token; results.ts refuses one this API never issued.
  const continuationToken = request.query.get('continuationToken');
  const page = await listInventory(runtime, request.params.tenantId ?? '', {
    ...(top !== undefined ? { top } : {}),
    ...(request.query.get('subscriptionId') ? { subscriptionId: request.query.get('subscriptionId')! } : {}),
    ...(request.query.get('type') ? { type: request.query.get('type')! } : {}),
    ...(continuationToken ? { continuationToken } : {}),
  });
  return json(200, page);
});

httpRoute('tenantInventory', {
  route: 'tenants/{tenantId}/inventory',
  methods: ['GET'],
  handler: tenantInventory,
});

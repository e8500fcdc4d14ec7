/** GET /api/tenants/{tenantId}/inventory?subscriptionId=&type=&top=&continuationToken= */
import { app } from '@azure/functions';
import { listInventory } from '../core/results.js';
import { handle, intQuery, json, tableContinuationToken } from './shared/http.js';

export const tenantInventory = handle('Fleet.Read', async (request, { runtime }) => {
  const top = intQuery(request, 'top');
  const continuationToken = tableContinuationToken(request);
  const page = await listInventory(runtime, request.params.tenantId ?? '', {
    ...(top !== undefined ? { top } : {}),
    ...(request.query.get('subscriptionId') ? { subscriptionId: request.query.get('subscriptionId')! } : {}),
    ...(request.query.get('type') ? { type: request.query.get('type')! } : {}),
    ...(continuationToken ? { continuationToken } : {}),
  });
  return json(200, page);
});

app.http('tenantInventory', {
  route: 'tenants/{tenantId}/inventory',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: tenantInventory,
});

/** GET /api/tenants/{tenantId}/changes?runId=&top=&continuationToken= : the change history. */
import { listChanges } from '../core/operations/results.js';
import { httpRoute } from './shared/routes.js';
import { handle, intQuery, json } from './shared/http.js';

export const tenantChanges = handle('Fleet.Read', async (request, { runtime }) => {
  const top = intQuery(request, 'top');
  // An opaque Table SDK token; results.ts refuses one this API never issued.
  const continuationToken = request.query.get('continuationToken');
  const page = await listChanges(runtime, request.params.tenantId ?? '', {
    ...(top !== undefined ? { top } : {}),
    ...(request.query.get('runId') ? { runId: request.query.get('runId')! } : {}),
    ...(continuationToken ? { continuationToken } : {}),
  });
  return json(200, page);
});

httpRoute('tenantChanges', { route: 'tenants/{tenantId}/changes', methods: ['GET'], handler: tenantChanges });

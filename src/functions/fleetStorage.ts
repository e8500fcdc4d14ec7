/** GET /api/fleet/storage?tenantId=&public=true&refused=true : customer storage accounts across tenants. */
import { fleetStorage } from '../core/operations/fleet-storage.js';
import { httpRoute } from './shared/routes.js';
import { handle, json } from './shared/http.js';

export const fleetStorageHandler = handle('Fleet.Read', async (request, { runtime }) => {
  const tenantId = request.query.get('tenantId');
  const items = await fleetStorage(runtime, {
    ...(tenantId ? { tenantId } : {}),
    publicOnly: request.query.get('public') === 'true',
    refusedOnly: request.query.get('refused') === 'true',
  });
  return json(200, { items });
});

httpRoute('fleetStorage', { route: 'fleet/storage', methods: ['GET'], handler: fleetStorageHandler });

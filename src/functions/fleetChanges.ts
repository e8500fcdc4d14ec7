/** GET /api/fleet/changes?tenantId=&kind=&since=&until=&top=&continuationToken= : changes across tenants, newest run first. */
import { changeFeed, parseChangeFilter } from '../core/operations/change-feed.js';
import { filterQuery } from './fleetInventory.js';
import { httpRoute } from './shared/routes.js';
import { handle, intQuery, json } from './shared/http.js';

export const fleetChanges = handle('Fleet.Read', async (request, { runtime }) => {
  const top = intQuery(request, 'top');
  const continuationToken = request.query.get('continuationToken') ?? undefined;
  const page = await changeFeed(runtime, parseChangeFilter(filterQuery(request)), {
    ...(top !== undefined ? { top } : {}),
    ...(continuationToken ? { continuationToken } : {}),
  });
  return json(200, page);
});

httpRoute('fleetChanges', { route: 'fleet/changes', methods: ['GET'], handler: fleetChanges });

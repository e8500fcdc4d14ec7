/**
 * The inventory across tenants:
 *   GET /api/fleet/inventory?tenantId=&subscriptionId=&resourceGroup=&type=&location=&tag=&q=&top=&continuationToken=
 *   GET /api/fleet/inventory/facets?tenantId=    counts by type and location (from the aggregates)
 *   GET /api/fleet/inventory/history?tenantId=&resourceId=    a resource's change history
 */
import type { HttpRequest } from '@azure/functions';
import { resourceHistory } from '../core/operations/change-feed.js';
import {
  exploreInventory,
  inventoryFacets,
  parseInventoryFilter,
} from '../core/operations/inventory-explorer.js';
import { InputError } from '../core/platform/errors.js';
import { parseTenantId } from '../core/platform/ids.js';
import { httpRoute } from './shared/routes.js';
import { handle, intQuery, json } from './shared/http.js';

/** The query parameters that are filters (paging and format are not). */
export function filterQuery(request: HttpRequest): Record<string, string> {
  const query = Object.fromEntries(request.query);
  delete query.top;
  delete query.continuationToken;
  delete query.format;
  return query;
}

export const fleetInventory = handle('Fleet.Read', async (request, { runtime }) => {
  const top = intQuery(request, 'top');
  const continuationToken = request.query.get('continuationToken') ?? undefined;
  const page = await exploreInventory(runtime, parseInventoryFilter(filterQuery(request)), {
    ...(top !== undefined ? { top } : {}),
    ...(continuationToken ? { continuationToken } : {}),
  });
  return json(200, page);
});

export const fleetInventoryFacets = handle('Fleet.Read', async (request, { runtime }) => {
  const tenantId = request.query.get('tenantId');
  return json(200, await inventoryFacets(runtime, tenantId ? parseTenantId(tenantId) : undefined));
});

export const fleetResourceHistory = handle('Fleet.Read', async (request, { runtime }) => {
  const tenantId = parseTenantId(request.query.get('tenantId') ?? '');
  const resourceId = request.query.get('resourceId');
  if (!resourceId) throw new InputError('resourceId', 'is required');
  return json(200, { items: await resourceHistory(runtime, tenantId, resourceId) });
});

httpRoute('fleetInventory', { route: 'fleet/inventory', methods: ['GET'], handler: fleetInventory });
httpRoute('fleetInventoryFacets', {
  route: 'fleet/inventory/facets',
  methods: ['GET'],
  handler: fleetInventoryFacets,
});
httpRoute('fleetResourceHistory', {
  route: 'fleet/inventory/history',
  methods: ['GET'],
  handler: fleetResourceHistory,
});

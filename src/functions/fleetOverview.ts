/** GET /api/fleet/overview: every tenant by state (with the failing ones' diagnosis and fix), last and next sweep, totals. */
import { fleetOverview } from '../core/operations/fleet-overview.js';
import { httpRoute } from './shared/routes.js';
import { handle, json } from './shared/http.js';

export const fleetOverviewHandler = handle('Fleet.Read', async (_request, { runtime }) =>
  json(200, await fleetOverview(runtime)),
);

httpRoute('fleetOverview', { route: 'fleet/overview', methods: ['GET'], handler: fleetOverviewHandler });

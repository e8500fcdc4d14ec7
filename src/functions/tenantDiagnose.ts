/**
 * POST /api/tenants/{tenantId}/diagnose: onboarding diagnostics, step by step (MI token, token
 * exchange in the tenant, visible subscriptions, storage token), each failure with its fix.
 * Works for tenants not registered yet (a pre-check while onboarding).
 */
import { diagnoseTenant } from '../core/operations/onboarding.js';
import { httpRoute } from './shared/routes.js';
import { handle, json } from './shared/http.js';

export const tenantDiagnose = handle('Fleet.Admin', async (request, { runtime }) => {
  const report = await diagnoseTenant(runtime, request.params.tenantId ?? '');
  return json(200, report);
});

httpRoute('tenantDiagnose', {
  route: 'tenants/{tenantId}/diagnose',
  methods: ['POST'],
  handler: tenantDiagnose,
});

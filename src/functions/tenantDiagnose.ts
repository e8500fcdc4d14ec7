/**
 * POST /api/tenants/{tenantId}/diagnose: onboarding diagnostics, step by step (MI token, token
 * exchange in the tenant, visible subscriptions, storage token), each failure with its fix.
 * Works for tenants not registered yet (a pre-check while onboarding).
 */
import { diagnoseTenant } from '../core/operations/onboarding.js';
import { httpRoute } from './shared/routes.js';
import { handle, json } from './shared/http.js';

export const tenantDiagnose = handle(
  'Fleet.Admin',
  async (request, { runtime }) => {
    const report = await diagnoseTenant(runtime, request.params.tenantId ?? '');
    return json(200, report);
  },
  {
    // Diagnosis acts in the customer's tenant (tokens, subscriptions, storage): audited.
    audit: (request) => {
      const tenantId = (request.params.tenantId ?? '').toLowerCase();
      return { action: 'tenant.diagnose', tenantId, target: `tenants/${tenantId}` };
    },
  },
);

httpRoute('tenantDiagnose', {
  route: 'tenants/{tenantId}/diagnose',
  methods: ['POST'],
  handler: tenantDiagnose,
});

/** GET /api/onboarding/{tenantId}: the admin-consent link, the customer's commands and template parameters. */
import { NotFoundError } from '../core/platform/errors.js';
import { onboardingGuide } from '../core/operations/onboarding-guide.js';
import { httpRoute } from './shared/routes.js';
import { handle, json } from './shared/http.js';

export const onboarding = handle('Fleet.Read', async (request, { runtime }) => {
  const guide = onboardingGuide(runtime, request.params.tenantId ?? '');
  let registered = true;
  try {
    await runtime.registry.get(guide.tenantId);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    registered = false;
  }
  return json(200, { ...guide, registered });
});

httpRoute('onboarding', { route: 'onboarding/{tenantId}', methods: ['GET'], handler: onboarding });

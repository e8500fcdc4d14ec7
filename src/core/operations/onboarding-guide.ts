/**
 * What an operator hands a new customer: the admin-consent link, the exact commands to run in the
 * customer's tenant, and the parameters of the customer template (infra/customer/subscription.bicep).
 * Nothing is looked up: the guide is built from the tenant id and the app's own client id.
 */
import { adminConsentUrl } from '../platform/cloud.js';
import { parseTenantId } from '../platform/ids.js';
import type { FleetRuntime } from '../runtime.js';

export interface OnboardingGuide {
  tenantId: string;
  appClientId: string;
  adminConsentUrl: string;
  /** Shell commands for the customer, in order (Azure Cloud Shell, Bash). */
  commands: string[];
  /** Parameters of infra/customer/subscription.bicep (the service principal id is the customer's). */
  templateParameters: Record<string, string>;
  /** How the operator verifies afterwards. */
  verify: string;
}

export function onboardingGuide(runtime: FleetRuntime, tenantIdInput: string): OnboardingGuide {
  const tenantId = parseTenantId(tenantIdInput);
  const appId = runtime.config.appClientId;
  return {
    tenantId,
    appClientId: appId,
    adminConsentUrl: adminConsentUrl(runtime.config.cloud, tenantId, appId),
    commands: [
      `az login --tenant ${tenantId}`,
      'git clone <repository the provider gave you> tenant-fleet && cd tenant-fleet',
      `./infra/customer/onboard.sh --app-id ${appId} --subscription <subscription id>`,
      `# or, for every subscription under a management group:`,
      `./infra/customer/onboard.sh --app-id ${appId} --management-group <management group id>`,
    ],
    templateParameters: {
      providerServicePrincipalObjectId: `$(az ad sp show --id ${appId} --query id -o tsv)`,
      blobDataAccess: 'None | Reader | Contributor',
      providerName: 'Tenant Fleet',
    },
    verify: `POST /api/tenants/${tenantId}/diagnose`,
  };
}

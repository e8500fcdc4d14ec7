/**
 * Diagnosis: turns what Entra, ARM, Azure Storage or the managed identity endpoint answered into
 * something an operator can act on: a stable code, what it means, and the fix, naming who must do it.
 * Stored with failed tenants (registry, run records) and returned by the onboarding diagnostics.
 * Messages are redacted: a diagnosis never carries a token, an assertion or a key.
 */
import { adminConsentUrl, type CloudProfile } from './cloud.js';
import { errorCodeOf, redact, statusCodeOf } from './errors.js';

export type DiagnosisCategory =
  'onboarding' | 'permission' | 'configuration' | 'throttling' | 'transient' | 'input' | 'unknown';

export interface Diagnosis {
  /** Stable code: `AADSTS700016`, `AuthorizationFailed`, `AuthorizationPermissionMismatch`, ... */
  code: string;
  category: DiagnosisCategory;
  /** Who can fix it: the customer's admin, the provider's operator, or nobody (retry). */
  owner: 'customer' | 'provider' | 'none';
  meaning: string;
  fix: string;
  /** True when trying again later may succeed without anybody changing anything. */
  retryable: boolean;
  /** The original message, redacted and shortened. */
  detail: string;
}

export interface DiagnosisContext {
  cloud: CloudProfile;
  appClientId: string;
  tenantId?: string;
  /**
   * Whether the refused request read or wrote (a blob data role is named by it); taken from the
   * refused request's method when not given.
   */
  access?: 'read' | 'write';
}

/** How a customer grants the provider blob data access (infra/customer): the script and the Bicep. */
const blobAccessGrant = (role: 'Reader' | 'Contributor'): string =>
  `infra/customer/onboard.sh --blob-access ${role}, or blobDataAccess='${role}' in infra/customer/subscription.bicep or management-group.bicep`;

type Entry =
  Omit<Diagnosis, 'code' | 'detail'> | ((context: DiagnosisContext) => Omit<Diagnosis, 'code' | 'detail'>);

const provisionFix = (context: DiagnosisContext): string =>
  `Ask the customer's admin to provision the app in their tenant: open ${adminConsentUrl(
    context.cloud,
    context.tenantId ?? '{tenantId}',
    context.appClientId,
  )} or run \`az ad sp create --id ${context.appClientId}\` in tenant ${context.tenantId ?? '{tenantId}'}, then grant roles (infra/customer).`;

/** Entra error numbers (the n of AADSTSn). Messages follow Entra's documented meanings. */
const ENTRA: Record<string, Entry> = {
  '700016': (context) => ({
    category: 'onboarding',
    owner: 'customer',
    meaning:
      "The provider's app is not provisioned in the customer tenant (no service principal there), or the tenant is not the one intended.",
    fix: provisionFix(context),
    retryable: false,
  }),
  '7000112': (context) => ({
    category: 'onboarding',
    owner: 'customer',
    meaning: "The app's service principal is disabled in the customer tenant.",
    fix: `Ask the customer's admin to enable the service principal of app ${context.appClientId} (Enterprise applications > Properties > Enabled for users to sign in).`,
    retryable: false,
  }),
  '700236': {
    category: 'configuration',
    owner: 'provider',
    meaning:
      "An Entra-issued managed identity token was matched against a federated credential on an app registered in another tenant than the token issuer. The FIC must sit on the provider's multitenant app in the provider's home tenant.",
    fix: "Remove any app the customer created for us; configure the FIC on the provider's multitenant app (home tenant) and use that app's client id (TENANT_FLEET_APP_CLIENT_ID); the customer only provisions its service principal.",
    retryable: false,
  },
  '70021': {
    category: 'configuration',
    owner: 'provider',
    meaning: 'The app has no federated identity credential matching the presented managed identity token.',
    fix: "Add the FIC to the provider's app: issuer https://login.microsoftonline.com/{homeTenant}/v2.0, subject the MI's principal (object) id, audience api://AzureADTokenExchange (infra/app/app-registration.bicep does this).",
    retryable: false,
  },
  '700211': {
    category: 'configuration',
    owner: 'provider',
    meaning: "No federated credential of the app trusts the assertion's issuer.",
    fix: 'Set the FIC issuer to https://login.microsoftonline.com/{homeTenant}/v2.0 of the tenant the managed identity lives in (cross-cloud is not supported).',
    retryable: false,
  },
  '700212': {
    category: 'configuration',
    owner: 'provider',
    meaning: "No federated credential of the app accepts the assertion's audience.",
    fix: 'Use the FIC audience of your cloud (api://AzureADTokenExchange, ...USGov or ...China) both in the FIC and in TENANT_FLEET_CLOUD.',
    retryable: false,
  },
  '700213': {
    category: 'configuration',
    owner: 'provider',
    meaning:
      "No federated credential of the app trusts the assertion's subject (the managed identity's principal id).",
    fix: 'Check TENANT_FLEET_MI_CLIENT_ID names the user-assigned identity whose principal (object) id is the FIC subject.',
    retryable: false,
  },
  '700024': {
    category: 'transient',
    owner: 'none',
    meaning: 'The client assertion is outside its valid time range (expired or not yet valid).',
    fix: 'Retry; if it persists check the host clock. A fresh managed identity token is requested automatically.',
    retryable: true,
  },
  '50013': {
    category: 'configuration',
    owner: 'provider',
    meaning: 'The client assertion is invalid (malformed or not acceptable to Entra).',
    fix: 'Check the managed identity token source; the assertion must be the MI token for the FIC audience.',
    retryable: false,
  },
  '700027': {
    category: 'configuration',
    owner: 'provider',
    meaning: "The client assertion failed signature validation against its issuer's keys.",
    fix: 'The assertion must come straight from the managed identity endpoint of the FIC issuer tenant and cloud.',
    retryable: false,
  },
  '90002': {
    category: 'input',
    owner: 'provider',
    meaning:
      'The tenant does not exist in this cloud: Entra has no metadata for it (MSAL reports endpoints_resolution_error, which an unreachable or untrusted authority host also causes).',
    fix: 'Correct the tenant id in the registry, or register the tenant under the right cloud; if every tenant fails so, check the authority host is reachable.',
    retryable: false,
  },
  '500011': {
    category: 'configuration',
    owner: 'provider',
    meaning: 'The resource (API) asked for is not available in the tenant.',
    fix: 'Check TENANT_FLEET_CLOUD: the scope asked for must exist in that cloud.',
    retryable: false,
  },
  '53003': {
    category: 'permission',
    owner: 'customer',
    meaning: "A Conditional Access policy of the customer blocks the app's sign-in.",
    fix: "Ask the customer's admin to exclude the provider's service principal from the blocking Conditional Access policy.",
    retryable: false,
  },
};

const REQUEST_SHAPE: Entry = {
  category: 'configuration',
  owner: 'provider',
  meaning: 'Entra refused the shape of the token request.',
  fix: 'This is a product defect or a wrong cloud setting; report it with the detail.',
  retryable: false,
};
for (const code of ['900144', '70003', '1002012', '7000218', '7000215', '700038'])
  ENTRA[code] = REQUEST_SHAPE;
// Same faults under Entra's other numbers: a malformed JWT (50027) and a key absent from the issuer's metadata (7000272).
ENTRA['50027'] = ENTRA['50013']!;
ENTRA['7000272'] = ENTRA['700027']!;

/** ARM and Azure Storage service error codes. */
const SERVICE: Record<string, Entry> = {
  AuthorizationFailed: (context) => ({
    category: 'permission',
    owner: 'customer',
    meaning: "The app's service principal has no role that allows reading this scope.",
    fix: `Ask the customer to assign Reader to the service principal of app ${context.appClientId} on the subscription (infra/customer/onboard.sh, or infra/customer/subscription.bicep).`,
    retryable: false,
  }),
  InvalidAuthenticationTokenTenant: {
    category: 'input',
    owner: 'provider',
    meaning: 'The subscription belongs to another tenant than the one registered.',
    fix: 'Correct the subscription list of this tenant in the registry, or register the owning tenant.',
    retryable: false,
  },
  SubscriptionNotFound: {
    category: 'input',
    owner: 'provider',
    meaning: 'The subscription does not exist (or was moved or deleted).',
    fix: "Remove the subscription from the tenant's subscription list in the registry.",
    retryable: false,
  },
  NoVisibleSubscriptions: (context) => ({
    category: 'permission',
    owner: 'customer',
    meaning: 'The service principal signs in but sees no subscription: no role has been granted.',
    fix: `Ask the customer to assign Reader to the service principal of app ${context.appClientId} on the subscriptions to manage (infra/customer).`,
    retryable: false,
  }),
  SubscriptionRequestsThrottled: {
    category: 'throttling',
    owner: 'none',
    meaning: 'ARM throttled the reads of this subscription.',
    fix: 'Nothing to do: the sweep backs off and retries. Lower TENANT_FLEET_SUBSCRIPTION_CONCURRENCY if it persists.',
    retryable: true,
  },
  AuthorizationPermissionMismatch: (context) =>
    context.access === 'write'
      ? {
          category: 'permission',
          owner: 'customer',
          meaning:
            'The service principal may not write blobs in this storage account: writing and deleting need Storage Blob Data Contributor (Storage Blob Data Reader only reads).',
          fix: `Ask the customer to assign Storage Blob Data Contributor to the service principal of app ${context.appClientId} on the account (${blobAccessGrant('Contributor')}).`,
          retryable: false,
        }
      : {
          category: 'permission',
          owner: 'customer',
          meaning:
            'The service principal may not read blobs in this storage account (no Storage Blob Data role).',
          fix: `Ask the customer to assign Storage Blob Data Reader to the service principal of app ${context.appClientId} on the account (${blobAccessGrant('Reader')}).`,
          retryable: false,
        },
  AuthorizationFailure: {
    category: 'permission',
    owner: 'customer',
    meaning:
      'The storage account refuses the request: its network rules (firewall) do not allow the caller, or the operation is not allowed.',
    fix: "Ask the customer to allow the provider's traffic in the account's networking settings (trusted services, a private endpoint, or an IP rule).",
    retryable: false,
  },
  InvalidAuthenticationInfo: {
    category: 'configuration',
    owner: 'provider',
    meaning: 'Azure Storage refused the token (wrong tenant or audience).',
    fix: 'The account must belong to the tenant the token was issued in; check the tenant registered for this subscription.',
    retryable: false,
  },
  KeyBasedAuthenticationNotPermitted: {
    category: 'configuration',
    owner: 'provider',
    meaning: 'Shared key access is disabled on the account; only Entra tokens are accepted.',
    fix: 'Use Entra (the FIC chain), never account keys.',
    retryable: false,
  },
  ManagedIdentityInvalidResource: {
    category: 'configuration',
    owner: 'provider',
    meaning:
      "The managed identity endpoint refused the token audience (AADSTS500011): Entra in the provider's home tenant has no such resource, so no assertion can be made for any tenant.",
    fix: 'Set TENANT_FLEET_CLOUD to the cloud the Function App runs in: its FIC audience (api://AzureADTokenExchange, ...USGov or ...China) is the resource asked of the endpoint, without /.default.',
    retryable: false,
  },
  ManagedIdentityUnavailable: {
    category: 'configuration',
    owner: 'provider',
    meaning: 'The managed identity endpoint gave no token for the configured user-assigned identity.',
    fix: 'Assign the user-assigned identity to the Function App and set TENANT_FLEET_MI_CLIENT_ID to its client id.',
    retryable: false,
  },
  PoisonMessage: {
    category: 'transient',
    owner: 'provider',
    meaning: 'The tenant failed on every delivery of its sweep message and was moved to the poison queue.',
    fix: 'Look at the last error of the tenant; run it again on demand once fixed.',
    retryable: false,
  },
  TenantExcluded: {
    category: 'input',
    owner: 'provider',
    meaning: 'The tenant is excluded from sweeps in the registry.',
    fix: 'Enable it in the registry (PATCH /api/tenants/{tenantId} {"enabled": true}) when it should be swept again.',
    retryable: false,
  },
  CircuitOpen: {
    category: 'input',
    owner: 'provider',
    meaning: 'The tenant failed too many sweeps in a row; the circuit breaker skips it until it is fixed.',
    fix: 'Fix the cause in its last error, then verify it (POST /api/tenants/{tenantId}/diagnose) or reset it (POST /api/tenants/{tenantId}/reset).',
    retryable: false,
  },
  InvalidRegistryRow: {
    category: 'input',
    owner: 'provider',
    meaning: 'A registry row could not be read as a tenant; it was skipped.',
    fix: 'Correct or delete the row (tenant ids are GUIDs; subscription lists are GUIDs).',
    retryable: false,
  },
  TenantRemoved: {
    category: 'input',
    owner: 'provider',
    meaning: 'The tenant was removed from the registry after the run started.',
    fix: 'Nothing to do.',
    retryable: false,
  },
  SubscriptionNotVisible: (context) => ({
    category: 'permission',
    owner: 'customer',
    meaning:
      "A subscription in the tenant's list is not visible to the service principal (no role on it, or it does not exist).",
    fix: `Ask the customer to assign Reader to the service principal of app ${context.appClientId} on it, or remove it from the list.`,
    retryable: false,
  }),
  SubscriptionDisabled: {
    category: 'input',
    owner: 'customer',
    meaning:
      'The subscription is Disabled (read-only; its resources may be deallocated). It is not swept, and its inventory is kept as last seen.',
    fix: "Nothing to do if intended; the customer re-enables it (billing) to have it swept again, or the operator excludes it from the tenant's scope.",
    retryable: false,
  },
  SubscriptionDeleted: {
    category: 'input',
    owner: 'none',
    meaning: 'The subscription was deleted: its inventory is retired (each resource recorded as removed).',
    fix: "Nothing to do; remove it from the tenant's subscription list if it is listed there.",
    retryable: false,
  },
  SubscriptionMoved: {
    category: 'input',
    owner: 'provider',
    meaning:
      'The subscription moved to another tenant: it is retired here (this tenant keeps its change history) and is baselined by the new tenant when that tenant is registered and swept.',
    fix: 'Register the tenant named in the detail (if it is a customer) so the subscription is inventoried there.',
    retryable: false,
  },
  RunTimedOut: {
    category: 'transient',
    owner: 'provider',
    meaning:
      'The run did not finish within TENANT_FLEET_RUN_TIMEOUT_MINUTES; unfinished tenants were abandoned.',
    fix: 'Look for workers that stopped (poison queue, host logs); the next run starts normally.',
    retryable: false,
  },
  TransientFailure: {
    category: 'transient',
    owner: 'none',
    meaning: 'The service was unavailable or the connection failed.',
    fix: 'Nothing to do: the message is redelivered and retried.',
    retryable: true,
  },
};

function describe(entry: Entry, context: DiagnosisContext): Omit<Diagnosis, 'code' | 'detail'> {
  return typeof entry === 'function' ? entry(context) : entry;
}

/** The AADSTS number of an @azure/identity or MSAL error, if any. */
export function entraErrorNumber(error: unknown): string | undefined {
  const cause = (error as { cause?: { errorNo?: unknown; errorCode?: unknown } } | null)?.cause;
  if (cause && (typeof cause.errorNo === 'string' || typeof cause.errorNo === 'number'))
    return String(cause.errorNo);
  const message = messageOf(error);
  return /AADSTS(\d{4,7})/.exec(message)?.[1] ?? /Error\(s\):\s*(\d{4,7})/.exec(message)?.[1];
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : '';
}

/** Whether an error comes from the managed identity credential (not from the token exchange). */
function fromManagedIdentity(error: unknown, detail: string): boolean {
  return (
    (error as { name?: unknown } | null)?.name === 'CredentialUnavailableError' ||
    detail.startsWith('ManagedIdentityCredential')
  );
}

const TRANSIENT_NETWORK =
  /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|socket hang up|network|ENOTFOUND|EAI_AGAIN/i;

/** True when the refused request was a write (an SDK RestError carries its request). */
function isWriteRequest(error: unknown): boolean {
  const method = (error as { request?: { method?: unknown } } | null)?.request?.method;
  return typeof method === 'string' && !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase());
}

/** Classifies any error of the credential chain, ARM or storage into a {@link Diagnosis}. */
export function diagnose(error: unknown, context: DiagnosisContext): Diagnosis {
  const detail = redact(messageOf(error).split('\n')[0] ?? '').slice(0, 500);
  // An unknown tenant fails MSAL's metadata discovery before any token request: no AADSTS number comes back.
  const entra = entraErrorNumber(error) ?? (/endpoints_resolution_error/.test(detail) ? '90002' : undefined);
  // The managed identity step passes Entra's refusal of an unknown resource through: it is the
  // provider's FIC audience that is wrong, not a resource of the customer's tenant.
  if (entra === '500011' && fromManagedIdentity(error, detail)) {
    return {
      code: 'ManagedIdentityInvalidResource',
      detail,
      ...describe(SERVICE.ManagedIdentityInvalidResource!, context),
    };
  }
  if (entra) {
    const entry = ENTRA[entra] ?? {
      category: 'unknown',
      owner: 'provider',
      meaning: `Entra refused the token request (AADSTS${entra}).`,
      fix: `Look up AADSTS${entra} in Microsoft's Entra error reference.`,
      retryable: false,
    };
    return { code: `AADSTS${entra}`, detail, ...describe(entry, context) };
  }
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'CredentialUnavailableError' || /managed ?identity/i.test(detail)) {
    return {
      code: 'ManagedIdentityUnavailable',
      detail,
      ...describe(SERVICE.ManagedIdentityUnavailable!, context),
    };
  }
  const status = statusCodeOf(error);
  const code = errorCodeOf(error);
  if (code && SERVICE[code]) {
    const access = context.access ?? (isWriteRequest(error) ? 'write' : 'read');
    return { code, detail, ...describe(SERVICE[code], { ...context, access }) };
  }
  if (status === 429)
    return {
      code: 'SubscriptionRequestsThrottled',
      detail,
      ...describe(SERVICE.SubscriptionRequestsThrottled!, context),
    };
  if (
    (status !== undefined && status >= 500) ||
    status === 408 ||
    TRANSIENT_NETWORK.test(detail) ||
    code === 'REQUEST_SEND_ERROR'
  ) {
    return { code: 'TransientFailure', detail, ...describe(SERVICE.TransientFailure!, context) };
  }
  return {
    code: code ?? (status ? `Http${status}` : 'UnexpectedError'),
    category: 'unknown',
    owner: 'provider',
    meaning: 'An unexpected error.',
    fix: 'See the detail; report it if it persists.',
    retryable: false,
    detail,
  };
}

/** A diagnosis for a condition found by the product itself (no exception). */
export function diagnosisFor(code: keyof typeof SERVICE, context: DiagnosisContext, detail = ''): Diagnosis {
  return { code, detail, ...describe(SERVICE[code]!, context) };
}

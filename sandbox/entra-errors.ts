/**
 * The AADSTS catalogue of the sandbox's Entra: every error the token and discovery endpoints can
 * answer, with the OAuth `error`, the HTTP status and the message text Entra sends.
 *
 * Sources (public reports of real responses, quoted in GitHub issues; searched 2026):
 * - 90002 `invalid_tenant` from the discovery endpoint (azure-cli #22145, keyvault-emulator #324);
 *   the token endpoint answers the same text as `invalid_request`.
 * - 900144 (MicrosoftDocs/azure-docs #43780), 900561 (POST only), 70003 (msal-dotnet #3023),
 *   1002012 (databricks-sql-nodejs #226, msgraph-sdk-python #181), 28000 (several resources).
 * - 7000218 missing credential, 401 `invalid_client` (secureworks/TokenMan #1).
 * - 90011 unexpected `client_assertion_type` (azure-activedirectory-library-for-ruby #53).
 * - 700016 `unauthorized_client` (azure-sdk-for-python #8314).
 * - 50027 malformed JWT, `invalid_request` (FriedrichWeinmann/MiniGraph #4).
 * - 700236: seed 003 (the cross-tenant FIC on an app registered in the customer tenant).
 * - 70021: seen as 400 `invalid_request` (2022) and later as 401 `invalid_client` (external-secrets
 *   #2783, 2023); the newer form is used. 700211 / 700213 (azure-workload-identity #1200, #1350),
 *   700212 follows the same pattern. All 401 `invalid_client`.
 * - 7000272 key not in the issuer's metadata (azure-workload-identity #1232), 700027 invalid
 *   signature, 700024 time range (msal-dotnet #4951, obikuro/Sato #1): 401 `invalid_client`.
 * - 500011 `invalid_resource` (msal-dotnet #3979).
 * - 7000112 `unauthorized_client`, "Application '{appId}'({displayName}) is disabled.", answered to a
 *   client-credentials request when the app's service principal in that tenant is disabled
 *   (https://github.com/Worklytics/psoxy/pull/74, fixed by `az ad sp update --id … --set
 *   accountEnabled=true`; also https://github.com/MicrosoftDocs/azure-docs/issues/28469). The status
 *   is not quoted there; 400 as for Entra's other `unauthorized_client` answer (700016).
 * The description format (message, then " Trace ID: … Correlation ID: … Timestamp: yyyy-mm-dd hh:mm:ssZ")
 * and the body fields follow the 2024-2025 responses quoted in those issues.
 */
import { randomUUID } from 'node:crypto';

/** One catalogue entry: the OAuth error, the status, and a message template. */
export interface EntraErrorDefinition<P> {
  error: string;
  status: number;
  message: (params: P) => string;
}

const FIC_DOC = 'https://learn.microsoft.com/entra/workload-id/workload-identity-federation';
const NOT_PROVISIONED =
  'This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.';

function define<P>(error: string, status: number, message: (params: P) => string): EntraErrorDefinition<P> {
  return { error, status, message };
}

export const ENTRA_ERRORS = {
  90002: define<{ tenant: string }>(
    'invalid_request',
    400,
    ({ tenant }) =>
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  ),
  900144: define<{ parameter: string }>(
    'invalid_request',
    400,
    ({ parameter }) => `The request body must contain the following parameter: '${parameter}'.`,
  ),
  900561: define<{ method: string }>(
    'invalid_request',
    400,
    ({ method }) => `The endpoint only accepts POST requests. Received a ${method} request.`,
  ),
  70003: define<{ grantType: string }>(
    'unsupported_grant_type',
    400,
    ({ grantType }) => `The app requested an unsupported grant type '${grantType}'.`,
  ),
  1002012: define<{ scope: string }>(
    'invalid_scope',
    400,
    ({ scope }) =>
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
  ),
  28000: define<{ scope: string }>(
    'invalid_scope',
    400,
    ({ scope }) =>
      `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scope} is not valid.`,
  ),
  7000218: define<Record<string, never>>(
    'invalid_client',
    401,
    () => `The request body must contain the following parameter: 'client_assertion' or 'client_secret'.`,
  ),
  90011: define<Record<string, never>>('invalid_request', 400, () => 'Unexpected client assertion type.'),
  700016: define<{ appId: string; directory: string }>(
    'unauthorized_client',
    400,
    ({ appId, directory }) =>
      `Application with identifier '${appId}' was not found in the directory '${directory}'. ${NOT_PROVISIONED} You may have sent your authentication request to the wrong tenant.`,
  ),
  7000112: define<{ appId: string; appName: string }>(
    'unauthorized_client',
    400,
    ({ appId, appName }) => `Application '${appId}'(${appName}) is disabled.`,
  ),
  50027: define<Record<string, never>>('invalid_request', 400, () => 'JWT token is invalid or malformed.'),
  700236: define<{ issuer: string }>(
    'invalid_client',
    401,
    ({ issuer }) =>
      `Entra ID tokens issued by issuer '${issuer}' may not be used for federated identity credential flows for applications or managed identities registered in this tenant.`,
  ),
  70021: define<{ issuer: string; subject: string; audience: string }>(
    'invalid_client',
    401,
    ({ issuer, subject, audience }) =>
      `No matching federated identity record found for presented assertion. Assertion Issuer: '${issuer}'. Assertion Subject: '${subject}'. Assertion Audience: '${audience}'. ${FIC_DOC}`,
  ),
  700211: define<{ issuer: string }>(
    'invalid_client',
    401,
    ({ issuer }) =>
      `No matching federated identity record found for presented assertion issuer '${issuer}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${FIC_DOC}`,
  ),
  700213: define<{ subject: string }>(
    'invalid_client',
    401,
    ({ subject }) =>
      `No matching federated identity record found for presented assertion subject '${subject}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${FIC_DOC}`,
  ),
  700212: define<{ audience: string }>(
    'invalid_client',
    401,
    ({ audience }) =>
      `No matching federated identity record found for presented assertion audience '${audience}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${FIC_DOC}`,
  ),
  7000272: define<{ keyId: string; issuer: string }>(
    'invalid_client',
    401,
    ({ keyId, issuer }) =>
      `The certificate with identifier ${keyId} used to sign the federated credential could not be found in the metadata of identity provider ${issuer}. Please validate that your Identity Provider's metadata exposes the key used to sign the incoming token.`,
  ),
  700027: define<{ reason: string }>(
    'invalid_client',
    401,
    ({ reason }) => `Client assertion contains an invalid signature. [Reason - ${reason}]`,
  ),
  700024: define<{ now: string; validFrom: string; expiry: string }>(
    'invalid_client',
    401,
    ({ now, validFrom, expiry }) =>
      `Client assertion is not within its valid time range. Current time: ${now}, assertion valid from ${validFrom}, expiry time of assertion ${expiry}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`,
  ),
  500011: define<{ resource: string; tenantName: string }>(
    'invalid_resource',
    400,
    ({ resource, tenantName }) =>
      `The resource principal named ${resource} was not found in the tenant named ${tenantName}. ${NOT_PROVISIONED} You might have sent your authentication request to the wrong tenant.`,
  ),
} as const;

export type EntraErrorCode = keyof typeof ENTRA_ERRORS;
export type EntraErrorParams<C extends EntraErrorCode> = Parameters<(typeof ENTRA_ERRORS)[C]['message']>[0];

/** The JSON body Entra's v2.0 endpoints answer on failure. */
export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
}

/** Entra's timestamp format in error bodies: `2025-07-07 10:30:48Z`. */
export function entraTimestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/** Entra's time format inside messages (seven fraction digits): `2024-10-02T22:05:03.6755165Z`. */
export function entraPreciseTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, (_match, millis: string) => `.${millis}0000Z`);
}

/**
 * Builds the status and body of an Entra error. `correlationId` echoes the caller's
 * `client-request-id` when it sent one (as Entra does); `error` overrides the catalogue's OAuth error
 * where one code has two (90002 is `invalid_tenant` on the discovery endpoint).
 */
export function entraError<C extends EntraErrorCode>(
  code: C,
  params: EntraErrorParams<C>,
  options: { nowMs: number; correlationId?: string; error?: string },
): { status: number; body: EntraErrorBody } {
  const definition = ENTRA_ERRORS[code] as EntraErrorDefinition<EntraErrorParams<C>>;
  const traceId = randomUUID();
  const correlationId = options.correlationId ?? randomUUID();
  const timestamp = entraTimestamp(options.nowMs);
  return {
    status: definition.status,
    body: {
      error: options.error ?? definition.error,
      error_description: `AADSTS${code}: ${definition.message(params)} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

/**
 * The sandbox's managed identity endpoint, in the App Service / Functions form (API version
 * 2019-08-01): `GET /msi/token?api-version=2019-08-01&resource=<r>&client_id=<id>` with the
 * `X-IDENTITY-HEADER` header, served on plain HTTP like the platform's local endpoint. This is what
 * @azure/identity's ManagedIdentityCredential sends when `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`
 * are set (MSAL node `AppService.createRequest`: header `X-IDENTITY-HEADER`, query `api-version`,
 * `resource` = the scope without `/.default`, and `client_id` / `object_id` / `mi_res_id`).
 *
 * Failures, as the real endpoint answers them (public reports; searched 2026):
 * - wrong or missing `X-IDENTITY-HEADER`: 403 (2019-08-01 changed it from 401 to 403, per
 *   azure-sdk-for-net #26578). The body text is not documented; ours follows the endpoint's
 *   `{ statusCode, message, correlationId }` shape.
 * - unsupported or missing api-version: 400 in ASP.NET API versioning's shape,
 *   `{ error: { code: 'UnsupportedApiVersion', message, innerError: null } }` (azure-docs #53726,
 *   azure-sdk-for-net #16334); `ApiVersionUnspecified` when there is none.
 * - unknown (or unassigned) identity: 400 `{ statusCode: 400, message: 'No User Assigned or Delegated
 *   Managed Identity found for specified ClientId/ResourceId/PrincipalId.', correlationId }`
 *   (azure-search-openai-demo #2148; older text 'No MSI found for specified ClientId/ResourceId.').
 * - no identity named and no system-assigned identity: 400 'Unable to load the proper Managed
 *   Identity.' (azure-sdk-for-net #43691, azure-container-apps #442). The sandbox's function app has
 *   no system-assigned identity, so a request must name a user-assigned one.
 * - missing `resource`: 400 in the same shape (text not found in public reports; ours).
 * - a resource Entra does not know (an unknown app id URI, or a scope with `/.default` left on):
 *   400 carrying Entra's AADSTS500011 ("The resource principal named ... was not found in the tenant
 *   named ..."), as the MI endpoint passes Entra's refusal through
 *   (AzureAD/microsoft-authentication-library-for-dotnet#3979: status BadRequest, invalid_resource
 *   AADSTS500011), in the App Service `{ statusCode, message, correlationId }` envelope
 *   (Azure/azure-sdk-for-net#44685).
 *
 * Tokens: for the token exchange (`api://AzureADTokenExchange`) the v2.0 shape of seed 003 (aud the
 * exchange app id, azp, ver 2.0); for ARM, Storage and other v1 resources a v1.0 token (iss
 * sts.windows.net, appid, appidacr, ver 1.0, aud the resource as asked) whose iat and nbf are both
 * backdated five minutes, as Entra issues them for managed identities.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './http.js';
import { entraV1Issuer, entraV2Issuer, nowSeconds, TOKEN_EXCHANGE_AUDIENCES } from './identity-context.js';
import type { IdentityContext } from './identity-context.js';
import { TOKEN_EXCHANGE_APP_ID } from './world.js';
import type { ManagedIdentity } from './world.js';

export type { IdentityContext } from './identity-context.js';

/** The only API version of the App Service endpoint the sandbox speaks (what MSAL node sends). */
export const APP_SERVICE_MSI_API_VERSION = '2019-08-01';
/** Lifetime of MI tokens: 24 hours, as Entra issues them for managed identities (seed 003). */
export const MANAGED_IDENTITY_TOKEN_LIFETIME_SECONDS = 24 * 3600;

export interface ManagedIdentityHandlerOptions {
  /** The secret-like header value; compared in constant time. */
  identityHeader: string;
  /** MIs assigned to "the function app"; default: every MI in the world. */
  assignedClientIds?: string[];
}

/** Compares two strings in constant time (hashing first so that lengths do not leak either). */
function sameSecret(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function sendMiError(response: ServerResponse, status: number, message: string): void {
  const correlationId = randomUUID();
  sendJson(
    response,
    status,
    { statusCode: status, message, correlationId },
    { 'x-correlation-id': correlationId },
  );
}

/** Resources Entra issues v1.0 tokens for (compared without a trailing slash). */
const V1_RESOURCES = [
  'https://management.azure.com',
  'https://management.core.windows.net',
  'https://storage.azure.com',
  'https://graph.microsoft.com',
  'https://vault.azure.net',
];

const bare = (resource: string): string => resource.replace(/\/+$/, '');
const isTokenExchange = (resource: string): boolean =>
  (TOKEN_EXCHANGE_AUDIENCES as readonly string[]).includes(bare(resource));

/** Whether Entra knows `resource`: a v1 resource, the token exchange, or an app of the world (id or api://id). */
export function isKnownResource(
  world: { applications: Array<{ appId: string }> },
  resource: string,
): boolean {
  const wanted = bare(resource).toLowerCase();
  if (V1_RESOURCES.includes(wanted) || isTokenExchange(resource)) return true;
  return world.applications.some((app) => wanted === app.appId || wanted === `api://${app.appId}`);
}

/** The `aud` of an MI token: the token exchange app id for `api://AzureADTokenExchange*`, else the resource. */
export function managedIdentityAudience(resource: string): string {
  return isTokenExchange(resource) ? TOKEN_EXCHANGE_APP_ID : resource;
}

/** Finds the MI a request names, among those assigned to the app; `undefined` when none matches. */
function findIdentity(
  candidates: ManagedIdentity[],
  query: URLSearchParams,
): { named: boolean; identity: ManagedIdentity | undefined } {
  const clientId = query.get('client_id')?.toLowerCase();
  const principalId = (query.get('principal_id') ?? query.get('object_id'))?.toLowerCase();
  const resourceId = query.get('mi_res_id')?.toLowerCase();
  if (clientId) return { named: true, identity: candidates.find((mi) => mi.clientId === clientId) };
  if (principalId) return { named: true, identity: candidates.find((mi) => mi.principalId === principalId) };
  if (resourceId) {
    return { named: true, identity: candidates.find((mi) => mi.resourceId.toLowerCase() === resourceId) };
  }
  return { named: false, identity: undefined };
}

/**
 * Creates the request handler of the managed identity endpoint (path `/msi/token`, plain HTTP).
 * Every request counts as `counters.managedIdentity`. Success answers
 * `{ access_token, expires_on, resource, token_type, client_id }` with `resource` echoed exactly as
 * asked (MSAL's cache is keyed on it) and `expires_on` in epoch seconds as a string.
 */
export function createManagedIdentityHandler(
  ctx: IdentityContext,
  options: ManagedIdentityHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const assigned = options.assignedClientIds?.map((id) => id.toLowerCase());

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname.replace(/\/+$/, '').toLowerCase() !== '/msi/token') {
      sendJson(response, 404, {
        statusCode: 404,
        message: `No endpoint at ${url.pathname}; use /msi/token.`,
      });
      return;
    }
    ctx.counters.managedIdentity++;
    if (request.method !== 'GET') {
      sendMiError(
        response,
        405,
        `The managed identity endpoint accepts GET only, not ${request.method ?? ''}.`,
      );
      return;
    }

    const header = request.headers['x-identity-header'];
    const presented = Array.isArray(header) ? header[0] : header;
    if (presented === undefined || !sameSecret(presented, options.identityHeader)) {
      sendMiError(
        response,
        403,
        'The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.',
      );
      return;
    }

    const query = url.searchParams;
    const apiVersion = query.get('api-version');
    if (!apiVersion) {
      sendJson(response, 400, {
        error: {
          code: 'ApiVersionUnspecified',
          message: 'An API version is required, but was not specified.',
          innerError: null,
        },
      });
      return;
    }
    if (apiVersion !== APP_SERVICE_MSI_API_VERSION) {
      sendJson(response, 400, {
        error: {
          code: 'UnsupportedApiVersion',
          message: `The HTTP resource that matches the request URI '${url.origin}${url.pathname}' does not support the API version '${apiVersion}'.`,
          innerError: null,
        },
      });
      return;
    }

    const resource = query.get('resource');
    if (!resource) {
      sendMiError(response, 400, "The 'resource' query parameter is required (the audience of the token).");
      return;
    }

    // Read the world fresh: the admin API may have added or removed identities since the last request.
    const identities = ctx.world.managedIdentities.filter(
      (mi) => !assigned || assigned.includes(mi.clientId),
    );
    const { named, identity } = findIdentity(identities, query);
    if (!named) {
      sendMiError(response, 400, 'Unable to load the proper Managed Identity.');
      return;
    }
    if (!identity) {
      sendMiError(
        response,
        400,
        'No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.',
      );
      return;
    }

    if (!isKnownResource(ctx.world, resource)) {
      const tenantName =
        ctx.world.tenants.find((t) => t.id === identity.tenantId)?.displayName ?? identity.tenantId;
      sendMiError(
        response,
        400,
        `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${tenantName}. ` +
          'This can happen if the application has not been installed by the administrator of the tenant or consented ' +
          'to by any user in the tenant. You might have sent your authentication request to the wrong tenant.',
      );
      return;
    }

    const now = nowSeconds(ctx);
    const accessToken = isTokenExchange(resource)
      ? await ctx.keys.sign(
          identity.tenantId,
          {
            aud: managedIdentityAudience(resource),
            iss: entraV2Issuer(identity.tenantId),
            sub: identity.principalId,
            oid: identity.principalId,
            azp: identity.clientId,
            azpacr: '2',
            idtyp: 'app',
            tid: identity.tenantId,
            ver: '2.0',
            xms_mirid: identity.resourceId,
          },
          MANAGED_IDENTITY_TOKEN_LIFETIME_SECONDS,
          now,
        )
      : await ctx.keys.sign(
          identity.tenantId,
          {
            aud: resource,
            iss: entraV1Issuer(identity.tenantId),
            idp: entraV1Issuer(identity.tenantId),
            appid: identity.clientId,
            appidacr: '2',
            idtyp: 'app',
            oid: identity.principalId,
            sub: identity.principalId,
            tid: identity.tenantId,
            ver: '1.0',
            xms_mirid: identity.resourceId,
          },
          MANAGED_IDENTITY_TOKEN_LIFETIME_SECONDS,
          now,
          // v1 MI tokens are issued five minutes back: iat and nbf together.
          now - 5 * 60,
        );
    sendJson(response, 200, {
      access_token: accessToken,
      expires_on: String(now + MANAGED_IDENTITY_TOKEN_LIFETIME_SECONDS),
      resource,
      token_type: 'Bearer',
      client_id: identity.clientId,
    });
  }

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      // Only an internal fault lands here (bad input is answered above); say what failed, never a token.
      if (!response.headersSent) {
        sendMiError(response, 500, `The managed identity endpoint failed: ${(error as Error).message}`);
      } else {
        response.destroy();
      }
    });
  };
}

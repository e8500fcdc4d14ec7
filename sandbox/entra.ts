/**
 * The sandbox's Entra ID (v2.0 endpoints, served over HTTPS), per tenant; the tenant path segment is
 * the tenant GUID or its `domain`:
 * - `GET /{tenant}/v2.0/.well-known/openid-configuration`: discovery (MSAL needs `issuer`,
 *   `authorization_endpoint`, `token_endpoint`, `jwks_uri`, and the issuer's host must be the
 *   authority's host).
 * - `GET /{tenant}/discovery/v2.0/keys` (and the v1 `/discovery/keys`): the tenant's JWKS.
 * - `POST /{tenant}/oauth2/v2.0/token`: the client-credentials grant with a federated client
 *   assertion (an MI token), validated for real, answering a signed v1.0 access token.
 *
 * Order of the token checks (each failure answers the catalogue's AADSTS error, `entra-errors.ts`):
 *  1. tenant exists (90002);
 *  2. request shape: grant_type (900144, then 70003), client_id, scope (900144), client_assertion
 *     (7000218), client_assertion_type (900144, then 90011), scope shape (1002012, 28000);
 *  3. the application: registered, and in a tenant other than its home tenant multitenant AND
 *     provisioned there with a service principal (700016), which is not disabled (7000112);
 *  4. the assertion is a JWT with an issuer (50027);
 *  5. an Entra-issued assertion (`login.microsoftonline.com/{X}/v2.0` or `sts.windows.net/{X}/`) whose
 *     tenant X is not the app's home tenant: 700236 (seed 003). Entra decides this from the issuer
 *     claim alone, before any FIC lookup: it is the seed's failure even with a matching FIC;
 *  6. FIC matching by issuer: no FIC at all (70021), none with this issuer (700211). The issuer must
 *     be chosen first because it decides whose published keys verify the signature;
 *  7. the signing key must be in the issuer's metadata (7000272), the signature valid (700027), and
 *     nbf/exp valid by the sandbox clock with Entra's 5 minute skew (700024);
 *  8. FIC matching of subject (700213) then audience (700212) among the issuer's FICs; FIC audience
 *     `api://AzureADTokenExchange` also accepts the token exchange app id, which MI tokens carry;
 *  9. the resource of the scope is known (500011): client authentication is decided before it.
 * Public reports show the individual errors, not Entra's internal order; this order is the one that
 * explains every report (e.g. 700211 and 700213 are answered for valid, unexpired tokens).
 *
 * Errors never echo the assertion or any token: only claim values Entra itself quotes (issuer,
 * subject, audience, key id).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiTokens } from './api-tokens.js';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { JWTPayload } from 'jose';
import { entraError, entraPreciseTime } from './entra-errors.js';
import type { EntraErrorBody, EntraErrorCode, EntraErrorParams } from './entra-errors.js';
import { readBody, sendJson } from './http.js';
import { entraV1Issuer, nowMs } from './identity-context.js';
import type { IdentityContext } from './identity-context.js';
import { TokenRejectedError } from './keys.js';
import { TOKEN_EXCHANGE_APP_ID } from './world.js';
import type { Application, Tenant, World } from './world.js';

export type { IdentityContext } from './identity-context.js';

export interface EntraHandlerOptions {
  /** e.g. https://127.0.0.1:PORT, known only after listen(), hence a function. */
  authorityHost: () => string;
  /** Client-secret grants of the provider's operator clients for its own API (api-tokens.ts). */
  apiTokens?: ApiTokens;
}

export const CLIENT_ASSERTION_TYPE_JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Lifetime of access tokens (one hour); `expires_in` is answered one second shorter, as Entra does. */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 3600;
/** Entra's allowed clock skew for assertions. */
const CLOCK_SKEW_SECONDS = 300;

/** Resources the sandbox's Entra issues tokens for: the `aud` of their v1.0 tokens (no trailing slash). */
export const KNOWN_RESOURCES: readonly string[] = [
  'https://management.azure.com',
  // The classic ARM resource (Azure Service Management's id), still accepted for ARM tokens.
  'https://management.core.windows.net',
  'https://storage.azure.com',
  'https://graph.microsoft.com',
];

/** OpenID scopes that may accompany a resource scope and name no resource. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A refusal of the token request, carrying the answer to send (built lazily with the request's ids). */
class EntraRejection extends Error {
  constructor(
    readonly code: EntraErrorCode,
    readonly build: (options: { nowMs: number; correlationId?: string; error?: string }) => {
      status: number;
      body: EntraErrorBody;
    },
  ) {
    super(`AADSTS${code}`);
    this.name = 'EntraRejection';
  }
}

function reject<C extends EntraErrorCode>(code: C, params: EntraErrorParams<C>): never {
  throw new EntraRejection(code, (options) => entraError(code, params, options));
}

/** The world tenant a path segment names: its GUID or its domain (case-insensitive). */
export function resolveTenant(world: World, segment: string): Tenant | undefined {
  const wanted = segment.toLowerCase();
  return world.tenants.find((tenant) => tenant.id === wanted || tenant.domain?.toLowerCase() === wanted);
}

/** The tenant id of an Entra issuer (v2.0 or v1.0 form), lower-cased; undefined for other issuers. */
export function entraIssuerTenant(issuer: string): string | undefined {
  const match =
    /^https:\/\/login\.microsoftonline\.com\/([0-9a-f-]{36})\/v2\.0$/i.exec(issuer) ??
    /^https:\/\/sts\.windows\.net\/([0-9a-f-]{36})\/$/i.exec(issuer);
  const tenantId = match?.[1];
  return tenantId && GUID.test(tenantId) ? tenantId.toLowerCase() : undefined;
}

/** Whether an FIC audience accepts an assertion audience (`api://AzureADTokenExchange` = its app id). */
export function ficAudienceMatches(ficAudience: string, assertionAudience: string): boolean {
  if (ficAudience === assertionAudience) return true;
  return ficAudience === 'api://AzureADTokenExchange' && assertionAudience === TOKEN_EXCHANGE_APP_ID;
}

/** The v2.0 OpenID configuration of a tenant, as Entra publishes it (issuer on the authority's host). */
export function openIdConfiguration(authorityHost: string, tenantId: string): Record<string, unknown> {
  const base = `${authorityHost}/${tenantId}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: [
      'sub',
      'iss',
      'cloud_instance_name',
      'cloud_instance_host_name',
      'cloud_graph_host_name',
      'msgraph_host',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'nonce',
      'preferred_username',
      'name',
      'tid',
      'ver',
      'at_hash',
      'c_hash',
      'email',
    ],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
}

/** A path segment decoded, or as sent when its percent-encoding is broken (it then names no tenant). */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The caller's `client-request-id` (header or query), which Entra echoes as correlation id. */
function correlationIdOf(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers['client-request-id'];
  const value = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('client-request-id');
  return value && GUID.test(value) ? value.toLowerCase() : undefined;
}

function sendEntraError(
  response: ServerResponse,
  rejection: EntraRejection,
  options: { nowMs: number; correlationId?: string; error?: string },
): void {
  const { status, body } = rejection.build(options);
  sendJson(response, status, body, { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' });
}

/** Validated form of a client-credentials request (step 2). */
interface TokenRequest {
  clientId: string;
  assertion: string;
  resource: string;
}

function parseTokenRequest(form: URLSearchParams): TokenRequest {
  const grantType = form.get('grant_type');
  if (!grantType) reject(900144, { parameter: 'grant_type' });
  if (grantType !== 'client_credentials') reject(70003, { grantType });
  const clientId = form.get('client_id');
  if (!clientId) reject(900144, { parameter: 'client_id' });
  const scope = form.get('scope');
  if (!scope?.trim()) reject(900144, { parameter: 'scope' });
  const assertion = form.get('client_assertion');
  if (!assertion) reject(7000218, {});
  const assertionType = form.get('client_assertion_type');
  if (!assertionType) reject(900144, { parameter: 'client_assertion_type' });
  if (assertionType !== CLIENT_ASSERTION_TYPE_JWT_BEARER) reject(90011, {});

  const scopes = scope.trim().split(/\s+/);
  const resourceScopes = scopes.filter((value) => !OIDC_SCOPES.has(value));
  if (resourceScopes.length === 0) reject(1002012, { scope: scopes[0] ?? scope });
  for (const value of resourceScopes) {
    if (!value.endsWith('/.default')) reject(1002012, { scope: value });
  }
  // `https://management.azure.com//.default` names the resource `https://management.azure.com/`: the
  // token's audience keeps that trailing slash ("note the two slashes ... Azure Resource Manager
  // expects a slash in its audience claim": https://learn.microsoft.com/azure/active-directory/develop/msal-v1-app-scopes).
  const named = resourceScopes.map((value) => value.slice(0, -'/.default'.length));
  const resources = new Set(named.map((value) => value.replace(/\/+$/, '')));
  if (resources.size > 1) reject(28000, { scope });
  return { clientId: clientId.toLowerCase(), assertion, resource: named[0] ?? '' };
}

/** The app behind `client_id` as seen from the target tenant (step 3), with its SP there if any. */
function findApplication(world: World, tenant: Tenant, clientId: string) {
  const app = world.applications.find((candidate) => candidate.appId === clientId);
  const servicePrincipal = world.servicePrincipals.find(
    (sp) => sp.appId === clientId && sp.tenantId === tenant.id,
  );
  if (!app) reject(700016, { appId: clientId, directory: tenant.displayName });
  if (app.homeTenantId !== tenant.id && (app.signInAudience !== 'AzureADMultipleOrgs' || !servicePrincipal)) {
    reject(700016, { appId: clientId, directory: tenant.displayName });
  }
  if (servicePrincipal?.accountEnabled === false)
    reject(7000112, { appId: app.appId, appName: app.displayName });
  return { app, servicePrincipal };
}

function audiencesOf(claims: JWTPayload): string[] {
  if (typeof claims.aud === 'string') return [claims.aud];
  return Array.isArray(claims.aud)
    ? claims.aud.filter((value): value is string => typeof value === 'string')
    : [];
}

/** Steps 4-8: the assertion authenticates the app through one of its federated identity credentials. */
async function authenticateAssertion(
  ctx: IdentityContext,
  app: Application,
  assertion: string,
): Promise<void> {
  let claims: JWTPayload;
  let keyId: string;
  try {
    claims = decodeJwt(assertion);
    keyId = decodeProtectedHeader(assertion).kid ?? '';
  } catch {
    reject(50027, {});
  }
  const issuer = claims.iss;
  if (typeof issuer !== 'string' || issuer === '') reject(50027, {});
  const subject = typeof claims.sub === 'string' ? claims.sub : '';
  const audiences = audiencesOf(claims);

  const issuerTenantId = entraIssuerTenant(issuer);
  if (issuerTenantId && issuerTenantId !== app.homeTenantId) reject(700236, { issuer });

  const fics = app.federatedIdentityCredentials;
  if (fics.length === 0) reject(70021, { issuer, subject, audience: audiences.join(',') });
  const byIssuer = fics.filter((fic) => fic.issuer === issuer);
  if (byIssuer.length === 0) reject(700211, { issuer });

  // Only the world's tenants publish metadata (keys) here; any other issuer has none to verify with.
  const publishingTenant =
    issuerTenantId && ctx.world.tenants.some((tenant) => tenant.id === issuerTenantId)
      ? issuerTenantId
      : undefined;
  if (!publishingTenant || ctx.keys.signerOf(assertion) !== publishingTenant)
    reject(7000272, { keyId, issuer });
  try {
    await ctx.keys.verify(assertion, { tenantId: publishingTenant });
  } catch (error) {
    if (!(error instanceof TokenRejectedError)) throw error;
    // jose checks the signature before the times: expired / not-yet-valid means the signature held.
    // The times are then judged by the sandbox clock below, which tests may move.
    if (error.reason === 'bad-signature' || error.reason === 'unknown-key') {
      reject(700027, { reason: 'The provided signature value did not match the expected signature value.' });
    }
    if (error.reason === 'malformed') reject(50027, {});
  }
  const now = nowMs(ctx) / 1000;
  const notBefore = typeof claims.nbf === 'number' ? claims.nbf : undefined;
  const expiry = typeof claims.exp === 'number' ? claims.exp : undefined;
  if (
    expiry === undefined ||
    now > expiry + CLOCK_SKEW_SECONDS ||
    (notBefore !== undefined && now < notBefore - CLOCK_SKEW_SECONDS)
  ) {
    reject(700024, {
      now: entraPreciseTime(now * 1000),
      validFrom: entraPreciseTime((notBefore ?? 0) * 1000),
      expiry: entraPreciseTime((expiry ?? 0) * 1000),
    });
  }

  const bySubject = byIssuer.filter((fic) => fic.subject === subject);
  if (bySubject.length === 0) reject(700213, { subject });
  const audienceMatches = bySubject.some((fic) =>
    fic.audiences.some((ficAudience) =>
      audiences.some((audience) => ficAudienceMatches(ficAudience, audience)),
    ),
  );
  if (!audienceMatches) reject(700212, { audience: audiences.join(',') });
}

/**
 * Creates the request handler of the sandbox's Entra (serve it over HTTPS). Counts
 * `counters.countToken(tenantPathSegment)` per token POST and `counters.discovery` per discovery or
 * JWKS GET. The world is read fresh on every request.
 */
export function createEntraHandler(
  ctx: IdentityContext,
  options: EntraHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  async function discovery(response: ServerResponse, segment: string, kind: 'openid' | 'keys') {
    ctx.counters.discovery++;
    const tenant = resolveTenant(ctx.world, segment);
    if (!tenant) {
      const rejection = new EntraRejection(90002, (o) => entraError(90002, { tenant: segment }, o));
      sendEntraError(response, rejection, { nowMs: nowMs(ctx), error: 'invalid_tenant' });
      return;
    }
    if (kind === 'openid') sendJson(response, 200, openIdConfiguration(options.authorityHost(), tenant.id));
    else sendJson(response, 200, await ctx.keys.jwks(tenant.id));
  }

  async function token(request: IncomingMessage, response: ServerResponse, segment: string, url: URL) {
    const correlationId = correlationIdOf(request, url);
    const now = nowMs(ctx);
    try {
      if (request.method !== 'POST') reject(900561, { method: request.method ?? '' });
      ctx.counters.countToken(segment);
      const tenant = resolveTenant(ctx.world, segment);
      if (!tenant) reject(90002, { tenant: segment });

      let body = '';
      try {
        body = await readBody(request, 64 * 1024);
      } catch {
        sendJson(response, 413, {
          error: 'invalid_request',
          error_description: 'The request body is over 64 KiB.',
        });
        return;
      }
      const contentType = request.headers['content-type'] ?? '';
      const form = new URLSearchParams(contentType.includes('application/x-www-form-urlencoded') ? body : '');
      if (options.apiTokens?.handles(form)) {
        const answer = await options.apiTokens.issue(tenant.id, form);
        sendJson(response, answer.status, answer.body, {
          'cache-control': 'no-store, no-cache',
          pragma: 'no-cache',
        });
        return;
      }
      const tokenRequest = parseTokenRequest(form);
      const { app, servicePrincipal } = findApplication(ctx.world, tenant, tokenRequest.clientId);
      await authenticateAssertion(ctx, app, tokenRequest.assertion);
      if (!KNOWN_RESOURCES.includes(tokenRequest.resource.replace(/\/+$/, ''))) {
        reject(500011, { resource: tokenRequest.resource, tenantName: tenant.displayName });
      }

      const accessToken = await ctx.keys.sign(
        tenant.id,
        {
          aud: tokenRequest.resource,
          iss: entraV1Issuer(tenant.id),
          idp: entraV1Issuer(tenant.id),
          appid: app.appId,
          appidacr: '2',
          idtyp: 'app',
          tid: tenant.id,
          ver: '1.0',
          // An app with no service principal in the tenant (possible only at home) has no object
          // there: Entra's token then carries no oid/sub (seed 003, the home-tenant token).
          ...(servicePrincipal ? { oid: servicePrincipal.objectId, sub: servicePrincipal.objectId } : {}),
        },
        ACCESS_TOKEN_LIFETIME_SECONDS,
        Math.floor(now / 1000),
      );
      sendJson(
        response,
        200,
        {
          token_type: 'Bearer',
          expires_in: ACCESS_TOKEN_LIFETIME_SECONDS - 1,
          ext_expires_in: ACCESS_TOKEN_LIFETIME_SECONDS - 1,
          access_token: accessToken,
        },
        { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' },
      );
    } catch (error) {
      if (!(error instanceof EntraRejection)) throw error;
      sendEntraError(response, error, { nowMs: now, ...(correlationId ? { correlationId } : {}) });
    }
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'https://127.0.0.1');
    const parts = url.pathname.split('/').filter(Boolean);
    const [rawSegment, ...rest] = parts;
    const segment = rawSegment === undefined ? undefined : safeDecode(rawSegment);
    const route = rest.join('/').toLowerCase();
    if (segment && request.method === 'GET' && route === 'v2.0/.well-known/openid-configuration') {
      return discovery(response, segment, 'openid');
    }
    if (
      segment &&
      request.method === 'GET' &&
      (route === 'discovery/v2.0/keys' || route === 'discovery/keys')
    ) {
      return discovery(response, segment, 'keys');
    }
    if (segment && route === 'oauth2/v2.0/token') {
      return token(request, response, segment, url);
    }
    sendJson(response, 404, {
      error: 'not_found',
      error_description: `The sandbox's Entra serves /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/discovery/v2.0/keys and /{tenant}/oauth2/v2.0/token; not ${request.method ?? ''} ${url.pathname}.`,
    });
  }

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      // Only internal faults land here: bad input is answered with an AADSTS error above.
      if (!response.headersSent) {
        sendJson(response, 500, {
          error: 'server_error',
          error_description: `The sandbox's Entra failed: ${(error as Error).message}`,
        });
      } else {
        response.destroy();
      }
    });
  };
}

/**
 * Caller authentication at the HTTP edge (docs/trust.md). In `appservice` mode every caller proves
 * who it is to the app itself:
 * - `Authorization: Bearer <token>`: an Entra access token for this API, validated here (signature
 *   by the provider tenant's keys, issuer, audience, expiry; src/core/auth/token-verifier.ts);
 * - else App Service Authentication's `x-ms-client-principal`, only where the platform declares it
 *   on (src/core/auth/principal.ts).
 * Anything else is 401. App Service Authentication runs with AllowAnonymous, so the app answers 401
 * itself and a route cannot be left open by a platform setting. `none` is the local harness only
 * (config refuses it elsewhere) and makes the local caller an admin.
 */
import type { HttpRequest } from '@azure/functions';
import { AuthError, LOCAL_CALLER, requireRole, type Caller, type Role } from '../../core/auth/caller.js';
import { callerFromPrincipal } from '../../core/auth/principal.js';
import { ApiTokenVerifier } from '../../core/auth/token-verifier.js';
import type { FleetConfig } from '../../core/platform/config.js';

export { AuthError, type Caller, type Role };

const verifiers = new WeakMap<FleetConfig, ApiTokenVerifier>();

/** One verifier (so one JWKS cache) per config, built on the first bearer token. */
function verifierFor(config: FleetConfig): ApiTokenVerifier {
  let verifier = verifiers.get(config);
  if (!verifier) {
    verifier = new ApiTokenVerifier(config.cloud, config.apiAuth);
    verifiers.set(config, verifier);
  }
  return verifier;
}

/** Who is calling; throws AuthError(401) when the request proves no one. */
export async function authenticate(request: HttpRequest, config: FleetConfig): Promise<Caller> {
  if (config.httpAuth === 'none') return LOCAL_CALLER;
  const authorization = request.headers.get('authorization');
  if (authorization) {
    const match = /^Bearer ([^\s]+)$/i.exec(authorization.trim());
    if (!match) throw new AuthError(401, 'the Authorization header must be "Bearer <token>"');
    return verifierFor(config).verify(match[1]!);
  }
  const principal = request.headers.get('x-ms-client-principal');
  if (principal !== null)
    return callerFromPrincipal(principal, request.headers.get('x-ms-client-principal-idp'));
  throw new AuthError(401, 'authentication required: present an Entra bearer token for this API');
}

/** Authenticates and checks the role in one step. */
export async function authorize(request: HttpRequest, config: FleetConfig, role: Role): Promise<Caller> {
  const caller = await authenticate(request, config);
  requireRole(caller, role);
  return caller;
}

/** GET and HEAD read; everything else changes something. */
export function roleForMethod(request: HttpRequest): Role {
  return request.method === 'GET' || request.method === 'HEAD' ? 'Fleet.Read' : 'Fleet.Admin';
}

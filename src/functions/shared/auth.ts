/**
 * Caller authorization. In Azure, App Service Authentication validates the caller's Entra token in
 * front of the app and passes the principal in `x-ms-client-principal` (base64 JSON); the app only
 * checks app roles. That header is trustworthy only behind App Service Authentication, which the
 * Bicep enables with `requireAuthentication`; `TENANT_FLEET_HTTP_AUTH=none` (sandbox only) skips it.
 */
import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';

/** App roles defined on the API app registration (infra/app/entra.bicep). */
export type Role = 'Fleet.Read' | 'Fleet.Admin';

export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

const principalSchema = z.object({
  auth_typ: z.string().optional(),
  name_typ: z.string().optional(),
  role_typ: z.string().optional(),
  claims: z.array(z.object({ typ: z.string(), val: z.string() })).default([]),
});

const ROLE_CLAIMS = ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];
const NAME_CLAIMS = [
  'name',
  'preferred_username',
  'appid',
  'oid',
  'http://schemas.microsoft.com/identity/claims/objectidentifier',
];

/** Returns the caller's name when it holds `role` (Fleet.Admin implies Fleet.Read); throws AuthError. */
export function authorize(request: HttpRequest, mode: 'appservice' | 'none', role: Role): string {
  if (mode === 'none') return 'local';
  const header = request.headers.get('x-ms-client-principal');
  if (!header)
    throw new AuthError(401, 'authentication required (App Service Authentication principal missing)');
  let principal: z.output<typeof principalSchema>;
  try {
    principal = principalSchema.parse(JSON.parse(Buffer.from(header, 'base64').toString('utf8')));
  } catch {
    throw new AuthError(401, 'the client principal header is malformed');
  }
  const roleClaims = new Set([...ROLE_CLAIMS, ...(principal.role_typ ? [principal.role_typ] : [])]);
  const roles = new Set(
    principal.claims.filter((claim) => roleClaims.has(claim.typ)).map((claim) => claim.val),
  );
  const allowed =
    role === 'Fleet.Read' ? roles.has('Fleet.Read') || roles.has('Fleet.Admin') : roles.has('Fleet.Admin');
  const nameClaims = [...(principal.name_typ ? [principal.name_typ] : []), ...NAME_CLAIMS];
  const name =
    nameClaims.map((typ) => principal.claims.find((claim) => claim.typ === typ)?.val).find(Boolean) ??
    'unknown';
  if (!allowed) throw new AuthError(403, `the app role ${role} is required`);
  return name;
}

export interface Principal {
  name: string;
  objectId: string;
  roles: string[];
}

const OBJECT_ID_CLAIMS = ['oid', 'http://schemas.microsoft.com/identity/claims/objectidentifier'];

/**
 * Who is calling and with which app roles (GET /api/me: the console shows only the actions these
 * allow). With TENANT_FLEET_HTTP_AUTH=none every local caller is an admin; the answer says so.
 */
export function principalOf(request: HttpRequest, mode: 'appservice' | 'none'): Principal {
  if (mode === 'none')
    return { name: 'local', objectId: '', roles: ['Fleet.Read', 'Fleet.CustomerData.Read', 'Fleet.Admin'] };
  const header = request.headers.get('x-ms-client-principal');
  if (!header)
    throw new AuthError(401, 'authentication required (App Service Authentication principal missing)');
  let principal: z.output<typeof principalSchema>;
  try {
    principal = principalSchema.parse(JSON.parse(Buffer.from(header, 'base64').toString('utf8')));
  } catch {
    throw new AuthError(401, 'the client principal header is malformed');
  }
  const roleClaims = new Set([...ROLE_CLAIMS, ...(principal.role_typ ? [principal.role_typ] : [])]);
  const claim = (types: string[]): string | undefined =>
    types.map((typ) => principal.claims.find((item) => item.typ === typ)?.val).find(Boolean);
  return {
    name: claim([...(principal.name_typ ? [principal.name_typ] : []), ...NAME_CLAIMS]) ?? 'unknown',
    objectId: claim(OBJECT_ID_CLAIMS) ?? '',
    roles: [...new Set(principal.claims.filter((item) => roleClaims.has(item.typ)).map((item) => item.val))],
  };
}

/** GET and HEAD read; everything else changes something. */
export function roleForMethod(request: HttpRequest): Role {
  return request.method === 'GET' || request.method === 'HEAD' ? 'Fleet.Read' : 'Fleet.Admin';
}

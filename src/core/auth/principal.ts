/**
 * App Service Authentication's principal (`x-ms-client-principal`, base64 JSON), accepted only where
 * the platform itself declares authentication on (`WEBSITE_AUTH_ENABLED=True`, an environment variable
 * App Service sets and a caller cannot) and the identity provider is Entra (`aad`). Anywhere else the
 * header is just bytes a caller sent. Roles come from `roles` claims only: a `role_typ` the header
 * names (such as `groups`) is ignored, since group names are not app roles.
 */
import { z } from 'zod';
import { AuthError, knownRoles, sanitizeDisplayName, type Caller } from './caller.js';

const principalSchema = z.object({
  auth_typ: z.string().optional(),
  claims: z.array(z.object({ typ: z.string(), val: z.string() })).max(500),
});

const OBJECT_ID_CLAIMS = ['oid', 'http://schemas.microsoft.com/identity/claims/objectidentifier'];

/** Whether the platform declares App Service Authentication on for this process. */
export function platformAuthEnabled(env: Record<string, string | undefined> = process.env): boolean {
  return env.WEBSITE_AUTH_ENABLED?.toLowerCase() === 'true';
}

/** The caller of a principal header, or AuthError(401) when it cannot be trusted or read. */
export function callerFromPrincipal(
  header: string,
  identityProvider: string | null,
  env: Record<string, string | undefined> = process.env,
): Caller {
  if (!platformAuthEnabled(env))
    throw new AuthError(
      401,
      'authentication required: the App Service Authentication principal is not accepted where the platform has not enabled it; present a bearer token',
    );
  if (identityProvider?.toLowerCase() !== 'aad')
    throw new AuthError(401, 'authentication required: the identity provider must be Microsoft Entra ID');
  let principal: z.output<typeof principalSchema>;
  try {
    if (header.length > 64 * 1024) throw new Error('too long');
    principal = principalSchema.parse(JSON.parse(Buffer.from(header, 'base64').toString('utf8')));
  } catch {
    throw new AuthError(401, 'the client principal header is malformed');
  }
  const claim = (...types: string[]): string | undefined =>
    principal.claims.find((candidate) => types.includes(candidate.typ) && candidate.val !== '')?.val;
  const objectId = claim(...OBJECT_ID_CLAIMS);
  const appId = claim('appid', 'azp');
  const upn = claim('preferred_username', 'upn');
  return {
    ...(objectId ? { objectId: objectId.toLowerCase() } : {}),
    ...(appId ? { appId: appId.toLowerCase() } : {}),
    ...(upn ? { upn: sanitizeDisplayName(upn) } : {}),
    name: sanitizeDisplayName(claim('name') ?? upn ?? appId),
    roles: knownRoles(principal.claims.filter((entry) => entry.typ === 'roles').map((entry) => entry.val)),
    via: 'appservice',
  };
}

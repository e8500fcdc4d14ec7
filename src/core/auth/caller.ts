/**
 * Who is calling the API and what they may do. The app roles are defined on the API app registration
 * (infra/); a caller's roles come only from the `roles` claim of its Entra token. Fleet.Admin implies
 * Fleet.Read, not Fleet.CustomerData.Read: changing the registry does not entitle anyone to read
 * customer blobs.
 */

export const ROLES = ['Fleet.Read', 'Fleet.CustomerData.Read', 'Fleet.Admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Caller {
  /** Entra object id of the user or service principal (absent only in local mode). */
  objectId?: string;
  /** Client app id (`appid` / `azp`) of an application caller. */
  appId?: string;
  /** UPN or preferred_username of a user caller. */
  upn?: string;
  /** Display name, sanitised (no control characters, bounded length). */
  name: string;
  roles: readonly Role[];
  /** How the caller was authenticated. */
  via: 'token' | 'appservice' | 'local' | 'cli';
}

/**
 * A refused caller: 401 (who are you?) or 403 (you may not); 503 when the provider tenant's keys
 * cannot be read (not the caller's fault). The message never echoes a token.
 */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly status: 401 | 403 | 503,
    message: string,
  ) {
    super(message);
  }
}

/** Whether the caller's roles grant `role` (Fleet.Admin implies Fleet.Read only). */
export function grants(roles: readonly string[], role: Role): boolean {
  return roles.includes(role) || (role === 'Fleet.Read' && roles.includes('Fleet.Admin'));
}

/** Throws a 403 naming the role unless the caller holds it. */
export function requireRole(caller: Caller, role: Role): void {
  if (!grants(caller.roles, role)) throw new AuthError(403, `the app role ${role} is required`);
}

/** The known app roles among claim values (other apps' roles and anything else are ignored). */
export function knownRoles(values: Iterable<unknown>): Role[] {
  const found = new Set<Role>();
  for (const value of values) if ((ROLES as readonly unknown[]).includes(value)) found.add(value as Role);
  return [...found];
}

export const MAX_DISPLAY_NAME = 128;

/**
 * A name safe to store and print: control characters (CR/LF, ANSI escapes, Unicode line and bidi
 * controls) removed, whitespace collapsed, length bounded (`max`; the audit log's targets take more).
 * Claims come from a directory anyone with a user account may edit; they must not forge lines in a
 * log or a table.
 */
export function sanitizeDisplayName(value: unknown, fallback = 'unknown', max = MAX_DISPLAY_NAME): string {
  if (typeof value !== 'string') return fallback;
  const cleaned = value
    // eslint-disable-next-line no-control-regex -- control characters are exactly what it removes
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (!cleaned) return fallback;
  return cleaned.length > max ? `${cleaned.slice(0, max - 1)}…` : cleaned;
}

/** The local harness's caller (TENANT_FLEET_HTTP_AUTH=none): an admin who may read customer data. */
export const LOCAL_CALLER: Caller = Object.freeze({
  name: 'local',
  roles: Object.freeze([...ROLES]),
  via: 'local',
});

/** The name an audit row and `excludedBy` show: the UPN, else the display name, else the app id. */
export function actorLabel(caller: Caller): string {
  return (
    caller.upn ?? (caller.name !== 'unknown' ? caller.name : (caller.appId ?? caller.objectId ?? 'unknown'))
  );
}

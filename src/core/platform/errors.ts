/**
 * Small error types of Tenant Fleet. Each says who is at fault, so the HTTP layer can map it to a
 * status without guessing and the CLI can print the fix. Anything else is an internal error.
 */

/** A setting is missing or wrong: the process must not start (fail fast, naming the setting). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
  }
}

/** Caller input is invalid (HTTP 400). `field` names what is wrong. */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** The thing asked for does not exist (HTTP 404). */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** The write lost a race or the thing already exists (HTTP 409 / 412). */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
  constructor(
    message: string,
    readonly kind: 'exists' | 'etag' | 'busy' = 'exists',
  ) {
    super(message);
  }
}

/**
 * A destructive request came without the precondition that makes it explicit (HTTP 428): the caller
 * must say which version it means to replace or delete (`If-Match`) or that it creates (`If-None-Match: *`).
 */
export class PreconditionRequiredError extends Error {
  override readonly name = 'PreconditionRequiredError';
  constructor(
    readonly header: 'If-Match' | 'If-None-Match',
    message: string,
  ) {
    super(message);
  }
}

/** The target is locked by its own state (a lease, snapshots): HTTP 409 with the service's reason. */
export class StateConflictError extends Error {
  override readonly name = 'StateConflictError';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Wraps anything thrown into an Error (JavaScript can throw strings, objects, undefined). */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  try {
    return new Error(JSON.stringify(value));
  } catch {
    return new Error(String(value));
  }
}

/** Status of an error from an Azure SDK (RestError and identity errors carry `statusCode`). */
export function statusCodeOf(error: unknown): number | undefined {
  const candidate = error as { statusCode?: unknown; status?: unknown } | null;
  if (candidate && typeof candidate.statusCode === 'number') return candidate.statusCode;
  if (candidate && typeof candidate.status === 'number') return candidate.status;
  return undefined;
}

/** Service error code of an Azure SDK error (`RestError.code`, e.g. `AuthorizationFailed`). */
export function errorCodeOf(error: unknown): string | undefined {
  const candidate = error as { code?: unknown; details?: { errorCode?: unknown } } | null;
  if (candidate && typeof candidate.details?.errorCode === 'string') return candidate.details.errorCode;
  if (candidate && typeof candidate.code === 'string') return candidate.code;
  return undefined;
}

const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const BEARER_PATTERN = /(bearer\s+)[A-Za-z0-9._~+/-]+=*/gi;
const KEY_PATTERN = /((?:AccountKey|SharedAccessSignature|sig|client_secret|client_assertion)=)[^;&\s"']+/gi;

/**
 * Removes anything that looks like a token, assertion or key from a message before it is logged,
 * stored or returned. Error messages of HTTP clients can echo request bodies; never trust them.
 */
export function redact(message: string): string {
  return message
    .replace(JWT_PATTERN, '[redacted-jwt]')
    .replace(BEARER_PATTERN, '$1[redacted]')
    .replace(KEY_PATTERN, '$1[redacted]');
}

/**
 * The HTTP edge shared by the HTTP functions: JSON bodies in and out, errors mapped to statuses with a
 * message naming what is wrong. Unknown errors become a 500 that says nothing internal (the detail
 * goes to the log, redacted), never a stack trace or a service's raw answer.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import {
  ConfigError,
  ConflictError,
  InputError,
  NotFoundError,
  PreconditionRequiredError,
  StateConflictError,
  ensureError,
  redact,
} from '../../core/platform/errors.js';
import { diagnose } from '../../core/platform/diagnosis.js';
import { getRuntime, type FleetRuntime } from '../../core/runtime.js';
import { actorLabel, requireRole } from '../../core/auth/caller.js';
import { auditLogOf, type AuditAction, type AuditEvent } from '../../core/audit/audit-log.js';

export { auditLogOf };
import { authenticate, AuthError, type Caller, type Role } from './auth.js';

/** A refusal of the HTTP edge itself (body too large, audit log unavailable). */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'cache-control': 'no-store', ...headers } };
}

function problem(
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): HttpResponseInit {
  return json(status, { error: { code, message, ...extra } });
}

export function errorResponse(error: unknown, context: InvocationContext): HttpResponseInit {
  if (error instanceof AuthError && error.status === 503) {
    context.error(`authentication unavailable: ${error.message}`);
    return problem(503, 'AuthenticationUnavailable', error.message);
  }
  if (error instanceof AuthError)
    return {
      ...problem(error.status, error.status === 401 ? 'Unauthenticated' : 'Forbidden', error.message),
      ...(error.status === 401
        ? { headers: { 'cache-control': 'no-store', 'www-authenticate': 'Bearer' } }
        : {}),
    };
  if (error instanceof HttpRefusal)
    return problem(error.status, error.code, error.message, error.field ? { field: error.field } : {});
  if (error instanceof PreconditionRequiredError)
    return problem(428, 'PreconditionRequired', error.message, { header: error.header });
  if (error instanceof StateConflictError)
    return problem(409, 'Conflict', error.message, { reason: error.reason });
  if (error instanceof InputError) return problem(400, 'InvalidInput', error.message, { field: error.field });
  if (error instanceof NotFoundError) return problem(404, 'NotFound', error.message);
  if (error instanceof ConflictError) {
    if (error.kind === 'etag') return problem(412, 'PreconditionFailed', error.message);
    return problem(409, error.kind === 'busy' ? 'Busy' : 'Conflict', error.message);
  }
  if (error instanceof ConfigError) {
    context.error(`configuration: ${error.message}`);
    return problem(500, 'Misconfigured', `the app is misconfigured (${error.setting}); see the logs`);
  }
  const failure = ensureError(error);
  // A refusal from Entra, ARM or Storage is the customer's or operator's to fix: answer 502 with the diagnosis.
  const runtime = safeRuntime();
  if (runtime) {
    const diagnosis = diagnose(failure, {
      cloud: runtime.config.cloud,
      appClientId: runtime.config.appClientId,
    });
    if (diagnosis.category !== 'unknown') {
      return problem(502, diagnosis.code, diagnosis.meaning, {
        fix: diagnosis.fix,
        owner: diagnosis.owner,
        retryable: diagnosis.retryable,
      });
    }
  }
  context.error(`unexpected error: ${redact(failure.message)}`);
  return problem(500, 'InternalError', `unexpected error; invocation ${context.invocationId}`);
}

function safeRuntime(): FleetRuntime | undefined {
  try {
    return getRuntime();
  } catch {
    return undefined;
  }
}

/** Visible ASCII and space only. */
const VISIBLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * A request header the app reads, checked before use: visible ASCII only (a control or non-ASCII
 * character is the caller's mistake, named as such, and never reaches a service), at most 1 KiB.
 */
export function header(request: HttpRequest, name: string): string | undefined {
  const value = request.headers.get(name);
  if (value === null) return undefined;
  if (value.length > 1024 || !VISIBLE_ASCII.test(value))
    throw new InputError(name, 'must be at most 1024 visible ASCII characters');
  return value.trim();
}

/**
 * Reads a body of at most `maxBytes`: a Content-Length over it is refused before anything is read,
 * and a body without one is read only up to the bound.
 */
export async function readBody(request: HttpRequest, maxBytes: number): Promise<Buffer> {
  const tooLarge = () =>
    new HttpRefusal(413, 'PayloadTooLarge', `body: is larger than ${maxBytes} bytes`, 'body');
  const length = header(request, 'content-length');
  if (length !== undefined) {
    if (!/^\d{1,15}$/.test(length)) throw new InputError('content-length', 'must be a number of bytes');
    if (Number(length) > maxBytes) throw tooLarge();
  }
  if (!request.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > maxBytes) throw tooLarge();
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

const MAX_JSON_BYTES = 256 * 1024;

/** Reads a JSON object body; a missing, non-JSON or non-object body is a 400 naming it. */
export async function readJson(
  request: HttpRequest,
  { optional = false } = {},
): Promise<Record<string, unknown>> {
  const text = (await readBody(request, MAX_JSON_BYTES)).toString('utf8');
  if (text.trim() === '') {
    if (optional) return {};
    throw new InputError('body', 'a JSON object is required');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InputError('body', 'is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new InputError('body', 'must be a JSON object');
  return value as Record<string, unknown>;
}

/** An optional integer query parameter. */
export function intQuery(request: HttpRequest, name: string): number | undefined {
  const raw = request.query.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new InputError(name, 'must be a whole number');
  return Number(raw);
}

export interface HandlerScope {
  runtime: FleetRuntime;
  /** Who is calling, authenticated. */
  caller: Caller;
  /** The caller's label for fields such as excludedBy (UPN, name or app id; sanitised). */
  actor: string;
  /** Adds what the audit row should say about the outcome (ETags; the target once it is known). */
  audit: (details: AuditDetails) => void;
}

/** What an audited request does, decided from the request before it runs. */
export interface AuditTarget {
  action: AuditAction;
  target: string;
  tenantId?: string;
}

type AuditDetails = Partial<Pick<AuditEvent, 'etagBefore' | 'etagAfter' | 'target' | 'tenantId'>>;

export interface HandleOptions {
  /** The audit record of this request; undefined for requests that are not audited (plain reads). */
  audit?: (request: HttpRequest) => AuditTarget | undefined;
}

function outcomeOf(status: number): AuditEvent['outcome'] {
  if (status < 400) return 'succeeded';
  return status >= 500 ? 'failed' : 'refused';
}

/**
 * Wraps a handler: authenticates the caller, checks the role, audits, builds the runtime, maps
 * errors. Handlers stay a few lines of "parse input, call core, map result".
 *
 * Audit: an audited request first appends a `started` row; if that fails the request is refused with
 * 503 and nothing is done (no change, and no customer data read, without a durable record of who
 * asked). The outcome row is appended after; if that fails the operation has already happened, so the
 * answer stands (a retry would repeat a change) and the failure is logged as an error: the `started`
 * row still says who did what.
 */
export function handle(
  /** The role needed; null: any authenticated caller. */
  role: Role | null | ((request: HttpRequest) => Role),
  body: (request: HttpRequest, scope: HandlerScope, context: InvocationContext) => Promise<HttpResponseInit>,
  options: HandleOptions = {},
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (request, context) => {
    let runtime: FleetRuntime;
    let caller: Caller;
    try {
      runtime = getRuntime();
      caller = await authenticate(request, runtime.config);
    } catch (error) {
      return errorResponse(error, context);
    }
    let target: AuditTarget | undefined;
    const details: AuditDetails = {};
    let response: HttpResponseInit;
    try {
      // Decided before the role check, so a refused attempt at an audited action is recorded too.
      target = options.audit?.(request);
      const needed = typeof role === 'function' ? role(request) : role;
      if (needed) requireRole(caller, needed);
      if (target) {
        try {
          await auditLogOf(runtime).append(caller, context.invocationId, 0, {
            ...target,
            outcome: 'started',
            status: 0,
          });
        } catch (error) {
          context.error(`audit log unavailable: ${redact(ensureError(error).message)}`);
          throw new HttpRefusal(
            503,
            'AuditUnavailable',
            'the audit log cannot be written, so nothing was done; retry later',
          );
        }
      }
      response = await body(
        request,
        { runtime, caller, actor: actorLabel(caller), audit: (more) => Object.assign(details, more) },
        context,
      );
    } catch (error) {
      response = errorResponse(error, context);
    }
    if (target) {
      const status = response.status ?? 200;
      const code = (response.jsonBody as { error?: { code?: unknown } } | undefined)?.error?.code;
      try {
        await auditLogOf(runtime).append(caller, context.invocationId, 1, {
          ...target,
          ...details,
          outcome: outcomeOf(status),
          status,
          ...(typeof code === 'string' ? { detail: code } : {}),
        });
      } catch (error) {
        context.error(
          `audit outcome of ${target.action} ${target.target} (status ${status}) not recorded: ${redact(ensureError(error).message)}`,
        );
      }
    }
    return response;
  };
}

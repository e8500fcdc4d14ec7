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
  ensureError,
  redact,
} from '../../core/platform/errors.js';
import { diagnose } from '../../core/platform/diagnosis.js';
import { getRuntime, type FleetRuntime } from '../../core/runtime.js';
import { authorize, AuthError, principalOf, type Principal, type Role } from './auth.js';

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
  if (error instanceof AuthError)
    return problem(error.status, error.status === 401 ? 'Unauthenticated' : 'Forbidden', error.message);
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

/** Reads a JSON object body; a missing, non-JSON or non-object body is a 400 naming it. */
export async function readJson(
  request: HttpRequest,
  { optional = false } = {},
): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.trim() === '') {
    if (optional) return {};
    throw new InputError('body', 'a JSON object is required');
  }
  if (text.length > 256 * 1024) throw new InputError('body', 'is larger than 256 KiB');
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
  /** Who is calling (for audit fields such as excludedBy). */
  actor: string;
}

/**
 * Wraps a handler: checks the caller's role, builds the runtime, maps errors. Handlers stay a few
 * lines of "parse input, call core, map result".
 */
export function handle(
  role: Role | ((request: HttpRequest) => Role),
  body: (request: HttpRequest, scope: HandlerScope, context: InvocationContext) => Promise<HttpResponseInit>,
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (request, context) => {
    try {
      const runtime = getRuntime();
      const needed = typeof role === 'function' ? role(request) : role;
      const actor = authorize(request, runtime.config.httpAuth, needed);
      return await body(request, { runtime, actor }, context);
    } catch (error) {
      return errorResponse(error, context);
    }
  };
}

/** For routes any signed-in caller may use (no app role needed): the principal is checked, errors mapped. */
export function handleSignedIn(
  body: (request: HttpRequest, principal: Principal) => HttpResponseInit | Promise<HttpResponseInit>,
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (request, context) => {
    try {
      return await body(request, principalOf(request, getRuntime().config.httpAuth));
    } catch (error) {
      return errorResponse(error, context);
    }
  };
}

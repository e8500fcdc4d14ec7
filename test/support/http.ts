/**
 * Calling the HTTP functions as the Functions host would, without the host: a real `HttpRequest`
 * and `InvocationContext` from @azure/functions in, the handler's `HttpResponseInit` turned into a
 * real `HttpResponse` out (so JSON and binary bodies are serialized exactly as the host does).
 * Also: the App Service Authentication principal header, and a "fleet" (sandbox demo world + the
 * app's runtime against the shared Azurite) with helpers to run a sweep through the app's own
 * queue handlers.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
// @azure/functions is CommonJS: under ESM its classes are reachable only through the default export.
import azureFunctions, {
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { expect } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { parseWorld, type World } from '../../sandbox/world.js';
import { applyPlatformIdentityEnvironment, sandboxFleetSettings } from '../../dev/sandbox-fleet.js';
import {
  LocalFunctionsHost,
  loadFunctionHandlers,
  readQueueSemantics,
  type MessageEvent,
} from '../../dev/local-host.js';
import { loadConfig } from '../../src/core/platform/config.js';
import { createRuntime, setRuntime, type FleetRuntime, type LogLevel } from '../../src/core/runtime.js';
import { providerConnectionString, uniquePrefix } from './provider.js';
import { registerApiCallers, type ApiCallers } from './api-callers.js';

/** An HTTP function as exported by src/functions/*.ts. */
export type HttpHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

export interface CallOptions {
  method?: string;
  /** Route parameters (no host routes here, so they are passed as the host would bind them). */
  params?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** A string or bytes are sent as is; anything else is sent as JSON. */
  body?: unknown;
}

export interface LogLine {
  level: string;
  text: string;
}

/** The `error` object of a refusal (src/functions/shared/http.ts). */
export interface ApiError {
  code: string;
  message: string;
  field?: string;
  fix?: string;
  owner?: string;
  retryable?: boolean;
}

export interface FunctionResponse {
  status: number;
  headers: Headers;
  bytes: Buffer;
  text: string;
  /** The body parsed as JSON, typed by the caller (throws if it is not JSON). */
  json<T>(): T;
  /** The `error` of a refusal; throws when the body carries none (so a test cannot pass by accident). */
  error(): ApiError;
  /** What the function logged through its InvocationContext during this call. */
  logs: LogLine[];
}

/** Matches a JWT anywhere in a text: nothing the API returns or logs may contain one. */
export const JWT_LIKE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/;

function requestBody(body: unknown): { string: string } | { bytes: Uint8Array } | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string') return { string: body };
  if (body instanceof Uint8Array) return { bytes: body };
  return { string: JSON.stringify(body) };
}

/** Invokes `handler` with a request built from `options` and returns the serialized response. */
export async function call(handler: HttpHandler, options: CallOptions = {}): Promise<FunctionResponse> {
  const method = options.method ?? 'GET';
  const url = new URL('http://127.0.0.1:7071/api/call');
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
  const body = requestBody(options.body);
  const request = new azureFunctions.HttpRequest({
    method,
    url: url.toString(),
    headers: options.headers ?? {},
    query: options.query ?? {},
    params: options.params ?? {},
    ...(body ? { body } : {}),
  });
  const logs: LogLine[] = [];
  const context = new azureFunctions.InvocationContext({
    invocationId: randomUUID(),
    functionName: 'test',
    logHandler: (level, ...args) => logs.push({ level, text: args.map(String).join(' ') }),
  });
  const init = await handler(request, context);
  const response = new azureFunctions.HttpResponse(init);
  const bytes = Buffer.from(await response.arrayBuffer());
  const text = bytes.toString('utf8');
  // House rule, checked on every call of every test: no token or assertion in an answer or a log.
  const outputs = [
    { where: 'response', content: text },
    ...logs.map((line) => ({ where: 'log', content: line.text })),
  ];
  for (const { where, content } of outputs) {
    if (JWT_LIKE.test(content) || /client_assertion=|bearer\s+ey/i.test(content))
      throw new Error(`a token-like value appeared in a ${where} of ${method} (status ${response.status})`);
  }
  return {
    status: response.status,
    headers: response.headers,
    bytes,
    text,
    json: <T>() => JSON.parse(text) as T,
    error: () => {
      const parsed = JSON.parse(text) as { error?: ApiError };
      if (!parsed.error)
        throw new Error(`status ${response.status} without an error body: ${text.slice(0, 200)}`);
      return parsed.error;
    },
    logs,
  };
}

/**
 * The `x-ms-client-principal` header App Service Authentication puts in front of the app: base64 of
 * the principal's JSON, with the app roles as `roles` claims. The app trusts it only where the
 * platform sets WEBSITE_AUTH_ENABLED (and `x-ms-client-principal-idp: aad`); see `platformPrincipal`.
 */
export function principalHeader(roles: string[], name = 'alice@contoso.com', objectId?: string): string {
  const principal = {
    auth_typ: 'aad',
    name_typ: 'name',
    role_typ: 'roles',
    claims: [
      ...roles.map((role) => ({ typ: 'roles', val: role })),
      { typ: 'name', val: name },
      ...(objectId
        ? [{ typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: objectId }]
        : []),
    ],
  };
  return Buffer.from(JSON.stringify(principal), 'utf8').toString('base64');
}

/** Headers App Service Authentication would send for a signed-in caller holding `roles`. */
export function asCaller(roles: string[], name?: string, objectId?: string): Record<string, string> {
  return {
    'x-ms-client-principal': principalHeader(roles, name, objectId),
    'x-ms-client-principal-idp': 'aad',
  };
}

/** vitest's asymmetric matchers are typed `any`; these keep the lint's no-unsafe rules meaningful. */
export const stringContaining = (text: string): unknown => expect.stringContaining(text) as unknown;
export const objectContaining = (shape: Record<string, unknown>): unknown =>
  expect.objectContaining(shape) as unknown;
export const arrayContaining = (items: unknown[]): unknown => expect.arrayContaining(items) as unknown;

// ---- the fleet: sandbox demo world + the app's runtime ---------------------------------------------

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The demo world as committed (sandbox/worlds/demo.json). */
export async function readDemoWorld(): Promise<World> {
  return parseWorld(JSON.parse(await readFile(`${repoRoot}sandbox/worlds/demo.json`, 'utf8')));
}

/** Tenant id of the demo tenant with this display name. */
export function tenantIdOf(world: World, displayName: string): string {
  const tenant = world.tenants.find((candidate) => candidate.displayName === displayName);
  if (!tenant) throw new Error(`the world has no tenant '${displayName}'`);
  return tenant.id;
}

export interface Fleet {
  sandbox: Sandbox;
  /** Operator clients with real tokens for the API (appservice mode only). */
  callers?: ApiCallers;
  /** The sandbox's live world (changes made through `sandbox.store` show here). */
  world: World;
  runtime: FleetRuntime;
  /** Everything the runtime logged (levels and messages). */
  runtimeLogs: Array<{ level: LogLevel; message: string }>;
  close(): Promise<void>;
}

export interface FleetOptions {
  httpAuth?: 'none' | 'appservice';
  settings?: Record<string, string>;
}

/**
 * Starts the sandbox cloud with the demo world and installs a runtime for the handlers, isolated in
 * the shared Azurite by a fresh prefix.
 */
export async function startDemoFleet(options: FleetOptions = {}): Promise<Fleet> {
  const world = await readDemoWorld();
  const sandbox = await startSandbox({ world });
  try {
    applyPlatformIdentityEnvironment(sandbox);
    const callers = options.httpAuth === 'appservice' ? registerApiCallers(sandbox) : undefined;
    const config = loadConfig({
      ...sandboxFleetSettings(sandbox, {
        providerConnectionString: providerConnectionString(),
        prefix: uniquePrefix(),
        ...(options.settings ? { settings: options.settings } : {}),
      }),
      TENANT_FLEET_HTTP_AUTH: options.httpAuth ?? 'none',
      ...callers?.settings,
    });
    const runtimeLogs: Fleet['runtimeLogs'] = [];
    const runtime = createRuntime(config, { log: (level, message) => runtimeLogs.push({ level, message }) });
    await runtime.storage.ensureResources();
    setRuntime(runtime);
    return {
      sandbox,
      ...(callers ? { callers } : {}),
      world: sandbox.store.world,
      runtime,
      runtimeLogs,
      close: async () => {
        setRuntime(undefined);
        await sandbox.close();
        const leaked = runtimeLogs.find((line) => JWT_LIKE.test(line.message));
        if (leaked) throw new Error(`the runtime logged a token-like value (${leaked.level})`);
      },
    };
  } catch (error) {
    await sandbox.close();
    throw error;
  }
}

/**
 * Drains the sweep queue (and its poison queue) through the app's own worker and poison handlers
 * under the local host with host.json's semantics, until `runId` is closed.
 */
export async function drainRun(
  runtime: FleetRuntime,
  runId: string,
  options: { timeoutMs?: number; onMessage?: (event: MessageEvent) => void } = {},
): Promise<void> {
  const functionLogs: LogLine[] = [];
  const host = new LocalFunctionsHost({
    runtime,
    handlers: await loadFunctionHandlers(),
    semantics: readQueueSemantics(`${repoRoot}host.json`),
    // host.json retries after 30 s; a test retries at once (the sandbox's faults are off by default).
    retryDelaySeconds: 0,
    ...(options.onMessage ? { onMessage: options.onMessage } : {}),
    onLog: (level, text) => functionLogs.push({ level, text }),
  });
  await host.drain(async () => (await runtime.runs.getRun(runId)).status !== 'running', {
    pollMs: 50,
    timeoutMs: options.timeoutMs ?? 120_000,
  });
  const leaked = functionLogs.find((line) => JWT_LIKE.test(line.text));
  if (leaked) throw new Error(`a queue function logged a token-like value (${leaked.level})`);
}

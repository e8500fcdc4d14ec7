/**
 * Serve mode (`npm start -- --serve`): the local stand-in for a running Function App. Azurite and the
 * sandbox cloud stay up; the app's HTTP functions (the API and the console) are served on a local port;
 * the queue is processed continuously, so POST /api/runs and the console's "run now" really run; the
 * timer fires on the configured schedule. Ctrl-C stops receiving, lets the tenants in flight finish for
 * a few seconds and hands the rest back to the queue (they are swept again on the next start).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConflictError, ensureError } from '../src/core/platform/errors.js';
import { Schedule } from '../src/core/platform/schedule.js';
import type { FleetRuntime } from '../src/core/runtime.js';
import { createRouter, loadHttpRoutes } from './http-router.js';
import { LocalFunctionsHost, type FunctionHandlers, type QueueSemantics } from './local-host.js';

export interface ServeOptions {
  runtime: FleetRuntime;
  handlers: FunctionHandlers;
  semantics: QueueSemantics;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Fire the timer once at start (the console then has a run to show). */
  sweepAtStart?: boolean;
  /** Seconds the tenants in flight get at Ctrl-C before they are handed back. */
  graceSeconds?: number;
  log?: (line: string) => void;
}

export interface ServeHandle {
  url: string;
  port: number;
  /** Stops the server, the timer and the queue processing; resolves when all stopped. */
  close(): Promise<{ handedBack: number }>;
}

export async function serve(options: ServeOptions): Promise<ServeHandle> {
  const log = options.log ?? ((line: string) => console.log(line));
  const { runtime } = options;
  const routes = await loadHttpRoutes();
  const router = createRouter(routes, {
    onLog: (level, text) => {
      if (level === 'error' || level === 'warning') log(`  [${level}] ${text}`);
    },
  });
  const host = new LocalFunctionsHost({
    runtime,
    handlers: options.handlers,
    semantics: options.semantics,
    onMessage: (event) => {
      const tenantId = (event.message as { tenantId?: string }).tenantId ?? '?';
      if (event.outcome === 'completed' && event.queue === 'sweep') log(`  tenant ${tenantId} swept`);
      else if (event.outcome === 'retry') log(`  tenant ${tenantId}: retry (delivery ${event.dequeueCount})`);
      else if (event.outcome === 'poisoned') log(`  tenant ${tenantId}: moved to the poison queue`);
      else if (event.outcome === 'abandoned')
        log(`  tenant ${tenantId}: the queue was unreachable; the message comes back when its lease ends`);
    },
  });

  const server: Server = createServer((request, response) => {
    router.handle(request, response).catch((error: unknown) => {
      log(`  [error] ${request.method} ${request.url}: ${ensureError(error).message}`);
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'InternalError', message: 'unexpected error' } }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;

  const stop = new AbortController();
  const draining = host.drain(() => Promise.resolve(stop.signal.aborted), {
    signal: stop.signal,
    timeoutMs: Number.MAX_SAFE_INTEGER,
    graceMs: (options.graceSeconds ?? 10) * 1000,
  });
  draining.catch((error: unknown) =>
    log(`  [error] queue processing stopped: ${ensureError(error).message}`),
  );

  const fire = async (why: string): Promise<void> => {
    try {
      await host.fireTimer();
      const [run] = await runtime.runs.listRuns(1);
      log(`- ${why}: run ${run?.runId ?? '?'} started`);
    } catch (error) {
      if (error instanceof ConflictError) log(`- ${why}: skipped (${error.message})`);
      else log(`- ${why}: failed: ${ensureError(error).message}`);
    }
  };
  const schedule = new Schedule(runtime.config.sweep.schedule);
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const next = schedule.next(runtime.now());
    if (!next || stop.signal.aborted) return;
    // setTimeout caps at about 24.8 days; re-arm on the way for longer gaps.
    const delay = Math.min(next.getTime() - Date.now(), 2 ** 31 - 1);
    timer = setTimeout(() => {
      if (Date.now() + 500 >= next.getTime()) void fire('scheduled sweep').finally(arm);
      else arm();
    }, delay);
  };
  arm();
  if (options.sweepAtStart !== false) await fire('sweep at start');

  return {
    url,
    port,
    async close() {
      clearTimeout(timer);
      stop.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await draining.catch(() => undefined);
      await closed;
      return { handedBack: host.handedBack };
    },
  };
}

/** The banner: where to go, who you are, what runs. */
export function serveBanner(handle: ServeHandle, runtime: FleetRuntime): string {
  const next = new Schedule(runtime.config.sweep.schedule).next(runtime.now());
  const auth =
    runtime.config.httpAuth === 'none'
      ? 'local identity "local" is an ADMIN (TENANT_FLEET_HTTP_AUTH=none: every caller on this machine holds Fleet.Read, Fleet.CustomerData.Read and Fleet.Admin)'
      : 'callers present a bearer token for the API issued by the sandbox Entra (as in Azure; the App Service principal header only where WEBSITE_AUTH_ENABLED=True)';
  return [
    `Tenant Fleet is serving on ${handle.url}`,
    `  console:  ${handle.url}/api/console/`,
    `  API:      ${handle.url}/api/  (OpenAPI: ${handle.url}/api/openapi.json)`,
    `  auth:     ${auth}`,
    `  schedule: ${runtime.config.sweep.schedule} (UTC; next sweep ${next?.toISOString() ?? 'never'})`,
    '  Ctrl-C stops (tenants still being swept are handed back to the queue).',
  ].join('\n');
}

/**
 * Serves the app's own HTTP functions on a plain Node HTTP server, as the Functions host would: the
 * routes come from `httpRoutes()` (the same records the host registers), under `/api`, with the host's
 * template syntax (`{name}` one segment, `{*name}` the rest). Requests and responses go through
 * @azure/functions' own HttpRequest/HttpResponse classes, so bodies and headers are what handlers see
 * in Azure; a streamed body is streamed.
 */
import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import azureFunctions, { type HttpMethod } from '@azure/functions';
import { httpRoutes, type HttpRouteRecord } from '../src/functions/shared/routes.js';
import { withoutTestModeWarning } from './local-host.js';

const functionsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'functions');

/** Imports every function module (registering its routes), as the host loads the app's entry points. */
export async function loadHttpRoutes(): Promise<readonly HttpRouteRecord[]> {
  const files = (await readdir(functionsDir)).filter((file) => /\.ts$/.test(file) && !file.endsWith('.d.ts'));
  await withoutTestModeWarning(async () => {
    for (const file of files) await import(join(functionsDir, file));
  });
  return httpRoutes();
}

interface CompiledRoute {
  record: HttpRouteRecord;
  pattern: RegExp;
  names: string[];
}

/** `tenants/{tenantId}/storage/{*path}` -> a regular expression with one group per parameter. */
export function compileRoute(record: HttpRouteRecord): CompiledRoute {
  const names: string[] = [];
  const source = record.route
    .split('/')
    .map((segment) => {
      const catchAll = /^\{\*(\w+)\}$/.exec(segment);
      if (catchAll) {
        names.push(catchAll[1]!);
        return '?(.*)';
      }
      return segment.replace(/\{(\w+)(?::[^}]*)?\}|[^{}]+/g, (part, name?: string) => {
        if (name) {
          names.push(name);
          return '([^/]+)';
        }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      });
    })
    .join('/');
  return { record, pattern: new RegExp(`^${source.replace(/\/\?\(\.\*\)$/, '/?(.*)')}$`, 'i'), names };
}

export interface Router {
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
}

export function createRouter(
  routes: readonly HttpRouteRecord[],
  options: { onLog?: (level: string, text: string) => void } = {},
): Router {
  // Literal routes first (the host prefers `runs` over `runs/{runId}` only by template; ours never overlap
  // except `x` vs `x/{*rest}`, where the longer literal prefix must win).
  const compiled = routes
    .map(compileRoute)
    .sort(
      (a, b) =>
        b.record.route.replace(/\{[^}]*\}/g, '').length - a.record.route.replace(/\{[^}]*\}/g, '').length,
    );
  return {
    async handle(request, response) {
      const url = new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`);
      if (url.pathname === '/' || url.pathname === '/api' || url.pathname === '/api/') {
        response.writeHead(302, { location: '/api/console/' }).end();
        return;
      }
      if (!url.pathname.startsWith('/api/')) {
        notFound(response, `no route ${url.pathname} (routes live under /api)`);
        return;
      }
      const path = url.pathname.slice('/api/'.length);
      const method = (request.method ?? 'GET').toUpperCase() as HttpMethod;
      let allowed: HttpMethod[] = [];
      for (const route of compiled) {
        const match = route.pattern.exec(path);
        if (!match) continue;
        if (!route.record.methods.includes(method)) {
          allowed = [...allowed, ...route.record.methods];
          continue;
        }
        const params = Object.fromEntries(
          route.names.map((name, index) => [name, decodeURIComponent(match[index + 1] ?? '')]),
        );
        await invoke(route.record, request, response, url, params, options.onLog);
        return;
      }
      if (allowed.length > 0) {
        response
          .writeHead(405, { allow: [...new Set(allowed)].join(', '), 'content-type': 'application/json' })
          .end(
            JSON.stringify({ error: { code: 'MethodNotAllowed', message: `${method} is not allowed here` } }),
          );
        return;
      }
      notFound(response, `no route ${url.pathname}`);
    },
  };
}

function notFound(response: ServerResponse, message: string): void {
  response
    .writeHead(404, { 'content-type': 'application/json' })
    .end(JSON.stringify({ error: { code: 'NotFound', message } }));
}

async function invoke(
  record: HttpRouteRecord,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  params: Record<string, string>,
  onLog?: (level: string, text: string) => void,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const httpRequest = new azureFunctions.HttpRequest({
    method: request.method ?? 'GET',
    url: url.toString(),
    headers,
    query: Object.fromEntries(url.searchParams),
    params,
    ...(chunks.length > 0 ? { body: { bytes: Buffer.concat(chunks) } } : {}),
  });
  const context = new azureFunctions.InvocationContext({
    invocationId: randomUUID(),
    functionName: record.name,
    logHandler: (level, ...args) => onLog?.(level, args.map(String).join(' ')),
  });
  const init = await record.handler(httpRequest, context);
  const result = init instanceof azureFunctions.HttpResponse ? init : new azureFunctions.HttpResponse(init);
  const outHeaders: Record<string, string> = {};
  result.headers.forEach((value, name) => (outHeaders[name] = value));
  response.writeHead(result.status, outHeaders);
  if (!result.body || request.method === 'HEAD') {
    response.end();
    return;
  }
  const body = Readable.fromWeb(result.body as never);
  body.on('error', () => response.destroy());
  body.pipe(response);
  await new Promise<void>((resolve) => response.once('close', resolve));
}

/**
 * GET /api/console/{*path}: the operator console (built by `npm run build` into dist/console).
 * Hashed assets are served with a year-long immutable cache; index.html (for every view's URL) is
 * never cached. Every answer carries a strict CSP: scripts, styles and API calls from this origin only.
 *
 * Sign-in: App Service Authentication runs with AllowAnonymous, so the app decides. A browser without a
 * principal is sent to sign in (`/.auth/login/aad`) and comes back to the view it asked for; the
 * assets hold no data and need no principal. The API routes answer 401 instead (shared/http.ts).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getRuntime } from '../core/runtime.js';
import { authenticate } from './shared/auth.js';
import { httpRoute } from './shared/routes.js';
import { errorResponse, json } from './shared/http.js';

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  html: 'text/html; charset=utf-8',
  svg: 'image/svg+xml',
};

const here = dirname(fileURLToPath(import.meta.url));

/** dist/console, found from the deployed module (dist/src/functions) or from the sources (serve mode). */
function consoleDirectory(): string | undefined {
  return [
    process.env.TENANT_FLEET_CONSOLE_DIR,
    join(here, '..', '..', 'console'),
    join(here, '..', '..', 'dist', 'console'),
  ]
    .filter((candidate): candidate is string => !!candidate)
    .find((candidate) => existsSync(join(candidate, 'index.html')));
}

const cache = new Map<string, Buffer>();

async function file(path: string): Promise<Buffer | undefined> {
  const directory = consoleDirectory();
  if (!directory) return undefined;
  const full = join(directory, path);
  const cached = cache.get(full);
  if (cached) return cached;
  try {
    const content = await readFile(full);
    // index.html changes with each build; hashed assets never do.
    if (path !== 'index.html') cache.set(full, content);
    return content;
  } catch {
    return undefined;
  }
}

function wantsHtml(request: HttpRequest): boolean {
  return (request.headers.get('accept') ?? '').includes('text/html');
}

export async function consoleHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const path = request.params.path ?? '';
  if (path.startsWith('assets/')) {
    if (!/^assets\/[A-Za-z0-9_-]+\.(js|css|svg)$/.test(path))
      return json(404, { error: { code: 'NotFound', message: `no console asset ${path}` } });
    const content = await file(path);
    if (!content) return json(404, { error: { code: 'NotFound', message: `no console asset ${path}` } });
    return {
      status: 200,
      body: content,
      headers: {
        'content-type': TYPES[path.split('.').pop()!]!,
        'cache-control': 'public, max-age=31536000, immutable',
        ...SECURITY_HEADERS,
      },
    };
  }
  try {
    await authenticate(request, getRuntime().config);
  } catch (error) {
    if (wantsHtml(request)) {
      const back = new URL(request.url).pathname + new URL(request.url).search;
      return {
        status: 302,
        headers: {
          location: `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(back)}`,
          'cache-control': 'no-store',
        },
      };
    }
    return errorResponse(error, context);
  }
  const index = await file('index.html');
  if (!index)
    return json(503, {
      error: {
        code: 'ConsoleNotBuilt',
        message: 'the console is not built: run `npm run build` (it writes dist/console)',
      },
    });
  return {
    status: 200,
    body: index,
    headers: { 'content-type': TYPES.html!, 'cache-control': 'no-cache', ...SECURITY_HEADERS },
  };
}

httpRoute('console', { route: 'console/{*path}', methods: ['GET'], handler: consoleHandler });

/**
 * The OpenAPI document describes exactly the routes the app registers: every registered route and
 * method is in it, and everything in it is registered (both ways). docs/openapi.json is the same
 * document as the app serves.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, setRuntime } from '../../src/core/runtime.js';
import { openApiDocument } from '../../src/functions/openapi-document.js';
import { httpRoutes } from '../../src/functions/shared/routes.js';
import { asCaller, call } from '../support/http.js';
import { testConfig } from '../support/provider.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** `tenants/{tenantId}/x/{*rest}` -> `/api/tenants/{tenantId}/x/{rest}` (OpenAPI has no catch-all). */
const openApiPath = (route: string): string => `/api/${route.replace(/\{\*(\w+)\}/g, '{$1}')}`;

type Paths = Record<
  string,
  Record<string, { operationId: string; parameters?: Array<{ name: string; in: string }>; responses: object }>
>;

beforeAll(async () => {
  const dir = join(root, 'src', 'functions');
  for (const file of await readdir(dir)) if (file.endsWith('.ts')) await import(join(dir, file));
  setRuntime(createRuntime(testConfig()));
});

describe('the OpenAPI document', () => {
  it('describes every registered route and method', () => {
    const paths = openApiDocument().paths as Paths;
    const registered = httpRoutes();
    expect(registered.length).toBeGreaterThan(20);
    for (const route of registered) {
      const path = openApiPath(route.route);
      expect(paths[path], `${route.name}: ${path} is not in the document`).toBeDefined();
      for (const method of route.methods)
        expect(paths[path]![method.toLowerCase()], `${method} ${path}`).toBeDefined();
    }
  });

  it('describes nothing the app does not register', () => {
    const registered = new Set(
      httpRoutes().flatMap((route) =>
        route.methods.map((method) => `${method.toLowerCase()} ${openApiPath(route.route)}`),
      ),
    );
    for (const [path, operations] of Object.entries(openApiDocument().paths as Paths))
      for (const method of Object.keys(operations))
        expect(registered.has(`${method} ${path}`), `${method.toUpperCase()} ${path} is not registered`).toBe(
          true,
        );
  });

  it('declares every path parameter of a path, and is OpenAPI 3.1 with unique operation ids', () => {
    const document = openApiDocument();
    expect(document.openapi).toBe('3.1.0');
    const ids = new Set<string>();
    for (const [path, operations] of Object.entries(document.paths as Paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
      for (const [method, operation] of Object.entries(operations)) {
        const declared = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect(declared.sort(), `${method} ${path}`).toEqual([...names].sort());
        const id = operation.operationId;
        expect(ids.has(id), id).toBe(false);
        ids.add(id);
      }
    }
  });

  it('is what docs/openapi.json holds (npm run openapi rewrites it)', async () => {
    const committed = JSON.parse(await readFile(join(root, 'docs', 'openapi.json'), 'utf8')) as unknown;
    expect(committed).toEqual(openApiDocument());
  });

  it('is served at GET /api/openapi.json', async () => {
    const { openapi } = await import('../../src/functions/openapi.js');
    // Any signed-in caller: here the platform's principal, where App Service has enabled it.
    process.env.WEBSITE_AUTH_ENABLED = 'True';
    const response = await call(openapi, { headers: asCaller([]) }).finally(() => {
      delete process.env.WEBSITE_AUTH_ENABLED;
    });
    expect(response.status).toBe(200);
    expect(response.json()).toEqual(openApiDocument());
  });

  it('has a request in app.http for every route and method', async () => {
    const text = await readFile(join(root, 'app.http'), 'utf8');
    const requests = [...text.matchAll(/^(GET|POST|PUT|PATCH|DELETE) \{\{base\}\}\/([^?\s]*)/gm)].map(
      ([, method, path]) => ({ method: method!, path: path! }),
    );
    for (const route of httpRoutes()) {
      // The route template as a pattern over app.http's paths ({{variables}} stand for parameters).
      const pattern = new RegExp(
        `^${route.route
          .replace(/\./g, '\\.')
          .replace(/\{\*\w+\}/g, '.*')
          .replace(/\{\w+\}/g, '[^/]+')}$`,
      );
      for (const method of route.methods)
        expect(
          requests.some((request) => request.method === method && pattern.test(request.path)),
          `${method} /api/${route.route} has no request in app.http`,
        ).toBe(true);
    }
  });
});

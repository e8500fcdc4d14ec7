/**
 * The console's serving function: index.html for every view's URL with a strict CSP and no caching,
 * hashed assets cached for a year, a browser without a principal sent to sign in while an API client
 * gets 401, and GET /api/me telling the caller's roles. A browser reaches the app through App Service
 * Authentication, so the signed-in operator here is the platform's principal where the platform has
 * enabled it (WEBSITE_AUTH_ENABLED=True, idp aad); bearer tokens are covered by the auth matrix.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../scripts/build-console.js';
import { createRuntime, setRuntime } from '../../src/core/runtime.js';
import { consoleHandler, CONSOLE_CSP } from '../../src/functions/console.js';
import { me } from '../../src/functions/me.js';
import { asCaller, call } from '../support/http.js';
import { testConfig } from '../support/provider.js';

let dir: string;
let built: Awaited<ReturnType<typeof buildConsole>>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-console-'));
  built = await buildConsole(dir);
  process.env.TENANT_FLEET_CONSOLE_DIR = dir;
  // What App Service sets when Authentication is on (each test file runs in its own process).
  process.env.WEBSITE_AUTH_ENABLED = 'True';
  setRuntime(createRuntime(testConfig({ TENANT_FLEET_HTTP_AUTH: 'appservice' })));
});
afterAll(async () => {
  delete process.env.TENANT_FLEET_CONSOLE_DIR;
  delete process.env.WEBSITE_AUTH_ENABLED;
  setRuntime(undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('GET /api/console/{*path}', () => {
  it('serves index.html for a view URL to a signed-in operator, with a strict CSP and no caching', async () => {
    const response = await call(consoleHandler, {
      params: { path: 'inventory' },
      headers: { accept: 'text/html', ...asCaller(['Fleet.Read']) },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).not.toContain('unsafe-inline');
    expect(response.text).toBe(await readFile(join(dir, 'index.html'), 'utf8'));
    // No inline script or style, no remote origin.
    expect(response.text).not.toMatch(/<script>(?!<)|<style|style=|https?:\/\//);
  });

  it('serves hashed assets with a year-long immutable cache', async () => {
    const response = await call(consoleHandler, { params: { path: `assets/${built.script}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/javascript');
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const css = await call(consoleHandler, { params: { path: `assets/${built.css}` } });
    expect(css.headers.get('content-type')).toContain('text/css');
  });

  it('refuses asset paths that are not assets (404), never reading outside the console', async () => {
    for (const path of ['assets/../../package.json', 'assets/app.exe', 'assets/missing-000.js']) {
      const response = await call(consoleHandler, { params: { path } });
      expect(response.status, path).toBe(404);
    }
  });

  it('sends a browser without a principal to sign in, and comes back to the view', async () => {
    const response = await call(consoleHandler, {
      params: { path: 'inventory' },
      headers: { accept: 'text/html,application/xhtml+xml' },
      query: { type: 'microsoft.compute/disks' },
    });
    expect(response.status).toBe(302);
    const location = response.headers.get('location')!;
    expect(location).toMatch(/^\/\.auth\/login\/aad\?post_login_redirect_uri=/);
    // The request's own path and query (the test helper calls every handler at /api/call).
    expect(decodeURIComponent(location.split('=')[1]!)).toBe('/api/call?type=microsoft.compute%2Fdisks');
  });

  it('answers an API client without a principal with 401, not a redirect', async () => {
    const response = await call(consoleHandler, {
      params: { path: '' },
      headers: { accept: 'application/json' },
    });
    expect(response.status).toBe(401);
    expect(response.error().code).toBe('Unauthenticated');
  });
});

describe('GET /api/me', () => {
  it("returns the caller's name and roles", async () => {
    const objectId = randomUUID();
    const response = await call(me, { headers: asCaller(['Fleet.Read'], 'reader@contoso.com', objectId) });
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({ name: 'reader@contoso.com', objectId, roles: ['Fleet.Read'] });
  });

  it('answers 401 without a principal', async () => {
    expect((await call(me)).status).toBe(401);
  });
});

/**
 * The auth matrix: every route and method the app registers (`httpRoutes()`, after importing every
 * module of src/functions) against every way of calling it. Credentials are real: tokens issued by
 * the sandbox's Entra to operator clients holding app roles (client credentials), and tokens signed
 * with the provider tenant's own key but expired, for another audience, or from another issuer.
 * A route or method without an expectation here fails the test: a new route cannot be forgotten.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../scripts/build-console.js';
import type { Role } from '../../src/core/auth/caller.js';
import { openApiDocument } from '../../src/functions/openapi-document.js';
import { httpRoutes } from '../../src/functions/shared/routes.js';
import {
  call,
  principalHeader,
  startDemoFleet,
  tenantIdOf,
  type CallOptions,
  type Fleet,
  type HttpHandler,
} from '../support/http.js';
import type { ApiCallers } from '../support/api-callers.js';

const functionsDir = fileURLToPath(new URL('../../src/functions/', import.meta.url));
for (const file of readdirSync(functionsDir)
  .filter((name) => name.endsWith('.ts'))
  .sort())
  await import(/* @vite-ignore */ pathToFileURL(`${functionsDir}${file}`).href);

type RoleSet = 'no role' | Role;
const ROLE_SETS: readonly RoleSet[] = ['no role', 'Fleet.Read', 'Fleet.CustomerData.Read', 'Fleet.Admin'];

interface Expectation {
  /** The request (params, body, headers) that gets the real answer when the role allows it. */
  request: () => CallOptions;
  /** Exact status per role set: 403 where the role does not allow the call. */
  status: Record<RoleSet, number>;
  /** What every refused credential gets instead of 401 (the console's public assets, its sign-in redirect). */
  refused?: number;
  /** Other requests to the same route and method, answered by their own rules (the console's). */
  variants?: Record<string, Omit<Expectation, 'variants'>>;
}

let fleet: Fleet;
let callers: ApiCallers;
let consoleDir: string;
let consoleScript: string;
let litware: string;
let otherTenant: string;
const unregistered = randomUUID();
const account = { account: 'stlitwareprod01', container: 'invoices' };

const onlyAdmin = (status: number) => ({
  'no role': 403,
  'Fleet.Read': 403,
  'Fleet.CustomerData.Read': 403,
  'Fleet.Admin': status,
});
const readers = (status: number) => ({
  'no role': 403,
  'Fleet.Read': status,
  'Fleet.CustomerData.Read': 403,
  'Fleet.Admin': status,
});
const customerData = (status: number) => ({
  'no role': 403,
  'Fleet.Read': 403,
  'Fleet.CustomerData.Read': status,
  'Fleet.Admin': 403,
});
/** Any authenticated caller, whatever its roles. */
const signedIn = (status: number) => ({
  'no role': status,
  'Fleet.Read': status,
  'Fleet.CustomerData.Read': status,
  'Fleet.Admin': status,
});

/** Keyed `{function name} {METHOD}` as registered. */
const EXPECTATIONS: Record<string, Expectation> = {
  'tenants GET': { request: () => ({}), status: readers(200) },
  'tenants POST': {
    request: () => ({ body: { tenantId: randomUUID(), displayName: 'Matrix' } }),
    status: onlyAdmin(201),
  },
  'tenant GET': { request: () => ({ params: { tenantId: litware } }), status: readers(200) },
  'tenant PATCH': {
    request: () => ({
      params: { tenantId: litware },
      headers: { 'if-match': '*' },
      body: { displayName: 'Litware' },
    }),
    status: onlyAdmin(200),
  },
  // An unregistered tenant: the real answer of an allowed delete is 404, and nothing is deleted.
  'tenant DELETE': {
    request: () => ({ params: { tenantId: unregistered }, headers: { 'if-match': '*' } }),
    status: onlyAdmin(404),
  },
  'tenantReset POST': { request: () => ({ params: { tenantId: litware } }), status: onlyAdmin(200) },
  'tenantDiagnose POST': { request: () => ({ params: { tenantId: litware } }), status: onlyAdmin(200) },
  'tenantInventory GET': { request: () => ({ params: { tenantId: litware } }), status: readers(200) },
  'tenantChanges GET': { request: () => ({ params: { tenantId: litware } }), status: readers(200) },
  'tenantStorage GET': { request: () => ({ params: { tenantId: litware } }), status: readers(200) },
  'runs GET': { request: () => ({}), status: readers(200) },
  // Unregistered tenants: the real answer is 404 and no run starts.
  'runs POST': { request: () => ({ body: { tenantIds: [unregistered] } }), status: onlyAdmin(404) },
  'run GET': { request: () => ({ params: { runId: '20261123T024550584Z-48598e' } }), status: readers(404) },
  // Not swept: the account is not in Litware's storage inventory (404 before any outbound call).
  'storageContainers GET': {
    request: () => ({ params: { tenantId: litware, account: account.account } }),
    status: customerData(404),
  },
  'storageBlobs GET': {
    request: () => ({ params: { tenantId: litware, ...account } }),
    status: customerData(404),
  },
  'storageBlobs PUT': {
    request: () => ({
      params: { tenantId: litware, ...account, blobName: 'matrix.txt' },
      headers: { 'if-none-match': '*', 'content-type': 'text/plain' },
      body: 'hello',
    }),
    status: onlyAdmin(404),
  },
  'storageBlobs DELETE': {
    request: () => ({
      params: { tenantId: litware, ...account, blobName: 'matrix.txt' },
      headers: { 'if-match': '"0x8DD0000000000000"' },
    }),
    status: onlyAdmin(404),
  },
  'me GET': { request: () => ({}), status: signedIn(200) },
  'audit GET': { request: () => ({}), status: onlyAdmin(200) },
  'openapi GET': { request: () => ({}), status: signedIn(200) },
  // The fleet's own results (resource metadata, no customer data): readers, like the tenant inventory.
  'fleetOverview GET': { request: () => ({}), status: readers(200) },
  'fleetInventory GET': { request: () => ({ query: { tenantId: litware } }), status: readers(200) },
  'fleetInventoryFacets GET': { request: () => ({}), status: readers(200) },
  'fleetResourceHistory GET': {
    request: () => ({
      query: {
        tenantId: litware,
        resourceId: `/subscriptions/${randomUUID()}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x`,
      },
    }),
    status: readers(200),
  },
  'fleetChanges GET': { request: () => ({}), status: readers(200) },
  'fleetStorage GET': { request: () => ({}), status: readers(200) },
  'fleetExport GET': { request: () => ({ params: { dataset: 'inventory' } }), status: readers(200) },
  // A snapshot is the tenant's inventory of a run (resource metadata): readers. An unknown run: 404.
  'runSnapshot GET': {
    request: () => ({ params: { runId: '20261123T024550584Z-48598e', tenantId: litware } }),
    status: readers(404),
  },
  'onboarding GET': { request: () => ({ params: { tenantId: litware } }), status: readers(200) },
  // The console page needs sign-in (any role: the console asks /api/me what to show); an API client
  // without a valid credential gets 401.
  'console GET': {
    request: () => ({ params: { path: 'inventory' }, headers: { accept: 'application/json' } }),
    status: signedIn(200),
    variants: {
      // A browser without a valid credential is sent to sign in instead.
      'a browser': {
        request: () => ({ params: { path: 'inventory' }, headers: { accept: 'text/html' } }),
        status: signedIn(200),
        refused: 302,
      },
      // Hashed assets hold no data: public, whatever the credential.
      'an asset': {
        request: () => ({ params: { path: `assets/${consoleScript}` } }),
        status: signedIn(200),
        refused: 200,
      },
    },
  },
};

const ALL_ROLES = ['Fleet.Read', 'Fleet.CustomerData.Read', 'Fleet.Admin'];

/** Each refused credential, and the reason the 401 must give (so it is refused for that reason). */
const REFUSED: Array<[string, () => Promise<Record<string, string>>, string]> = [
  ['no credential', () => Promise.resolve({}), 'present an Entra bearer token'],
  [
    'a forged App Service principal where the platform did not enable it',
    () =>
      Promise.resolve({
        'x-ms-client-principal': principalHeader(ALL_ROLES),
        'x-ms-client-principal-idp': 'aad',
      }),
    'platform has not enabled it',
  ],
  [
    'an expired token',
    async () => ({
      authorization: `Bearer ${await callers.mint({ roles: ALL_ROLES, issuedAt: Math.floor(Date.now() / 1000) - 7200 })}`,
    }),
    'expired',
  ],
  [
    'a token for another audience',
    async () => ({
      authorization: `Bearer ${await callers.mint({ roles: ALL_ROLES, audience: 'api://another-api' })}`,
    }),
    'audience',
  ],
  [
    'a token of another issuer',
    async () => ({
      authorization: `Bearer ${await callers.mint({
        roles: ALL_ROLES,
        issuer: `${fleet.sandbox.endpoints.authorityHost}/${otherTenant}/v2.0`,
      })}`,
    }),
    'issuer',
  ],
];

beforeAll(async () => {
  consoleDir = await mkdtemp(join(tmpdir(), 'fleet-matrix-console-'));
  consoleScript = (await buildConsole(consoleDir)).script;
  process.env.TENANT_FLEET_CONSOLE_DIR = consoleDir;
  fleet = await startDemoFleet({ httpAuth: 'appservice' });
  callers = fleet.callers!;
  litware = tenantIdOf(fleet.world, 'Litware');
  otherTenant = tenantIdOf(fleet.world, 'Northwind Traders');
  const tenants = httpRoutes().find((route) => route.name === 'tenants')!;
  const created = await call(tenants.handler as HttpHandler, {
    method: 'POST',
    headers: await callers.headers(['Fleet.Admin']),
    body: { tenantId: litware, displayName: 'Litware' },
  });
  expect(created.status, created.text).toBe(201);
});
afterAll(async () => {
  await fleet?.close();
  delete process.env.TENANT_FLEET_CONSOLE_DIR;
  if (consoleDir) await rm(consoleDir, { recursive: true, force: true });
});

const registeredCells = httpRoutes().flatMap((route) =>
  route.methods.map((method) => ({ route, method, key: `${route.name} ${method}` })),
);
/** Each registered cell, then its variants (`{key} ({variant})`). */
const cells = registeredCells.flatMap((cell) => {
  const expectation = EXPECTATIONS[cell.key];
  return [
    { ...cell, expectation },
    ...Object.entries(expectation?.variants ?? {}).map(([variant, expected]) => ({
      ...cell,
      key: `${cell.key} (${variant})`,
      expectation: expected,
    })),
  ];
});

describe('the auth matrix', () => {
  it('has an expectation for every registered route and method, and none for a route that is gone', () => {
    expect(registeredCells.length).toBeGreaterThan(0);
    expect(registeredCells.map((cell) => cell.key).sort()).toEqual(Object.keys(EXPECTATIONS).sort());
  });

  it('agrees with the role the OpenAPI document states for each route and method', () => {
    const paths = openApiDocument().paths as Record<string, Record<string, { 'x-required-role': string }>>;
    for (const { route, method, key } of registeredCells) {
      const status = EXPECTATIONS[key]!.status;
      const role =
        status['no role'] !== 403
          ? 'authenticated'
          : status['Fleet.Read'] !== 403
            ? 'Fleet.Read'
            : status['Fleet.CustomerData.Read'] !== 403
              ? 'Fleet.CustomerData.Read'
              : 'Fleet.Admin';
      const path = `/api/${route.route.replace(/\{\*(\w+)\}/g, '{$1}')}`;
      expect(paths[path]?.[method.toLowerCase()]?.['x-required-role'], key).toBe(role);
    }
  });

  describe.each(cells)('$key', ({ route, method, expectation: maybe }) => {
    const expectation = maybe!;
    const refused = expectation.refused ?? 401;

    it.each(REFUSED)(`answers ${refused} to %s`, async (_case, credential, reason) => {
      const request = expectation.request();
      const response = await call(route.handler as HttpHandler, {
        ...request,
        method,
        headers: { ...request.headers, ...(await credential()) },
      });
      expect(response.status, response.text).toBe(refused);
      if (refused === 302)
        expect(response.headers.get('location')).toMatch(/^\/\.auth\/login\/aad\?post_login_redirect_uri=/);
      if (refused !== 401) return;
      expect(response.error().code).toBe('Unauthenticated');
      expect(response.error().message).toContain(reason);
    });

    it.each(ROLE_SETS)('answers exactly as expected to a caller with %s', async (roleSet) => {
      const request = expectation.request();
      const roles = roleSet === 'no role' ? [] : [roleSet];
      const response = await call(route.handler as HttpHandler, {
        ...request,
        method,
        headers: { ...request.headers, ...(await callers.headers(roles)) },
      });
      const expected = expectation.status[roleSet];
      expect(response.status, response.text.slice(0, 300)).toBe(expected);
      if (expected === 403) expect(response.error().code).toBe('Forbidden');
    });
  });
});

/**
 * Caller authorization in `appservice` mode (the default in Azure): App Service Authentication puts
 * the validated caller in `x-ms-client-principal` (base64 JSON); the app checks the app roles
 * Fleet.Read (reads) and Fleet.Admin (everything that changes something, or reaches a customer).
 * Refusals happen before any work: a refused write leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantRecord } from '../../src/core/sweep/registry.js';
import { createRuntime, setRuntime, type FleetRuntime } from '../../src/core/runtime.js';
import { storageBlobs, storageContainers } from '../../src/functions/blobs.js';
import { run } from '../../src/functions/run.js';
import { runs } from '../../src/functions/runs.js';
import { tenant } from '../../src/functions/tenant.js';
import { tenantChanges } from '../../src/functions/tenantChanges.js';
import { tenantDiagnose } from '../../src/functions/tenantDiagnose.js';
import { tenantInventory } from '../../src/functions/tenantInventory.js';
import { tenantReset } from '../../src/functions/tenantReset.js';
import { tenants } from '../../src/functions/tenants.js';
import { tenantStorage } from '../../src/functions/tenantStorage.js';
import { asCaller, call, principalHeader, type CallOptions, type HttpHandler } from '../support/http.js';
import { testConfig } from '../support/provider.js';

let runtime: FleetRuntime;
let existing: TenantRecord;

beforeAll(async () => {
  runtime = createRuntime(testConfig({ TENANT_FLEET_HTTP_AUTH: 'appservice' }), { log: () => undefined });
  expect(runtime.config.httpAuth).toBe('appservice');
  await runtime.storage.ensureResources();
  setRuntime(runtime);
  existing = await runtime.registry.add({ tenantId: randomUUID(), displayName: 'Litware' }, 'setup');
});
afterAll(() => setRuntime(undefined));

const reader = asCaller(['Fleet.Read'], 'rita@contoso.com');
const admin = asCaller(['Fleet.Admin'], 'alice@contoso.com');

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

describe('appservice mode: who is calling', () => {
  it('answers 401 without x-ms-client-principal', async () => {
    const response = await call(tenants);
    expect(response.status).toBe(401);
    expect(response.error().code).toBe('Unauthenticated');
    expect(response.error().message).toContain('authentication required');
  });

  it.each<[string, string]>([
    ['not base64 of JSON', 'this is not a principal'],
    ['base64 of plain text', base64('alice')],
    ['base64 of a JSON array', base64('[]')],
    ['claims that are not a list', base64(JSON.stringify({ claims: 'roles=Fleet.Admin' }))],
    ['a claim without a value', base64(JSON.stringify({ claims: [{ typ: 'roles' }] }))],
    ['an empty header', ''],
  ])('answers 401 for a malformed principal (%s)', async (_case, header) => {
    const response = await call(tenants, { headers: { 'x-ms-client-principal': header } });
    expect(response.status).toBe(401);
    expect(response.error().code).toBe('Unauthenticated');
  });

  it('answers 403 for a signed-in caller without an app role', async () => {
    const response = await call(tenants, { headers: asCaller([], 'nobody@contoso.com') });
    expect(response.status).toBe(403);
    expect(response.error()).toMatchObject({
      code: 'Forbidden',
      message: 'the app role Fleet.Read is required',
    });
  });

  it('ignores roles of other apps and roles given as other claim types', async () => {
    const principal = {
      auth_typ: 'aad',
      claims: [
        { typ: 'roles', val: 'Fleet.Reader' },
        { typ: 'groups', val: 'Fleet.Admin' },
        { typ: 'name', val: 'mallory' },
      ],
    };
    const response = await call(tenants, {
      headers: { 'x-ms-client-principal': base64(JSON.stringify(principal)) },
    });
    expect(response.status).toBe(403);
  });

  it('reads the role claim type App Service names in role_typ', async () => {
    const roleType = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';
    const principal = {
      auth_typ: 'aad',
      name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
      role_typ: roleType,
      claims: [{ typ: roleType, val: 'Fleet.Read' }],
    };
    const response = await call(tenants, {
      headers: { 'x-ms-client-principal': base64(JSON.stringify(principal)) },
    });
    expect(response.status).toBe(200);
  });
});

describe('appservice mode: Fleet.Read reads, Fleet.Admin changes', () => {
  it('lets Fleet.Read list and read tenants', async () => {
    expect((await call(tenants, { headers: reader })).status).toBe(200);
    const one = await call(tenant, { headers: reader, params: { tenantId: existing.tenantId } });
    expect(one.status).toBe(200);
    expect(one.json<TenantRecord>().displayName).toBe('Litware');
  });

  it('refuses a Fleet.Read POST with 403 and registers nothing', async () => {
    const tenantId = randomUUID();
    const response = await call(tenants, {
      method: 'POST',
      headers: reader,
      body: { tenantId, displayName: 'Fabrikam' },
    });
    expect(response.status).toBe(403);
    expect(response.error()).toMatchObject({
      code: 'Forbidden',
      message: 'the app role Fleet.Admin is required',
    });
    expect((await call(tenant, { headers: admin, params: { tenantId } })).status).toBe(404);
  });

  it('lets Fleet.Admin register, and records the caller on an exclusion', async () => {
    const tenantId = randomUUID();
    const created = await call(tenants, {
      method: 'POST',
      headers: admin,
      body: { tenantId, displayName: 'Fabrikam' },
    });
    expect(created.status, created.text).toBe(201);
    const excluded = await call(tenant, {
      method: 'PATCH',
      headers: admin,
      params: { tenantId },
      body: { enabled: false, reason: 'offboarding' },
    });
    expect(excluded.status).toBe(200);
    expect(excluded.json<TenantRecord>().exclusion).toMatchObject({
      by: 'alice@contoso.com',
      reason: 'offboarding',
    });
    // Fleet.Admin implies Fleet.Read.
    expect((await call(tenants, { headers: admin })).status).toBe(200);
  });

  // Every operation that changes something or acts in a customer tenant needs Fleet.Admin; every
  // read needs at least Fleet.Read. The refusal comes before validation or any outbound call.
  const someRun = '20261123T024550584Z-48598e';
  const blob = { account: 'stlitwareprod01', container: 'invoices', blobName: 'a.txt' };
  const writes: Array<[string, HttpHandler, CallOptions]> = [
    ['POST /tenants', tenants, { method: 'POST', body: {} }],
    ['PATCH /tenants/{id}', tenant, { method: 'PATCH', body: { displayName: 'x' } }],
    ['DELETE /tenants/{id}', tenant, { method: 'DELETE' }],
    ['POST /tenants/{id}/reset', tenantReset, { method: 'POST' }],
    ['POST /tenants/{id}/diagnose', tenantDiagnose, { method: 'POST' }],
    ['POST /runs', runs, { method: 'POST', body: {} }],
    ['PUT blob', storageBlobs, { method: 'PUT', params: blob, body: 'hello' }],
    ['DELETE blob', storageBlobs, { method: 'DELETE', params: blob }],
  ];
  const reads: Array<[string, HttpHandler, CallOptions]> = [
    ['GET /tenants', tenants, {}],
    ['GET /tenants/{id}', tenant, {}],
    ['GET /runs', runs, {}],
    ['GET /runs/{runId}', run, { params: { runId: someRun } }],
    ['GET inventory', tenantInventory, {}],
    ['GET changes', tenantChanges, {}],
    ['GET storage', tenantStorage, {}],
    ['GET containers', storageContainers, { params: { account: blob.account } }],
    ['GET blobs', storageBlobs, { params: { account: blob.account, container: blob.container } }],
  ];

  it.each(writes)(
    'refuses %s to Fleet.Read with 403 and to anonymous callers with 401',
    async (_name, handler, options) => {
      const params = { tenantId: existing.tenantId, ...options.params };
      const asReader = await call(handler, { ...options, params, headers: reader });
      expect(asReader.status).toBe(403);
      expect(asReader.error().message).toContain('Fleet.Admin');
      expect((await call(handler, { ...options, params })).status).toBe(401);
    },
  );

  it.each(reads)(
    'refuses %s to callers without a role (403) and anonymous callers (401)',
    async (_name, handler, options) => {
      const params = { tenantId: existing.tenantId, ...options.params };
      const noRole = await call(handler, { ...options, params, headers: asCaller([]) });
      expect(noRole.status).toBe(403);
      expect(noRole.error().message).toContain('Fleet.Read');
      expect((await call(handler, { ...options, params })).status).toBe(401);
    },
  );

  it('left the registry as it was: no refused write changed the tenant', async () => {
    const after = await runtime.registry.get(existing.tenantId);
    expect(after.etag).toBe(existing.etag);
  });

  it('takes the header name case-insensitively, as HTTP does', async () => {
    const response = await call(tenants, {
      headers: { 'X-MS-CLIENT-PRINCIPAL': principalHeader(['Fleet.Read']) },
    });
    expect(response.status).toBe(200);
  });
});

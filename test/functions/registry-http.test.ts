/**
 * The tenant registry over HTTP: GET/POST /api/tenants, GET/PATCH/DELETE /api/tenants/{id} and
 * POST /api/tenants/{id}/reset, called as the host calls them, against the shared Azurite. Callers are
 * authenticated the App Service way (the default `appservice` mode, on a platform that declares App
 * Service Authentication on: WEBSITE_AUTH_ENABLED), so audit fields carry their name.
 * No customer cloud is involved: nothing here requests a token.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvalidTenantRow, TenantRecord } from '../../src/core/sweep/registry.js';
import { createRuntime, setRuntime, type FleetRuntime } from '../../src/core/runtime.js';
import { tenant } from '../../src/functions/tenant.js';
import { tenantReset } from '../../src/functions/tenantReset.js';
import { tenants } from '../../src/functions/tenants.js';
import { arrayContaining, asCaller, call, stringContaining, type FunctionResponse } from '../support/http.js';
import { testConfig } from '../support/provider.js';

/** A tenant as the API returns it (GET adds whether its circuit breaker is open). */
type Tenant = TenantRecord & { circuitOpen?: boolean };
type TenantList = { items: Tenant[]; invalid: InvalidTenantRow[] };

const admin = asCaller(['Fleet.Admin'], 'alice@contoso.com');
let runtime: FleetRuntime;

beforeAll(async () => {
  // What App Service sets when Authentication is on (each test file runs in its own process).
  process.env.WEBSITE_AUTH_ENABLED = 'True';
  runtime = createRuntime(testConfig({ TENANT_FLEET_HTTP_AUTH: 'appservice' }), { log: () => undefined });
  await runtime.storage.ensureResources();
  setRuntime(runtime);
});
afterAll(() => {
  setRuntime(undefined);
  delete process.env.WEBSITE_AUTH_ENABLED;
});

function create(body: unknown): Promise<FunctionResponse> {
  return call(tenants, { method: 'POST', headers: admin, body });
}
function getTenant(tenantId: string): Promise<FunctionResponse> {
  return call(tenant, { headers: admin, params: { tenantId } });
}
function patch(tenantId: string, body: unknown, headers: Record<string, string> = {}) {
  return call(tenant, { method: 'PATCH', params: { tenantId }, headers: { ...admin, ...headers }, body });
}
function list(query: Record<string, string> = {}) {
  return call(tenants, { headers: admin, query });
}
async function registered(displayName: string, extra: Record<string, unknown> = {}): Promise<Tenant> {
  const response = await create({ tenantId: randomUUID(), displayName, ...extra });
  expect(response.status, response.text).toBe(201);
  return response.json<Tenant>();
}
function idsOf(list: FunctionResponse): string[] {
  return list.json<TenantList>().items.map((item) => item.tenantId);
}

describe('POST /api/tenants', () => {
  it('creates a tenant: 201 with the record, its ETag and its location', async () => {
    const id = randomUUID().toUpperCase();
    const response = await create({ tenantId: id, displayName: ' Litware ', tags: ['gold', 'eu'] });
    expect(response.status).toBe(201);
    const body = response.json<Tenant>();
    expect(body).toMatchObject({
      tenantId: id.toLowerCase(),
      displayName: 'Litware',
      enabled: true,
      tags: ['gold', 'eu'],
      subscriptions: { mode: 'all', include: [], exclude: [] },
      onboardingState: 'pending',
      consecutiveFailures: 0,
    });
    expect(body.etag).toMatch(/^W\/"datetime'.+'"$/);
    expect(response.headers.get('etag')).toBe(body.etag);
    expect(response.headers.get('location')).toBe(`/api/tenants/${id.toLowerCase()}`);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');

    const read = await getTenant(id);
    expect(read.status).toBe(200);
    expect(read.json<Tenant>()).toMatchObject({
      tenantId: id.toLowerCase(),
      displayName: 'Litware',
      circuitOpen: false,
    });
    expect(read.headers.get('etag')).toBe(body.etag);
  });

  it('refuses a duplicate with 409 and keeps the first registration', async () => {
    const first = await registered('Fabrikam');
    const again = await create({ tenantId: first.tenantId, displayName: 'Fabrikam again' });
    expect(again.status).toBe(409);
    expect(again.error()).toMatchObject({ code: 'Conflict' });
    expect(again.error().message).toContain(first.tenantId);
    expect((await getTenant(first.tenantId)).json<Tenant>().displayName).toBe('Fabrikam');
  });

  it.each<[string, unknown, string]>([
    ['a tenant id that is not a GUID', { tenantId: 'contoso.onmicrosoft.com', displayName: 'x' }, 'tenantId'],
    ['a missing tenant id', { displayName: 'x' }, 'tenantId'],
    ['an empty name', { tenantId: randomUUID(), displayName: '   ' }, 'displayName'],
    ['a name that is not a string', { tenantId: randomUUID(), displayName: 42 }, 'displayName'],
    [
      'enabled that is not a boolean',
      { tenantId: randomUUID(), displayName: 'x', enabled: 'yes' },
      'enabled',
    ],
    ['a tag with spaces', { tenantId: randomUUID(), displayName: 'x', tags: ['no spaces'] }, 'tags.0'],
    [
      'list mode without subscriptions',
      { tenantId: randomUUID(), displayName: 'x', subscriptions: { mode: 'list' } },
      'subscriptions.include',
    ],
    [
      'a subscription id that is not a GUID',
      { tenantId: randomUUID(), displayName: 'x', subscriptions: { mode: 'list', include: ['prod'] } },
      'subscriptions.include.0',
    ],
    ['an unknown cloud', { tenantId: randomUUID(), displayName: 'x', cloud: 'Mars' }, 'cloud'],
    ['a non-JSON body', '{"tenantId": ', 'body'],
    ['an array body', [{ tenantId: randomUUID(), displayName: 'x' }], 'body'],
    ['a JSON string body', '"hello"', 'body'],
    ['an empty body', '', 'body'],
  ])('refuses %s with 400 naming the field', async (_case, body, field) => {
    const response = await create(body);
    expect(response.status).toBe(400);
    const error = response.error();
    expect(error).toMatchObject({ code: 'InvalidInput', field });
    expect(error.message.startsWith(`${field}: `)).toBe(true);
  });

  it('refuses an unknown property with 400 naming the property', async () => {
    const response = await create({ tenantId: randomUUID(), displayName: 'x', owner: 'bob' });
    expect(response.status).toBe(400);
    expect(response.error().code).toBe('InvalidInput');
    expect(response.error().message).toContain('owner');
  });

  it('refuses a subscription scope too large to store with 400, not a 500', async () => {
    const ids = (count: number) => Array.from({ length: count }, () => randomUUID());
    const response = await create({
      tenantId: randomUUID(),
      displayName: 'x',
      subscriptions: { mode: 'list', include: ids(500), exclude: ids(500) },
    });
    expect(response.status, response.text).toBe(400);
    expect(response.error().field).toBe('subscriptions.include');
    // The largest scope the schema allows still fits in its table property.
    const largest = await create({
      tenantId: randomUUID(),
      displayName: 'x',
      subscriptions: { mode: 'list', include: ids(400), exclude: ids(400) },
    });
    expect(largest.status, largest.text).toBe(201);
    expect(largest.json<Tenant>().subscriptions.include).toHaveLength(400);
  });

  it('refuses a body over 256 KiB with 413', async () => {
    const response = await create({ tenantId: randomUUID(), displayName: 'x'.repeat(300 * 1024) });
    expect(response.status).toBe(413);
    expect(response.error()).toMatchObject({ code: 'PayloadTooLarge', field: 'body' });
  });
});

describe('GET /api/tenants', () => {
  it('lists valid tenants and reports invalid rows separately, by row key', async () => {
    const good = await registered('Northwind');
    const table = runtime.storage.table(runtime.config.names.tenantsTable);
    const badGuid = randomUUID();
    // Rows a person or an older version wrote by hand: one with a key that is no tenant id, one
    // whose subscription scope is not JSON.
    await table.upsertEntity({
      partitionKey: 'tenant',
      rowKey: 'not-a-tenant',
      displayName: 'Broken',
      enabled: true,
      createdAt: 'x',
      updatedAt: 'x',
    });
    await table.upsertEntity({
      partitionKey: 'tenant',
      rowKey: badGuid,
      displayName: 'Half written',
      enabled: true,
      subscriptionScope: '{mode: all',
      createdAt: 'x',
      updatedAt: 'x',
    });
    const response = await list();
    expect(response.status).toBe(200);
    const { items, invalid } = response.json<TenantList>();
    expect(idsOf(response)).toContain(good.tenantId);
    expect(idsOf(response)).not.toContain(badGuid);
    expect(invalid).toEqual(
      arrayContaining([
        { rowKey: 'not-a-tenant', problem: stringContaining('rowKey') },
        { rowKey: badGuid, problem: stringContaining('subscriptionScope') },
      ]),
    );
    for (const item of items) expect(item).toHaveProperty('circuitOpen');
  });

  it('answers 409 naming the problem for an invalid row read by id, and lets it be deleted', async () => {
    const tenantId = randomUUID();
    await runtime.storage.table(runtime.config.names.tenantsTable).upsertEntity({
      partitionKey: 'tenant',
      rowKey: tenantId,
      displayName: 'Half written',
      enabled: true,
      tags: 'gold',
      createdAt: 'x',
      updatedAt: 'x',
    });
    for (const response of [await getTenant(tenantId), await patch(tenantId, { displayName: 'Fixed' })]) {
      expect(response.status, response.text).toBe(409);
      expect(response.error().message).toContain(tenantId);
      expect(response.error().message).toContain('tags');
    }
    const removed = await call(tenant, {
      method: 'DELETE',
      headers: { ...admin, 'if-match': '*' },
      params: { tenantId },
    });
    expect(removed.status).toBe(204);
    expect((await getTenant(tenantId)).status).toBe(404);
  });

  it('filters by tag and by enabled', async () => {
    const tag = `t${randomUUID().slice(0, 8)}`;
    const tagged = await registered('Tailspin', { tags: [tag, 'other'] });
    const disabled = await registered('Wingtip', { tags: [tag], enabled: false });
    await registered('Untagged');

    expect(idsOf(await list({ tag })).sort()).toEqual([tagged.tenantId, disabled.tenantId].sort());
    expect(idsOf(await list({ tag, enabled: 'true' }))).toEqual([tagged.tenantId]);
  });
});

describe('GET /api/tenants/{tenantId}', () => {
  it('answers 404 for an unknown tenant and 400 for an id that is not a GUID', async () => {
    const unknown = randomUUID();
    const missing = await getTenant(unknown);
    expect(missing.status).toBe(404);
    expect(missing.error()).toMatchObject({ code: 'NotFound' });
    expect(missing.error().message).toContain(unknown);

    for (const bad of ['contoso.com', '', "'; DROP TABLE", '../tenants']) {
      const response = await getTenant(bad);
      expect(response.status, bad).toBe(400);
      expect(response.error()).toMatchObject({ code: 'InvalidInput', field: 'tenantId' });
    }
  });
});

describe('PATCH /api/tenants/{tenantId}', () => {
  it('updates with a current If-Match, refuses a stale one with 412 and changes nothing', async () => {
    const created = await registered('Contoso Retail');
    const updated = await patch(
      created.tenantId,
      { displayName: 'Contoso Retail EU' },
      { 'if-match': created.etag },
    );
    expect(updated.status).toBe(200);
    expect(updated.json<Tenant>().displayName).toBe('Contoso Retail EU');
    expect(updated.headers.get('etag')).not.toBe(created.etag);

    const stale = await patch(
      created.tenantId,
      { displayName: 'Lost update', tags: ['x'] },
      { 'if-match': created.etag },
    );
    expect(stale.status).toBe(412);
    expect(stale.error().code).toBe('PreconditionFailed');
    const after = (await getTenant(created.tenantId)).json<Tenant>();
    expect(after).toMatchObject({
      displayName: 'Contoso Retail EU',
      tags: [],
      etag: updated.json<Tenant>().etag,
    });
  });

  it.each(['garbage', '"strong-etag"', 'W/unquoted', '*, W/"a"'])(
    'refuses a malformed If-Match %j with 400 on PATCH and DELETE, changing nothing',
    async (ifMatch) => {
      const created = await registered('Margie');
      const patched = await patch(created.tenantId, { displayName: 'Changed' }, { 'if-match': ifMatch });
      expect(patched.status, patched.text).toBe(400);
      expect(patched.error()).toMatchObject({ code: 'InvalidInput', field: 'If-Match' });
      const deleted = await call(tenant, {
        method: 'DELETE',
        headers: { ...admin, 'if-match': ifMatch },
        params: { tenantId: created.tenantId },
      });
      expect(deleted.status, deleted.text).toBe(400);
      expect((await getTenant(created.tenantId)).json<Tenant>()).toMatchObject({
        displayName: 'Margie',
        etag: created.etag,
      });
    },
  );

  it('accepts If-Match: * (any version)', async () => {
    const created = await registered('Alpine');
    const response = await patch(created.tenantId, { tags: ['ski'] }, { 'if-match': '*' });
    expect(response.status).toBe(200);
    expect(response.json<Tenant>().tags).toEqual(['ski']);
  });

  it('needs a reason to disable, records who disabled it and why, and re-enables', async () => {
    const created = await registered('Adatum');
    const noReason = await patch(created.tenantId, { enabled: false });
    expect(noReason.status).toBe(400);
    expect(noReason.error()).toMatchObject({ code: 'InvalidInput', field: 'reason' });
    expect((await getTenant(created.tenantId)).json<Tenant>().enabled).toBe(true);

    const disabled = await patch(created.tenantId, { enabled: false, reason: 'contract paused' });
    expect(disabled.status).toBe(200);
    expect(disabled.json<Tenant>()).toMatchObject({
      enabled: false,
      exclusion: { by: 'alice@contoso.com', reason: 'contract paused' },
    });
    const enabled = await patch(created.tenantId, { enabled: true });
    expect(enabled.json<Tenant>().enabled).toBe(true);
    expect(enabled.json<Tenant>().exclusion).toBeUndefined();
  });

  it.each<[string, unknown, string]>([
    ['an unknown property', { displayName: 'x', owner: 'bob' }, 'body'],
    ['an empty name', { displayName: '' }, 'displayName'],
    [
      'list mode without subscriptions',
      { subscriptions: { mode: 'list', include: [] } },
      'subscriptions.include',
    ],
    ['a non-JSON body', 'displayName=x', 'body'],
    ['an array body', ['displayName'], 'body'],
  ])('refuses %s with 400 naming the field', async (_case, body, field) => {
    const created = await registered('Proseware');
    const response = await patch(created.tenantId, body);
    expect(response.status).toBe(400);
    expect(response.error()).toMatchObject({ code: 'InvalidInput', field });
    expect((await getTenant(created.tenantId)).json<Tenant>().etag).toBe(created.etag);
  });

  it('answers 404 for an unknown tenant and 400 for a bad id', async () => {
    expect((await patch(randomUUID(), { displayName: 'x' })).status).toBe(404);
    expect((await patch('nope', { displayName: 'x' })).status).toBe(400);
  });
});

describe('DELETE /api/tenants/{tenantId}', () => {
  it('deletes with If-Match (204), then the tenant is gone (404) and a second delete is 404', async () => {
    const created = await registered('Lucerne');
    const removed = await call(tenant, {
      method: 'DELETE',
      headers: { ...admin, 'if-match': created.etag },
      params: { tenantId: created.tenantId },
    });
    expect(removed.status).toBe(204);
    expect(removed.text).toBe('');
    expect((await getTenant(created.tenantId)).status).toBe(404);
    const again = await call(tenant, {
      method: 'DELETE',
      headers: { ...admin, 'if-match': '*' },
      params: { tenantId: created.tenantId },
    });
    expect(again.status).toBe(404);
  });

  it('refuses a delete without If-Match (428 naming the header) and keeps the tenant', async () => {
    const created = await registered('Wingtip');
    const refused = await call(tenant, {
      method: 'DELETE',
      headers: admin,
      params: { tenantId: created.tenantId },
    });
    expect(refused.status).toBe(428);
    expect(refused.error()).toMatchObject({ code: 'PreconditionRequired' });
    expect(refused.error().message).toContain('If-Match');
    expect((await getTenant(created.tenantId)).status).toBe(200);
  });

  it('refuses a delete with a stale If-Match (412) and keeps the tenant', async () => {
    const created = await registered('Humongous');
    await patch(created.tenantId, { tags: ['changed'] });
    const stale = await call(tenant, {
      method: 'DELETE',
      headers: { ...admin, 'if-match': created.etag },
      params: { tenantId: created.tenantId },
    });
    expect(stale.status).toBe(412);
    expect((await getTenant(created.tenantId)).json<Tenant>().tags).toEqual(['changed']);
  });
});

describe('POST /api/tenants/{tenantId}/reset', () => {
  it('closes an open circuit breaker', async () => {
    const created = await registered('Trey Research');
    for (const run of ['run-1', 'run-2', 'run-3'])
      await runtime.registry.recordSweepOutcome(created.tenantId, run, 'failed');
    const open = (await getTenant(created.tenantId)).json<Tenant>();
    expect(open).toMatchObject({ consecutiveFailures: 3, circuitOpen: true });

    const reset = await call(tenantReset, {
      method: 'POST',
      headers: admin,
      params: { tenantId: created.tenantId },
    });
    expect(reset.status).toBe(200);
    expect(reset.json<Tenant>().consecutiveFailures).toBe(0);
    expect(reset.headers.get('etag')).toBe(reset.json<Tenant>().etag);
    expect((await getTenant(created.tenantId)).json<Tenant>()).toMatchObject({
      consecutiveFailures: 0,
      circuitOpen: false,
    });
  });

  it('answers 404 for an unknown tenant and 400 for a bad id', async () => {
    expect(
      (await call(tenantReset, { method: 'POST', headers: admin, params: { tenantId: randomUUID() } }))
        .status,
    ).toBe(404);
    expect(
      (await call(tenantReset, { method: 'POST', headers: admin, params: { tenantId: 'x' } })).status,
    ).toBe(400);
  });
});

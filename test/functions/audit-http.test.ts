/**
 * The audit log over HTTP: every change (registry, blob writes and deletes, resets, diagnoses, run
 * starts) and every read of customer data appends rows that say when, who (object id, app id,
 * sanitised name), what, on which target, with which outcome, status and ETags, in which invocation.
 * GET /api/audit (Fleet.Admin) lists them newest first, filtered and paged.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/audit/audit-log.js';
import type { TenantRecord } from '../../src/core/sweep/registry.js';
import { audit } from '../../src/functions/audit.js';
import { storageBlobs } from '../../src/functions/blobs.js';
import { runs } from '../../src/functions/runs.js';
import { tenant } from '../../src/functions/tenant.js';
import { tenantDiagnose } from '../../src/functions/tenantDiagnose.js';
import { tenantReset } from '../../src/functions/tenantReset.js';
import { tenants } from '../../src/functions/tenants.js';
import type { ApiCallers } from '../support/api-callers.js';
import { call, startDemoFleet, tenantIdOf, type Fleet } from '../support/http.js';

type AuditPage = { items: AuditRecord[]; continuationToken?: string };

let fleet: Fleet;
let callers: ApiCallers;
let admin: Record<string, string>;
let adminId: string;
let litware: string;

beforeAll(async () => {
  fleet = await startDemoFleet({ httpAuth: 'appservice' });
  callers = fleet.callers!;
  admin = await callers.headers(['Fleet.Admin']);
  adminId = callers.objectIdOf(['Fleet.Admin']);
  litware = tenantIdOf(fleet.world, 'Litware');
});
afterAll(async () => {
  await fleet?.close();
});

async function auditPage(query: Record<string, string> = {}): Promise<AuditPage> {
  const response = await call(audit, { headers: admin, query });
  expect(response.status, response.text).toBe(200);
  return response.json<AuditPage>();
}

describe('what is audited', () => {
  // Finding: nothing durable recorded who did what.
  it('records every change with who, what, target, outcome, status, ETags and invocation', async () => {
    const tenantId = randomUUID();
    const created = await call(tenants, {
      method: 'POST',
      headers: admin,
      body: { tenantId, displayName: 'Audited' },
    });
    expect(created.status).toBe(201);
    const etag1 = created.json<TenantRecord>().etag;
    const patched = await call(tenant, {
      method: 'PATCH',
      headers: { ...admin, 'if-match': etag1 },
      params: { tenantId },
      body: { tags: ['audited'] },
    });
    expect(patched.status).toBe(200);
    const etag2 = patched.json<TenantRecord>().etag;
    expect((await call(tenantReset, { method: 'POST', headers: admin, params: { tenantId } })).status).toBe(
      200,
    );
    const etag3 = (await call(tenant, { headers: admin, params: { tenantId } })).headers.get('etag')!;
    expect(
      (
        await call(tenant, {
          method: 'DELETE',
          headers: { ...admin, 'if-match': etag3 },
          params: { tenantId },
        })
      ).status,
    ).toBe(204);

    const rows = (await auditPage({ tenantId })).items;
    const outcomes = rows.filter((row) => row.outcome !== 'started');
    // Newest first.
    expect(outcomes.map((row) => row.action)).toEqual([
      'tenant.delete',
      'tenant.reset',
      'tenant.update',
      'tenant.create',
    ]);
    expect(outcomes.map((row) => row.status)).toEqual([204, 200, 200, 201]);
    expect(outcomes[0]).toMatchObject({
      etagBefore: etag3,
      target: `tenants/${tenantId}`,
      outcome: 'succeeded',
    });
    expect(outcomes[2]).toMatchObject({ etagBefore: etag1, etagAfter: etag2 });
    for (const row of rows) {
      expect(row.actor).toMatchObject({ objectId: adminId, via: 'token' });
      expect(row.invocationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.parse(row.at)).not.toBeNaN();
    }
    // Each operation first wrote a `started` row (a creation's names the collection: the id is in its body).
    expect(rows.filter((row) => row.outcome === 'started')).toHaveLength(3);
    const creation = (await auditPage({ action: 'tenant.create', actor: adminId })).items.find(
      (row) => row.etagAfter === etag1,
    );
    expect(creation).toMatchObject({ outcome: 'succeeded', status: 201 });
  });

  it('records diagnoses, run starts and customer data reads and writes, refused ones too', async () => {
    const registered = await call(tenants, {
      method: 'POST',
      headers: admin,
      body: { tenantId: litware, displayName: 'Litware' },
    });
    expect(registered.status).toBe(201);
    expect(
      (await call(tenantDiagnose, { method: 'POST', headers: admin, params: { tenantId: litware } })).status,
    ).toBe(200);
    expect(
      (await call(runs, { method: 'POST', headers: admin, body: { tenantIds: [randomUUID()] } })).status,
    ).toBe(404);
    const blob = {
      tenantId: litware,
      account: 'stlitwareprod01',
      container: 'invoices',
      blobName: '2025/index.json',
    };
    const reader = await callers.headers(['Fleet.CustomerData.Read']);
    expect((await call(storageBlobs, { headers: reader, params: blob })).status).toBe(404); // not swept
    // A caller without the role is refused, and the attempt is on record.
    expect(
      (await call(storageBlobs, { headers: await callers.headers(['Fleet.Read']), params: blob })).status,
    ).toBe(403);

    const rows = (await auditPage({ tenantId: litware })).items.filter((row) => row.outcome !== 'started');
    expect(rows.map((row) => [row.action, row.outcome, row.status])).toEqual([
      ['blob.read', 'refused', 403],
      ['blob.read', 'refused', 404],
      ['tenant.diagnose', 'succeeded', 200],
      ['tenant.create', 'succeeded', 201],
    ]);
    expect(rows[0]!.actor.objectId).toBe(callers.objectIdOf(['Fleet.Read']));
    expect(rows[0]!.detail).toBe('Forbidden');
    const started = (await auditPage({ action: 'run.start' })).items;
    expect(started.find((row) => row.outcome !== 'started')).toMatchObject({
      status: 404,
      outcome: 'refused',
    });
  });

  // Finding: the actor's display name was stored verbatim (a CR/LF in it was stored as is).
  it('stores a sanitised, bounded display name', async () => {
    const token = await callers.mint({
      roles: ['Fleet.Admin'],
      claims: { name: `Mallory\r\n[info] admin granted\u001b[2J${'x'.repeat(500)}` },
    });
    const tenantId = randomUUID();
    const created = await call(tenants, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: { tenantId, displayName: 'Sanitised' },
    });
    expect(created.status).toBe(201);
    const row = (await auditPage({ action: 'tenant.create' })).items[0]!;
    expect(row.actor.name.startsWith('Mallory [info] admin granted [2J')).toBe(true);
    // eslint-disable-next-line no-control-regex -- control characters are what must not be stored
    expect(row.actor.name).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(row.actor.name.length).toBeLessThanOrEqual(128);
  });
});

describe('GET /api/audit', () => {
  it('pages with a continuation token and filters by time range', async () => {
    const first = await auditPage({ top: '2' });
    expect(first.items).toHaveLength(2);
    expect(first.continuationToken).toBeTruthy();
    const second = await auditPage({ top: '2', continuationToken: first.continuationToken! });
    expect(second.items.length).toBeGreaterThan(0);
    expect(Date.parse(second.items[0]!.at)).toBeLessThanOrEqual(Date.parse(first.items[1]!.at));

    const future = await auditPage({ from: new Date(Date.now() + 3_600_000).toISOString() });
    expect(future.items).toEqual([]);
    const all = (await auditPage({ top: '1000' })).items;
    const newest = all[0]!.at;
    const window = await auditPage({ from: newest, to: newest });
    expect(window.items.length).toBeGreaterThan(0);
    expect(window.items.every((row) => row.at === newest)).toBe(true);
  });

  it.each<[string, Record<string, string>, string]>([
    ['an unknown action', { action: "tenant.create' or true" }, 'action'],
    ['a tenant id that is not a GUID', { tenantId: "x' or PartitionKey ne '" }, 'tenantId'],
    ['a time that is not ISO 8601', { from: 'yesterday' }, 'from'],
    [
      'a continuation token over 1024 characters',
      { continuationToken: 'a'.repeat(1025) },
      'continuationToken',
    ],
    [
      'a continuation token this API never issued',
      { continuationToken: 'bm90IGEgdG9rZW4=' },
      'continuationToken',
    ],
    ['an actor with control characters', { actor: 'alice\u0000' }, 'actor'],
  ])('refuses %s with 400 naming it', async (_case, query, field) => {
    const response = await call(audit, { headers: admin, query });
    expect(response.status, response.text).toBe(400);
    expect(response.error()).toMatchObject({ code: 'InvalidInput', field });
  });
});

describe('when the audit log cannot be written', () => {
  it('refuses a change with 503 and changes nothing, logging why', async () => {
    const table = fleet.runtime.storage.table(fleet.runtime.config.names.auditTable);
    await table.deleteTable();
    try {
      const tenantId = randomUUID();
      const response = await call(tenants, {
        method: 'POST',
        headers: admin,
        body: { tenantId, displayName: 'Unaudited' },
      });
      expect(response.status).toBe(503);
      expect(response.error().code).toBe('AuditUnavailable');
      expect(
        response.logs.some((line) => line.level === 'error' && line.text.includes('audit log unavailable')),
      ).toBe(true);
      await expect(fleet.runtime.registry.get(tenantId)).rejects.toThrow('not registered');
    } finally {
      await table.createTable();
    }
  });
});

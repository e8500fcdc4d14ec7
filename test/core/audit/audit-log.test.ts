/**
 * The audit log against the real Table service (Azurite), without the HTTP layer: the row one event
 * makes (bounded, sanitised, only a real tenant id stored as one), a redelivered write taken as done,
 * listing newest first within a time range, and the filters a caller may set (refused with the field
 * named when they are not what the API takes). test/functions/audit-http.test.ts covers what each
 * HTTP function records.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, auditFilter, auditLogOf, type AuditEvent } from '../../../src/core/audit/audit-log.js';
import type { Caller } from '../../../src/core/auth/caller.js';
import { InputError } from '../../../src/core/platform/errors.js';
import { createRuntime } from '../../../src/core/runtime.js';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import { testConfig } from '../../support/provider.js';

const config = testConfig();
const storage = new ProviderStorage(config);
const table = storage.table(config.names.auditTable);

const alice: Caller = {
  objectId: 'a0a0a0a0-0000-0000-0000-000000000001',
  appId: 'b0b0b0b0-0000-0000-0000-000000000002',
  upn: 'alice@contoso.com',
  name: 'Alice',
  roles: ['Fleet.Admin'],
  via: 'token',
};

const event: AuditEvent = {
  action: 'tenant.update',
  target: 'tenants/x',
  outcome: 'succeeded',
  status: 200,
};

beforeAll(async () => {
  await storage.ensureResources();
});

function inputError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('AuditLog', () => {
  it('stores one row per event with its caller, text bounded to 1024/512/64 and only a tenant id that is one', async () => {
    const at = new Date('2031-01-02T03:04:05.006Z');
    const log = new AuditLog(table, () => at);
    const tenantId = randomUUID().toUpperCase();
    await log.append(alice, 'inv-1\r\nforged', 7, {
      ...event,
      target: `tenants/${'t'.repeat(2000)}`,
      tenantId,
      etagBefore: 'W/"1"',
      etagAfter: 'W/"2"',
      detail: `Denied\u001b[31m ${'d'.repeat(600)}`,
    });
    await log.append({ name: 'unknown', roles: [], via: 'appservice', appId: 'app-2' }, 'inv-2', 0, {
      ...event,
      action: 'blob.read',
      tenantId: 'not-a-tenant',
      outcome: 'refused',
      status: 403,
    });
    const { items } = await log.list({ from: at.toISOString(), to: at.toISOString() });
    expect(items).toHaveLength(2);
    const first = items.find((item) => item.invocationId === 'inv-1 forged')!;
    expect(first).toEqual({
      at: '2031-01-02T03:04:05.006Z',
      actor: {
        objectId: alice.objectId,
        appId: alice.appId,
        upn: 'alice@contoso.com',
        name: 'Alice',
        label: 'alice@contoso.com',
        via: 'token',
      },
      action: 'tenant.update',
      target: `tenants/${'t'.repeat(1023 - 'tenants/'.length)}…`,
      tenantId: tenantId.toLowerCase(),
      outcome: 'succeeded',
      status: 200,
      etagBefore: 'W/"1"',
      etagAfter: 'W/"2"',
      detail: `Denied [31m ${'d'.repeat(511 - 'Denied [31m '.length)}…`,
      invocationId: 'inv-1 forged',
    });
    const second = items.find((item) => item.invocationId === 'inv-2')!;
    expect(second).toEqual({
      at: '2031-01-02T03:04:05.006Z',
      actor: { appId: 'app-2', name: 'unknown', label: 'app-2', via: 'appservice' },
      action: 'blob.read',
      target: 'tenants/x',
      outcome: 'refused',
      status: 403,
      invocationId: 'inv-2',
    });
  });

  it('takes a write that already landed (same invocation and sequence) as done, and fails on others', async () => {
    const at = new Date('2032-05-06T07:08:09.000Z');
    const log = new AuditLog(table, () => at);
    await log.append(alice, 'retried', 1, event);
    await expect(log.append(alice, 'retried', 1, { ...event, status: 500 })).resolves.toBeUndefined();
    const { items } = await log.list({ from: at.toISOString(), to: at.toISOString() });
    expect(items.map((item) => [item.invocationId, item.status])).toEqual([['retried', 200]]);
    const broken = new AuditLog(storage.table('tnosuchaudittable'), () => at);
    await expect(broken.append(alice, 'lost', 1, event)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('lists newest first within an inclusive time range, a page at a time', async () => {
    const times = ['2033-01-01T00:00:00.000Z', '2033-01-01T00:00:01.000Z', '2033-01-01T00:00:02.000Z'];
    for (const [i, time] of times.entries())
      await new AuditLog(table, () => new Date(time)).append(alice, `range-${i}`, 0, event);
    const log = new AuditLog(table);
    const all = await log.list({ from: times[0], to: times[2] });
    expect(all.items.map((item) => item.invocationId)).toEqual(['range-2', 'range-1', 'range-0']);
    const inner = await log.list({ from: times[1], to: times[1] });
    expect(inner.items.map((item) => item.invocationId)).toEqual(['range-1']);
    const page = await log.list({ from: times[0], to: times[2], top: 2 });
    expect(page.items.map((item) => item.invocationId)).toEqual(['range-2', 'range-1']);
    expect(page.continuationToken).toEqual(expect.any(String));
    const rest = await log.list({
      from: times[0],
      to: times[2],
      top: 2,
      continuationToken: page.continuationToken!,
    });
    expect(rest.items.map((item) => item.invocationId)).toEqual(['range-0']);
    expect(rest).not.toHaveProperty('continuationToken');
  });

  it('filters by tenant, action and actor (any of its ids, the UPN as written)', async () => {
    const at = new Date('2034-02-03T04:05:06.000Z');
    const log = new AuditLog(table, () => at);
    const tenantId = randomUUID();
    await log.append(alice, 'filter-1', 0, { ...event, tenantId });
    await log.append({ ...alice, upn: 'bob@contoso.com', objectId: 'c0c0', appId: 'd0d0' }, 'filter-2', 0, {
      ...event,
      action: 'tenant.delete',
    });
    const range = { from: at.toISOString(), to: at.toISOString() };
    const ids = async (query: Record<string, string>) =>
      (await log.list({ ...range, ...query })).items.map((item) => item.invocationId).sort();
    expect(await ids({ tenantId: tenantId.toUpperCase() })).toEqual(['filter-1']);
    expect(await ids({ action: 'tenant.delete' })).toEqual(['filter-2']);
    expect(await ids({ actor: ` ${alice.objectId!.toUpperCase()} ` })).toEqual(['filter-1']);
    expect(await ids({ actor: 'D0D0' })).toEqual(['filter-2']);
    expect(await ids({ actor: 'bob@contoso.com' })).toEqual(['filter-2']);
    expect(await ids({ actor: 'Alice' })).toEqual([]);
  });
});

describe('auditLogOf', () => {
  it("is one log per runtime, in the runtime's audit table, on the runtime's clock", async () => {
    const at = new Date('2035-03-04T05:06:07.000Z');
    const runtime = createRuntime(config, { now: () => at });
    const log = auditLogOf(runtime);
    expect(auditLogOf(runtime)).toBe(log);
    expect(auditLogOf(createRuntime(config))).not.toBe(log);
    await log.append({ objectId: 'o-1', name: 'Robot', roles: [], via: 'cli' }, 'of-runtime', 0, event);
    const { items } = await new AuditLog(table).list({ from: at.toISOString(), to: at.toISOString() });
    expect(items).toEqual([
      expect.objectContaining({
        at: at.toISOString(),
        invocationId: 'of-runtime',
        actor: { objectId: 'o-1', name: 'Robot', label: 'Robot', via: 'cli' },
      }),
    ]);
  });
});

describe('auditFilter', () => {
  it('refuses what is not a filter the API takes, naming the field', () => {
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ from: 'yesterday' }, 'from', 'must be an ISO 8601 time such as 2026-11-30T12:00:00Z'],
      [{ to: '2026-11-30' }, 'to', 'must be an ISO 8601 time'],
      [{ to: `2026-11-30T12:00:00.${'0'.repeat(40)}Z` }, 'to', 'must be an ISO 8601 time'],
      [{ tenantId: 'contoso' }, 'tenantId', 'must be a tenant id (GUID)'],
      [{ action: 'tenant.explode' }, 'action', 'must be one of tenant.create, tenant.update'],
      [{ actor: '   ' }, 'actor', 'must be an object id, app id or UPN (at most 256 characters)'],
      [{ actor: 'a'.repeat(257) }, 'actor', 'at most 256 characters'],
      [{ actor: 'alice\ncontoso' }, 'actor', 'must be an object id'],
      [{ actor: 'alice\u007f' }, 'actor', 'must be an object id'],
    ];
    for (const [query, field, message] of cases) {
      const error = inputError(() => auditFilter(query));
      expect(error, JSON.stringify(query)).toBeInstanceOf(InputError);
      expect(error).toMatchObject({ field, message: expect.stringContaining(message) as unknown });
    }
    expect(() => auditFilter({ actor: 'a'.repeat(256), from: '2026-11-30T12:00:00+01:00' })).not.toThrow();
  });

  it('is the partition alone without filters, and joins each filter with and', () => {
    expect(auditFilter({})).toBe("PartitionKey eq 'audit'");
    expect(auditFilter({ action: 'run.start', tenantId: 'A0A0A0A0-0000-0000-0000-000000000001' })).toBe(
      "PartitionKey eq 'audit' and tenantId eq 'a0a0a0a0-0000-0000-0000-000000000001' and action eq 'run.start'",
    );
  });
});

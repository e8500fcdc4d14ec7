/**
 * The registry's add, update, remove and retry paths against Azurite, each with its own table whose
 * requests are counted and can be refused (test/support/refusing-table.ts).
 */
import { randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { ConflictError, InputError, NotFoundError } from '../../../src/core/platform/errors.js';
import { ONBOARDING_GRACE_MINUTES } from '../../../src/core/platform/propagation.js';
import { isInvalidRow, TenantRegistry, type TenantRecord } from '../../../src/core/sweep/registry.js';
import { refusingTable, type RefusingTable } from '../../support/refusing-table.js';

interface Wire extends RefusingTable {
  registry: TenantRegistry;
}

const NOW = new Date('2026-11-30T12:00:00.000Z');
/** The registries' clock: a test moves it to tell an add's time from an update's. */
let clock = NOW;

/** A registry over a fresh table whose requests are counted and can be refused. */
async function wire(
  options: { defaultCloud?: 'AzurePublicCloud' | 'AzureUSGovernment' } = {},
): Promise<Wire> {
  const wired = (await refusingTable()) as Wire;
  wired.registry = new TenantRegistry(wired.table, {
    circuitBreakerThreshold: 3,
    defaultCloud: options.defaultCloud ?? 'AzurePublicCloud',
    onboardingGraceMinutes: ONBOARDING_GRACE_MINUTES,
    now: () => clock,
  });
  return wired;
}

/** The stored exclusion fields, as the row holds them (the record hides them for an enabled tenant). */
async function storedExclusion(table: TableClient, tenantId: string): Promise<unknown[]> {
  const row = await table.getEntity<Record<string, unknown>>('tenant', tenantId);
  return [row.excludedBy, row.excludedAt, row.excludedReason];
}

async function listed(registry: TenantRegistry, options?: { enabledOnly?: boolean }): Promise<string[]> {
  const ids: string[] = [];
  for await (const row of registry.list(options)) ids.push(isInvalidRow(row) ? row.rowKey : row.tenantId);
  return ids.sort();
}

describe('tenant registry: adding', () => {
  it('records a tenant added disabled as excluded, by whom and why', async () => {
    const { registry, table } = await wire();
    const record = await registry.add(
      { tenantId: randomUUID(), displayName: 'Paused', enabled: false },
      'alice',
    );
    expect(record.enabled).toBe(false);
    expect(record.exclusion).toEqual({ by: 'alice', at: NOW.toISOString(), reason: 'added disabled' });
    const active = await registry.add({ tenantId: randomUUID(), displayName: 'Active' }, 'alice');
    expect(active.enabled).toBe(true);
    expect(active.exclusion).toBeUndefined();
    expect(await storedExclusion(table, active.tenantId)).toEqual([undefined, undefined, undefined]);
  });

  it("takes the tenant's own cloud, else the registry's default", async () => {
    const { registry } = await wire({ defaultCloud: 'AzureUSGovernment' });
    const defaulted = await registry.add({ tenantId: randomUUID(), displayName: 'Gov' }, 'alice');
    expect(defaulted.cloud).toBe('AzureUSGovernment');
    const own = await registry.add(
      { tenantId: randomUUID(), displayName: 'Public', cloud: 'AzurePublicCloud' },
      'alice',
    );
    expect(own.cloud).toBe('AzurePublicCloud');
  });

  it('names a duplicate as already registered, and passes any other refusal through as it came', async () => {
    const wired = await wire();
    const tenantId = randomUUID();
    await wired.registry.add({ tenantId, displayName: 'First' }, 'alice');
    const duplicate = await wired.registry
      .add({ tenantId, displayName: 'Again' }, 'alice')
      .catch((e: unknown) => e);
    expect(duplicate).toBeInstanceOf(ConflictError);
    expect(duplicate).toMatchObject({ kind: 'exists', message: `tenant ${tenantId} is already registered` });
    wired.refuse = (request) => (request.method === 'POST' ? 503 : undefined);
    const outage = await wired.registry
      .add({ tenantId: randomUUID(), displayName: 'x' }, 'alice')
      .catch((e: unknown) => e);
    expect(outage).not.toBeInstanceOf(ConflictError);
    expect(outage).toMatchObject({ statusCode: 503 });
  });
});

describe('tenant registry: reading', () => {
  it('says which tenant is not registered, and passes any other refusal through', async () => {
    const wired = await wire();
    const missing = randomUUID();
    await expect(wired.registry.get(missing)).rejects.toThrow(
      new NotFoundError(`tenant ${missing} is not registered`),
    );
    const { tenantId } = await wired.registry.add({ tenantId: randomUUID(), displayName: 'x' }, 'alice');
    wired.refuse = () => 503;
    const outage = await wired.registry.get(tenantId).catch((e: unknown) => e);
    expect(outage).not.toBeInstanceOf(NotFoundError);
    expect(outage).toMatchObject({ statusCode: 503 });
  });

  it('refuses to hand out an invalid row, naming it, its problem and the fix', async () => {
    const { registry, table } = await wire();
    const rowKey = randomUUID();
    await table.createEntity({
      partitionKey: 'tenant',
      rowKey,
      displayName: 'Bad',
      enabled: true,
      subscriptionScope: '{"mode":"list","include":["nope"]}',
      createdAt: 'x',
      updatedAt: 'x',
    });
    const error = await registry.get(rowKey).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toMatch(
      new RegExp(`^registry row ${rowKey} is invalid \\(.*subscriptionScope.*\\); correct or delete it$`),
    );
  });

  it('lists every tenant, or only the enabled ones, and nothing outside its partition', async () => {
    const { registry, table } = await wire();
    const on = await registry.add({ tenantId: randomUUID(), displayName: 'On' }, 'alice');
    const off = await registry.add({ tenantId: randomUUID(), displayName: 'Off', enabled: false }, 'alice');
    await table.createEntity({ partitionKey: 'not-the-registry', rowKey: randomUUID(), enabled: true });
    expect(await listed(registry)).toEqual([on.tenantId, off.tenantId].sort());
    expect(await listed(registry, { enabledOnly: true })).toEqual([on.tenantId]);
  });
});

describe('tenant registry: updating', () => {
  it('names the field a bad patch gets wrong, or the body for a key it does not know', async () => {
    const { registry } = await wire();
    const { tenantId } = await registry.add({ tenantId: randomUUID(), displayName: 'x' }, 'alice');
    const empty = await registry.update(tenantId, { displayName: '' }, 'bob').catch((e: unknown) => e);
    expect(empty).toBeInstanceOf(InputError);
    expect(empty).toMatchObject({ field: 'displayName' });
    expect((empty as Error).message).not.toBe('');
    const unknown = await registry.update(tenantId, { colour: 'red' }, 'bob').catch((e: unknown) => e);
    expect(unknown).toMatchObject({ field: 'body' });
  });

  it('changes only what the patch names, and stamps the time of the change', async () => {
    const { registry } = await wire();
    const added = await registry.add(
      {
        tenantId: randomUUID(),
        displayName: 'Litware',
        tags: ['gold'],
        subscriptions: { mode: 'all', include: [], exclude: [randomUUID()] },
      },
      'alice',
    );
    const later = new Date(NOW.getTime() + 60_000);
    clock = later;
    const tagged = await registry.update(added.tenantId, { tags: ['silver'] }, 'bob').finally(() => {
      clock = NOW;
    });
    expect(tagged).toMatchObject({
      displayName: 'Litware',
      tags: ['silver'],
      subscriptions: added.subscriptions,
      enabled: true,
    });
    expect(tagged.updatedAt).toBe(later.toISOString());
    expect(tagged.createdAt).toBe(NOW.toISOString());
    const include = [randomUUID()];
    const scoped = await registry.update(added.tenantId, { subscriptions: { mode: 'list', include } }, 'bob');
    expect(scoped).toMatchObject({
      displayName: 'Litware',
      tags: ['silver'],
      subscriptions: { mode: 'list', include },
    });
    const renamed = await registry.update(added.tenantId, { displayName: 'Litware Ltd' }, 'bob');
    expect(renamed).toMatchObject({
      displayName: 'Litware Ltd',
      tags: ['silver'],
      subscriptions: { mode: 'list', include },
    });
  });

  it('keeps who excluded a tenant when it is excluded again with a new reason, and clears it all on re-enabling', async () => {
    const { registry, table } = await wire();
    const { tenantId } = await registry.add({ tenantId: randomUUID(), displayName: 'x' }, 'alice');
    // Enabling an enabled tenant changes nothing about its exclusion.
    expect((await registry.update(tenantId, { enabled: true }, 'bob')).exclusion).toBeUndefined();
    const excluded = await registry.update(tenantId, { enabled: false, reason: 'contract paused' }, 'bob');
    expect(excluded.exclusion).toEqual({ by: 'bob', at: NOW.toISOString(), reason: 'contract paused' });
    const again = await registry.update(tenantId, { enabled: false, reason: 'contract ended' }, 'carol');
    expect(again.enabled).toBe(false);
    expect(again.exclusion).toEqual({ by: 'bob', at: NOW.toISOString(), reason: 'contract ended' });
    // A patch that does not touch `enabled` leaves the exclusion as it is.
    const renamed = await registry.update(tenantId, { displayName: 'y' }, 'dave');
    expect(renamed).toMatchObject({ enabled: false, exclusion: again.exclusion });
    const enabled = await registry.update(tenantId, { enabled: true }, 'erin');
    expect(enabled.enabled).toBe(true);
    expect(enabled.exclusion).toBeUndefined();
    expect(await storedExclusion(table, tenantId)).toEqual(['', '', '']);
    // A reason sent for a tenant that stays enabled is not stored as an exclusion.
    await registry.update(tenantId, { displayName: 'z', reason: 'not excluded' }, 'frank');
    expect(await storedExclusion(table, tenantId)).toEqual(['', '', '']);
  });

  it('answers NotFound when the tenant is removed between the read and the write', async () => {
    const wired = await wire();
    const record = await wired.registry.add({ tenantId: randomUUID(), displayName: 'x' }, 'alice');
    await wired.registry.remove(record.tenantId);
    // The sweep's copy of the record still exists, the row does not: the merge itself is refused.
    await expect(
      wired.registry.recordSweepOutcome(record.tenantId, 'run-1', 'failed', undefined, record),
    ).rejects.toThrow(new NotFoundError(`tenant ${record.tenantId} is not registered`));
  });
});

describe('tenant registry: removing', () => {
  it('removes a tenant, says which is not registered, and refuses a stale ETag naming the conflict', async () => {
    const wired = await wire();
    const record = await wired.registry.add({ tenantId: randomUUID(), displayName: 'x' }, 'alice');
    await wired.registry.update(record.tenantId, { displayName: 'y' }, 'bob');
    const stale = await wired.registry.remove(record.tenantId, record.etag).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ConflictError);
    expect(stale).toMatchObject({
      kind: 'etag',
      message: `tenant ${record.tenantId} was changed by someone else; read it again`,
    });
    expect((await wired.registry.get(record.tenantId)).displayName).toBe('y');
    await wired.registry.remove(record.tenantId);
    await expect(wired.registry.get(record.tenantId)).rejects.toBeInstanceOf(NotFoundError);
    await expect(wired.registry.remove(record.tenantId)).rejects.toThrow(
      new NotFoundError(`tenant ${record.tenantId} is not registered`),
    );
    wired.refuse = () => 503;
    const outage = await wired.registry.remove(randomUUID()).catch((e: unknown) => e);
    expect(outage).not.toBeInstanceOf(ConflictError);
    expect(outage).not.toBeInstanceOf(NotFoundError);
    expect(outage).toMatchObject({ statusCode: 503 });
  });
});

describe('tenant registry: writes on the ETag read', () => {
  it('writes an outcome from the record the sweep holds without reading the row first', async () => {
    const wired = await wire();
    const record = await wired.registry.add({ tenantId: randomUUID(), displayName: 'x' }, 'alice');
    wired.sent.length = 0;
    await wired.registry.recordSweepOutcome(record.tenantId, 'run-1', 'failed', undefined, record);
    expect(wired.sent).toEqual(['PATCH']);
    // Without the record, it reads first.
    wired.sent.length = 0;
    await wired.registry.recordSweepOutcome(record.tenantId, 'run-2', 'failed');
    expect(wired.sent).toEqual(['GET', 'PATCH']);
    expect((await wired.registry.get(record.tenantId)).consecutiveFailures).toBe(2);
  });

  it('tries again from a fresh read after each conflict, a bounded number of times, then names the conflict', async () => {
    const wired = await wire();
    const record: TenantRecord = await wired.registry.add(
      { tenantId: randomUUID(), displayName: 'x' },
      'alice',
    );
    wired.refuse = (request) => (request.method === 'PATCH' ? 412 : undefined);
    wired.sent.length = 0;
    const error = await wired.registry
      .recordSweepOutcome(record.tenantId, 'run-1', 'failed')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ kind: 'etag' });
    // The first try and 8 more, each after a read.
    expect(wired.sent.filter((method) => method === 'PATCH')).toHaveLength(9);
    expect(wired.sent.filter((method) => method === 'GET')).toHaveLength(9);
    // A conflict that clears is retried to success; any other refusal ends the attempt at once.
    let conflicts = 2;
    wired.refuse = (request) => (request.method === 'PATCH' && conflicts-- > 0 ? 412 : undefined);
    await wired.registry.markVerified(record.tenantId, true);
    expect((await wired.registry.get(record.tenantId)).onboardingState).toBe('verified');
    wired.refuse = (request) => (request.method === 'PATCH' ? 503 : undefined);
    wired.sent.length = 0;
    await expect(wired.registry.recordSweepOutcome(record.tenantId, 'run-2', 'failed')).rejects.toMatchObject(
      { statusCode: 503 },
    );
    expect(wired.sent.filter((method) => method === 'PATCH')).toHaveLength(1);
  });
});

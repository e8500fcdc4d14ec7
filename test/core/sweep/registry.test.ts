import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, InputError, NotFoundError } from '../../../src/core/platform/errors.js';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import { isInvalidRow, TenantRegistry } from '../../../src/core/sweep/registry.js';
import { diagnose } from '../../../src/core/platform/diagnosis.js';
import { ONBOARDING_GRACE_MINUTES } from '../../../src/core/platform/propagation.js';
import { testConfig } from '../../support/provider.js';

const config = testConfig();
const storage = new ProviderStorage(config);
const table = storage.table(config.names.tenantsTable);
const registry = new TenantRegistry(table, {
  circuitBreakerThreshold: 3,
  defaultCloud: 'AzurePublicCloud',
  onboardingGraceMinutes: ONBOARDING_GRACE_MINUTES,
});

beforeAll(async () => {
  await storage.ensureResources();
});

describe('tenant registry', () => {
  it('adds a tenant with defaults and refuses a duplicate', async () => {
    const tenantId = randomUUID().toUpperCase();
    const record = await registry.add({ tenantId, displayName: 'Litware', tags: ['gold'] }, 'alice');
    expect(record).toMatchObject({
      tenantId: tenantId.toLowerCase(),
      displayName: 'Litware',
      enabled: true,
      tags: ['gold'],
      subscriptions: { mode: 'all', include: [], exclude: [] },
      onboardingState: 'pending',
      consecutiveFailures: 0,
      cloud: 'AzurePublicCloud',
    });
    expect(record.etag).not.toBe('');
    await expect(registry.add({ tenantId, displayName: 'Again' }, 'alice')).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect((await registry.get(tenantId)).displayName).toBe('Litware');
  });

  it.each([
    [{ tenantId: 'contoso.com', displayName: 'x' }, 'tenantId'],
    [{ tenantId: randomUUID(), displayName: '' }, 'displayName'],
    [
      { tenantId: randomUUID(), displayName: 'x', subscriptions: { mode: 'list', include: [] } },
      'subscriptions.include',
    ],
    [
      { tenantId: randomUUID(), displayName: 'x', subscriptions: { mode: 'all', include: ['nope'] } },
      'subscriptions.include.0',
    ],
    [{ tenantId: randomUUID(), displayName: 'x', unknown: 1 }, 'body'],
  ])('refuses bad input %# naming the field', async (input, field) => {
    const error = await registry.add(input, 'alice').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).field).toBe(field);
  });

  it('excludes with who, when and why, and re-enables', async () => {
    const { tenantId } = await registry.add({ tenantId: randomUUID(), displayName: 'Fabrikam' }, 'alice');
    await expect(registry.update(tenantId, { enabled: false }, 'bob')).rejects.toBeInstanceOf(InputError);
    const excluded = await registry.update(tenantId, { enabled: false, reason: 'contract paused' }, 'bob');
    expect(excluded.enabled).toBe(false);
    expect(excluded.exclusion).toMatchObject({ by: 'bob', reason: 'contract paused' });
    const enabled = await registry.update(tenantId, { enabled: true }, 'carol');
    expect(enabled.enabled).toBe(true);
    expect(enabled.exclusion).toBeUndefined();
  });

  it('refuses a write with a stale ETag and keeps the stored value', async () => {
    const record = await registry.add({ tenantId: randomUUID(), displayName: 'Northwind' }, 'alice');
    await registry.update(record.tenantId, { displayName: 'Northwind Traders' }, 'alice', record.etag);
    await expect(
      registry.update(record.tenantId, { displayName: 'Stale' }, 'bob', record.etag),
    ).rejects.toMatchObject({ kind: 'etag' });
    expect((await registry.get(record.tenantId)).displayName).toBe('Northwind Traders');
    await expect(registry.remove(record.tenantId, record.etag)).rejects.toBeInstanceOf(ConflictError);
  });

  it('makes a write without If-Match conditional on the ETag it read: a write in between is not overwritten', async () => {
    const { tenantId } = await registry.add({ tenantId: randomUUID(), displayName: 'Adatum' }, 'alice');
    // The same table, but another operator's write lands just after the registry reads the row.
    let interleaved = false;
    const racing = new Proxy(table, {
      get(target, property, receiver) {
        if (property !== 'getEntity') return Reflect.get(target, property, receiver) as unknown;
        return async (...args: Parameters<typeof table.getEntity>) => {
          const entity = await target.getEntity(...args);
          if (!interleaved) {
            interleaved = true;
            await target.updateEntity(
              { partitionKey: args[0], rowKey: args[1], displayName: 'Adatum (by carol)' },
              'Merge',
            );
          }
          return entity;
        };
      },
    });
    const racingRegistry = new TenantRegistry(racing, {
      circuitBreakerThreshold: 3,
      defaultCloud: 'AzurePublicCloud',
      onboardingGraceMinutes: ONBOARDING_GRACE_MINUTES,
    });
    await expect(
      racingRegistry.update(tenantId, { displayName: 'Adatum (by bob)' }, 'bob'),
    ).rejects.toMatchObject({
      kind: 'etag',
    });
    expect(interleaved).toBe(true);
    expect((await registry.get(tenantId)).displayName).toBe('Adatum (by carol)');
  });

  it('counts consecutive failures once per run and opens the circuit at the threshold', async () => {
    const { tenantId } = await registry.add({ tenantId: randomUUID(), displayName: 'Woodgrove' }, 'alice');
    // Not a propagation-like failure (those are spared in a new tenant's grace period: propagation.ts).
    const diagnosis = diagnose(new Error('AADSTS70021: No matching federated identity record found'), {
      cloud: config.cloud,
      appClientId: config.appClientId,
      tenantId,
    });
    await registry.recordSweepOutcome(tenantId, 'run-1', 'failed', diagnosis);
    await registry.recordSweepOutcome(tenantId, 'run-1', 'failed', diagnosis); // redelivery: not counted again
    expect((await registry.get(tenantId)).consecutiveFailures).toBe(1);
    await registry.recordSweepOutcome(tenantId, 'run-2', 'failed', diagnosis);
    await registry.recordSweepOutcome(tenantId, 'run-3', 'failed', diagnosis);
    const third = await registry.get(tenantId);
    expect(third.consecutiveFailures).toBe(3);
    expect(third.lastError?.code).toBe('AADSTS70021');
    expect(registry.isCircuitOpen(third)).toBe(true);
    const reset = await registry.resetCircuit(tenantId);
    expect(registry.isCircuitOpen(reset)).toBe(false);
    await registry.recordSweepOutcome(tenantId, 'run-4', 'succeeded');
    expect(await registry.get(tenantId)).toMatchObject({
      consecutiveFailures: 0,
      onboardingState: 'verified',
      lastSweep: { runId: 'run-4', status: 'succeeded' },
    });
  });

  it('writes nothing for a healthy tenant that stays healthy, and again once its health changes', async () => {
    const { tenantId } = await registry.add({ tenantId: randomUUID(), displayName: 'Contoso' }, 'alice');
    await registry.recordSweepOutcome(tenantId, 'run-1', 'succeeded');
    const healthy = await registry.get(tenantId);
    expect(healthy).toMatchObject({ onboardingState: 'verified', lastSweep: { runId: 'run-1' } });
    await registry.recordSweepOutcome(tenantId, 'run-2', 'succeeded', undefined, healthy);
    const unchanged = await registry.get(tenantId);
    expect(unchanged.etag).toBe(healthy.etag);
    expect(unchanged.lastSweep).toMatchObject({ runId: 'run-1', status: 'succeeded' });
    // A partial or failed sweep is recorded, and so is the success that follows it.
    await registry.recordSweepOutcome(tenantId, 'run-3', 'partial', undefined, unchanged);
    expect((await registry.get(tenantId)).lastSweep).toMatchObject({ runId: 'run-3', status: 'partial' });
    await registry.recordSweepOutcome(tenantId, 'run-4', 'failed');
    await registry.recordSweepOutcome(tenantId, 'run-5', 'succeeded');
    expect(await registry.get(tenantId)).toMatchObject({
      consecutiveFailures: 0,
      lastSweep: { runId: 'run-5', status: 'succeeded' },
    });
  });

  it('resolves concurrent outcome writes with ETag retries, losing none', async () => {
    const { tenantId } = await registry.add({ tenantId: randomUUID(), displayName: 'Tailspin' }, 'alice');
    await Promise.all(
      ['a', 'b', 'c', 'd'].map((run) => registry.recordSweepOutcome(tenantId, `run-${run}`, 'failed')),
    );
    expect((await registry.get(tenantId)).consecutiveFailures).toBe(4);
  });

  it('records an outcome from the record the sweep started with, and reads again when it went stale', async () => {
    const added = await registry.add({ tenantId: randomUUID(), displayName: 'Fabrikam' }, 'alice');
    // The sweep's copy is current: the outcome is written without reading the row first.
    await registry.recordSweepOutcome(added.tenantId, 'run-1', 'failed', undefined, added);
    expect((await registry.get(added.tenantId)).consecutiveFailures).toBe(1);
    // `added` is now stale (the row was written since, and again by an operator): the write is refused
    // by its ETag, the row is read again, and neither the earlier failure nor the operator's change is
    // lost (from the stale copy the count would be 1).
    await registry.update(added.tenantId, { displayName: 'Fabrikam Ltd' }, 'bob');
    await registry.recordSweepOutcome(added.tenantId, 'run-2', 'failed', undefined, added);
    const stored = await registry.get(added.tenantId);
    expect(stored.consecutiveFailures).toBe(2);
    expect(stored.displayName).toBe('Fabrikam Ltd');
    expect(stored.lastSweep).toMatchObject({ runId: 'run-2', status: 'failed' });
  });

  it('reports a malformed row in a listing without stopping it', async () => {
    const valid = [
      await registry.add({ tenantId: randomUUID(), displayName: 'Proseware' }, 'alice'),
      await registry.add({ tenantId: randomUUID(), displayName: 'Lucerne' }, 'alice'),
    ];
    await table.upsertEntity({
      partitionKey: 'tenant',
      rowKey: 'not-a-guid',
      displayName: 'Broken',
      enabled: true,
      createdAt: 'x',
      updatedAt: 'x',
    });
    await table.upsertEntity({
      partitionKey: 'tenant',
      rowKey: randomUUID(),
      displayName: 'Bad scope',
      enabled: true,
      subscriptionScope: '{"mode":"list","include":["nope"]}',
      createdAt: 'x',
      updatedAt: 'x',
    });
    const rows = [];
    for await (const row of registry.list()) rows.push(row);
    const invalid = rows.filter(isInvalidRow);
    expect(invalid.map((row) => row.rowKey)).toContain('not-a-guid');
    expect(invalid.some((row) => row.problem.includes('subscriptionScope'))).toBe(true);
    // The valid rows around the malformed ones are all listed (other tests add more of their own).
    const listed = rows.flatMap((row) => (isInvalidRow(row) ? [] : [row.tenantId]));
    expect(listed).toEqual(expect.arrayContaining(valid.map((record) => record.tenantId)));
  });

  it('answers NotFound for an unknown tenant and refuses a non-GUID id', async () => {
    await expect(registry.get(randomUUID())).rejects.toBeInstanceOf(NotFoundError);
    await expect(registry.get("x' or 1 eq 1")).rejects.toBeInstanceOf(InputError);
  });
});

/**
 * The change feed and a resource's history against Azurite, without a sandbox or a sweep: runs, their
 * tenant rows and change rows are written with the product's own stores and row builders, so each
 * case sets up exactly the shape it is about (fleet-views-http.test.ts drives the same functions
 * through HTTP after real sweeps). Covered here: the `top` and filter input checks, resource ids, the
 * page budget (a page that walks too many runs or tenants stops with a token, and the token resumes
 * where it stopped), tokens naming a run or tenant that is gone, the stored change's fields as the
 * feed returns them, and the exports' stream of every change.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { changeRow } from '../../../src/core/inventory/inventory.js';
import {
  changeFeed,
  changeRows,
  parseChangeFilter,
  resourceHistory,
  type ChangeFilter,
  type FleetChange,
} from '../../../src/core/operations/change-feed.js';
import { decodeCursor, encodeCursor, PAGE_BUDGET } from '../../../src/core/operations/fleet-cursor.js';
import { InputError } from '../../../src/core/platform/errors.js';
import { createRuntime, type FleetRuntime } from '../../../src/core/runtime.js';
import { newRunId, type TenantRunCounts } from '../../../src/core/sweep/runs.js';
import { testConfig } from '../../support/provider.js';
import { refusal } from '../../support/refusal.js';

async function installation(): Promise<FleetRuntime> {
  const runtime = createRuntime(testConfig());
  await runtime.storage.ensureResources();
  return runtime;
}

/** A tenant id that sorts where the test wants it (the feed walks a run's tenants in id order). */
function tenantIdStarting(digit: string): string {
  return `${digit}${randomUUID().slice(1)}`;
}

interface TenantChanges {
  tenantId: string;
  /** Change rows to write: each a resource of its own, in a subscription of the tenant. */
  changes: number;
  /** The tenant row's counts (default: `added` = changes). */
  counts?: Partial<TenantRunCounts>;
}

interface WrittenChange {
  tenantId: string;
  runId: string;
  resourceId: string;
}

/** A closed run started at `startedAt`, its tenant rows (finished with their counts) and their change rows. */
async function runWithChanges(
  runtime: FleetRuntime,
  startedAt: string,
  tenants: TenantChanges[],
): Promise<{ runId: string; written: WrittenChange[] }> {
  const runId = newRunId(new Date(startedAt));
  await runtime.runs.createRun({ runId, trigger: 'timer', status: 'completed', startedAt });
  await runtime.runs.addTenants(
    runId,
    tenants.map(({ tenantId }) => ({
      tenantId,
      displayName: `Tenant ${tenantId.slice(0, 4)}`,
      status: 'queued',
    })),
  );
  const table = runtime.storage.table(runtime.config.names.changesTable);
  const written: WrittenChange[] = [];
  for (const tenant of tenants) {
    await runtime.runs.finishTenant(runId, tenant.tenantId, 'succeeded', {
      endedAt: startedAt,
      ...(tenant.counts ?? { added: tenant.changes }),
    });
    const subscriptionId = randomUUID();
    for (let index = 0; index < tenant.changes; index++) {
      const name = `vm${String(index).padStart(3, '0')}`;
      const resourceId = `/subscriptions/${subscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${name}`;
      await table.upsertEntity(
        changeRow(
          { tenantId: tenant.tenantId, runId, now: startedAt },
          'added',
          { id: resourceId, name, type: 'Microsoft.Compute/virtualMachines', subscriptionId },
          { changedFields: '[]', before: '', after: JSON.stringify({ location: 'westeurope' }) },
        ),
      );
      written.push({ tenantId: tenant.tenantId, runId, resourceId });
    }
  }
  return { runId, written };
}

/** Every page of the feed, following its tokens; how many calls it took. */
async function allPages(
  runtime: FleetRuntime,
  filter: ChangeFilter,
  top?: number,
): Promise<{ pages: FleetChange[][]; items: FleetChange[] }> {
  const pages: FleetChange[][] = [];
  let continuationToken: string | undefined;
  do {
    const page = await changeFeed(runtime, filter, {
      ...(top !== undefined ? { top } : {}),
      ...(continuationToken ? { continuationToken } : {}),
    });
    pages.push(page.items);
    continuationToken = page.continuationToken;
    expect(pages.length, 'the feed ends').toBeLessThan(100);
  } while (continuationToken);
  return { pages, items: pages.flat() };
}

const key = (change: Pick<FleetChange, 'tenantId' | 'runId' | 'resourceId'>) =>
  `${change.runId}|${change.tenantId}|${change.resourceId}`;

/**
 * The feed returns `written`'s changes in its order of runs and tenants (each tenant's changes are
 * written together); within a tenant, rows come in row key order (a hash of the resource id), so those
 * are compared as a set.
 */
function expectFeedOrder(items: FleetChange[], written: WrittenChange[]): void {
  const group = (change: Pick<FleetChange, 'tenantId' | 'runId'>) => `${change.runId}|${change.tenantId}`;
  expect(items.map(group)).toEqual(written.map(group));
  expect(items.map(key).sort()).toEqual(written.map(key).sort());
}

async function inputRefusal(promise: Promise<unknown>): Promise<InputError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(InputError);
  return error as InputError;
}

describe('the change feed refuses', () => {
  it('a page size outside 1 to 1000, or not a whole number, before reading anything', async () => {
    // No tables exist under this configuration: a refusal that read first would fail otherwise.
    const runtime = createRuntime(testConfig());
    for (const top of [0, -1, 1001, 1.5, Number.NaN]) {
      const error = await inputRefusal(changeFeed(runtime, {}, { top }));
      expect(error).toMatchObject({ field: 'top', message: 'top: must be from 1 to 1000' });
    }
  });

  it('filters that are not a GUID, a kind or a time, and fields it does not know', () => {
    const thrown = (query: Record<string, string | undefined>) => refusal(() => parseChangeFilter(query));
    expect(thrown({ tenantId: 'litware' })).toMatchObject({
      field: 'tenantId',
      message: 'tenantId: must be a GUID',
    });
    expect(thrown({ kind: 'deleted' })).toMatchObject({ field: 'kind' });
    expect(thrown({ since: 'yesterday' })).toMatchObject({
      field: 'since',
      message: 'since: must be an ISO 8601 time',
    });
    // An unknown field has no path of its own: the error names the query.
    expect(thrown({ tenant: randomUUID() })).toMatchObject({ field: 'query' });
  });

  it('but ignores parameters given empty (a form that sends every field), and lower-cases a tenant id', () => {
    const tenantId = randomUUID().toUpperCase();
    expect(parseChangeFilter({ kind: '', since: '', until: undefined })).toEqual({});
    expect(parseChangeFilter({ tenantId, kind: 'removed' })).toEqual({
      tenantId: tenantId.toLowerCase(),
      kind: 'removed',
    });
  });
});

describe('the change feed pages', () => {
  it('take `top` changes a page (50 by default, 1 and 1000 allowed) and resume inside a tenant', async () => {
    const runtime = await installation();
    const tenantId = tenantIdStarting('1');
    const { written } = await runWithChanges(runtime, '2026-11-20T10:00:00.000Z', [
      { tenantId, changes: 55 },
    ]);
    const filter = { tenantId };

    const byDefault = await changeFeed(runtime, filter);
    expect(byDefault.items).toHaveLength(50);
    expect(byDefault.continuationToken).toBeDefined();
    const rest = await changeFeed(runtime, filter, { continuationToken: byDefault.continuationToken! });
    expect(rest.items).toHaveLength(5);
    expect(rest.continuationToken).toBeUndefined();
    expect([...byDefault.items, ...rest.items].map(key).sort()).toEqual(written.map(key).sort());

    const one = await changeFeed(runtime, filter, { top: 1 });
    expect(one.items).toHaveLength(1);
    // Stopped inside the tenant: the token carries the Table service's own token for its query.
    const stopped = decodeCursor(one.continuationToken);
    expect(stopped?.t).toBe(tenantId);
    expect(stopped?.k).toMatch(/./);
    const ones = await allPages(runtime, filter, 1);
    expect(ones.pages.every((page) => page.length === 1)).toBe(true);
    expect(ones.items.map(key).sort()).toEqual(written.map(key).sort());

    const all = await changeFeed(runtime, filter, { top: 1000 });
    expect(all.items.map(key).sort()).toEqual(written.map(key).sort());
    expect(all.continuationToken).toBeUndefined();
  });

  it(`stop after ${PAGE_BUDGET} table pages when tenants each have a few changes, and resume at the next tenant`, async () => {
    const runtime = await installation();
    // Ten tenants in one run, one change each: a page reads the run's tenant rows (one page of the
    // budget) and one query per tenant, so the first page holds budget - 1 tenants' changes.
    const tenants = Array.from({ length: 10 }, (_, index) => ({
      tenantId: tenantIdStarting(String(index)),
      changes: 1,
    }));
    const { runId, written } = await runWithChanges(runtime, '2026-11-20T10:00:00.000Z', tenants);

    const first = await changeFeed(runtime, {}, { top: 1000 });
    expect(first.items.map((change) => change.tenantId)).toEqual(
      tenants.slice(0, PAGE_BUDGET - 1).map((tenant) => tenant.tenantId),
    );
    expect(decodeCursor(first.continuationToken)).toEqual({
      v: 1,
      r: runId,
      t: tenants[PAGE_BUDGET - 1]!.tenantId,
    });

    const second = await changeFeed(runtime, {}, { top: 1000, continuationToken: first.continuationToken! });
    expect(second.items.map((change) => change.tenantId)).toEqual(
      tenants.slice(PAGE_BUDGET - 1).map((tenant) => tenant.tenantId),
    );
    expect(second.continuationToken).toBeUndefined();
    expect([...first.items, ...second.items].map(key)).toEqual(written.map(key));
  });

  it(`stop after ${PAGE_BUDGET} runs without changes, and resume at the next run's first tenant`, async () => {
    const runtime = await installation();
    // The oldest run has the changes; the newer ones (walked first) changed nothing. Tenant ids start
    // with digits, so a resumed run that compared them with anything but the empty tenant would skip them.
    const changed = [tenantIdStarting('0'), tenantIdStarting('5')];
    const { runId: oldest, written } = await runWithChanges(
      runtime,
      '2026-11-20T00:00:00.000Z',
      changed.map((tenantId) => ({ tenantId, changes: 2 })),
    );
    for (let hour = 1; hour <= PAGE_BUDGET; hour++)
      await runWithChanges(runtime, `2026-11-20T${String(hour).padStart(2, '0')}:00:00.000Z`, [
        { tenantId: tenantIdStarting('9'), changes: 0, counts: { added: 0, resources: 3 } },
      ]);

    const first = await changeFeed(runtime, {}, { top: 10 });
    expect(first.items).toEqual([]);
    expect(decodeCursor(first.continuationToken)).toEqual({ v: 1, r: oldest, t: '' });
    const second = await changeFeed(runtime, {}, { top: 10, continuationToken: first.continuationToken! });
    expectFeedOrder(second.items, written);
    expect(second.continuationToken).toBeUndefined();
  });

  it('go on to the next run when a page fills at the end of a run', async () => {
    const runtime = await installation();
    const tenantId = tenantIdStarting('2');
    const older = await runWithChanges(runtime, '2026-11-20T10:00:00.000Z', [{ tenantId, changes: 2 }]);
    const newer = await runWithChanges(runtime, '2026-11-21T10:00:00.000Z', [{ tenantId, changes: 3 }]);

    const first = await changeFeed(runtime, {}, { top: 3 });
    expectFeedOrder(first.items, newer.written);
    expect(decodeCursor(first.continuationToken)).toEqual({ v: 1, r: older.runId, t: '' });
    const second = await changeFeed(runtime, {}, { top: 3, continuationToken: first.continuationToken! });
    expectFeedOrder(second.items, older.written);
    expect(second.continuationToken).toBeUndefined();
  });

  it('count a tenant whose run only removed resources, and skip one whose run changed nothing', async () => {
    const runtime = await installation();
    const removing = tenantIdStarting('3');
    const unchanged = tenantIdStarting('4');
    const { written } = await runWithChanges(runtime, '2026-11-20T10:00:00.000Z', [
      { tenantId: removing, changes: 2, counts: { added: 0, removed: 2 } },
      // A change row without a count on the tenant row is not read: the counts decide which tenants are queried.
      { tenantId: unchanged, changes: 1, counts: { added: 0, removed: 0, modified: 0, baselined: 0 } },
    ]);
    const page = await changeFeed(runtime, {});
    expectFeedOrder(
      page.items,
      written.filter((change) => change.tenantId === removing),
    );
  });
});

describe('a change feed token', () => {
  it('naming a run no longer in the window ends the feed instead of failing', async () => {
    const runtime = await installation();
    await runWithChanges(runtime, '2026-11-20T10:00:00.000Z', [
      { tenantId: tenantIdStarting('1'), changes: 1 },
    ]);
    const gone = encodeCursor({ v: 1, r: newRunId(new Date('2026-01-01T00:00:00.000Z')), t: '' });
    expect(await changeFeed(runtime, {}, { continuationToken: gone })).toEqual({ items: [] });
  });

  it("naming a tenant past the run's last one goes on with the next run", async () => {
    const runtime = await installation();
    const tenantId = tenantIdStarting('1');
    const older = await runWithChanges(runtime, '2026-11-20T10:00:00.000Z', [{ tenantId, changes: 1 }]);
    const newer = await runWithChanges(runtime, '2026-11-21T10:00:00.000Z', [{ tenantId, changes: 1 }]);
    const pastLast = encodeCursor({ v: 1, r: newer.runId, t: 'f'.repeat(8) });
    const page = await changeFeed(runtime, {}, { continuationToken: pastLast });
    expectFeedOrder(page.items, older.written);
  });

  it("naming a tenant that is gone resumes at the next tenant from its start, not with the gone one's table token", async () => {
    const runtime = await installation();
    const [a, b, c] = [tenantIdStarting('1'), tenantIdStarting('3'), tenantIdStarting('5')];
    const { runId, written } = await runWithChanges(runtime, '2026-11-20T10:00:00.000Z', [
      { tenantId: a, changes: 1 },
      { tenantId: b, changes: 2 },
      { tenantId: c, changes: 3 },
    ]);
    // A real table token from the middle of c's partition.
    const insideC = await changeFeed(runtime, { tenantId: c }, { top: 1 });
    const tableToken = decodeCursor(insideC.continuationToken)!.k!;
    expect(tableToken).toBeDefined();
    // The token says: resume at a tenant between a and b (since removed), inside its query.
    const resumed = encodeCursor({ v: 1, r: runId, t: tenantIdStarting('2'), k: tableToken });
    const page = await changeFeed(runtime, {}, { continuationToken: resumed });
    expectFeedOrder(
      page.items,
      written.filter((change) => change.tenantId !== a),
    );
  });
});

describe('a stored change', () => {
  it('is returned with its fields parsed, an empty list for none, and text that is not JSON as text', async () => {
    const runtime = await installation();
    const tenantId = tenantIdStarting('7');
    const runId = newRunId(new Date('2026-11-20T10:00:00.000Z'));
    await runtime.runs.createRun({
      runId,
      trigger: 'timer',
      status: 'completed',
      startedAt: '2026-11-20T10:00:00.000Z',
    });
    await runtime.runs.addTenants(runId, [{ tenantId, displayName: 'Litware', status: 'queued' }]);
    await runtime.runs.finishTenant(runId, tenantId, 'succeeded', {
      endedAt: '2026-11-20T10:01:00.000Z',
      modified: 2,
    });
    const subscriptionId = randomUUID();
    const subject = (name: string) => ({
      id: `/subscriptions/${subscriptionId}/resourceGroups/rg/providers/Microsoft.Web/sites/${name}`,
      name,
      type: 'Microsoft.Web/sites',
      subscriptionId,
    });
    const table = runtime.storage.table(runtime.config.names.changesTable);
    const context = { tenantId, runId, now: '2026-11-20T10:00:30.000Z' };
    await table.upsertEntity(
      changeRow(context, 'modified', subject('app1'), {
        changedFields: JSON.stringify(['location']),
        before: JSON.stringify({ location: 'westeurope' }),
        after: JSON.stringify({ location: 'northeurope' }),
      }),
    );
    // A row as an older version may have written it: no field list, a before that is plain text.
    await table.upsertEntity(
      changeRow(context, 'modified', subject('app2'), {
        changedFields: '',
        before: 'tags changed',
        after: '',
      }),
    );

    const page = await changeFeed(runtime, { tenantId, kind: 'modified' });
    expect([...page.items].sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      {
        tenantId,
        tenantName: 'Litware',
        runId,
        changeType: 'modified',
        resourceId: subject('app1').id,
        name: 'app1',
        type: 'Microsoft.Web/sites',
        subscriptionId,
        changedFields: ['location'],
        before: { location: 'westeurope' },
        after: { location: 'northeurope' },
        detectedAt: '2026-11-20T10:00:30.000Z',
      },
      {
        tenantId,
        tenantName: 'Litware',
        runId,
        changeType: 'modified',
        resourceId: subject('app2').id,
        name: 'app2',
        type: 'Microsoft.Web/sites',
        subscriptionId,
        changedFields: [],
        before: 'tags changed',
        detectedAt: '2026-11-20T10:00:30.000Z',
      },
    ]);
  });

  it('is streamed once by the exports, tenant by tenant, and only for the tenant filtered on', async () => {
    const runtime = await installation();
    const tenants = [tenantIdStarting('1'), tenantIdStarting('2')];
    const older = await runWithChanges(
      runtime,
      '2026-11-20T10:00:00.000Z',
      tenants.map((tenantId) => ({ tenantId, changes: 2 })),
    );
    const newer = await runWithChanges(
      runtime,
      '2026-11-21T10:00:00.000Z',
      tenants.map((tenantId) => ({ tenantId, changes: 1 })),
    );
    const streamed = async (filter: ChangeFilter) => {
      const out: FleetChange[] = [];
      for await (const change of changeRows(runtime, filter)) out.push(change);
      return out;
    };
    expectFeedOrder(await streamed({}), [...newer.written, ...older.written]);
    expectFeedOrder(
      await streamed({ tenantId: tenants[1]! }),
      [...newer.written, ...older.written].filter((change) => change.tenantId === tenants[1]),
    );
  });
});

describe("a resource's history", () => {
  it('lists every change of the resource, newest first, and nothing of other resources', async () => {
    const runtime = await installation();
    const tenantId = tenantIdStarting('6');
    const older = await runWithChanges(runtime, '2026-11-20T10:00:00.000Z', [{ tenantId, changes: 2 }]);
    const resourceId = older.written[0]!.resourceId;
    const runId = newRunId(new Date('2026-11-22T10:00:00.000Z'));
    const subscriptionId = resourceId.split('/')[2]!;
    await runtime.storage
      .table(runtime.config.names.changesTable)
      .upsertEntity(
        changeRow(
          { tenantId, runId, now: '2026-11-22T10:00:00.000Z' },
          'removed',
          { id: resourceId, name: 'vm000', type: 'Microsoft.Compute/virtualMachines', subscriptionId },
          { changedFields: '[]', before: JSON.stringify({ location: 'westeurope' }), after: '' },
        ),
      );
    const history = await resourceHistory(runtime, tenantId, resourceId);
    expect(history.map((change) => [change.runId, change.changeType])).toEqual([
      [runId, 'removed'],
      [older.runId, 'added'],
    ]);
    expect(history[0]).not.toHaveProperty('tenantId');
    expect(history[0]).not.toHaveProperty('tenantName');
  });

  it('takes an ARM resource id of up to 2048 characters, in any case, and refuses anything else', async () => {
    const runtime = await installation();
    const tenantId = randomUUID();
    const prefix = `/SUBSCRIPTIONS/${randomUUID()}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/`;
    expect(await resourceHistory(runtime, tenantId, `${prefix}${'a'.repeat(2048 - prefix.length)}`)).toEqual(
      [],
    );
    for (const resourceId of [
      `${prefix}${'a'.repeat(2049 - prefix.length)}`,
      'subscriptions/x/resourceGroups/rg',
      '/subscriptions//resourceGroups/rg',
      '/subscriptions/x',
      '/tenants/x/providers/y',
      'https://example.com/subscriptions/x/',
    ]) {
      const error = await inputRefusal(resourceHistory(runtime, tenantId, resourceId));
      expect(error).toMatchObject({
        field: 'resourceId',
        message: 'resourceId: must be an ARM resource id (/subscriptions/...)',
      });
    }
  });
});

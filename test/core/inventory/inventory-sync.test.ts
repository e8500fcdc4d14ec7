/**
 * Change detection against the real Table service (Azurite), with inventory streams built in the test:
 * added, removed and modified are exact, and an unchanged subscription costs one write.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { odata } from '@azure/data-tables';
import type { InventoryItem } from '../../../src/core/platform/arm.js';
import { inventoryPartition, SUBSCRIPTION_MARKER } from '../../../src/core/inventory/inventory.js';
import { SubscriptionSync } from '../../../src/core/inventory/subscription-sync.js';
import { TenantMarkers } from '../../../src/core/inventory/tenant-marker.js';
import { inventoryFixture } from '../../support/provider.js';

const { storage, tables, tenantId, subscription } = inventoryFixture();

function resource(
  index: number,
  patch: Partial<InventoryItem> = {},
  subscriptionId = subscription.subscriptionId,
): InventoryItem {
  return {
    id: `/subscriptions/${subscriptionId}/resourceGroups/rg-${index % 3}/providers/Microsoft.Compute/virtualMachines/vm-${index}`,
    name: `vm-${index}`,
    type: 'Microsoft.Compute/virtualMachines',
    location: 'westeurope',
    resourceGroup: `rg-${index % 3}`,
    subscriptionId,
    tags: { env: 'prod', owner: `team-${index % 4}` },
    sku: { name: 'Standard_D2s_v5' },
    ...patch,
  };
}

// eslint-disable-next-line @typescript-eslint/require-await -- an async source, as ARM's pages are
async function* stream(items: InventoryItem[]): AsyncGenerator<InventoryItem> {
  for (const item of items) yield item;
}

async function sweep(runId: string, items: InventoryItem[], target = subscription) {
  const sync = new SubscriptionSync(tables);
  const result = await sync.syncSubscription(
    { tenantId: target.tenantId, runId, now: new Date().toISOString() },
    target,
    stream(items),
  );
  return { result, stats: sync.stats() };
}

async function rows(table: 'inventory' | 'changes', filter: string) {
  const found: Array<Record<string, unknown>> = [];
  for await (const entity of tables[table].listEntities<Record<string, unknown>>({
    queryOptions: { filter },
  }))
    found.push(entity);
  return found;
}

beforeAll(async () => {
  await storage.ensureResources();
});

describe('inventory change detection', () => {
  /**
   * A subscription of its own with the 250 resources baselined (run-1): the tests after the first
   * start from it, so each runs alone. Run ids are per subscription, as a sweep's are.
   */
  async function afterBaseline() {
    const own = { ...subscription, subscriptionId: randomUUID() };
    const items = Array.from({ length: 250 }, (_, index) => resource(index, {}, own.subscriptionId));
    await sweep('run-1', items, own);
    return { own, items };
  }

  it('takes the first sweep as a baseline: every row written, one baseline change record, transactions of at most 100', async () => {
    // A tenant and subscription of its own: the other tests' baselines (run-1 too) are not its change rows.
    const own = { ...subscription, tenantId: randomUUID(), subscriptionId: randomUUID() };
    const first = Array.from({ length: 250 }, (_, index) => resource(index, {}, own.subscriptionId));
    const { result, stats } = await sweep('run-1', first, own);
    expect(result).toMatchObject({ items: 250, baselined: 250, added: 0, removed: 0, modified: 0 });
    const stored = await rows(
      'inventory',
      odata`PartitionKey eq ${inventoryPartition(own.tenantId, own.subscriptionId)}`,
    );
    expect(stored.filter((row) => row.rowKey !== SUBSCRIPTION_MARKER)).toHaveLength(250);
    // 250 rows + the marker (pending in the first transaction, final in the last) = 3 transactions.
    expect(stats.inventory).toEqual({ operations: 252, requests: 3 });
    expect(stats.changes).toEqual({ operations: 1, requests: 1 });
    const changes = await rows('changes', odata`PartitionKey eq ${own.tenantId} and runId eq ${'run-1'}`);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      changeType: 'baseline',
      resourceId: `/subscriptions/${own.subscriptionId}`,
      type: 'Microsoft.Resources/subscriptions',
      changedFields: '[]',
      items: 250,
    });
    expect(changes[0]!.before ?? '').toBe('');
    expect(JSON.parse(changes[0]!.after as string)).toEqual({ items: 250, resourceGroups: 0 });
    const marker = stored.find((row) => row.rowKey === SUBSCRIPTION_MARKER)!;
    expect(marker.baselinePending).toBeUndefined();
    expect(marker).toMatchObject({ items: 250, manifestEntries: 250 });
    // Rows are lean: the tenant and subscription are the partition key's, absent fields are left out.
    const row = stored.find((entity) => entity.name === 'vm-7')!;
    expect(row).toMatchObject({ resourceGroup: 'rg-1', sku: '{"name":"Standard_D2s_v5"}' });
    expect(row).not.toHaveProperty('tenantId');
    expect(row).not.toHaveProperty('kind');
  });

  it('lists the storage accounts and counts the resource groups it read, whatever their type spelling', async () => {
    const own = { ...subscription, tenantId: randomUUID(), subscriptionId: randomUUID() };
    const id = `/subscriptions/${own.subscriptionId}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stdata01`;
    const items: InventoryItem[] = [
      resource(0, {}, own.subscriptionId),
      resource(
        1,
        { id, name: 'stdata01', type: 'microsoft.storage/STORAGEACCOUNTS', resourceGroup: 'rg-data' },
        own.subscriptionId,
      ),
      resource(
        2,
        {
          id: `/subscriptions/${own.subscriptionId}/resourceGroups/rg-data`,
          name: 'rg-data',
          type: 'Microsoft.Resources/resourceGroups',
        },
        own.subscriptionId,
      ),
    ];
    const { result } = await sweep('run-1', items, own);
    expect(result).toMatchObject({ items: 3, resourceGroups: 1 });
    expect(result.storageAccounts).toEqual([
      { id, name: 'stdata01', subscriptionId: own.subscriptionId, resourceGroup: 'rg-data' },
    ]);
  });

  it('writes nothing for an unchanged subscription, and leaves its marker as the last write left it', async () => {
    const { own, items } = await afterBaseline();
    const partition = inventoryPartition(own.tenantId, own.subscriptionId);
    const before = await tables.inventory.getEntity(partition, SUBSCRIPTION_MARKER);
    const { result, stats } = await sweep('run-2', items, own);
    expect(result).toMatchObject({ items: 250, added: 0, removed: 0, modified: 0 });
    expect(stats.inventory).toEqual({ operations: 0, requests: 0 });
    expect(stats.changes).toEqual({ operations: 0, requests: 0 });
    const after = await tables.inventory.getEntity(partition, SUBSCRIPTION_MARKER);
    expect(after.etag).toBe(before.etag);
    expect(after).toMatchObject({ lastRunId: 'run-1', items: 250 });
  });

  it("rewrites an unchanged subscription's marker when its state or counts differ from what it says", async () => {
    const { own, items } = await afterBaseline();
    const warned = await sweep('run-2', items, { ...own, state: 'Warned' });
    expect(warned.stats.inventory).toEqual({ operations: 1, requests: 1 });
    const partition = inventoryPartition(own.tenantId, own.subscriptionId);
    expect(await tables.inventory.getEntity(partition, SUBSCRIPTION_MARKER)).toMatchObject({
      state: 'Warned',
      lastRunId: 'run-2',
    });
    // The same state again: nothing to write.
    expect((await sweep('run-3', items, { ...own, state: 'Warned' })).stats.inventory.requests).toBe(0);
    // A marker whose counts are not this listing's (an older marker) is brought up to date.
    await tables.inventory.updateEntity({ partitionKey: partition, rowKey: SUBSCRIPTION_MARKER, items: 7 });
    const recounted = await sweep('run-4', items, { ...own, state: 'Warned' });
    expect(recounted.stats.inventory.requests).toBe(1);
    expect(await tables.inventory.getEntity(partition, SUBSCRIPTION_MARKER)).toMatchObject({ items: 250 });
    await tables.inventory.updateEntity({
      partitionKey: partition,
      rowKey: SUBSCRIPTION_MARKER,
      resourceGroups: 9,
    });
    expect((await sweep('run-5', items, { ...own, state: 'Warned' })).stats.inventory.requests).toBe(1);
  });

  it("merges an unchanged subscription's marker: its manifest kept as stored, the sweep's run and counts set", async () => {
    const { own, items } = await afterBaseline();
    const partition = inventoryPartition(own.tenantId, own.subscriptionId);
    // A property no sweep writes shows which way the marker was written: a merge keeps it, a replace not.
    await tables.inventory.updateEntity({ partitionKey: partition, rowKey: SUBSCRIPTION_MARKER, probe: 'x' });
    const before = await tables.inventory.getEntity<Record<string, unknown>>(partition, SUBSCRIPTION_MARKER);
    const renamed = { ...own, displayName: 'Renamed subscription' };
    await sweep('run-2', items, renamed);
    const marker = () => tables.inventory.getEntity<Record<string, unknown>>(partition, SUBSCRIPTION_MARKER);
    const after = await marker();
    expect(after).toMatchObject({ lastRunId: 'run-2', displayName: 'Renamed subscription', items: 250 });
    expect(after.probe).toBe('x');
    const manifestOf = (row: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(row).filter(([name]) => name.startsWith('manifest')));
    expect(manifestOf(after)).toEqual(manifestOf(before));
    expect(Object.keys(manifestOf(after)).length).toBeGreaterThan(2); // version, entries and a chunk
    // The kept manifest still describes the rows: a change after it is found, and only it.
    const changed = items.map((item, index) => (index === 7 ? { ...item, location: 'northeurope' } : item));
    const { result } = await sweep('run-3', changed.slice(1), own);
    expect(result).toMatchObject({ items: 249, added: 0, removed: 1, modified: 1 });
    expect(await marker()).not.toHaveProperty('probe'); // a changed manifest replaces the marker
    const { result: again } = await sweep('run-4', changed.slice(1), own);
    expect(again).toMatchObject({ added: 0, removed: 0, modified: 0 });
  });

  it('records exactly what drifted, and what changed in each modified resource', async () => {
    const { own, items } = await afterBaseline();
    const drifted = items
      .filter((item) => !['vm-0', 'vm-1'].includes(item.name)) // 2 removed
      .map((item) => (item.name === 'vm-5' ? { ...item, tags: { ...item.tags, env: 'dev' } } : item))
      .map((item) =>
        item.name === 'vm-6' ? { ...item, sku: { name: 'Standard_D4s_v5' }, location: 'northeurope' } : item,
      );
    drifted.push(...[1000, 1001, 1002].map((index) => resource(index, {}, own.subscriptionId))); // 3 added
    const { result } = await sweep('run-3', drifted, own);
    expect(result).toMatchObject({ added: 3, removed: 2, modified: 2 });
    const changes = (
      await rows('changes', odata`PartitionKey eq ${tenantId} and runId eq ${'run-3'}`)
    ).filter((change) => String(change.resourceId).startsWith(`/subscriptions/${own.subscriptionId}/`));
    const byName: Record<string, Record<string, unknown>> = Object.fromEntries(
      changes.map((change) => [String(change.name), change]),
    );
    expect(Object.keys(byName).sort()).toEqual(
      ['vm-0', 'vm-1', 'vm-1000', 'vm-1001', 'vm-1002', 'vm-5', 'vm-6'].sort(),
    );
    expect(byName['vm-0']!.changeType).toBe('removed');
    expect(byName['vm-0']!.after ?? '').toBe(''); // a removed resource has no after
    expect(byName['vm-1000']!.changeType).toBe('added');
    expect(byName['vm-1000']!.before ?? '').toBe(''); // an added one has no before
    expect(JSON.parse(byName['vm-5']!.changedFields as string)).toEqual(['tags']);
    expect(JSON.parse(byName['vm-6']!.changedFields as string)).toEqual(['location', 'sku']);
    expect(JSON.parse(byName['vm-6']!.before as string)).toMatchObject({
      location: 'westeurope',
      sku: { name: 'Standard_D2s_v5' },
    });
    const stored = await rows(
      'inventory',
      odata`PartitionKey eq ${inventoryPartition(tenantId, own.subscriptionId)}`,
    );
    expect(stored.filter((row) => row.rowKey !== SUBSCRIPTION_MARKER)).toHaveLength(251);
    const vm6 = stored.find((row) => row.name === 'vm-6')!;
    expect(vm6.location).toBe('northeurope');
  });

  it('is idempotent when the same run is replayed (redelivery)', async () => {
    const { own, items } = await afterBaseline();
    const again = [...items.filter((item) => item.name !== 'vm-2'), resource(1000, {}, own.subscriptionId)];
    const once = await sweep('run-4', again, own);
    expect(once.result).toMatchObject({ added: 1, removed: 1, modified: 0 });
    const replay = await sweep('run-4', again, own);
    expect(replay.result).toMatchObject({ added: 0, removed: 0, modified: 0 });
    const changes = (
      await rows('changes', odata`PartitionKey eq ${tenantId} and runId eq ${'run-4'}`)
    ).filter((change) => String(change.resourceId).startsWith(`/subscriptions/${own.subscriptionId}/`));
    // run-4 removed vm-2 and added vm-1000: recorded once each, whatever the replay did.
    const keys = changes.map((change) => change.rowKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(changes.map((change) => [change.changeType, change.name]).sort()).toEqual([
      ['added', 'vm-1000'],
      ['removed', 'vm-2'],
    ]);
  });
});

describe('what counts as drift', () => {
  /** A subscription of its own, baselined with one resource: each test starts from the same state. */
  async function baselined(item: Partial<InventoryItem>) {
    const subscriptionId = randomUUID();
    const own = { ...subscription, subscriptionId };
    const base: InventoryItem = {
      ...resource(0),
      id: `/subscriptions/${subscriptionId}/resourceGroups/rg-0/providers/Microsoft.Web/sites/app-0`,
      name: 'app-0',
      type: 'Microsoft.Web/sites',
      subscriptionId,
      ...item,
    };
    const syncOnce = async (runId: string, items: InventoryItem[]) =>
      new SubscriptionSync(tables).syncSubscription(
        { tenantId, runId, now: new Date().toISOString() },
        own,
        stream(items),
      );
    expect(await syncOnce(`${subscriptionId}-1`, [base])).toMatchObject({ baselined: 1 });
    return {
      base,
      next: async (changed: InventoryItem) => {
        const runId = `${subscriptionId}-2`;
        const result = await syncOnce(runId, [changed]);
        const changes = await rows('changes', odata`PartitionKey eq ${tenantId} and runId eq ${runId}`);
        return { result, changes };
      },
    };
  }

  it.each<[string, Partial<InventoryItem>, Partial<InventoryItem>, string]>([
    ['kind', { kind: 'app' }, { kind: 'functionapp' }, 'kind'],
    ['kind (set where there was none)', {}, { kind: 'functionapp' }, 'kind'],
    [
      'managedBy',
      { managedBy: '/subscriptions/x/aks-1' },
      { managedBy: '/subscriptions/x/aks-2' },
      'managedBy',
    ],
    ['managedBy (cleared)', { managedBy: '/subscriptions/x/aks-1' }, { managedBy: undefined }, 'managedBy'],
  ])('records a change in %s as modified, naming the field', async (_case, before, after, field) => {
    const { base, next } = await baselined(before);
    const { result, changes } = await next({ ...base, ...after });
    expect(result).toMatchObject({ added: 0, removed: 0, modified: 1 });
    expect(changes).toHaveLength(1);
    expect(changes[0]!.changeType).toBe('modified');
    expect(JSON.parse(changes[0]!.changedFields as string)).toEqual([field]);
  });

  it('does not count a location or type that differs only in case as drift', async () => {
    const { base, next } = await baselined({ location: 'westeurope' });
    const { result, changes } = await next({ ...base, location: 'WestEurope', type: 'microsoft.web/SITES' });
    expect(result).toMatchObject({ added: 0, removed: 0, modified: 0 });
    expect(changes).toEqual([]);
  });

  it('keeps kind and managedBy through the stored row: a tag change on such a resource names only tags', async () => {
    const { base, next } = await baselined({ kind: 'app', managedBy: '/subscriptions/x/aks-1' });
    const { result, changes } = await next({ ...base, tags: { env: 'prod' } });
    expect(result).toMatchObject({ modified: 1 });
    expect(JSON.parse(changes[0]!.changedFields as string)).toEqual(['tags']);
  });

  it('names only the fields that changed when the location also changed case', async () => {
    const { base, next } = await baselined({ location: 'westeurope', tags: { env: 'test' } });
    const { result, changes } = await next({ ...base, location: 'West Europe', tags: { env: 'prod' } });
    expect(result).toMatchObject({ added: 0, removed: 0, modified: 1 });
    expect(JSON.parse(changes[0]!.changedFields as string)).toEqual(['tags']);
  });
});

describe("the tenant marker's lists", () => {
  it('stores the storage accounts with rows, and reads them back', async () => {
    const markers = new TenantMarkers(tables.inventory);
    const tenant = randomUUID();
    await markers.recordSubscriptions(tenant, ['s2', 's1'], {});
    await markers.recordStorageAccounts(tenant, { stb: 's2', sta: 's1' });
    expect(await markers.read(tenant)).toEqual({
      subscriptionIds: ['s1', 's2'],
      stored: true,
      storageAccounts: { sta: 's1', stb: 's2' },
    });
  });

  it('stores no list too long for a table property, and the sweep falls back to finding it', async () => {
    const markers = new TenantMarkers(tables.inventory);
    const tenant = randomUUID();
    // 1,000 subscriptions and 600 accounts: each list is longer than a string property may be.
    const subscriptionIds = Array.from({ length: 1000 }, () => randomUUID());
    const accounts = Object.fromEntries(
      Array.from({ length: 600 }, (_, index) => [`st${String(index).padStart(6, '0')}`, randomUUID()]),
    );
    await markers.recordSubscriptions(tenant, subscriptionIds, accounts);
    await markers.recordStorageAccounts(tenant, accounts);
    // Not stored: the subscriptions come from the inventory's marker rows (none here), the accounts
    // from a scan of the storage table (absent here means "scan").
    expect(await markers.read(tenant)).toEqual({ subscriptionIds: [], stored: false });
  });
});

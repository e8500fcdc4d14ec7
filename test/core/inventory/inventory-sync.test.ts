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

function resource(index: number, patch: Partial<InventoryItem> = {}): InventoryItem {
  return {
    id: `/subscriptions/${subscription.subscriptionId}/resourceGroups/rg-${index % 3}/providers/Microsoft.Compute/virtualMachines/vm-${index}`,
    name: `vm-${index}`,
    type: 'Microsoft.Compute/virtualMachines',
    location: 'westeurope',
    resourceGroup: `rg-${index % 3}`,
    subscriptionId: subscription.subscriptionId,
    tags: { env: 'prod', owner: `team-${index % 4}` },
    sku: { name: 'Standard_D2s_v5' },
    ...patch,
  };
}

// eslint-disable-next-line @typescript-eslint/require-await -- an async source, as ARM's pages are
async function* stream(items: InventoryItem[]): AsyncGenerator<InventoryItem> {
  for (const item of items) yield item;
}

async function sweep(runId: string, items: InventoryItem[]) {
  const sync = new SubscriptionSync(tables);
  const result = await sync.syncSubscription(
    { tenantId, runId, now: new Date().toISOString() },
    subscription,
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
  const first = Array.from({ length: 250 }, (_, index) => resource(index));

  it('takes the first sweep as a baseline: every row written, one baseline change record, transactions of at most 100', async () => {
    const { result, stats } = await sweep('run-1', first);
    expect(result).toMatchObject({ items: 250, baselined: 250, added: 0, removed: 0, modified: 0 });
    const stored = await rows(
      'inventory',
      odata`PartitionKey eq ${inventoryPartition(tenantId, subscription.subscriptionId)}`,
    );
    expect(stored.filter((row) => row.rowKey !== SUBSCRIPTION_MARKER)).toHaveLength(250);
    // 250 rows + the marker (pending in the first transaction, final in the last) = 3 transactions.
    expect(stats.inventory).toEqual({ operations: 252, requests: 3 });
    expect(stats.changes).toEqual({ operations: 1, requests: 1 });
    const changes = await rows('changes', odata`PartitionKey eq ${tenantId} and runId eq ${'run-1'}`);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      changeType: 'baseline',
      resourceId: `/subscriptions/${subscription.subscriptionId}`,
      items: 250,
    });
    const marker = stored.find((row) => row.rowKey === SUBSCRIPTION_MARKER)!;
    expect(marker.baselinePending).toBeUndefined();
    expect(marker).toMatchObject({ items: 250, manifestEntries: 250 });
    // Rows are lean: the tenant and subscription are the partition key's, absent fields are left out.
    const row = stored.find((entity) => entity.name === 'vm-7')!;
    expect(row).toMatchObject({ resourceGroup: 'rg-1', sku: '{"name":"Standard_D2s_v5"}' });
    expect(row).not.toHaveProperty('tenantId');
    expect(row).not.toHaveProperty('kind');
  });

  it('costs one write (the marker) for an unchanged subscription', async () => {
    const { result, stats } = await sweep('run-2', first);
    expect(result).toMatchObject({ items: 250, added: 0, removed: 0, modified: 0 });
    expect(stats.inventory).toEqual({ operations: 1, requests: 1 });
    expect(stats.changes).toEqual({ operations: 0, requests: 0 });
  });

  it('records exactly what drifted, and what changed in each modified resource', async () => {
    const drifted = first
      .filter((item) => !['vm-0', 'vm-1'].includes(item.name)) // 2 removed
      .map((item) => (item.name === 'vm-5' ? { ...item, tags: { ...item.tags, env: 'dev' } } : item))
      .map((item) =>
        item.name === 'vm-6' ? { ...item, sku: { name: 'Standard_D4s_v5' }, location: 'northeurope' } : item,
      );
    drifted.push(resource(1000), resource(1001), resource(1002)); // 3 added
    const { result } = await sweep('run-3', drifted);
    expect(result).toMatchObject({ added: 3, removed: 2, modified: 2 });
    const changes = await rows('changes', odata`PartitionKey eq ${tenantId} and runId eq ${'run-3'}`);
    const byName: Record<string, Record<string, unknown>> = Object.fromEntries(
      changes.map((change) => [String(change.name), change]),
    );
    expect(Object.keys(byName).sort()).toEqual(
      ['vm-0', 'vm-1', 'vm-1000', 'vm-1001', 'vm-1002', 'vm-5', 'vm-6'].sort(),
    );
    expect(byName['vm-0']!.changeType).toBe('removed');
    expect(byName['vm-1000']!.changeType).toBe('added');
    expect(JSON.parse(byName['vm-5']!.changedFields as string)).toEqual(['tags']);
    expect(JSON.parse(byName['vm-6']!.changedFields as string)).toEqual(['location', 'sku']);
    expect(JSON.parse(byName['vm-6']!.before as string)).toMatchObject({
      location: 'westeurope',
      sku: { name: 'Standard_D2s_v5' },
    });
    const stored = await rows(
      'inventory',
      odata`PartitionKey eq ${inventoryPartition(tenantId, subscription.subscriptionId)}`,
    );
    expect(stored.filter((row) => row.rowKey !== SUBSCRIPTION_MARKER)).toHaveLength(251);
    const vm6 = stored.find((row) => row.name === 'vm-6')!;
    expect(vm6.location).toBe('northeurope');
  });

  it('is idempotent when the same run is replayed (redelivery)', async () => {
    const again = first.filter((item) => item.name !== 'vm-2');
    await sweep('run-4', again);
    const replay = await sweep('run-4', again);
    expect(replay.result).toMatchObject({ added: 0, removed: 0, modified: 0 });
    const changes = await rows('changes', odata`PartitionKey eq ${tenantId} and runId eq ${'run-4'}`);
    // run-4 removed vm-2 and the three vm-100x, and restored vm-0, vm-1, vm-5, vm-6: recorded once each.
    const keys = changes.map((change) => change.rowKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(
      changes
        .filter((change) => change.changeType === 'removed')
        .map((change) => change.name)
        .sort(),
    ).toEqual(['vm-1000', 'vm-1001', 'vm-1002', 'vm-2'].sort());
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

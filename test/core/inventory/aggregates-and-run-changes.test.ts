/**
 * The per-tenant aggregates and a run's change counts against the real Table service (Azurite), without
 * a sweep: what an aggregate counts, its row read back, a count map too long for one property cut to
 * its largest entries, unreadable maps read as empty, and the changes of one run counted from its rows
 * only. The sweep tests (test/core/sweep/) write both through the real flow.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  InventoryAggregate,
  readTenantAggregates,
  sumCounts,
  writeTenantAggregate,
} from '../../../src/core/inventory/aggregates.js';
import { countRunChanges } from '../../../src/core/inventory/run-changes.js';
import type { InventoryItem } from '../../../src/core/platform/arm.js';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import { testConfig } from '../../support/provider.js';

const config = testConfig();
const storage = new ProviderStorage(config);
const aggregates = storage.table(config.names.aggregatesTable);
const changes = storage.table(config.names.changesTable);

beforeAll(async () => {
  await storage.ensureResources();
});

function item(type: string, location: string, subscriptionId = 'SUB-A'): InventoryItem {
  return {
    id: `/x/${randomUUID()}`,
    name: 'n',
    type,
    location,
    resourceGroup: 'rg',
    subscriptionId,
    tags: {},
  };
}

const NO_STORAGE = { accounts: 0, refused: 0, publicContainers: 0, blobs: 0, blobBytes: 0 };

describe('tenant aggregates', () => {
  it('count resources apart from resource groups, by type, location (global when none) and subscription', async () => {
    const aggregate = new InventoryAggregate();
    aggregate.add(item('Microsoft.Resources/resourceGroups', 'westeurope'));
    aggregate.add(item('Microsoft.Web/sites', 'WestEurope'));
    aggregate.add(item('microsoft.web/sites', 'westeurope', 'sub-b'));
    aggregate.add(item('Microsoft.Network/dnsZones', ''));
    expect([aggregate.resources, aggregate.resourceGroups]).toEqual([3, 1]);
    const tenantId = randomUUID();
    await writeTenantAggregate(
      aggregates,
      { tenantId, displayName: 'Contoso', runId: 'run-1', at: '2030-01-01T00:00:00Z' },
      aggregate,
      { accounts: 2, refused: 1, publicContainers: 3, blobs: 40, blobBytes: 5000 },
    );
    const read = (await readTenantAggregates(aggregates)).get(tenantId);
    expect(read).toEqual({
      tenantId,
      displayName: 'Contoso',
      runId: 'run-1',
      at: '2030-01-01T00:00:00Z',
      resources: 3,
      resourceGroups: 1,
      byType: {
        'microsoft.resources/resourcegroups': 1,
        'microsoft.web/sites': 2,
        'microsoft.network/dnszones': 1,
      },
      byLocation: { westeurope: 3, global: 1 },
      bySubscription: { 'sub-a': 3, 'sub-b': 1 },
      storageAccounts: 2,
      storageRefused: 1,
      publicContainers: 3,
      blobs: 40,
      blobBytes: 5000,
    });
    expect(Object.keys(read!.byType)[0]).toBe('microsoft.web/sites'); // largest first
  });

  it('replaces the whole row on the next sweep, and cuts a count map too long for one property to its largest', async () => {
    const tenantId = randomUUID();
    const tenant = { tenantId, displayName: 'Fabrikam', runId: 'run-1', at: 't1' };
    const many = new InventoryAggregate();
    for (let i = 0; i < 1500; i++) many.add(item(`Vendor.Type/kind-with-a-long-name-${i}`, 'westeurope'));
    for (let i = 0; i < 5; i++) many.add(item('Vendor.Type/most', 'westeurope'));
    await writeTenantAggregate(aggregates, tenant, many, NO_STORAGE);
    const cut = (await readTenantAggregates(aggregates)).get(tenantId)!;
    const kept = Object.keys(cut.byType);
    expect(kept.length).toBeGreaterThan(100);
    expect(kept.length).toBeLessThan(1501);
    expect(JSON.stringify(cut.byType).length).toBeLessThanOrEqual(30_000);
    expect(cut.byType['vendor.type/most']).toBe(5);
    expect(cut.resources).toBe(1505);

    await writeTenantAggregate(
      aggregates,
      { ...tenant, runId: 'run-2' },
      new InventoryAggregate(),
      NO_STORAGE,
    );
    expect((await readTenantAggregates(aggregates)).get(tenantId)).toMatchObject({
      runId: 'run-2',
      resources: 0,
      byType: {},
    });
  });

  it('reads a row with missing or unreadable fields as zero and empty', async () => {
    const tenantId = randomUUID();
    await aggregates.upsertEntity({
      partitionKey: 'tenant',
      rowKey: tenantId,
      byType: 'not json',
      byLocation: '{"westeurope":"many"}',
      bySubscription: 7,
    });
    expect((await readTenantAggregates(aggregates)).get(tenantId)).toEqual({
      tenantId,
      displayName: '',
      runId: '',
      at: '',
      resources: 0,
      resourceGroups: 0,
      byType: {},
      byLocation: {},
      bySubscription: {},
      storageAccounts: 0,
      storageRefused: 0,
      publicContainers: 0,
      blobs: 0,
      blobBytes: 0,
    });
  });

  it('sums count maps across tenants', () => {
    expect(sumCounts([{ a: 1, b: 2 }, { b: 3, c: 4 }, {}])).toEqual({ a: 1, b: 5, c: 4 });
    expect(sumCounts([])).toEqual({});
  });
});

describe("a run's change counts", () => {
  it("count that run's rows of the tenant only, baselines by their items", async () => {
    const tenantId = randomUUID();
    const rows: Array<[string, string, string, number?]> = [
      [tenantId, 'run-1_0001', 'added'],
      [tenantId, 'run-1_0002', 'added'],
      [tenantId, 'run-1_0003', 'removed'],
      [tenantId, 'run-1_0004', 'modified'],
      [tenantId, 'run-1_0005', 'baseline', 40],
      [tenantId, 'run-1_0006', 'baseline'],
      [tenantId, 'run-1_0007', 'renamed'],
      [tenantId, 'run-10_0001', 'added'],
      [tenantId, 'run-0_0001', 'added'],
      [randomUUID(), 'run-1_0001', 'added'],
    ];
    for (const [partitionKey, rowKey, changeType, items] of rows)
      await changes.upsertEntity({ partitionKey, rowKey, changeType, ...(items ? { items } : {}) });
    expect(await countRunChanges(changes, tenantId, 'run-1')).toEqual({
      baselined: 40,
      added: 2,
      removed: 1,
      modified: 1,
    });
    expect(await countRunChanges(changes, tenantId, 'run-2')).toEqual({
      baselined: 0,
      added: 0,
      removed: 0,
      modified: 0,
    });
  });
});

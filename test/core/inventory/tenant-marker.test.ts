/**
 * A tenant's marker row against the real Table service (Azurite), without a sweep: no marker means no
 * inventory (no query), a stored marker is read back as written (lists sorted, the other list kept on
 * a merge), and a marker list that is unreadable or too long to store is rebuilt from the subscriptions'
 * own marker rows. The inventory and sweep tests drive it through real syncs.
 */
import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { beforeAll, describe, expect, it } from 'vitest';
import { SUBSCRIPTION_MARKER } from '../../../src/core/inventory/inventory.js';
import {
  inventoriedSubscriptions,
  MAX_MARKER_LIST_CHARS,
  TENANT_MARKER,
  TenantMarkers,
} from '../../../src/core/inventory/tenant-marker.js';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import { testConfig } from '../../support/provider.js';

const config = testConfig();
const storage = new ProviderStorage(config);
const inventory = storage.table(config.names.inventoryTable);
const markers = new TenantMarkers(inventory);

beforeAll(async () => {
  await storage.ensureResources();
});

/** Two subscriptions with inventories (their marker rows in `{tenant}_{subscription}` partitions). */
async function subscriptionRows(tenantId: string): Promise<void> {
  await inventory.upsertEntity({
    partitionKey: `${tenantId}_sub-b`,
    rowKey: SUBSCRIPTION_MARKER,
    subscriptionId: 'sub-b',
    displayName: 'Bravo',
    state: 'Enabled',
    manifest: 'x'.repeat(100),
  });
  await inventory.upsertEntity({
    partitionKey: `${tenantId}_sub-a`,
    rowKey: SUBSCRIPTION_MARKER,
    subscriptionId: 'sub-a',
  });
  // Not a subscription marker: a resource row, a marker without its id, another tenant's marker.
  await inventory.upsertEntity({
    partitionKey: `${tenantId}_sub-a`,
    rowKey: 'resource',
    subscriptionId: 'sub-x',
  });
  await inventory.upsertEntity({ partitionKey: `${tenantId}_sub-c`, rowKey: SUBSCRIPTION_MARKER });
  await inventory.upsertEntity({
    partitionKey: `${randomUUID()}_sub-z`,
    rowKey: SUBSCRIPTION_MARKER,
    subscriptionId: 'sub-z',
  });
}

describe('tenant markers', () => {
  it('read no marker as no inventory and no storage accounts', async () => {
    expect(await markers.read(randomUUID())).toEqual({
      subscriptionIds: [],
      stored: false,
      storageAccounts: {},
    });
  });

  it('read back what was recorded: sorted lists, the snapshot, and the other list kept by a merge', async () => {
    const tenantId = randomUUID();
    await markers.recordSubscriptions(tenantId, ['sub-b', 'sub-a']);
    expect(await markers.read(tenantId)).toEqual({ subscriptionIds: ['sub-a', 'sub-b'], stored: true });
    await markers.recordStorageAccounts(tenantId, { zeta: 'sub-b', alpha: 'sub-a' });
    await markers.recordSnapshot(tenantId, `${tenantId}/run-1.ndjson.gz`);
    const marker = await markers.read(tenantId);
    expect(marker).toEqual({
      subscriptionIds: ['sub-a', 'sub-b'],
      stored: true,
      storageAccounts: { alpha: 'sub-a', zeta: 'sub-b' },
      snapshotBlob: `${tenantId}/run-1.ndjson.gz`,
    });
    expect(Object.keys(marker.storageAccounts!)).toEqual(['alpha', 'zeta']);
    const row = await inventory.getEntity<{ storageAccounts: string }>(tenantId, TENANT_MARKER);
    expect(row.storageAccounts).toBe('{"alpha":"sub-a","zeta":"sub-b"}');
    await markers.recordSubscriptions(tenantId, ['sub-c'], { beta: 'sub-c' }, `${tenantId}/run-2.ndjson.gz`);
    expect(await markers.read(tenantId)).toEqual({
      subscriptionIds: ['sub-c'],
      stored: true,
      storageAccounts: { beta: 'sub-c' },
      snapshotBlob: `${tenantId}/run-2.ndjson.gz`,
    });
  });

  it('rebuild an unreadable or unstorable subscription list from the subscriptions’ marker rows', async () => {
    const tenantId = randomUUID();
    await subscriptionRows(tenantId);
    for (const subscriptions of ['not json', '{"a":1}', '', 42]) {
      await inventory.upsertEntity(
        {
          partitionKey: tenantId,
          rowKey: TENANT_MARKER,
          subscriptions,
          snapshotBlob: '',
          storageAccounts: '[1]',
        },
        'Replace',
      );
      const marker = await markers.read(tenantId);
      expect(marker, String(subscriptions)).toEqual({ subscriptionIds: ['sub-a', 'sub-b'], stored: false });
    }
    // A list too long for one property is stored as '' and rebuilt the same way.
    const many = Array.from({ length: 1000 }, (_, i) => `${randomUUID()}-${i}`);
    await markers.recordSubscriptions(tenantId, many);
    const row = await inventory.getEntity<{ subscriptions: string }>(tenantId, TENANT_MARKER);
    expect(JSON.stringify(many).length).toBeGreaterThan(MAX_MARKER_LIST_CHARS);
    expect(row.subscriptions).toBe('');
    expect((await markers.read(tenantId)).stored).toBe(false);
  });

  it('find the subscriptions with an inventory by their marker rows only', async () => {
    const tenantId = randomUUID();
    await subscriptionRows(tenantId);
    const found = await inventoriedSubscriptions(inventory, tenantId);
    expect(found.sort((a, b) => a.subscriptionId.localeCompare(b.subscriptionId))).toEqual([
      { subscriptionId: 'sub-a', displayName: '', state: '', tenantId },
      { subscriptionId: 'sub-b', displayName: 'Bravo', state: 'Enabled', tenantId },
    ]);
  });

  it('fail on what is not a missing marker (a key that is not the account’s: 403)', async () => {
    const connection = config.storage.kind === 'connectionString' ? config.storage.connectionString : '';
    const forged = TableClient.fromConnectionString(
      connection.replace(/AccountKey=[^;]+/, `AccountKey=${Buffer.from('not the key').toString('base64')}`),
      config.names.inventoryTable,
      { allowInsecureConnection: true },
    );
    await expect(new TenantMarkers(forged).read(randomUUID())).rejects.toMatchObject({ statusCode: 403 });
  });
});

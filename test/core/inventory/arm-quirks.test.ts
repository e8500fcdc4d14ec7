/**
 * The inventory under real ARM's casing quirks (sandbox ARM with realism on, real SDK client, Azurite):
 * a resource whose only difference is casing (id, provider namespace, resource group in the id, or a
 * location display name) is unchanged: no phantom added, removed or modified, and no row rewritten.
 * Rows name a resource's group as the group is named, not as a VM's id spells it, and keep when the
 * resource last changed in Azure (ARM's `$expand=changedTime`).
 */
import { odata } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryPartition, SUBSCRIPTION_MARKER } from '../../../src/core/inventory/inventory.js';
import { SubscriptionSync } from '../../../src/core/inventory/subscription-sync.js';
import { listInventoryItems, resourceClient } from '../../../src/core/platform/arm.js';
import { sandboxCloud } from '../../../src/core/platform/cloud.js';
import { inventoryFixture } from '../../support/provider.js';
import { quirksWorld } from '../../support/quirks-world.js';
import { MintingCredential, startArm, type ArmFixture } from '../../sandbox/arm.fixture.js';

const { storage, tables, tenantId, subscription } = inventoryFixture();
const { world, ids } = quirksWorld({ tenantId, subscriptionId: subscription.subscriptionId });
let arm: ArmFixture;
let run = 0;

async function sweep() {
  const cloud = sandboxCloud({
    authorityHost: 'https://127.0.0.1:1',
    armEndpoint: arm.endpoint,
    storageEndpoint: 'https://127.0.0.1:1',
    caCertPem: arm.caCertPem,
  });
  const credential = new MintingCredential(arm.keys, { tenantId, objectId: ids.readerObjectId });
  const client = resourceClient(credential, { cloud, maxRetries: 3 });
  const sync = new SubscriptionSync(tables);
  const result = await sync.syncSubscription(
    { tenantId, runId: `run-${++run}`, now: new Date().toISOString() },
    subscription,
    listInventoryItems(client, subscription.subscriptionId),
  );
  return { result, stats: sync.stats() };
}

async function rows(): Promise<Array<Record<string, unknown>>> {
  const found: Array<Record<string, unknown>> = [];
  const filter = odata`PartitionKey eq ${inventoryPartition(tenantId, subscription.subscriptionId)}`;
  for await (const row of tables.inventory.listEntities<Record<string, unknown>>({
    queryOptions: { filter },
  }))
    if (row.rowKey !== SUBSCRIPTION_MARKER) found.push(row);
  return found;
}

beforeAll(async () => {
  await storage.ensureResources();
  arm = await startArm(world, { realism: { casing: true, seed: 3 } });
  await sweep(); // the baseline
});
afterAll(async () => {
  await arm.close();
});

describe('inventory under ARM casing quirks', () => {
  it("names a VM's resource group as the group is named, though the VM's id upper-cases it", async () => {
    const vm = (await rows()).find((row) => row.name === 'vm-web-01')!;
    expect(String(vm.resourceId)).toContain(`/resourceGroups/${ids.group.toUpperCase()}/`);
    expect(vm.resourceGroup).toBe(ids.group);
  });

  it('reports nothing and rewrites nothing when later listings spell the same resources differently', async () => {
    for (let i = 0; i < 4; i++) {
      const { result, stats } = await sweep();
      expect(result).toMatchObject({ items: world.resources!.length + 1, added: 0, removed: 0, modified: 0 });
      expect(stats.inventory.operations).toBe(0); // not even the marker: its pages' digests are the same
      expect(stats.changes.operations).toBe(0);
    }
  });

  it('reports nothing when a resource only changes casing and its location is given as a display name', async () => {
    arm.setSettings({ realism: false }); // the sandbox then answers the world's spelling verbatim
    try {
      await sweep(); // the world's own spelling, taken in
      const pip = world.resources!.find((r) => r.name === 'pip-web')!;
      arm.store.upsertResource({
        ...pip,
        resourceGroup: pip.resourceGroup.toUpperCase(),
        type: 'microsoft.network/publicipaddresses',
        location: 'West Europe',
      });
      const { result, stats } = await sweep();
      expect(result).toMatchObject({ added: 0, removed: 0, modified: 0 });
      expect(stats.changes.operations).toBe(0);
    } finally {
      arm.setSettings({ realism: true });
    }
  });

  it('keeps when a resource last changed in Azure, and moves it when the resource changes', async () => {
    const before = (await rows()).find((row) => row.name === 'app-web')!;
    expect(typeof before.changedInAzure).toBe('string');
    expect(Date.parse(String(before.changedInAzure))).not.toBeNaN();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const app = world.resources!.find((r) => r.name === 'app-web')!;
    arm.store.upsertResource({ ...app, tags: { owner: 'web-team' } });
    const { result } = await sweep();
    expect(result.modified).toBe(1);
    const after = (await rows()).find((row) => row.name === 'app-web')!;
    expect(Date.parse(String(after.changedInAzure))).toBeGreaterThan(
      Date.parse(String(before.changedInAzure)),
    );
  });
});

describe('a row whose stored hash came from an older spelling rule', () => {
  it('takes the new hash without reporting a modification when no compared field changed', async () => {
    const partition = inventoryPartition(tenantId, subscription.subscriptionId);
    const vm = (await rows()).find((row) => row.name === 'vm-web-01')!;
    // As an older rule would have hashed it, and a marker that sends the next sweep to the rows.
    await tables.inventory.updateEntity(
      { partitionKey: partition, rowKey: String(vm.rowKey), contentHash: 'hash-of-an-older-rule-0000000000' },
      'Merge',
    );
    await tables.inventory.updateEntity(
      { partitionKey: partition, rowKey: SUBSCRIPTION_MARKER, syncing: true },
      'Merge',
    );
    const { result, stats } = await sweep();
    expect(result).toMatchObject({ added: 0, removed: 0, modified: 0 });
    expect(stats.changes.operations).toBe(0);
    const after = (await rows()).find((row) => row.name === 'vm-web-01')!;
    expect(after.contentHash).not.toBe('hash-of-an-older-rule-0000000000');
  });
});

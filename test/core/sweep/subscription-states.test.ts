/**
 * The stated rule for subscription states and moves (src/core/sweep/subscription-states.ts) through a
 * real sweep of the product against the sandbox and Azurite: a Disabled subscription is reported and
 * its rows are kept; a Deleted one is reported and its rows retired; a subscription moved to another
 * registered tenant is reported with the tenant it went to, retired from the old tenant (whose change
 * history keeps its records) and baselined in the new one.
 */
import { odata } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../../sandbox/index.js';
import type { WorldInput } from '../../../sandbox/world.js';
import { sandboxFleetConfig } from '../../../dev/sandbox-fleet.js';
import { inventoryPartition, SUBSCRIPTION_MARKER } from '../../../src/core/inventory/inventory.js';
import { createRuntime, type FleetRuntime } from '../../../src/core/runtime.js';
import { sweepTenant } from '../../../src/core/sweep/tenant-sweep.js';
import { testGuid } from '../../support/identity-world.js';
import { providerConnectionString, uniquePrefix } from '../../support/provider.js';
import { seed003World } from '../../support/sandbox-world.js';

const { world: base, ids } = seed003World();
const litware = ids.customerTenantId;
const tailwind = testGuid(1, 71);
const [s0, disabled, deleted, moved] = [
  ids.customerSubscriptionId,
  testGuid(2, 71),
  testGuid(2, 72),
  testGuid(2, 73),
];
const litwareSp = testGuid(6, 71);
const tailwindSp = testGuid(6, 72);
const world: WorldInput = {
  ...base,
  storageAccounts: [],
  tenants: [...base.tenants, { id: tailwind, displayName: 'Tailwind' }],
  servicePrincipals: [
    ...base.servicePrincipals!,
    { appId: ids.appId, tenantId: litware, objectId: litwareSp },
    { appId: ids.appId, tenantId: tailwind, objectId: tailwindSp },
  ],
  subscriptions: [
    ...base.subscriptions!,
    ...[disabled, deleted, moved].map((subscriptionId, i) => ({
      subscriptionId,
      tenantId: litware,
      displayName: `Litware ${i + 1}`,
    })),
  ],
  roleAssignments: [
    ...[s0, disabled, deleted, moved].map((s) => ({
      principalId: litwareSp,
      roleDefinitionName: 'Reader' as const,
      scope: `/subscriptions/${s}`,
    })),
    // Tailwind's principal is granted on the subscription that will move there.
    { principalId: tailwindSp, roleDefinitionName: 'Reader' as const, scope: `/subscriptions/${moved}` },
  ],
  resourceGroups: [s0, disabled, deleted, moved].map((s) => ({
    subscriptionId: s,
    name: 'rg-app',
    location: 'westeurope',
  })),
  resources: [s0, disabled, deleted, moved].map((s) => ({
    subscriptionId: s,
    resourceGroup: 'rg-app',
    name: 'vnet-app',
    type: 'Microsoft.Network/virtualNetworks',
    location: 'westeurope',
  })),
};

let sandbox: Sandbox;
let runtime: FleetRuntime;

async function rowsOf(tenantId: string, subscriptionId: string): Promise<string[]> {
  const table = runtime.storage.table(runtime.config.names.inventoryTable);
  const found: string[] = [];
  const filter = odata`PartitionKey eq ${inventoryPartition(tenantId, subscriptionId)}`;
  for await (const row of table.listEntities({ queryOptions: { filter } }))
    if (row.rowKey !== SUBSCRIPTION_MARKER) found.push(row.rowKey!);
  return found;
}

async function changesOf(
  tenantId: string,
  subscriptionId: string,
): Promise<Array<{ runId: string; changeType: string }>> {
  const table = runtime.storage.table(runtime.config.names.changesTable);
  const found: Array<{ runId: string; changeType: string }> = [];
  const filter = odata`PartitionKey eq ${tenantId} and subscriptionId eq ${subscriptionId}`;
  for await (const row of table.listEntities<{ runId: string; changeType: string }>({
    queryOptions: { filter },
  }))
    found.push({ runId: row.runId, changeType: row.changeType });
  return found;
}

const sweep = async (tenantId: string, runId: string) =>
  sweepTenant(runtime, await runtime.registry.get(tenantId), runId);

beforeAll(async () => {
  sandbox = await startSandbox({ world });
  const config = sandboxFleetConfig(sandbox, {
    providerConnectionString: providerConnectionString(),
    prefix: uniquePrefix(),
  });
  runtime = createRuntime(config, { log: () => undefined });
  await runtime.storage.ensureResources();
  await runtime.registry.add({ tenantId: litware, displayName: 'Litware' }, 'states test');
  await runtime.registry.add({ tenantId: tailwind, displayName: 'Tailwind' }, 'states test');
  const first = await sweep(litware, 'run-1');
  expect(first.counts.subscriptions).toBe(4);
});
afterAll(async () => {
  await sandbox?.close();
});

describe('subscription states and moves', () => {
  it('keeps a Disabled subscription, retires a Deleted one and reports both; reports a move and baselines it in the new tenant', async () => {
    sandbox.store.updateSubscription(disabled, { state: 'Disabled' });
    sandbox.store.updateSubscription(deleted, { state: 'Deleted' });
    sandbox.store.updateSubscription(moved, { tenantId: tailwind });
    const second = await sweep(litware, 'run-2');
    const codes = Object.fromEntries(second.warnings.map((w) => [w.id, w.diagnosis.code]));
    expect(codes).toMatchObject({
      [disabled]: 'SubscriptionDisabled',
      [deleted]: 'SubscriptionDeleted',
      [moved]: 'SubscriptionMoved',
    });
    expect(second.warnings.find((w) => w.id === moved)!.diagnosis.detail).toContain(tailwind);
    expect(await rowsOf(litware, disabled)).toHaveLength(2); // kept as last seen
    expect(await rowsOf(litware, deleted)).toHaveLength(0);
    expect(await rowsOf(litware, moved)).toHaveLength(0);
    // The old tenant's change history of the moved subscription: its baseline, then its removals.
    const history = await changesOf(litware, moved);
    expect(history.filter((c) => c.runId === 'run-1').map((c) => c.changeType)).toEqual(['baseline']);
    expect(history.filter((c) => c.runId === 'run-2').every((c) => c.changeType === 'removed')).toBe(true);

    const third = await sweep(litware, 'run-3');
    expect(third.warnings.map((w) => w.diagnosis.code)).toEqual(['SubscriptionDisabled']);
    expect(await rowsOf(litware, disabled)).toHaveLength(2);

    const tailwindSweep = await sweep(tailwind, 'run-t1');
    expect(tailwindSweep.counts).toMatchObject({ subscriptions: 1, baselined: 2, added: 0 });
    expect(await rowsOf(tailwind, moved)).toHaveLength(2);

    // A Disabled subscription taken out of the tenant's scope is no longer kept: its rows are retired.
    await runtime.registry.update(
      litware,
      { subscriptions: { mode: 'all', include: [], exclude: [disabled] } },
      'states test',
    );
    const fourth = await sweep(litware, 'run-4');
    // Counted: what the inventory holds now (the retired subscription's group and resource are not).
    expect(fourth.counts).toMatchObject({ subscriptions: 1, removed: 2, resourceGroups: 1, resources: 1 });
    expect(await rowsOf(litware, disabled)).toHaveLength(0);
    expect(await rowsOf(litware, s0)).toHaveLength(2);

    // Every subscription with rows Disabled: nothing to sweep, the rows kept, the tenant not failed.
    sandbox.store.updateSubscription(s0, { state: 'Disabled' });
    const fifth = await sweep(litware, 'run-5');
    expect(fifth.counts).toMatchObject({ subscriptions: 0, removed: 0 });
    expect(fifth.warnings.find((w) => w.id === s0)?.diagnosis.code).toBe('SubscriptionDisabled');
    expect(await rowsOf(litware, s0)).toHaveLength(2);

    // Nothing visible in scope and nothing kept: the tenant fails, saying how many it sees.
    sandbox.store.updateSubscription(s0, { state: 'Enabled' });
    sandbox.store.updateSubscription(disabled, { state: 'Enabled' });
    await runtime.registry.update(
      litware,
      { subscriptions: { mode: 'all', include: [], exclude: [s0, disabled] } },
      'states test',
    );
    const refused = await sweep(litware, 'run-6').then(
      () => undefined,
      (error: unknown) => error,
    );
    // Litware now sees s0 and the re-enabled one (the Deleted one is listed but not visible).
    expect(refused).toMatchObject({
      diagnosis: { code: 'NoVisibleSubscriptions', detail: '2 visible, none in scope' },
    });
  });
});

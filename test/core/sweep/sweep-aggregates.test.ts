/**
 * The console's aggregate row of a tenant (src/core/inventory/aggregates.ts) is written when what a
 * sweep counted may differ from it, and left alone by a sweep that changed nothing: it always says what
 * the tenant's inventory holds. A tenant's first sweep creates its marker row without reading it, and
 * one that finds a marker after all (the tenant was removed and registered again) goes on from it.
 * Through the app's own timer, queue and worker handlers against the sandbox and Azurite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorld, startSandbox, worldFacts, type Sandbox } from '../../../sandbox/index.js';
import {
  LocalFunctionsHost,
  loadFunctionHandlers,
  readQueueSemantics,
  runScheduledSweep,
} from '../../../dev/local-host.js';
import { sandboxFleetConfig } from '../../../dev/sandbox-fleet.js';
import { createRuntime, type FleetRuntime } from '../../../src/core/runtime.js';
import { readTenantAggregates } from '../../../src/core/inventory/aggregates.js';
import { TenantMarkers } from '../../../src/core/inventory/tenant-marker.js';
import type { TenantRunRecord } from '../../../src/core/sweep/runs.js';
import { providerConnectionString, uniquePrefix } from '../../support/provider.js';

const RESOURCES = 20;

let sandbox: Sandbox;
let runtime: FleetRuntime;
let host: LocalFunctionsHost;
let tenantIds: string[];

async function aggregates(installation: FleetRuntime = runtime) {
  return readTenantAggregates(installation.storage.table(installation.config.names.aggregatesTable));
}

async function tenantsOf(
  runId: string,
  installation: FleetRuntime = runtime,
): Promise<Map<string, TenantRunRecord>> {
  const rows = new Map<string, TenantRunRecord>();
  for await (const row of installation.runs.listTenants(runId)) rows.set(row.tenantId, row);
  return rows;
}

beforeAll(async () => {
  const world = generateWorld({
    seed: 15,
    tenants: 2,
    subscriptionsPerTenant: 1,
    resourcesPerSubscription: RESOURCES,
  });
  sandbox = await startSandbox({ world });
  tenantIds = worldFacts(world).customerTenantIds;
  ({ own: runtime, ownHost: host } = await ownInstallation(
    tenantIds.map((tenantId, index) => ({ tenantId, displayName: `Tenant ${index}` })),
  ));
});

afterAll(async () => {
  await sandbox?.close();
});

/** An installation of its own (own tables and queues) on the shared sandbox, with these tenants registered. */
async function ownInstallation(tenants: Array<{ tenantId: string; displayName: string }>) {
  const own = createRuntime(
    sandboxFleetConfig(sandbox, {
      providerConnectionString: providerConnectionString(),
      prefix: uniquePrefix(),
    }),
    { log: () => undefined },
  );
  await own.storage.ensureResources();
  for (const tenant of tenants) await own.registry.add(tenant, 'test');
  const ownHost = new LocalFunctionsHost({
    runtime: own,
    handlers: await loadFunctionHandlers(),
    semantics: readQueueSemantics('host.json'),
  });
  return { own, ownHost };
}

describe("a tenant's aggregate row", () => {
  it('is written by the first sweep, kept by a sweep that changed nothing, rewritten after a rename or drift', async () => {
    const [renamed, drifted] = tenantIds as [string, string];
    const first = await runScheduledSweep(host, runtime);
    const written = await aggregates();
    for (const tenantId of tenantIds) {
      expect(written.get(tenantId)).toMatchObject({ runId: first });
      expect(written.get(tenantId)!.resources).toBeGreaterThan(0);
    }

    // Nothing changed: both rows stay as the first sweep wrote them, and both tenants succeeded.
    const second = await runScheduledSweep(host, runtime);
    expect([...(await tenantsOf(second)).values()].map((row) => row.status)).toEqual([
      'succeeded',
      'succeeded',
    ]);
    expect(await aggregates()).toEqual(written);

    // A rename: the renamed tenant's row carries the new name; the other is left alone.
    await runtime.registry.update(renamed, { displayName: 'Tenant renamed' }, 'test');
    const third = await runScheduledSweep(host, runtime);
    const afterRename = await aggregates();
    expect(afterRename.get(renamed)).toMatchObject({
      runId: third,
      displayName: 'Tenant renamed',
      resources: written.get(renamed)!.resources,
    });
    expect(afterRename.get(drifted)).toEqual(written.get(drifted));

    // Drift: a resource added to the other tenant is counted in its row.
    const subscription = sandbox.store.world.subscriptions.find((s) => s.tenantId === drifted)!;
    const group = sandbox.store.resourceGroups(subscription.subscriptionId)[0]!;
    sandbox.store.upsertResource({
      subscriptionId: subscription.subscriptionId,
      resourceGroup: group.name,
      name: 'kv-aggregate-test',
      type: 'Microsoft.KeyVault/vaults',
      location: 'westeurope',
    });
    const fourth = await runScheduledSweep(host, runtime);
    const afterDrift = await aggregates();
    expect(afterDrift.get(drifted)).toMatchObject({
      runId: fourth,
      resources: written.get(drifted)!.resources + 1,
    });
    expect(afterDrift.get(drifted)!.byType['microsoft.keyvault/vaults']).toBe(
      (written.get(drifted)!.byType['microsoft.keyvault/vaults'] ?? 0) + 1,
    );
    expect(afterDrift.get(renamed)).toEqual(afterRename.get(renamed));
  });

  it('is rewritten by a sweep with warnings, and by the next clean one, though the inventory did not change', async () => {
    // An installation of its own with one tenant, so the sweeps here decide for it alone.
    const tenantId = tenantIds[1]!;
    const { own, ownHost } = await ownInstallation([{ tenantId, displayName: 'Tenant warned' }]);
    const aggregateOf = async () => (await aggregates(own)).get(tenantId);
    const statusOf = async (runId: string) => (await own.runs.getTenant(runId, tenantId))?.status;

    const first = await runScheduledSweep(ownHost, own);
    const counted = await aggregateOf();
    expect(counted).toMatchObject({ runId: first });
    expect(await statusOf(first)).toBe('succeeded');

    // A listed subscription the tenant cannot see: a warning, the same inventory. The sweep's counts
    // are written (a sweep with warnings may not have read every subscription whole).
    const [subscription] = sandbox.store.world.subscriptions.filter((s) => s.tenantId === tenantId);
    await own.registry.update(
      tenantId,
      {
        subscriptions: {
          mode: 'list',
          include: [subscription!.subscriptionId, '00000000-0000-4000-8000-0000000000ee'],
        },
      },
      'test',
    );
    const warned = await runScheduledSweep(ownHost, own);
    expect(await statusOf(warned)).toBe('partial');
    expect(await aggregateOf()).toEqual({ ...counted, runId: warned, at: expect.any(String) as string });

    // Clean again, nothing changed: written once more, since the last sweep was not a clean success.
    await own.registry.update(tenantId, { subscriptions: { mode: 'all', include: [], exclude: [] } }, 'test');
    const clean = await runScheduledSweep(ownHost, own);
    expect(await statusOf(clean)).toBe('succeeded');
    expect((await own.runs.getTenant(clean, tenantId))?.added).toBe(0);
    expect(await aggregateOf()).toMatchObject({ runId: clean, resources: counted!.resources });

    // And a clean sweep after a clean one leaves it alone.
    const quiet = await runScheduledSweep(ownHost, own);
    expect(await statusOf(quiet)).toBe('succeeded');
    expect(await aggregateOf()).toMatchObject({ runId: clean });
  });

  it('a tenant registered again after removal finds its marker and goes on from its rows', async () => {
    const tenantId = tenantIds[0]!;
    const { own, ownHost } = await ownInstallation([{ tenantId, displayName: 'Tenant before' }]);
    await runScheduledSweep(ownHost, own);
    const markers = new TenantMarkers(own.storage.table(own.config.names.inventoryTable));
    const before = await markers.read(tenantId);
    expect(before.subscriptionIds).toHaveLength(1);

    await own.registry.remove(tenantId);
    await own.registry.add({ tenantId, displayName: 'Tenant again' }, 'test');
    const runId = await runScheduledSweep(ownHost, own);
    // Its rows are there from before: no baseline, nothing added, its marker's lists kept.
    expect((await tenantsOf(runId, own)).get(tenantId)).toMatchObject({
      status: 'succeeded',
      baselined: 0,
      added: 0,
      removed: 0,
    });
    const after = await markers.read(tenantId);
    expect(after.subscriptionIds).toEqual(before.subscriptionIds);
    expect(after.storageAccounts).toEqual(before.storageAccounts);
    expect(after.aggregateName).toBe('Tenant again');
    expect((await aggregates(own)).get(tenantId)).toMatchObject({ runId, displayName: 'Tenant again' });
  });
});

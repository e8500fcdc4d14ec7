/**
 * Issue 3, done when: a sweep over the demo world writes exactly the world's resources of the healthy
 * tenants, exactly the containers and blob counts of the readable storage accounts, and the right
 * diagnoses for the others; after drift a second sweep records exactly what changed and rewrites
 * nothing else; redelivered and poison messages neither lose nor duplicate anything.
 * Everything runs through the app's own timer, queue and worker handlers (local host, host.json
 * semantics) against the sandbox and Azurite, with the real SDK clients.
 */
import { readFileSync } from 'node:fs';
import { odata } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../../sandbox/index.js';
import { worldFacts } from '../../../sandbox/generator.js';
import { resourceId } from '../../../sandbox/state.js';
import {
  hasRole,
  BLOB_READ_ROLES,
  CONTROL_PLANE_READ_ROLES,
  storageAccountId,
} from '../../../sandbox/rbac.js';
import type { WorldInput } from '../../../sandbox/world.js';
import {
  LocalFunctionsHost,
  loadFunctionHandlers,
  readQueueSemantics,
  runScheduledSweep,
} from '../../../dev/local-host.js';
import { sandboxFleetConfig } from '../../../dev/sandbox-fleet.js';
import { createRuntime, type FleetRuntime } from '../../../src/core/runtime.js';
import { encodeSweepMessage } from '../../../src/core/sweep/sweep-message.js';
import { snapshotBlobName } from '../../../src/core/storage/snapshot.js';
import { processTenantMessage, recordPoisonMessage } from '../../../src/core/sweep/sweep.js';
import type { TenantRunRecord } from '../../../src/core/sweep/runs.js';
import { SUBSCRIPTION_MARKER } from '../../../src/core/inventory/inventory.js';
import { TENANT_MARKER } from '../../../src/core/inventory/tenant-marker.js';
import { providerConnectionString, uniquePrefix } from '../../support/provider.js';

const demo = JSON.parse(
  readFileSync(new URL('../../../sandbox/worlds/demo.json', import.meta.url), 'utf8'),
) as WorldInput;

let sandbox: Sandbox;
let facts: ReturnType<typeof worldFacts>;
const logs: string[] = [];

/** A product installation: the app's runtime and its local Functions host. */
interface Installation {
  runtime: FleetRuntime;
  host: LocalFunctionsHost;
}

/**
 * A product installation of its own on the file's sandbox (a unique prefix: its own tables, queues,
 * registry and runs), with every customer tenant registered. Tests that sweep again or change what
 * a sweep left have their own, so no test reads what another test's sweep wrote.
 */
async function install(): Promise<Installation> {
  const config = sandboxFleetConfig(sandbox, {
    providerConnectionString: providerConnectionString(),
    prefix: uniquePrefix(),
  });
  const runtime = createRuntime(config, { log: (level, message) => logs.push(`${level}: ${message}`) });
  await runtime.storage.ensureResources();
  for (const tenant of sandbox.store.world.tenants) {
    if (tenant.id !== facts.homeTenantId)
      await runtime.registry.add({ tenantId: tenant.id, displayName: tenant.displayName }, 'test');
  }
  const host = new LocalFunctionsHost({
    runtime,
    handlers: await loadFunctionHandlers(),
    semantics: readQueueSemantics('host.json'),
  });
  return { runtime, host };
}

async function tenantsOf(runtime: FleetRuntime, runId: string): Promise<Map<string, TenantRunRecord>> {
  const rows = new Map<string, TenantRunRecord>();
  for await (const row of runtime.runs.listTenants(runId)) rows.set(row.tenantId, row);
  return rows;
}

async function inventoryIds(
  runtime: FleetRuntime,
  tenantId: string,
): Promise<Map<string, { etag: string; lastRunId: string }>> {
  const table = runtime.storage.table(runtime.config.names.inventoryTable);
  const rows = new Map<string, { etag: string; lastRunId: string }>();
  const filter = odata`PartitionKey ge ${`${tenantId}_`} and PartitionKey lt ${`${tenantId}\``}`;
  for await (const row of table.listEntities<{ resourceId: string; lastRunId: string }>({
    queryOptions: { filter },
  })) {
    if (row.rowKey === SUBSCRIPTION_MARKER) continue;
    rows.set(row.resourceId.toLowerCase(), { etag: row.etag, lastRunId: row.lastRunId });
  }
  return rows;
}

/** What the world says a tenant's inventory must be: its readable subscriptions' groups and resources. */
function expectedIds(tenantId: string): Set<string> {
  const world = sandbox.store.world;
  const principal = facts.servicePrincipalObjectIds[tenantId];
  const ids = new Set<string>();
  if (!principal) return ids;
  for (const subscription of world.subscriptions.filter((s) => s.tenantId === tenantId)) {
    const scope = `/subscriptions/${subscription.subscriptionId}`;
    if (!hasRole(world, principal, scope, CONTROL_PLANE_READ_ROLES)) continue;
    for (const group of sandbox.store.resourceGroups(subscription.subscriptionId)) {
      ids.add(`${scope}/resourcegroups/${group.name}`.toLowerCase());
    }
    for (const resource of world.resources.filter((r) => r.subscriptionId === subscription.subscriptionId)) {
      ids.add(resourceId(resource).toLowerCase());
    }
    for (const account of world.storageAccounts.filter(
      (a) => a.subscriptionId === subscription.subscriptionId,
    )) {
      ids.add(storageAccountId(account.subscriptionId, account.resourceGroup, account.name).toLowerCase());
    }
  }
  return ids;
}

beforeAll(async () => {
  sandbox = await startSandbox({ world: demo });
  facts = worldFacts(sandbox.store.world);
});

afterAll(async () => {
  await sandbox?.close();
});

const byName = (name: string): string =>
  sandbox.store.world.tenants.find((tenant) => tenant.displayName.startsWith(name))!.id;

describe('a sweep over the demo world', () => {
  let runtime: FleetRuntime;
  let host: LocalFunctionsHost;
  let firstRun: string;

  // The first sweep, in an installation of its own, is the fixture every test here reads (run alone,
  // each still has it). The tests that sweep again (drift, poison) do it in installations of their own.
  beforeAll(async () => {
    ({ runtime, host } = await install());
    firstRun = await runScheduledSweep(host, runtime);
  });

  it("inventories exactly the healthy tenants' resources and diagnoses the others", async () => {
    const run = await runtime.runs.getRun(firstRun);
    expect(run.status).toBe('completedWithErrors');
    const rows = await tenantsOf(runtime, firstRun);
    expect(rows.size).toBe(5);

    for (const name of ['Litware', 'Fabrikam', 'Northwind']) {
      const tenantId = byName(name);
      const expected = expectedIds(tenantId);
      expect(expected.size).toBeGreaterThan(10);
      const stored = await inventoryIds(runtime, tenantId);
      expect(new Set(stored.keys())).toEqual(expected);
      const row = rows.get(tenantId)!;
      expect(['succeeded', 'partial']).toContain(row.status);
      expect((row.resources ?? 0) + (row.resourceGroups ?? 0)).toBe(expected.size);
      // A first sweep is a baseline: every resource taken in, none reported as added.
      expect(row).toMatchObject({ baselined: expected.size, added: 0, removed: 0, modified: 0 });
    }

    const adventureWorks = rows.get(byName('AdventureWorks'))!;
    expect(adventureWorks).toMatchObject({ status: 'failed', diagnosisCode: 'AADSTS700016' });
    expect(adventureWorks.diagnosisFix).toContain(`client_id=${facts.appId}`);
    const woodgrove = rows.get(byName('Woodgrove'))!;
    expect(woodgrove).toMatchObject({ status: 'failed', diagnosisCode: 'NoVisibleSubscriptions' });
    expect((await inventoryIds(runtime, byName('AdventureWorks'))).size).toBe(0);

    const registry = await runtime.registry.get(byName('AdventureWorks'));
    // Registered moments ago and failing as an unpropagated service principal does: recorded, but
    // within the onboarding grace period not counted towards the circuit breaker (propagation.ts).
    expect(registry).toMatchObject({
      consecutiveFailures: 0,
      lastError: { code: 'AADSTS700016' },
      lastSweep: { runId: firstRun, status: 'failed' },
    });
    expect((await runtime.registry.get(byName('Fabrikam'))).onboardingState).toBe('verified');
  });

  it('records exactly the containers and blob counts of readable accounts, and why others were refused', async () => {
    const world = sandbox.store.world;
    const table = runtime.storage.table(runtime.config.names.storageTable);
    const checked = { readable: 0, refused: 0 };
    for (const account of world.storageAccounts) {
      const subscription = world.subscriptions.find((s) => s.subscriptionId === account.subscriptionId)!;
      const principal = facts.servicePrincipalObjectIds[subscription.tenantId];
      if (
        !principal ||
        !hasRole(world, principal, `/subscriptions/${subscription.subscriptionId}`, CONTROL_PLANE_READ_ROLES)
      )
        continue;
      const row = await table.getEntity<Record<string, unknown>>(subscription.tenantId, account.name);
      const readable =
        account.networkDefaultAction === 'Allow' &&
        hasRole(
          world,
          principal,
          storageAccountId(account.subscriptionId, account.resourceGroup, account.name),
          BLOB_READ_ROLES,
        );
      if (!readable) {
        expect(row.reachable).toBe(false);
        expect(row.diagnosisCode).toBe(
          account.networkDefaultAction === 'Deny'
            ? 'AuthorizationFailure'
            : 'AuthorizationPermissionMismatch',
        );
        checked.refused++;
        continue;
      }
      expect(row.reachable).toBe(true);
      expect(row.containerCount).toBe(account.containers.length);
      expect(row.blobCount).toBe(
        account.containers.reduce((sum, container) => sum + container.blobs.length, 0),
      );
      for (const container of account.containers) {
        const containerRow = await table.getEntity<Record<string, unknown>>(
          subscription.tenantId,
          `${account.name}:${container.name}`,
        );
        expect(containerRow).toMatchObject({
          blobCount: container.blobs.length,
          publicAccess: container.publicAccess,
        });
      }
      checked.readable++;
    }
    expect(checked).toEqual({ readable: 5, refused: 2 });
    const litware = (await tenantsOf(runtime, firstRun)).get(byName('Litware'))!;
    expect(litware.status).toBe('partial');
    expect(litware.storageRefused).toBe(2);
  });

  it('writes a gzip NDJSON snapshot per tenant per run', async () => {
    const litware = (await tenantsOf(runtime, firstRun)).get(byName('Litware'))!;
    const blob = runtime.storage
      .container(runtime.config.names.snapshotsContainer)
      .getBlobClient(litware.snapshotBlob!);
    const properties = await blob.getProperties();
    expect(properties.contentEncoding).toBe('gzip');
    const { gunzipSync } = await import('node:zlib');
    const lines = gunzipSync(await blob.downloadToBuffer())
      .toString('utf8')
      .trim()
      .split('\n');
    expect(lines).toHaveLength(expectedIds(byName('Litware')).size);
    expect(JSON.parse(lines[0]!)).toHaveProperty('id');
  });

  it('after drift, records exactly what was added, removed and modified, and rewrites nothing else', async () => {
    // Its own installation and first sweep: the second sweep here changes what the others read.
    const { runtime, host } = await install();
    const firstRun = await runScheduledSweep(host, runtime);
    const litware = byName('Litware');
    const before = await inventoryIds(runtime, litware);
    const candidates = sandbox.store.world.resources.filter((r) =>
      expectedIds(litware).has(resourceId(r).toLowerCase()),
    );
    const [tagged, moved, removed, skuChanged] = candidates;
    // The world is put back afterwards (finally, below): the other tests compare what they read with it.
    const originals = structuredClone([tagged!, moved!, removed!, skuChanged!]);
    sandbox.store.upsertResource({ ...tagged!, tags: { ...tagged!.tags, costCenter: 'cc-42' } });
    sandbox.store.upsertResource({ ...moved!, location: 'swedencentral' });
    sandbox.store.upsertResource({ ...skuChanged!, sku: { name: 'Premium_ZRS' } });
    sandbox.store.deleteResource(resourceId(removed!));
    const added = sandbox.store.upsertResource({
      subscriptionId: tagged!.subscriptionId,
      resourceGroup: tagged!.resourceGroup,
      name: 'kv-drift-test',
      type: 'Microsoft.KeyVault/vaults',
      location: 'westeurope',
    });
    try {
      const secondRun = await runScheduledSweep(host, runtime);
      const changes = [];
      const table = runtime.storage.table(runtime.config.names.changesTable);
      for await (const change of table.listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${litware} and runId eq ${secondRun}` },
      })) {
        changes.push(change);
      }
      const summary = Object.fromEntries(
        changes.map((change) => [
          String(change.name),
          { type: change.changeType, fields: JSON.parse(String(change.changedFields)) as string[] },
        ]),
      );
      expect(summary).toEqual({
        [tagged!.name]: { type: 'modified', fields: ['tags'] },
        [moved!.name]: { type: 'modified', fields: ['location'] },
        [skuChanged!.name]: { type: 'modified', fields: ['sku'] },
        [removed!.name]: { type: 'removed', fields: [] },
        [added.name]: { type: 'added', fields: [] },
      });
      const row = (await tenantsOf(runtime, secondRun)).get(litware)!;
      expect(row).toMatchObject({ added: 1, removed: 1, modified: 3 });

      // Unchanged resources were not written: same ETag, still stamped with the first run.
      const after = await inventoryIds(runtime, litware);
      let untouched = 0;
      for (const [id, entity] of after) {
        const changed =
          [tagged, moved, skuChanged].some((r) => resourceId(r!).toLowerCase() === id) ||
          id === resourceId(added).toLowerCase();
        if (changed) {
          expect(entity.lastRunId).toBe(secondRun);
        } else {
          expect(entity).toEqual(before.get(id));
          untouched++;
        }
      }
      expect(untouched).toBe(before.size - 4);
      expect(after.has(resourceId(removed!).toLowerCase())).toBe(false);
      // The other healthy tenants did not change at all.
      expect((await tenantsOf(runtime, secondRun)).get(byName('Fabrikam'))).toMatchObject({
        added: 0,
        removed: 0,
        modified: 0,
      });

      // Litware changed and has this run's snapshot; unchanged Fabrikam points at the one it had, and
      // no blob was written for it.
      const snapshots = runtime.storage.container(runtime.config.names.snapshotsContainer);
      expect(row.snapshotBlob).toBe(snapshotBlobName(litware, secondRun));
      expect(await snapshots.getBlobClient(row.snapshotBlob!).exists()).toBe(true);
      const fabrikam = byName('Fabrikam');
      const unchanged = (await tenantsOf(runtime, secondRun)).get(fabrikam)!;
      expect(unchanged.snapshotBlob).toBe(snapshotBlobName(fabrikam, firstRun));
      expect(await snapshots.getBlobClient(unchanged.snapshotBlob!).exists()).toBe(true);
      expect(await snapshots.getBlobClient(snapshotBlobName(fabrikam, secondRun)).exists()).toBe(false);

      // A third sweep with nothing changed: Litware points at the snapshot of the run that changed it.
      const thirdRun = await runScheduledSweep(host, runtime);
      const third = (await tenantsOf(runtime, thirdRun)).get(litware)!;
      expect(third).toMatchObject({ added: 0, removed: 0, modified: 0 });
      expect(third.snapshotBlob).toBe(snapshotBlobName(litware, secondRun));
      expect(await snapshots.getBlobClient(snapshotBlobName(litware, thirdRun)).exists()).toBe(false);
    } finally {
      for (const original of originals) sandbox.store.upsertResource(original);
      sandbox.store.deleteResource(resourceId(added));
    }
  });

  it('ignores a redelivered message of a finished tenant: nothing counted or written twice', async () => {
    const [latest] = await runtime.runs.listRuns(1);
    const fabrikam = byName('Fabrikam');
    const before = {
      run: await runtime.runs.getTenant(latest!.runId, fabrikam),
      inventory: await inventoryIds(runtime, fabrikam),
      registry: await runtime.registry.get(fabrikam),
    };
    const outcome = await processTenantMessage(
      runtime,
      { v: 1, runId: latest!.runId, tenantId: fabrikam },
      { dequeueCount: 2 },
    );
    expect(outcome).toBe('duplicate');
    expect(await runtime.runs.getTenant(latest!.runId, fabrikam)).toEqual(before.run);
    expect(await inventoryIds(runtime, fabrikam)).toEqual(before.inventory);
    expect((await runtime.registry.get(fabrikam)).consecutiveFailures).toBe(
      before.registry.consecutiveFailures,
    );
    const adventureWorks = byName('AdventureWorks');
    const failures = (await runtime.registry.get(adventureWorks)).consecutiveFailures;
    await processTenantMessage(
      runtime,
      { v: 1, runId: latest!.runId, tenantId: adventureWorks },
      { dequeueCount: 3 },
    );
    expect((await runtime.registry.get(adventureWorks)).consecutiveFailures).toBe(failures);
  });

  it('records a poison message as a failed tenant of its run, once, and closes the run', async () => {
    // Its own installation: this run would otherwise be the latest run and lastSweep the others read.
    const { runtime, host } = await install();
    const northwind = byName('Northwind');
    // A run whose Northwind message died on every delivery: the host moved it to the poison queue.
    const runId = (await runScheduledSweepWithoutDraining(host, runtime))!;
    const poison = runtime.storage.queue(runtime.config.names.poisonQueue);
    const sweepQueue = runtime.storage.queue(runtime.config.names.sweepQueue);
    // Take Northwind's message off the sweep queue (as the host does after maxDequeueCount failures).
    const { receivedMessageItems } = await sweepQueue.receiveMessages({
      numberOfMessages: 32,
      visibilityTimeout: 60,
    });
    let moved = 0;
    for (const item of receivedMessageItems) {
      const message = JSON.parse(Buffer.from(item.messageText, 'base64').toString('utf8')) as {
        tenantId: string;
      };
      if (message.tenantId === northwind) {
        await poison.sendMessage(item.messageText);
        await sweepQueue.deleteMessage(item.messageId, item.popReceipt);
        moved++;
      } else {
        await sweepQueue.updateMessage(item.messageId, item.popReceipt, item.messageText, 0);
      }
    }
    expect(moved).toBe(1);
    await host.drain(async () => (await runtime.runs.getRun(runId)).status !== 'running');
    const row = await runtime.runs.getTenant(runId, northwind);
    expect(row).toMatchObject({ status: 'failed', diagnosisCode: 'PoisonMessage' });
    expect((await runtime.runs.getRun(runId)).totals?.failed).toBe(3); // AdventureWorks, Woodgrove, Northwind
    expect(await recordPoisonMessage(runtime, { v: 1, runId, tenantId: northwind })).toBe('duplicate');
    expect((await runtime.registry.get(northwind)).lastError?.code).toBe('PoisonMessage');
  });

  it('drops a message that is not a sweep message without recording anything', async () => {
    expect(await processTenantMessage(runtime, { hello: 'world' }, { dequeueCount: 1 })).toBe(
      'invalid-message',
    );
    expect(
      await processTenantMessage(
        runtime,
        encodeSweepMessage({ v: 1, runId: 'bad', tenantId: byName('Litware') } as never),
        { dequeueCount: 1 },
      ),
    ).toBe('invalid-message');
  });
});

describe('a storage account that disappears', () => {
  let runtime: FleetRuntime;
  let host: LocalFunctionsHost;

  // An installation of its own, and a sweep that recorded the accounts and their containers, so the
  // test can see them go.
  beforeAll(async () => {
    ({ runtime, host } = await install());
    await runScheduledSweep(host, runtime);
  });

  it('deletes the rows of a vanished account, keeps the others, and forgets the account', async () => {
    const world = sandbox.store.world;
    const table = runtime.storage.table(runtime.config.names.storageTable);
    const rowsOf = async (tenantId: string): Promise<Set<string>> => {
      const keys = new Set<string>();
      for await (const row of table.listEntities({
        queryOptions: { filter: odata`PartitionKey eq ${tenantId}`, select: ['RowKey'] },
      }))
        keys.add(row.rowKey!);
      return keys;
    };
    const markerAccounts = async (tenantId: string): Promise<Record<string, string>> => {
      const marker = await runtime.storage
        .table(runtime.config.names.inventoryTable)
        .getEntity<{ storageAccounts: string }>(tenantId, TENANT_MARKER);
      return JSON.parse(marker.storageAccounts) as Record<string, string>;
    };
    // Two accounts of one tenant whose containers were read (rows exist for each container).
    const tenantOf = (account: (typeof world.storageAccounts)[number]): string =>
      world.subscriptions.find((s) => s.subscriptionId === account.subscriptionId)!.tenantId;
    let pair: [(typeof world.storageAccounts)[number], (typeof world.storageAccounts)[number]] | undefined;
    for (const account of world.storageAccounts) {
      const rows = await rowsOf(tenantOf(account));
      const other = world.storageAccounts.find(
        (candidate) =>
          candidate !== account &&
          tenantOf(candidate) === tenantOf(account) &&
          candidate.containers.length > 1 &&
          candidate.containers.every((container) => rows.has(`${candidate.name}:${container.name}`)),
      );
      if (other && account.containers.some((container) => rows.has(`${account.name}:${container.name}`))) {
        pair = [account, other];
        break;
      }
    }
    expect(pair, 'the demo world has a tenant with two readable accounts').toBeDefined();
    const [vanishing, staying] = pair!;
    const tenantId = tenantOf(vanishing);
    expect(Object.keys(await markerAccounts(tenantId))).toEqual(
      expect.arrayContaining([vanishing.name, staying.name]),
    );
    const index = world.storageAccounts.indexOf(vanishing);
    world.storageAccounts.splice(index, 1);
    try {
      await runScheduledSweep(host, runtime);
      const rows = await rowsOf(tenantId);
      expect(
        [...rows].filter((key) => key === vanishing.name || key.startsWith(`${vanishing.name}:`)),
      ).toEqual([]);
      expect(rows.has(staying.name)).toBe(true);
      for (const container of staying.containers)
        expect(rows.has(`${staying.name}:${container.name}`)).toBe(true);
      const known = await markerAccounts(tenantId);
      expect(known).not.toHaveProperty(vanishing.name);
      expect(known[staying.name]).toBe(staying.subscriptionId);
    } finally {
      world.storageAccounts.splice(index, 0, vanishing);
    }
  });
});

/** Fires the timer (the run starts and enqueues) without processing the queue. */
async function runScheduledSweepWithoutDraining(
  host: LocalFunctionsHost,
  runtime: FleetRuntime,
): Promise<string | undefined> {
  await host.fireTimer();
  const [run] = await runtime.runs.listRuns(1);
  return run?.runId;
}

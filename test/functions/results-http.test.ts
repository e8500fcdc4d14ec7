/**
 * Results over HTTP, after sweeps through the app's own queue workers against the sandbox demo world:
 * GET /api/tenants/{id}/inventory (paging with top and continuationToken, filters), .../changes (by
 * run) and .../storage (accounts, containers, refusals with their codes). Expected figures come from
 * the world itself, never from what the app wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceId, storageAccountResource } from '../../sandbox/state.js';
import { blobContent } from '../../sandbox/storage-seed.js';
import type { ChangeEntry, InventoryEntry, Page } from '../../src/core/operations/results.js';
import type { StartSweepResult } from '../../src/core/sweep/sweep.js';
import { runs } from '../../src/functions/runs.js';
import { tenantChanges } from '../../src/functions/tenantChanges.js';
import { tenantInventory } from '../../src/functions/tenantInventory.js';
import { tenantStorage } from '../../src/functions/tenantStorage.js';
import { tenants } from '../../src/functions/tenants.js';
import {
  call,
  drainRun,
  type FunctionResponse,
  type HttpHandler,
  startDemoFleet,
  tenantIdOf,
  type Fleet,
} from '../support/http.js';

let fleet: Fleet;
let litware: string;
let northwind: string;
let firstRun: string;

beforeAll(async () => {
  fleet = await startDemoFleet();
  litware = tenantIdOf(fleet.world, 'Litware');
  northwind = tenantIdOf(fleet.world, 'Northwind Traders');
  for (const name of ['Litware', 'Northwind Traders', 'AdventureWorks']) {
    const response = await call(tenants, {
      method: 'POST',
      body: { tenantId: tenantIdOf(fleet.world, name), displayName: name },
    });
    expect(response.status, response.text).toBe(201);
  }
  firstRun = await sweep();
});
afterAll(async () => {
  await fleet?.close();
});

async function sweep(tenantIds?: string[]): Promise<string> {
  const started = await call(runs, { method: 'POST', body: tenantIds ? { tenantIds } : {} });
  expect(started.status, started.text).toBe(202);
  const { runId } = started.json<StartSweepResult>();
  await drainRun(fleet.runtime, runId);
  return runId;
}

/** Every ARM id the world holds for a tenant: resource groups, resources, storage accounts. */
function worldIds(tenantId: string, subscriptionId?: string): string[] {
  const world = fleet.world;
  const subscriptions = new Set(
    world.subscriptions
      .filter((s) => s.tenantId === tenantId && (!subscriptionId || s.subscriptionId === subscriptionId))
      .map((s) => s.subscriptionId),
  );
  return [
    ...world.resourceGroups
      .filter((g) => subscriptions.has(g.subscriptionId))
      .map((g) => `/subscriptions/${g.subscriptionId}/resourceGroups/${g.name}`),
    ...world.resources.filter((r) => subscriptions.has(r.subscriptionId)).map((r) => resourceId(r)),
    ...world.storageAccounts
      .filter((a) => subscriptions.has(a.subscriptionId))
      .map((a) => resourceId(storageAccountResource(a))),
  ]
    .map((id) => id.toLowerCase())
    .sort();
}

function subscriptionsOf(tenantId: string): string[] {
  return fleet.world.subscriptions.filter((s) => s.tenantId === tenantId).map((s) => s.subscriptionId);
}

/** Follows continuation tokens to the end; checks every page respects `top`. */
async function walk<T>(
  handler: HttpHandler,
  tenantId: string,
  query: Record<string, string>,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let pages = 0;
  let token: string | undefined;
  do {
    const response: FunctionResponse = await call(handler, {
      params: { tenantId },
      query: { ...query, ...(token ? { continuationToken: token } : {}) },
    });
    expect(response.status, response.text).toBe(200);
    const page = response.json<Page<T>>();
    if (query.top) expect(page.items.length).toBeLessThanOrEqual(Number(query.top));
    items.push(...page.items);
    token = page.continuationToken;
    pages++;
    expect(pages).toBeLessThan(1000);
  } while (token);
  return { items, pages };
}

describe('GET /api/tenants/{id}/inventory', () => {
  it('walks every page with top and continuationToken: exactly the resource groups and resources of the tenant', async () => {
    const { items, pages } = await walk<InventoryEntry>(tenantInventory, litware, { top: '20' });
    const expected = worldIds(litware);
    expect(expected.length).toBe(87); // demo world: 10 resource groups, 73 resources, 4 storage accounts
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(expected.length / 20));
    const ids = items.map((item) => item.resourceId.toLowerCase());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(expected);
    for (const item of items) {
      expect(subscriptionsOf(litware)).toContain(item.subscriptionId);
      expect(item.firstSeen).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
  });

  it('returns the default page size without top and a token to continue', async () => {
    const response = await call(tenantInventory, { params: { tenantId: litware } });
    expect(response.status).toBe(200);
    const page = response.json<Page<InventoryEntry>>();
    expect(page.items.length).toBeGreaterThan(0);
    expect(page.items.length).toBeLessThanOrEqual(100);
    expect(page.items.length + (page.continuationToken ? 1 : 0)).toBeLessThanOrEqual(
      worldIds(litware).length,
    );
  });

  it('filters by type (case-insensitive) and by subscription', async () => {
    const accounts = fleet.world.storageAccounts
      .filter((a) => subscriptionsOf(litware).includes(a.subscriptionId))
      .map((a) => a.name)
      .sort();
    expect(accounts).toHaveLength(4);
    for (const type of ['Microsoft.Storage/storageAccounts', 'microsoft.storage/STORAGEACCOUNTS']) {
      const { items } = await walk<InventoryEntry>(tenantInventory, litware, { type, top: '3' });
      expect(items.map((item) => item.name).sort(), type).toEqual(accounts);
      for (const item of items) expect(item.type.toLowerCase()).toBe('microsoft.storage/storageaccounts');
    }

    const [production, development] = subscriptionsOf(litware);
    for (const subscriptionId of [production!, development!.toUpperCase()]) {
      const { items } = await walk<InventoryEntry>(tenantInventory, litware, { subscriptionId, top: '50' });
      expect(items.map((item) => item.resourceId.toLowerCase()).sort()).toEqual(
        worldIds(litware, subscriptionId.toLowerCase()),
      );
    }
  });

  it("never shows another tenant's resources", async () => {
    const { items } = await walk<InventoryEntry>(tenantInventory, northwind, { top: '1000' });
    expect(items.map((item) => item.resourceId.toLowerCase()).sort()).toEqual(worldIds(northwind));
    const litwareSubscription = subscriptionsOf(litware)[0]!;
    const crossed = await call(tenantInventory, {
      params: { tenantId: northwind },
      query: { subscriptionId: litwareSubscription },
    });
    expect(crossed.status).toBe(200);
    expect(crossed.json<Page<InventoryEntry>>().items).toEqual([]);
  });

  it.each<[string, Record<string, string>, Record<string, string>, string]>([
    ['top=0', {}, { top: '0' }, 'top'],
    ['top=1001', {}, { top: '1001' }, 'top'],
    ['top=ten', {}, { top: 'ten' }, 'top'],
    ['top=-5', {}, { top: '-5' }, 'top'],
    ['a subscription id that is not a GUID', {}, { subscriptionId: 'production' }, 'subscriptionId'],
    ['an OData injection in type', {}, { type: "x' or PartitionKey ne '" }, 'type'],
    ['a type without a provider', {}, { type: 'virtualMachines' }, 'type'],
    ['a tenant id that is not a GUID', { tenantId: 'litware.com' }, {}, 'tenantId'],
  ])('refuses %s with 400 naming the field', async (_case, params, query, field) => {
    const response = await call(tenantInventory, { params: { tenantId: litware, ...params }, query });
    expect(response.status, response.text).toBe(400);
    expect(response.error()).toMatchObject({ code: 'InvalidInput', field });
  });

  const forged = (json: string) => Buffer.from(json, 'utf8').toString('base64');
  it.each([
    ['not base64 JSON', 'garbage'],
    ['a JSON string', forged('"page-2"')],
    ['JSON null', forged('null')],
    ['an object without nextPartitionKey', forged('{"not":"a token"}')],
    ['a number as nextPartitionKey', forged('{"nextPartitionKey":1}')],
    ['an object as nextRowKey', forged('{"nextPartitionKey":"p","nextRowKey":{"a":1}}')],
  ])(
    'refuses a continuation token it never issued (%s) with 400, on inventory and changes',
    async (_case, token) => {
      for (const handler of [tenantInventory, tenantChanges]) {
        const response = await call(handler, {
          params: { tenantId: litware },
          query: { continuationToken: token },
        });
        expect(response.status, response.text).toBe(400);
        expect(response.error()).toMatchObject({ code: 'InvalidInput', field: 'continuationToken' });
      }
    },
  );
});

describe('GET /api/tenants/{id}/changes', () => {
  let secondRun: string;
  let modifiedId: string;
  let removedId: string;
  let addedId: string;

  beforeAll(async () => {
    // Drift in Litware between two sweeps, through the sandbox's own world operations.
    const subscriptionIds = new Set(subscriptionsOf(litware));
    const candidates = fleet.world.resources.filter(
      (r) => subscriptionIds.has(r.subscriptionId) && r.type === 'Microsoft.Network/networkSecurityGroups',
    );
    const [tagged, removed] = candidates;
    expect(removed).toBeDefined();
    fleet.sandbox.store.upsertResource({ ...tagged!, tags: { ...tagged!.tags, reviewed: 'yes' } });
    modifiedId = resourceId(tagged!);
    removedId = resourceId(removed!);
    expect(fleet.sandbox.store.deleteResource(removedId)).toBe(true);
    const added = fleet.sandbox.store.upsertResource({
      subscriptionId: tagged!.subscriptionId,
      resourceGroup: tagged!.resourceGroup,
      name: 'pip-added-by-test',
      type: 'Microsoft.Network/publicIPAddresses',
      location: 'westeurope',
      tags: { env: 'test' },
    });
    addedId = resourceId(added);
    secondRun = await sweep([litware]);
  });

  it('lists what the first run found: one baseline per subscription, with how many resources it took in', async () => {
    const { items } = await walk<ChangeEntry>(tenantChanges, litware, { runId: firstRun, top: '1' });
    expect(items.map((item) => item.resourceId).sort()).toEqual(
      subscriptionsOf(litware)
        .map((id) => `/subscriptions/${id}`)
        .sort(),
    );
    expect(new Set(items.map((item) => item.changeType))).toEqual(new Set(['baseline']));
    expect(new Set(items.map((item) => item.runId))).toEqual(new Set([firstRun]));
    const taken = items.reduce((sum, item) => sum + (item.after as { items: number }).items, 0);
    expect(taken).toBe(87);
  });

  it('lists exactly the drift for the second run: one modified (with what changed), one removed, one added', async () => {
    const { items } = await walk<ChangeEntry>(tenantChanges, litware, { runId: secondRun });
    const byType = new Map(items.map((item) => [item.changeType, item]));
    expect(items).toHaveLength(3);
    expect(byType.get('modified')).toMatchObject({ runId: secondRun, changedFields: ['tags'] });
    expect(byType.get('modified')!.resourceId.toLowerCase()).toBe(modifiedId.toLowerCase());
    expect(byType.get('modified')!.after).toMatchObject({ tags: { reviewed: 'yes' } });
    expect(byType.get('removed')!.resourceId.toLowerCase()).toBe(removedId.toLowerCase());
    expect(byType.get('added')!.resourceId.toLowerCase()).toBe(addedId.toLowerCase());
  });

  it('without runId pages through the whole history', async () => {
    const { items } = await walk<ChangeEntry>(tenantChanges, litware, { top: '2' });
    // The first run's baselines (one per subscription), then the second run's three changes.
    expect(items).toHaveLength(subscriptionsOf(litware).length + 3);
    expect(items.filter((item) => item.changeType === 'baseline')).toHaveLength(
      subscriptionsOf(litware).length,
    );
    const northwindChanges = await walk<ChangeEntry>(tenantChanges, northwind, { runId: secondRun });
    expect(northwindChanges.items).toEqual([]);
  });

  it('the inventory reflects the drift', async () => {
    const { items } = await walk<InventoryEntry>(tenantInventory, litware, { top: '1000' });
    const ids = items.map((item) => item.resourceId.toLowerCase());
    expect(ids).toContain(addedId.toLowerCase());
    expect(ids).not.toContain(removedId.toLowerCase());
    expect(ids.sort()).toEqual(worldIds(litware));
  });

  it.each<[string, Record<string, string>, string]>([
    ['a run id that is not one', { runId: 'last' }, 'runId'],
    ['an OData injection in runId', { runId: "x' or RowKey ne '" }, 'runId'],
    ['top=0', { top: '0' }, 'top'],
  ])('refuses %s with 400 naming the field', async (_case, query, field) => {
    const response = await call(tenantChanges, { params: { tenantId: litware }, query });
    expect(response.status).toBe(400);
    expect(response.error()).toMatchObject({ code: 'InvalidInput', field });
  });
});

interface StorageAccountView {
  accountName: string;
  reachable?: boolean;
  containerCount?: number;
  blobCount?: number;
  totalBytes?: number;
  diagnosisCode?: string;
  diagnosisFix?: string;
  containers: Array<{ containerName: string; publicAccess: string; blobCount: number; totalBytes: number }>;
}

describe('GET /api/tenants/{id}/storage', () => {
  it('shows reachable accounts with their containers and the refused ones with their codes', async () => {
    const response = await call(tenantStorage, { params: { tenantId: litware } });
    expect(response.status).toBe(200);
    const accounts = new Map(
      response.json<{ items: StorageAccountView[] }>().items.map((account) => [account.accountName, account]),
    );
    expect([...accounts.keys()].sort()).toEqual([
      'stlitwareaudit01',
      'stlitwaredev01',
      'stlitwareprod01',
      'stlitwarevault01',
    ]);
    expect(accounts.get('stlitwareaudit01')).toMatchObject({
      reachable: false,
      diagnosisCode: 'AuthorizationPermissionMismatch',
      containers: [],
    });
    expect(accounts.get('stlitwareaudit01')!.diagnosisFix).toContain('Storage Blob Data Reader');
    expect(accounts.get('stlitwarevault01')).toMatchObject({
      reachable: false,
      diagnosisCode: 'AuthorizationFailure',
      containers: [],
    });

    const world = fleet.world.storageAccounts.find((a) => a.name === 'stlitwareprod01')!;
    const prod = accounts.get('stlitwareprod01')!;
    expect(prod).toMatchObject({
      reachable: true,
      diagnosisCode: '',
      containerCount: world.containers.length,
    });
    for (const container of world.containers) {
      const bytes = container.blobs.reduce(
        (sum, blob) => sum + blobContent(world.name, container.name, blob).length,
        0,
      );
      expect(prod.containers.find((c) => c.containerName === container.name)).toMatchObject({
        publicAccess: container.publicAccess,
        blobCount: container.blobs.length,
        totalBytes: bytes,
      });
    }
  });

  it('shows nothing for a tenant whose sweep failed, and refuses a bad tenant id', async () => {
    const adventureWorks = await call(tenantStorage, {
      params: { tenantId: tenantIdOf(fleet.world, 'AdventureWorks') },
    });
    expect(adventureWorks.status).toBe(200);
    expect(adventureWorks.json<{ items: unknown[] }>().items).toEqual([]);
    const bad = await call(tenantStorage, { params: { tenantId: 'adventure-works' } });
    expect(bad.status).toBe(400);
    expect(bad.error().field).toBe('tenantId');
  });
});

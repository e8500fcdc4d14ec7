/**
 * The cross-tenant inventory explorer against Azurite, without a sandbox or a sweep: tenants' rows and
 * aggregates are written with the product's own row builders (inventoryRow, InventoryAggregate,
 * writeTenantAggregate), then read back through exploreInventory, inventoryRows and inventoryFacets.
 * Covers the query parameters (empty ones left out, an unknown one named as `query`), which tenants
 * the aggregates make candidates (tenantsMatched), the filters answered in memory (resource group and
 * tag key case-insensitive, tag value exact, text in name or id), tags stored in odd shapes, `top`'s
 * bounds, paging across and inside tenants (a cursor at a vanished tenant, past the last one, and the
 * PAGE_BUDGET of table pages per call), the export stream, and the facets' totals and tenant names.
 * Each test has its own installation (own tables): any test runs alone and in any order.
 * test/functions/fleet-views-http.test.ts drives the same code through HTTP after a sandbox sweep.
 */
import { describe, expect, it } from 'vitest';
import { InventoryAggregate, writeTenantAggregate } from '../../../src/core/inventory/aggregates.js';
import { contentHash, inventoryPartition, inventoryRow } from '../../../src/core/inventory/inventory.js';
import { decodeCursor, encodeCursor } from '../../../src/core/operations/fleet-cursor.js';
import {
  exploreInventory,
  inventoryFacets,
  inventoryRows,
  parseInventoryFilter,
  type FleetResource,
  type InventoryFilter,
} from '../../../src/core/operations/inventory-explorer.js';
import type { InventoryItem } from '../../../src/core/platform/arm.js';
import { InputError } from '../../../src/core/platform/errors.js';
import { createRuntime, type FleetRuntime } from '../../../src/core/runtime.js';
import { newRunId } from '../../../src/core/sweep/runs.js';
import { testConfig } from '../../support/provider.js';

interface Tenant {
  tenantId: string;
  displayName: string;
}

// Tenant ids sort A < B < C; their display names sort the other way round (B, C, A).
const A: Tenant = { tenantId: 'aaaaaaaa-0000-4000-8000-000000000001', displayName: 'Zava' };
const B: Tenant = { tenantId: 'bbbbbbbb-0000-4000-8000-000000000002', displayName: 'Contoso' };
const C: Tenant = { tenantId: 'cccccccc-0000-4000-8000-000000000003', displayName: 'Litware' };
const SUB_A = '1a1a1a1a-0000-4000-8000-00000000000a';
const SUB_B = '2b2b2b2b-0000-4000-8000-00000000000b';
const SUB_C = '3c3c3c3c-0000-4000-8000-00000000000c';
const WEB = 'Microsoft.Web/sites';
const STORAGE = 'Microsoft.Storage/storageAccounts';
const FIRST_SEEN = '2026-03-01T08:00:00.000Z';
const NOW = '2026-03-02T08:00:00.000Z';
const RUN_ID = newRunId(new Date(NOW));
const NO_STORAGE = { accounts: 0, refused: 0, publicContainers: 0, blobs: 0, blobBytes: 0 };

async function installation(): Promise<FleetRuntime> {
  const runtime = createRuntime(testConfig(), { log: () => undefined });
  await runtime.storage.ensureResources();
  return runtime;
}

function resource(
  subscriptionId: string,
  resourceGroup: string,
  name: string,
  extra: Partial<Pick<InventoryItem, 'type' | 'location' | 'tags'>> = {},
): InventoryItem {
  const type = extra.type ?? WEB;
  return {
    id: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/${type}/${name}`,
    name,
    type,
    location: extra.location ?? 'westeurope',
    resourceGroup,
    subscriptionId,
    tags: extra.tags ?? {},
  };
}

/** A tenant's inventory rows and its aggregate row, as a sweep writes them. */
async function seed(runtime: FleetRuntime, tenant: Tenant, items: InventoryItem[]): Promise<void> {
  const inventory = runtime.storage.table(runtime.config.names.inventoryTable);
  const context = { tenantId: tenant.tenantId, runId: RUN_ID, now: NOW };
  const aggregate = new InventoryAggregate();
  for (const item of items) {
    const partition = inventoryPartition(tenant.tenantId, item.subscriptionId);
    await inventory.createEntity(inventoryRow(context, partition, item, contentHash(item), FIRST_SEEN));
    aggregate.add(item);
  }
  await writeTenantAggregate(
    runtime.storage.table(runtime.config.names.aggregatesTable),
    { ...tenant, runId: RUN_ID, at: NOW },
    aggregate,
    NO_STORAGE,
  );
}

/** What the explorer should list for a row the test wrote. */
function listed(tenant: Tenant, item: InventoryItem): FleetResource {
  return {
    tenantId: tenant.tenantId,
    tenantName: tenant.displayName,
    subscriptionId: item.subscriptionId,
    resourceGroup: item.resourceGroup,
    name: item.name,
    type: item.type,
    location: item.location,
    tags: item.tags,
    resourceId: item.id,
    firstSeen: FIRST_SEEN,
    lastModified: NOW,
  };
}

const byId = (list: FleetResource[]): FleetResource[] =>
  [...list].sort((a, b) => a.resourceId.localeCompare(b.resourceId));

async function explore(runtime: FleetRuntime, query: Record<string, string>, top = 1000) {
  const page = await exploreInventory(runtime, parseInventoryFilter(query), { top });
  return { ...page, items: byId(page.items) };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('the query parameters', () => {
  it('leave out empty and absent ones, and lower-case ids, type and location', () => {
    expect(
      parseInventoryFilter({
        tenantId: A.tenantId.toUpperCase(),
        subscriptionId: undefined,
        type: 'Microsoft.Web/Sites',
        location: 'WestEurope',
        resourceGroup: '',
        q: '',
      }),
    ).toStrictEqual({ tenantId: A.tenantId, type: 'microsoft.web/sites', location: 'westeurope' });
  });

  it('refuse a bad value naming the parameter, and an unknown parameter as the query', () => {
    const refusal = (query: Record<string, string>): unknown => {
      try {
        parseInventoryFilter(query);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const badType = refusal({ type: 'virtualMachines' });
    expect(badType).toBeInstanceOf(InputError);
    expect(badType).toMatchObject({
      field: 'type',
      message: 'type: must be a resource type such as Microsoft.Compute/virtualMachines',
    });
    const unknown = refusal({ colour: 'blue' });
    expect(unknown).toBeInstanceOf(InputError);
    expect(unknown).toMatchObject({ field: 'query', message: 'query: Unrecognized key: "colour"' });
  });
});

describe('exploring the inventory', () => {
  it.each([0, 1001, 2.5, -1])('refuses top=%s before reading anything', async (top) => {
    // No installation: the refusal comes before any table is read.
    const runtime = createRuntime(testConfig(), { log: () => undefined });
    const error = await rejection(exploreInventory(runtime, {}, { top }));
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ field: 'top', message: 'top: must be from 1 to 1000' });
  });

  it('answers one resource and a token for top=1, everything for top=1000', async () => {
    const runtime = await installation();
    const items = [1, 2, 3].map((n) => resource(SUB_A, 'rg-web', `app-${n}`));
    await seed(runtime, A, items);

    const first = await exploreInventory(runtime, {}, { top: 1 });
    expect(first.items).toEqual([listed(A, items[0]!)]);
    expect(first.continuationToken).toEqual(expect.any(String));
    expect(await exploreInventory(runtime, {}, { top: 1000 })).toEqual({
      items: items.map((item) => listed(A, item)),
      tenantsMatched: 1,
    });
  });

  it('queries only the tenants whose aggregates hold the tenant, type, location or subscription', async () => {
    const runtime = await installation();
    const aWeb = [resource(SUB_A, 'rg-web', 'app-1'), resource(SUB_A, 'rg-web', 'app-2')];
    const aStorage = resource(SUB_A, 'rg-data', 'stzava', { type: STORAGE });
    const bStorage = [
      resource(SUB_B, 'rg-data', 'stcontoso1', { type: STORAGE, location: 'northeurope' }),
      resource(SUB_B, 'rg-data', 'stcontoso2', { type: STORAGE, location: 'northeurope' }),
    ];
    await seed(runtime, A, [...aWeb, aStorage]);
    await seed(runtime, B, bStorage);
    const inA = (items: InventoryItem[]) => byId(items.map((item) => listed(A, item)));
    const inB = (items: InventoryItem[]) => byId(items.map((item) => listed(B, item)));

    expect(await explore(runtime, { tenantId: B.tenantId.toUpperCase() })).toEqual({
      items: inB(bStorage),
      tenantsMatched: 1,
    });
    expect(await explore(runtime, { type: 'microsoft.web/SITES' })).toEqual({
      items: inA(aWeb),
      tenantsMatched: 1,
    });
    expect(await explore(runtime, { type: STORAGE })).toEqual({
      items: byId([...inA([aStorage]), ...inB(bStorage)]),
      tenantsMatched: 2,
    });
    expect(await explore(runtime, { location: 'NorthEurope' })).toEqual({
      items: inB(bStorage),
      tenantsMatched: 1,
    });
    expect(await explore(runtime, { subscriptionId: SUB_A.toUpperCase() })).toEqual({
      items: inA([...aWeb, aStorage]),
      tenantsMatched: 1,
    });
    expect(await explore(runtime, {})).toEqual({
      items: byId([...inA([...aWeb, aStorage]), ...inB(bStorage)]),
      tenantsMatched: 2,
    });
  });

  it('matches the resource group and the tag key in any case, the tag value exactly', async () => {
    const runtime = await installation();
    const front = resource(SUB_A, 'RG-Web', 'front', { tags: { Env: 'prod', conn: 'a=b' } });
    const api = resource(SUB_A, 'RG-Web', 'api', { tags: { env: 'test' } });
    const db = resource(SUB_A, 'rg-data', 'db', { type: STORAGE });
    await seed(runtime, A, [front, api, db]);
    const names = async (query: Record<string, string>) =>
      (await explore(runtime, query)).items.map((item) => item.name).sort();

    expect(await names({ resourceGroup: 'rg-WEB' })).toEqual(['api', 'front']);
    expect(await names({ resourceGroup: 'RG-DATA' })).toEqual(['db']);
    expect(await names({ tag: 'ENV' })).toEqual(['api', 'front']);
    expect(await names({ tag: 'env=prod' })).toEqual(['front']);
    expect(await names({ tag: 'env=PROD' })).toEqual([]);
    expect(await names({ tag: 'conn=a=b' })).toEqual(['front']);
    expect(await names({ tag: 'owner' })).toEqual([]);
  });

  it('finds text in the name or the resource id, in any case', async () => {
    const runtime = await installation();
    const front = resource(SUB_A, 'rg-shop', 'Web-Front');
    const account = resource(SUB_A, 'rg-shop', 'stshop', { type: STORAGE });
    await seed(runtime, A, [front, account]);
    const names = async (q: string) => (await explore(runtime, { q })).items.map((item) => item.name);

    expect(await names('WEB-FRONT')).toEqual(['Web-Front']); // name (and id), not the group
    expect(await names('microsoft.storage')).toEqual(['stshop']); // the id only
    expect(await names('nowhere')).toEqual([]);
  });

  it('reads tags stored as a JSON object, and no tags from anything else', async () => {
    const runtime = await installation();
    const stored: Record<string, unknown> = {
      object: '{"env":"prod"}',
      null: 'null',
      array: '["prod"]',
      string: '"prod"',
      number: 42,
      broken: '{"env":',
      empty: '',
      absent: undefined,
    };
    const inventory = runtime.storage.table(runtime.config.names.inventoryTable);
    for (const [name, tags] of Object.entries(stored)) {
      const item = resource(SUB_A, 'rg-odd', name);
      const row = inventoryRow(
        { tenantId: A.tenantId, runId: RUN_ID, now: NOW },
        inventoryPartition(A.tenantId, SUB_A),
        item,
        contentHash(item),
        FIRST_SEEN,
      );
      if (tags === undefined) delete row.tags;
      else row.tags = tags;
      await inventory.createEntity(row);
    }
    await writeTenantAggregate(
      runtime.storage.table(runtime.config.names.aggregatesTable),
      { ...A, runId: RUN_ID, at: NOW },
      new InventoryAggregate(),
      NO_STORAGE,
    );

    const { items } = await exploreInventory(runtime, {});
    expect(Object.fromEntries(items.map((item) => [item.name, item.tags]))).toEqual({
      object: { env: 'prod' },
      null: {},
      array: {},
      string: {},
      number: {},
      broken: {},
      empty: {},
      absent: {},
    });
  });
});

describe('paging the explorer', () => {
  it('walks every resource once, resuming inside a tenant and at the next one', async () => {
    const runtime = await installation();
    const inA = [1, 2, 3].map((n) => resource(SUB_A, 'rg-web', `app-${n}`));
    const inB = [1, 2].map((n) => resource(SUB_B, 'rg-web', `app-${n}`));
    await seed(runtime, A, inA);
    await seed(runtime, B, inB);

    const pages: FleetResource[][] = [];
    let token: string | undefined;
    do {
      const page = await exploreInventory(
        runtime,
        {},
        { top: 2, ...(token ? { continuationToken: token } : {}) },
      );
      expect(page.tenantsMatched).toBe(2);
      pages.push(page.items);
      token = page.continuationToken;
    } while (token && pages.length < 10);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual([
      ...inA.map((item) => listed(A, item)),
      ...inB.map((item) => listed(B, item)),
    ]);
  });

  it("resumes at the next tenant from its start when the cursor's tenant is no longer listed", async () => {
    const runtime = await installation();
    const inA = resource(SUB_A, 'rg-web', 'app-1');
    const inC = [1, 2, 3].map((n) => resource(SUB_C, 'rg-web', `app-${n}`));
    await seed(runtime, A, [inA]);
    await seed(runtime, C, inC);
    // A table token inside C's query (after its first row), given with B, which has no inventory.
    const first = await exploreInventory(runtime, { tenantId: C.tenantId }, { top: 1 });
    const tableToken = decodeCursor(first.continuationToken)?.k;
    expect(tableToken).toEqual(expect.any(String));
    const cursor = encodeCursor({ v: 1, t: B.tenantId, ...(tableToken ? { k: tableToken } : {}) });

    expect(await exploreInventory(runtime, {}, { top: 10, continuationToken: cursor })).toEqual({
      items: inC.map((item) => listed(C, item)),
      tenantsMatched: 2,
    });
  });

  it('answers nothing for a cursor past the last tenant', async () => {
    const runtime = await installation();
    await seed(runtime, A, [resource(SUB_A, 'rg-web', 'app-1')]);
    await seed(runtime, B, [resource(SUB_B, 'rg-web', 'app-1')]);
    const cursor = encodeCursor({ v: 1, t: 'ffffffff-0000-4000-8000-000000000000' });

    expect(await exploreInventory(runtime, {}, { continuationToken: cursor })).toEqual({
      items: [],
      tenantsMatched: 2,
    });
  });

  it('reads at most 8 table pages a call: a rare match comes with a token, then on the next call', async () => {
    const runtime = await installation();
    const items = Array.from({ length: 10 }, (_, i) =>
      resource(SUB_A, 'rg-web', `app-${String(i + 1).padStart(2, '0')}`),
    );
    await seed(runtime, A, items);
    // top=1: one row per table page, so the 8 pages of the first call read app-01 to app-08.
    const filter: InventoryFilter = parseInventoryFilter({ q: 'app-10' });

    const first = await exploreInventory(runtime, filter, { top: 1 });
    expect(first.items).toEqual([]);
    expect(first.continuationToken).toEqual(expect.any(String));
    expect(
      await exploreInventory(runtime, filter, { top: 1, continuationToken: first.continuationToken! }),
    ).toEqual({ items: [listed(A, items[9]!)], tenantsMatched: 1 });
  });
});

describe('the export stream', () => {
  it('yields only the resources the filter matches, tenant by tenant', async () => {
    const runtime = await installation();
    const aFront = resource(SUB_A, 'rg-web', 'front');
    const aApi = resource(SUB_A, 'rg-web', 'api');
    const bFront = resource(SUB_B, 'rg-web', 'front');
    const bFrontNorth = resource(SUB_B, 'rg-web', 'front-north', { location: 'northeurope' });
    await seed(runtime, A, [aFront, aApi]);
    await seed(runtime, B, [bFront, bFrontNorth]);

    const yielded: FleetResource[] = [];
    for await (const row of inventoryRows(
      runtime,
      parseInventoryFilter({ location: 'westeurope', q: 'front' }),
    ))
      yielded.push(row);
    expect(yielded).toEqual([listed(A, aFront), listed(B, bFront)]);
  });
});

describe('the facets', () => {
  async function threeTenants(runtime: FleetRuntime) {
    const inA = [
      resource(SUB_A, 'rg-web', 'app-1'),
      resource(SUB_A, 'rg-web', 'app-2'),
      resource(SUB_A, 'rg-data', 'stzava', { type: STORAGE }),
    ];
    const inB = [
      resource(SUB_B, 'rg-web', 'app-1', { location: 'northeurope' }),
      resource(SUB_B, 'rg-data', 'stcontoso', { type: STORAGE, location: 'northeurope' }),
    ];
    const inC = [resource(SUB_C, 'rg-web', 'app-1')];
    await seed(runtime, A, inA);
    await seed(runtime, B, inB);
    await seed(runtime, C, inC);
  }
  // Every tenant, by display name: Contoso (B), Litware (C), Zava (A).
  const tenantNames = [B, C, A].map(({ tenantId, displayName }) => ({ tenantId, displayName }));

  it('count resources by type and location across every tenant', async () => {
    const runtime = await installation();
    await threeTenants(runtime);

    expect(await inventoryFacets(runtime)).toEqual({
      tenants: 3,
      resources: 6,
      byType: { 'microsoft.web/sites': 4, 'microsoft.storage/storageaccounts': 2 },
      byLocation: { westeurope: 4, northeurope: 2 },
      tenantNames,
    });
  });

  it("count one tenant's resources, given its id in any case, and still name every tenant", async () => {
    const runtime = await installation();
    await threeTenants(runtime);

    expect(await inventoryFacets(runtime, B.tenantId.toUpperCase())).toEqual({
      tenants: 1,
      resources: 2,
      byType: { 'microsoft.web/sites': 1, 'microsoft.storage/storageaccounts': 1 },
      byLocation: { northeurope: 2 },
      tenantNames,
    });
  });
});

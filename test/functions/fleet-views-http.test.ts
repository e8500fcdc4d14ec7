/**
 * The fleet views over HTTP, against the sandbox demo world after two sweeps through the app's own
 * queue handlers (the second after the demo drift): the overview's states with each failure's fix, the
 * inventory explorer's filters and paging, its CSV/NDJSON exports row for row, the change feed, the
 * storage view, the onboarding guide, a run's snapshot download and GET /api/me.
 */
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDemoDrift } from '../../dev/demo-drift.js';
import type { FleetChange } from '../../src/core/operations/change-feed.js';
import type { FleetOverview } from '../../src/core/operations/fleet-overview.js';
import type { FleetStorageAccount } from '../../src/core/operations/fleet-storage.js';
import type { FleetResource, InventoryFacets } from '../../src/core/operations/inventory-explorer.js';
import type { RunRecord } from '../../src/core/sweep/runs.js';
import { fleetChanges } from '../../src/functions/fleetChanges.js';
import { fleetExport, INVENTORY_COLUMNS } from '../../src/functions/fleetExport.js';
import {
  fleetInventory,
  fleetInventoryFacets,
  fleetResourceHistory,
} from '../../src/functions/fleetInventory.js';
import { fleetOverviewHandler } from '../../src/functions/fleetOverview.js';
import { fleetStorageHandler } from '../../src/functions/fleetStorage.js';
import { me } from '../../src/functions/me.js';
import { onboarding } from '../../src/functions/onboarding.js';
import { runSnapshot } from '../../src/functions/runSnapshot.js';
import { runs } from '../../src/functions/runs.js';
import { tenants } from '../../src/functions/tenants.js';
import { parseCsv } from '../support/csv.js';
import { call, drainRun, startDemoFleet, tenantIdOf, type Fleet } from '../support/http.js';

const CUSTOMERS = ['Litware', 'Fabrikam', 'Northwind Traders', 'AdventureWorks', 'Woodgrove Bank'];
let fleet: Fleet;
const ids: Record<string, string> = {};
let lastRun: RunRecord;

async function sweep(): Promise<RunRecord> {
  const started = await call(runs, { method: 'POST' });
  expect(started.status, started.text).toBe(202);
  const { runId } = started.json<{ runId: string }>();
  await drainRun(fleet.runtime, runId);
  return fleet.runtime.runs.getRun(runId);
}

beforeAll(async () => {
  fleet = await startDemoFleet();
  for (const name of CUSTOMERS) {
    ids[name] = tenantIdOf(fleet.world, name);
    const response = await call(tenants, {
      method: 'POST',
      body: { tenantId: ids[name], displayName: name },
    });
    expect(response.status, response.text).toBe(201);
  }
  await sweep();
  applyDemoDrift(fleet.sandbox.store, 1);
  lastRun = await sweep();
});
afterAll(async () => {
  await fleet?.close();
});

describe('GET /api/fleet/overview', () => {
  it('puts every tenant in a state, failing ones with the diagnosis and the fix', async () => {
    const response = await call(fleetOverviewHandler);
    expect(response.status, response.text).toBe(200);
    const overview = response.json<FleetOverview>();
    const byName = new Map(overview.tenants.map((tenant) => [tenant.displayName, tenant]));
    expect(byName.get('AdventureWorks')).toMatchObject({
      state: 'failing',
      diagnosis: { code: 'AADSTS700016' },
    });
    expect(byName.get('AdventureWorks')!.diagnosis!.fix).toContain(`/${ids.AdventureWorks}/adminconsent`);
    expect(byName.get('Woodgrove Bank')).toMatchObject({
      state: 'failing',
      diagnosis: { code: 'NoVisibleSubscriptions' },
    });
    expect(byName.get('Litware')).toMatchObject({ state: 'warnings' });
    expect(
      byName
        .get('Litware')!
        .warnings!.map((warning) => warning.id)
        .sort(),
    ).toEqual(['stlitwareaudit01', 'stlitwarevault01']);
    expect(byName.get('Fabrikam')).toMatchObject({ state: 'healthy' });
    expect(overview.counts).toMatchObject({
      failing: 2,
      warnings: 1,
      healthy: 2,
      excluded: 0,
      neverSwept: 0,
    });
    // Failing first: the operator's attention goes to the top.
    expect(overview.tenants.slice(0, 2).map((tenant) => tenant.state)).toEqual(['failing', 'failing']);
    expect(overview.lastRun?.runId).toBe(lastRun.runId);
    expect(overview.totals.resources).toBe(lastRun.totals!.resources);
    expect(Date.parse(overview.nextSweepAt!)).toBeGreaterThan(Date.now());
  });

  it('shows an excluded tenant as excluded with who and why', async () => {
    const patch = await call((await import('../../src/functions/tenant.js')).tenant, {
      method: 'PATCH',
      params: { tenantId: ids['Northwind Traders']! },
      body: { enabled: false, reason: 'contract paused' },
    });
    expect(patch.status, patch.text).toBe(200);
    const overview = (await call(fleetOverviewHandler)).json<FleetOverview>();
    expect(overview.tenants.find((tenant) => tenant.displayName === 'Northwind Traders')).toMatchObject({
      state: 'excluded',
      exclusion: { reason: 'contract paused' },
    });
    await call((await import('../../src/functions/tenant.js')).tenant, {
      method: 'PATCH',
      params: { tenantId: ids['Northwind Traders']! },
      body: { enabled: true },
    });
  });
});

describe('GET /api/fleet/inventory', () => {
  it('filters by type across tenants, and pages through exactly the facet count', async () => {
    const facets = (await call(fleetInventoryFacets)).json<InventoryFacets>();
    const [type, count] = Object.entries(facets.byType).sort((a, b) => b[1] - a[1])[0]!;
    expect(count).toBeGreaterThan(3);
    const seen = new Set<string>();
    let token: string | undefined;
    let pages = 0;
    do {
      const response = await call(fleetInventory, {
        query: { type, top: '3', ...(token ? { continuationToken: token } : {}) },
      });
      expect(response.status, response.text).toBe(200);
      const page = response.json<{ items: FleetResource[]; continuationToken?: string }>();
      for (const item of page.items) {
        expect(item.type.toLowerCase()).toBe(type);
        expect(seen.has(item.resourceId), item.resourceId).toBe(false);
        seen.add(item.resourceId);
      }
      token = page.continuationToken;
      pages++;
    } while (token && pages < 100);
    expect(seen.size).toBe(count);
  });

  it('filters by tenant, location, tag and text', async () => {
    const all = (await call(fleetInventory, { query: { tenantId: ids.Fabrikam!, top: '1000' } })).json<{
      items: FleetResource[];
    }>().items;
    expect(all.length).toBeGreaterThan(0);
    expect(new Set(all.map((item) => item.tenantName))).toEqual(new Set(['Fabrikam']));
    const sample = all.find((item) => Object.keys(item.tags).length > 0) ?? all[0]!;
    const byLocation = (
      await call(fleetInventory, { query: { location: sample.location, top: '1000' } })
    ).json<{ items: FleetResource[] }>().items;
    expect(byLocation.length).toBeGreaterThan(0);
    expect(byLocation.every((item) => item.location.toLowerCase() === sample.location.toLowerCase())).toBe(
      true,
    );
    const byText = (
      await call(fleetInventory, { query: { q: sample.name.toUpperCase(), top: '1000' } })
    ).json<{ items: FleetResource[] }>().items;
    expect(byText.map((item) => item.resourceId)).toContain(sample.resourceId);
    const [key, value] = Object.entries(sample.tags)[0] ?? [];
    if (key) {
      const byTag = (await call(fleetInventory, { query: { tag: `${key}=${value}`, top: '1000' } })).json<{
        items: FleetResource[];
      }>().items;
      expect(byTag.length).toBeGreaterThan(0);
      expect(byTag.every((item) => item.tags[key] === value)).toBe(true);
    }
  });

  it('filters by subscription, in any case, and takes an empty parameter as no filter', async () => {
    const all = (await call(fleetInventory, { query: { top: '1000' } })).json<{ items: FleetResource[] }>()
      .items;
    const subscriptionId = all.find((item) => item.tenantId === ids.Fabrikam)!.subscriptionId;
    const inSubscription = all.filter((item) => item.subscriptionId === subscriptionId);
    expect(inSubscription.length).toBeGreaterThan(0);
    expect(inSubscription.length).toBeLessThan(all.length);
    for (const spelling of [subscriptionId, subscriptionId.toUpperCase()]) {
      const items = (await call(fleetInventory, { query: { subscriptionId: spelling, top: '1000' } })).json<{
        items: FleetResource[];
      }>().items;
      expect(items.map((item) => item.resourceId).sort()).toEqual(
        inSubscription.map((item) => item.resourceId).sort(),
      );
    }
    const elsewhere = (
      await call(fleetInventory, { query: { subscriptionId, tenantId: ids.Litware!, top: '1000' } })
    ).json<{ items: FleetResource[] }>().items;
    expect(elsewhere).toEqual([]);
    const unfiltered = (await call(fleetInventory, { query: { location: '', q: '', top: '1000' } })).json<{
      items: FleetResource[];
    }>().items;
    expect(unfiltered).toEqual(all);
  });

  it.each([
    [{ type: 'not a type' }, 'type'],
    [{ tenantId: 'contoso' }, 'tenantId'],
    [{ color: 'blue' }, 'query'],
    [{ continuationToken: 'eyJ2IjoyfQ' }, 'continuationToken'],
    [{ top: '0' }, 'top'],
  ])('refuses %j with 400 naming the parameter', async (query, field) => {
    const response = await call(fleetInventory, { query });
    expect(response.status, response.text).toBe(400);
    if (field !== 'query') expect(response.error().field).toBe(field);
  });

  it('tells a resource history (its baseline and the drift)', async () => {
    const changes = (await call(fleetChanges, { query: { kind: 'modified', top: '10' } })).json<{
      items: FleetChange[];
    }>().items;
    expect(changes.length).toBeGreaterThan(0);
    const change = changes[0]!;
    const history = await call(fleetResourceHistory, {
      query: { tenantId: change.tenantId, resourceId: change.resourceId },
    });
    expect(history.status, history.text).toBe(200);
    expect(history.json<{ items: Array<{ changeType: string }> }>().items[0]).toMatchObject({
      changeType: 'modified',
    });
  });
});

describe('GET /api/fleet/export/{dataset}', () => {
  it('streams the explorer rows as CSV, row for row what the API returns', async () => {
    const facets = (await call(fleetInventoryFacets)).json<InventoryFacets>();
    const type = Object.keys(facets.byType)[0]!;
    const api = (await call(fleetInventory, { query: { type, top: '1000' } })).json<{
      items: FleetResource[];
    }>().items;
    const response = await call(fleetExport, {
      params: { dataset: 'inventory' },
      query: { type, format: 'csv' },
    });
    expect(response.status, response.text).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/csv');
    expect(response.headers.get('content-disposition')).toMatch(
      /attachment; filename="fleet-inventory-.*\.csv"/,
    );
    const [header, ...rows] = parseCsv(response.text);
    expect(header).toEqual(INVENTORY_COLUMNS);
    expect(rows.map((row) => row[header!.indexOf('resourceId')]).sort()).toEqual(
      api.map((item) => item.resourceId).sort(),
    );
    const first = api[0]!;
    const row = rows.find((candidate) => candidate[8] === first.resourceId)!;
    expect(row[4]).toBe(first.name);
    expect(JSON.parse(row[7]!)).toEqual(first.tags);
  });

  it('streams changes and storage as NDJSON', async () => {
    const changes = await call(fleetExport, { params: { dataset: 'changes' }, query: { format: 'ndjson' } });
    expect(changes.status).toBe(200);
    const lines = changes.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as FleetChange);
    expect(lines.some((line) => line.changeType === 'modified')).toBe(true);
    const storage = await call(fleetExport, { params: { dataset: 'storage' }, query: { format: 'ndjson' } });
    const accounts = storage.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { accountName: string; diagnosisCode: string });
    expect(accounts.find((row) => row.accountName === 'stlitwareaudit01')?.diagnosisCode).toBe(
      'AuthorizationPermissionMismatch',
    );
  });

  it('refuses an unknown dataset (404) and format (400)', async () => {
    expect((await call(fleetExport, { params: { dataset: 'secrets' } })).status).toBe(404);
    const bad = await call(fleetExport, { params: { dataset: 'inventory' }, query: { format: 'xlsx' } });
    expect(bad.status).toBe(400);
    expect(bad.error().field).toBe('format');
  });
});

describe('change feed, storage, onboarding, snapshot, me', () => {
  it('lists the drift across tenants, filtered by kind and tenant', async () => {
    const feed = (await call(fleetChanges, { query: { top: '1000' } })).json<{ items: FleetChange[] }>()
      .items;
    const kinds = new Set(feed.map((change) => change.changeType));
    for (const kind of ['added', 'removed', 'modified', 'baseline']) expect(kinds.has(kind), kind).toBe(true);
    const modified = feed.find((change) => change.changeType === 'modified')!;
    expect(Array.isArray(modified.changedFields)).toBe(true);
    expect(modified.before).toBeDefined();
    const onlyAdded = (await call(fleetChanges, { query: { kind: 'added' } })).json<{
      items: FleetChange[];
    }>().items;
    expect(onlyAdded.length).toBeGreaterThan(0);
    expect(onlyAdded.every((change) => change.changeType === 'added')).toBe(true);
    const fabrikam = (await call(fleetChanges, { query: { tenantId: ids.Fabrikam!, top: '1000' } })).json<{
      items: FleetChange[];
    }>().items;
    expect(fabrikam.every((change) => change.tenantId === ids.Fabrikam)).toBe(true);
    expect((await call(fleetChanges, { query: { kind: 'deleted' } })).status).toBe(400);
  });

  it('limits the feed to the runs that started in the window, both ends included', async () => {
    const all = (await call(fleetChanges, { query: { top: '1000' } })).json<{ items: FleetChange[] }>().items;
    const ofLastRun = all.filter((change) => change.runId === lastRun.runId);
    expect(ofLastRun.length).toBeGreaterThan(0);
    expect(ofLastRun.length).toBeLessThan(all.length);
    const at = lastRun.startedAt;
    const before = new Date(Date.parse(at) - 1).toISOString();
    const window = async (query: Record<string, string>) =>
      (await call(fleetChanges, { query: { top: '1000', ...query } })).json<{ items: FleetChange[] }>().items;
    expect(await window({ since: at, until: at })).toEqual(ofLastRun);
    expect(await window({ since: at })).toEqual(ofLastRun);
    expect(await window({ until: before })).toEqual(all.filter((change) => change.runId !== lastRun.runId));
    // An empty parameter is no filter at all.
    expect(await window({ kind: '', since: '' })).toEqual(all);
  });

  it('refuses a window that is not a time and a tenant that is not a GUID, and reads a GUID in any case', async () => {
    const since = await call(fleetChanges, { query: { since: 'yesterday' } });
    expect(since.status).toBe(400);
    expect(since.error().field).toBe('since');
    expect(since.error().message).toContain('must be an ISO 8601 time');
    const tenant = await call(fleetChanges, { query: { tenantId: 'fabrikam' } });
    expect(tenant.status).toBe(400);
    expect(tenant.error().field).toBe('tenantId');
    const lower = (await call(fleetChanges, { query: { tenantId: ids.Fabrikam!, top: '1000' } })).json<{
      items: FleetChange[];
    }>().items;
    expect(lower.length).toBeGreaterThan(0);
    const upper = (
      await call(fleetChanges, { query: { tenantId: ids.Fabrikam!.toUpperCase(), top: '1000' } })
    ).json<{ items: FleetChange[] }>().items;
    expect(upper).toEqual(lower);
  });

  it('pages the change feed without repeating a change', async () => {
    const all = (await call(fleetChanges, { query: { top: '1000' } })).json<{ items: FleetChange[] }>().items;
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = (
        await call(fleetChanges, { query: { top: '2', ...(token ? { continuationToken: token } : {}) } })
      ).json<{ items: FleetChange[]; continuationToken?: string }>();
      seen.push(...page.items.map((change) => `${change.runId}/${change.resourceId}`));
      token = page.continuationToken;
    } while (token && seen.length < 5000);
    expect(seen.sort()).toEqual(all.map((change) => `${change.runId}/${change.resourceId}`).sort());
  });

  it('shows storage accounts with refusals and their fix', async () => {
    const items = (await call(fleetStorageHandler)).json<{ items: FleetStorageAccount[] }>().items;
    const audit = items.find((account) => account.accountName === 'stlitwareaudit01')!;
    expect(audit).toMatchObject({ tenantName: 'Litware', reachable: false });
    expect(audit.diagnosis?.fix).toBeTruthy();
    const refused = (await call(fleetStorageHandler, { query: { refused: 'true' } })).json<{
      items: FleetStorageAccount[];
    }>().items;
    expect(refused.map((account) => account.accountName).sort()).toEqual([
      'stlitwareaudit01',
      'stlitwarevault01',
    ]);
    expect(items.some((account) => account.containers.length > 0 && account.blobCount > 0)).toBe(true);
  });

  it('shows only the accounts with a public container when asked', async () => {
    const all = (await call(fleetStorageHandler)).json<{ items: FleetStorageAccount[] }>().items;
    const open = all.filter((account) => account.publicContainers > 0);
    expect(open.length).toBeGreaterThan(0);
    expect(open.length).toBeLessThan(all.length);
    const items = (await call(fleetStorageHandler, { query: { public: 'true' } })).json<{
      items: FleetStorageAccount[];
    }>().items;
    expect(items).toEqual(open);
    for (const account of items)
      expect(account.tenantName).toBe(CUSTOMERS.find((name) => ids[name] === account.tenantId));
  });

  it("shows one tenant's storage accounts when asked for that tenant, in any case", async () => {
    const all = (await call(fleetStorageHandler)).json<{ items: FleetStorageAccount[] }>().items;
    const litware = all.filter((account) => account.tenantId === ids.Litware);
    expect(litware.length).toBeGreaterThan(0);
    expect(litware.length).toBeLessThan(all.length);
    for (const tenantId of [ids.Litware!, ids.Litware!.toUpperCase()]) {
      const items = (await call(fleetStorageHandler, { query: { tenantId } })).json<{
        items: FleetStorageAccount[];
      }>().items;
      expect(items).toEqual(litware);
    }
  });

  it('guides onboarding with the consent link and the commands', async () => {
    const newTenant = '0a1b2c3d-0000-4000-8000-000000000001';
    const response = await call(onboarding, { params: { tenantId: newTenant } });
    expect(response.status).toBe(200);
    const guide = response.json<{ adminConsentUrl: string; commands: string[]; registered: boolean }>();
    expect(guide.registered).toBe(false);
    expect(guide.adminConsentUrl).toContain(
      `/${newTenant}/adminconsent?client_id=${fleet.runtime.config.appClientId}`,
    );
    expect(guide.commands.join('\n')).toContain(`--app-id ${fleet.runtime.config.appClientId}`);
    expect((await call(onboarding, { params: { tenantId: 'contoso' } })).status).toBe(400);
  });

  it("downloads a tenant's snapshot of a run, and 404s one that has none", async () => {
    const response = await call(runSnapshot, { params: { runId: lastRun.runId, tenantId: ids.Fabrikam! } });
    expect(response.status, response.text).toBe(200);
    const lines = gunzipSync(response.bytes).toString('utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(10);
    expect(JSON.parse(lines[0]!)).toHaveProperty('id');
    const none = await call(runSnapshot, { params: { runId: lastRun.runId, tenantId: ids.AdventureWorks! } });
    expect(none.status).toBe(404);
  });

  it('says who the caller is and which roles it holds', async () => {
    const response = await call(me);
    expect(response.json()).toMatchObject({
      name: 'local',
      roles: expect.arrayContaining(['Fleet.Admin']) as unknown,
    });
  });
});

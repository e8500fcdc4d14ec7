/**
 * The fleet overview (fleet-overview.ts) and the storage view (fleet-storage.ts) against Azurite, from
 * rows written by the product's own writers (registry, run store, aggregate and storage rows): no
 * sandbox, no sweep. The overview's states and which tenants carry a diagnosis (the failing, the ones
 * whose circuit is open and the partial ones, not an excluded one), a partial sweep's diagnosis from
 * its warnings (scope, id and how many others refused, also past the first ten and past a list cut to
 * fit its property, junk in the list skipped), invalid and hand-edited registry rows, totals over the
 * registered tenants only, the last and the running run; the storage view's accounts with their
 * containers and counts, its order and filters, and container rows without an account row or without
 * the properties an older row lacks. These are the holes mutation testing left; the HTTP round trip
 * over a swept demo fleet is test/functions/fleet-views-http.test.ts. Each test has its own tables.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InventoryAggregate,
  writeTenantAggregate,
  type StorageSummary,
} from '../../../src/core/inventory/aggregates.js';
import {
  writeStorageResult,
  type StorageAccountResult,
} from '../../../src/core/inventory/storage-inventory.js';
import { fleetOverview } from '../../../src/core/operations/fleet-overview.js';
import { fleetStorage } from '../../../src/core/operations/fleet-storage.js';
import type { InventoryItem } from '../../../src/core/platform/arm.js';
import type { Diagnosis } from '../../../src/core/platform/diagnosis.js';
import { createRuntime, type FleetRuntime } from '../../../src/core/runtime.js';
import type { SweepOutcomeStatus } from '../../../src/core/sweep/registry.js';
import { newRunId } from '../../../src/core/sweep/runs.js';
import { testConfig } from '../../support/provider.js';

async function installation(settings: Record<string, string> = {}): Promise<FleetRuntime> {
  const runtime = createRuntime(testConfig(settings), { log: () => {} });
  await runtime.storage.ensureResources();
  return runtime;
}

/** A diagnosis whose code is not one propagation causes (so every failure counts towards the breaker). */
function diagnosis(code: string, meaning: string, fix: string): Diagnosis {
  return { code, category: 'permission', owner: 'customer', meaning, fix, retryable: false, detail: '' };
}

/** A warning as the sweep stores it in a tenant row (summarizeWarning, sweep.ts). */
function warning(
  scope: 'subscription' | 'storageAccount',
  id: string,
  fix = `Grant the app access to ${id}.`,
) {
  return { scope, id, code: 'AuthorizationPermissionMismatch', fix };
}

async function register(runtime: FleetRuntime, displayName: string): Promise<string> {
  const tenantId = randomUUID();
  await runtime.registry.add({ tenantId, displayName }, 'operator');
  return tenantId;
}

/** A run started at `startedAt` (its row only; its tenants are recorded by `swept`). */
async function startRun(runtime: FleetRuntime, startedAt: string): Promise<string> {
  const runId = newRunId(new Date(startedAt));
  await runtime.runs.createRun({ runId, trigger: 'timer', status: 'running', startedAt });
  return runId;
}

/** A tenant's sweep in a run, recorded as the sweep does: its tenant row, then the registry. */
async function swept(
  runtime: FleetRuntime,
  runId: string,
  tenantId: string,
  status: SweepOutcomeStatus,
  details: { diagnosis?: Diagnosis; warnings?: unknown[] } = {},
): Promise<void> {
  await runtime.runs.addTenants(runId, [{ tenantId, displayName: '', status: 'queued' }]);
  await runtime.runs.finishTenant(runId, tenantId, status, { endedAt: new Date().toISOString(), ...details });
  await runtime.registry.recordSweepOutcome(tenantId, runId, status, details.diagnosis);
}

/** A partial sweep's tenant with these warnings; returns what the overview says of it. */
async function partialWith(warnings: unknown[]) {
  const runtime = await installation();
  const tenantId = await register(runtime, 'Litware');
  await swept(runtime, await startRun(runtime, '2026-11-23T06:30:00.000Z'), tenantId, 'partial', {
    warnings,
  });
  const [tenant] = (await fleetOverview(runtime)).tenants;
  return tenant!;
}

describe('fleet overview: states and diagnoses', () => {
  it('puts each tenant in its state, troubled ones first with the diagnosis of their last sweep', async () => {
    const runtime = await installation({ TENANT_FLEET_CIRCUIT_BREAKER_THRESHOLD: '2' });
    const earlier = await startRun(runtime, '2026-11-23T06:30:00.000Z');
    const last = await startRun(runtime, '2026-11-24T06:30:00.000Z');
    const consent = diagnosis('AADSTS65001', 'The admin has not consented.', 'Grant admin consent.');
    const expired = diagnosis('AADSTS7000222', 'The credential expired.', 'Renew the credential.');
    const secret = diagnosis('AADSTS7000215', 'The secret is wrong.', 'Set the right secret.');
    const paused = diagnosis('AADSTS700082', 'The refresh token expired.', 'Sign in again.');
    const refusal = warning('storageAccount', 'stlitware01');

    const fabrikam = await register(runtime, 'Fabrikam');
    await swept(runtime, last, fabrikam, 'failed', { diagnosis: consent });
    const contoso = await register(runtime, 'Contoso');
    await swept(runtime, earlier, contoso, 'failed', { diagnosis: secret });
    await swept(runtime, last, contoso, 'failed', { diagnosis: expired });
    const litware = await register(runtime, 'Litware');
    await swept(runtime, last, litware, 'partial', { warnings: [refusal] });
    await register(runtime, 'Woodgrove');
    const northwind = await register(runtime, 'Northwind');
    await swept(runtime, last, northwind, 'failed', { diagnosis: paused });
    await runtime.registry.update(northwind, { enabled: false, reason: 'contract paused' }, 'operator');
    const adatum = await register(runtime, 'Adatum');
    await swept(runtime, last, adatum, 'succeeded');

    const overview = await fleetOverview(runtime);
    const { code, meaning, fix } = consent;
    expect(overview.tenants.map((tenant) => [tenant.displayName, tenant.state, tenant.diagnosis])).toEqual([
      ['Fabrikam', 'failing', { code, meaning, fix }],
      ['Contoso', 'circuitOpen', { code: expired.code, meaning: expired.meaning, fix: expired.fix }],
      [
        'Litware',
        'warnings',
        { code: refusal.code, meaning: 'Storage account stlitware01 refused the app.', fix: refusal.fix },
      ],
      ['Woodgrove', 'neverSwept', undefined],
      ['Northwind', 'excluded', undefined],
      ['Adatum', 'healthy', undefined],
    ]);
    expect(overview.tenants.find((tenant) => tenant.tenantId === litware)!.warnings).toEqual([refusal]);
    expect(overview.counts).toEqual({
      failing: 1,
      circuitOpen: 1,
      warnings: 1,
      neverSwept: 1,
      excluded: 1,
      healthy: 1,
    });
    expect(overview.invalid).toEqual([]);
  });

  it('shows a diagnosis without meaning or fix as empty text', async () => {
    const runtime = await installation();
    const tenantId = await register(runtime, 'Fabrikam');
    const bare = diagnosis('UnknownError', '', '');
    await swept(runtime, await startRun(runtime, '2026-11-23T06:30:00.000Z'), tenantId, 'failed', {
      diagnosis: bare,
    });
    const [tenant] = (await fleetOverview(runtime)).tenants;
    expect(tenant!.diagnosis).toEqual({ code: 'UnknownError', meaning: '', fix: '' });
  });

  it('lists a registry row that is not a tenant apart, never as a tenant', async () => {
    const runtime = await installation();
    await register(runtime, 'Fabrikam');
    const now = new Date().toISOString();
    await runtime.storage.table(runtime.config.names.tenantsTable).createEntity({
      partitionKey: 'tenant',
      rowKey: 'fabrikam-old',
      displayName: 'Fabrikam (old)',
      enabled: true,
      createdAt: now,
      updatedAt: now,
    });
    const overview = await fleetOverview(runtime);
    expect(overview.invalid).toEqual([
      { rowKey: 'fabrikam-old', problem: 'rowKey: the row key is not a tenant id (GUID)' },
    ]);
    expect(overview.tenants.map((tenant) => tenant.displayName)).toEqual(['Fabrikam']);
    expect(overview.totals.tenants).toBe(1);
  });

  it('shows a hand-edited row with failures but no last sweep as circuit open, without a diagnosis', async () => {
    const runtime = await installation();
    const tenantId = randomUUID();
    const now = new Date().toISOString();
    await runtime.storage.table(runtime.config.names.tenantsTable).createEntity({
      partitionKey: 'tenant',
      rowKey: tenantId,
      displayName: 'Tailspin',
      enabled: true,
      consecutiveFailures: runtime.config.sweep.circuitBreakerThreshold,
      createdAt: now,
      updatedAt: now,
    });
    const [tenant] = (await fleetOverview(runtime)).tenants;
    expect(tenant).toMatchObject({ tenantId, state: 'circuitOpen' });
    expect(tenant!.lastSweep).toBeUndefined();
    expect(tenant!.diagnosis).toBeUndefined();
  });
});

describe("fleet overview: a partial sweep's warnings", () => {
  it('names the subscription that refused when it is the only warning', async () => {
    const subscriptionId = randomUUID();
    const refusal = warning('subscription', subscriptionId);
    const tenant = await partialWith([refusal]);
    expect(tenant.warnings).toEqual([refusal]);
    expect(tenant.diagnosis).toEqual({
      code: refusal.code,
      meaning: `Subscription ${subscriptionId} refused the app.`,
      fix: refusal.fix,
    });
  });

  it('names the first storage account that refused and how many others did', async () => {
    const refusals = ['stone', 'sttwo', 'stthree'].map((name) => warning('storageAccount', name));
    const tenant = await partialWith(refusals);
    expect(tenant.warnings).toEqual(refusals);
    expect(tenant.diagnosis).toEqual({
      code: refusals[0]!.code,
      meaning: 'Storage account stone refused the app (and 2 more).',
      fix: refusals[0]!.fix,
    });
  });

  it('lists the first ten warnings but counts all the others that refused', async () => {
    const refusals = Array.from({ length: 12 }, (_, index) => warning('storageAccount', `stacct${index}`));
    const tenant = await partialWith(refusals);
    expect(tenant.warnings).toEqual(refusals.slice(0, 10));
    expect(tenant.diagnosis!.meaning).toBe('Storage account stacct0 refused the app (and 11 more).');
  });

  it('counts the warnings a list cut to fit its property left out, and does not list the cut', async () => {
    // 5,000-character fixes: five warnings fit the row's 30,000 characters, the sixth does not, so the
    // stored list is the first five and a `{ truncated: 7 }` marker.
    const refusals = Array.from({ length: 12 }, (_, index) =>
      warning('storageAccount', `stacct${index}`, `${index}`.padEnd(5_000, '.')),
    );
    const tenant = await partialWith(refusals);
    expect(tenant.warnings).toEqual(refusals.slice(0, 5));
    expect(tenant.diagnosis!.meaning).toBe('Storage account stacct0 refused the app (and 11 more).');
  });

  it('skips what is not a warning in the list', async () => {
    const refusal = warning('storageAccount', 'stlitware01');
    const tenant = await partialWith([7, 'refused', { note: 'no code' }, refusal, null]);
    expect(tenant.warnings).toEqual([refusal]);
    expect(tenant.diagnosis!.meaning).toBe('Storage account stlitware01 refused the app.');
  });
});

/** An inventory item of a subscription (a resource group when `type` says so). */
function item(subscriptionId: string, type: string, name: string): InventoryItem {
  return {
    id: `/subscriptions/${subscriptionId}/resourceGroups/rg/providers/${type}/${name}`,
    name,
    type,
    location: 'westeurope',
    resourceGroup: 'rg',
    subscriptionId,
    tags: {},
  };
}

/** Writes a tenant's aggregate row: `groups` resource groups, `resources` resources, this storage. */
async function aggregate(
  runtime: FleetRuntime,
  tenant: { tenantId: string; displayName: string },
  groups: number,
  resources: number,
  storage: StorageSummary,
): Promise<void> {
  const counts = new InventoryAggregate();
  const subscriptionId = randomUUID();
  for (let index = 0; index < groups; index++)
    counts.add(item(subscriptionId, 'Microsoft.Resources/resourceGroups', `rg${index}`));
  for (let index = 0; index < resources; index++)
    counts.add(item(subscriptionId, 'Microsoft.Web/sites', `site${index}`));
  await writeTenantAggregate(
    runtime.storage.table(runtime.config.names.aggregatesTable),
    { ...tenant, runId: newRunId(new Date('2026-11-23T06:30:00.000Z')), at: '2026-11-23T06:31:00.000Z' },
    counts,
    storage,
  );
}

describe('fleet overview: totals and runs', () => {
  it('sums the aggregates of the registered tenants only', async () => {
    const runtime = await installation();
    const fabrikam = { tenantId: await register(runtime, 'Fabrikam'), displayName: 'Fabrikam' };
    const litware = { tenantId: await register(runtime, 'Litware'), displayName: 'Litware' };
    const removed = { tenantId: randomUUID(), displayName: 'Gone' };
    await aggregate(runtime, fabrikam, 2, 3, {
      accounts: 2,
      refused: 1,
      publicContainers: 1,
      blobs: 40,
      blobBytes: 4096,
    });
    await aggregate(runtime, litware, 1, 2, {
      accounts: 3,
      refused: 0,
      publicContainers: 2,
      blobs: 7,
      blobBytes: 1000,
    });
    await aggregate(runtime, removed, 50, 500, {
      accounts: 60,
      refused: 6,
      publicContainers: 70,
      blobs: 800,
      blobBytes: 90_000,
    });

    const overview = await fleetOverview(runtime);
    expect(overview.totals).toEqual({
      tenants: 2,
      resources: 3 + 2,
      resourceGroups: 2 + 1,
      storageAccounts: 2 + 3,
      publicContainers: 1 + 2,
      blobs: 40 + 7,
      blobBytes: 4096 + 1000,
    });
    expect(overview.tenants.find((tenant) => tenant.tenantId === fabrikam.tenantId)).toMatchObject({
      resources: 3,
      resourceGroups: 2,
      storageAccounts: 2,
      storageRefused: 1,
      publicContainers: 1,
    });
  });

  it('shows the last finished run, and the running one while there is one', async () => {
    const runtime = await installation();
    const finishedAt = '2026-11-23T06:40:00.000Z';
    const finished = await startRun(runtime, '2026-11-23T06:30:00.000Z');
    await runtime.runs.finalizeRun(finished, finishedAt);

    const idle = await fleetOverview(runtime);
    expect(idle.lastRun).toMatchObject({ runId: finished, status: 'completed', endedAt: finishedAt });
    expect(idle.runningRun).toBeUndefined();

    const startedAt = '2026-11-24T06:30:00.000Z';
    const running = await startRun(runtime, startedAt);
    const busy = await fleetOverview(runtime);
    expect(busy.runningRun).toEqual({ runId: running, trigger: 'timer', status: 'running', startedAt });
    expect(busy.lastRun).toMatchObject({ runId: finished, status: 'completed', endedAt: finishedAt });
  });
});

/** An account's result as the storage inventory reads it, written with the product's writer. */
async function storageAccount(
  runtime: FleetRuntime,
  tenantId: string,
  result: Partial<StorageAccountResult> & { accountName: string },
  checkedAt = '2026-11-23T06:35:00.000Z',
): Promise<void> {
  await writeStorageResult(
    runtime.storage.table(runtime.config.names.storageTable),
    tenantId,
    'run',
    checkedAt,
    {
      subscriptionId: '11111111-1111-4111-8111-111111111111',
      resourceGroup: 'rg-data',
      reachable: true,
      containers: [],
      blobCount: 0,
      totalBytes: 0,
      ...result,
    },
  );
}

const NO_STORAGE: StorageSummary = { accounts: 0, refused: 0, publicContainers: 0, blobs: 0, blobBytes: 0 };

describe('fleet storage', () => {
  it('groups containers under their account, ordered by tenant name then account name, and filters', async () => {
    const runtime = await installation();
    const alpha = randomUUID();
    const beta = randomUUID();
    await aggregate(runtime, { tenantId: alpha, displayName: 'Alpha Corp' }, 0, 0, NO_STORAGE);
    await aggregate(runtime, { tenantId: beta, displayName: 'Beta Ltd' }, 0, 0, NO_STORAGE);
    const refusal = diagnosis(
      'AuthorizationPermissionMismatch',
      'No data role.',
      'Grant Storage Blob Data Reader.',
    );
    await storageAccount(runtime, beta, { accountName: 'stalpha', reachable: false, diagnosis: refusal });
    await storageAccount(runtime, alpha, { accountName: 'stzulu' });
    await storageAccount(runtime, alpha, {
      accountName: 'stmike',
      containers: [
        { name: 'logs', publicAccess: 'none', blobCount: 2, totalBytes: 1024 },
        { name: 'web', publicAccess: 'blob', blobCount: 3, totalBytes: 2048 },
      ],
      blobCount: 5,
      totalBytes: 3072,
    });

    const account = {
      subscriptionId: '11111111-1111-4111-8111-111111111111',
      resourceGroup: 'rg-data',
      checkedAt: '2026-11-23T06:35:00.000Z',
    };
    const mike = {
      ...account,
      tenantId: alpha,
      tenantName: 'Alpha Corp',
      accountName: 'stmike',
      reachable: true,
      blobCount: 5,
      totalBytes: 3072,
      publicContainers: 1,
      containers: [
        { name: 'logs', publicAccess: 'none', blobCount: 2, totalBytes: 1024 },
        { name: 'web', publicAccess: 'blob', blobCount: 3, totalBytes: 2048 },
      ],
    };
    const zulu = {
      ...account,
      tenantId: alpha,
      tenantName: 'Alpha Corp',
      accountName: 'stzulu',
      reachable: true,
      blobCount: 0,
      totalBytes: 0,
      publicContainers: 0,
      containers: [],
    };
    const refused = {
      ...account,
      tenantId: beta,
      tenantName: 'Beta Ltd',
      accountName: 'stalpha',
      reachable: false,
      blobCount: 0,
      totalBytes: 0,
      publicContainers: 0,
      containers: [],
      diagnosis: { code: refusal.code, meaning: refusal.meaning, fix: refusal.fix },
    };
    expect(await fleetStorage(runtime)).toEqual([mike, zulu, refused]);
    expect(await fleetStorage(runtime, { publicOnly: true })).toEqual([mike]);
    expect(await fleetStorage(runtime, { refusedOnly: true })).toEqual([refused]);
    expect(await fleetStorage(runtime, { tenantId: beta.toUpperCase() })).toEqual([refused]);
  });

  it('shows container rows without their account row as a reachable account with nothing known of it', async () => {
    const runtime = await installation();
    const tenantId = randomUUID(); // no aggregate row yet: no tenant name
    await storageAccount(runtime, tenantId, {
      accountName: 'storphan',
      containers: [{ name: 'backup', publicAccess: 'none', blobCount: 4, totalBytes: 400 }],
      blobCount: 4,
      totalBytes: 400,
    });
    const table = runtime.storage.table(runtime.config.names.storageTable);
    // Retiring an account of 100 rows or more (retireAccounts) deletes its account row in the first
    // transaction, its last container rows in a later one: a sweep that dies in between leaves these.
    await table.deleteEntity(tenantId, 'storphan');
    // A container row without the public access and counts an older row may lack.
    await table.createEntity({
      partitionKey: tenantId,
      rowKey: 'stlegacy:old',
      kind: 'container',
      accountName: 'stlegacy',
      containerName: 'old',
    });
    const unknown = {
      tenantId,
      tenantName: '',
      subscriptionId: '',
      resourceGroup: '',
      reachable: true,
      blobCount: 0,
      totalBytes: 0,
      publicContainers: 0,
      checkedAt: '',
    };
    expect(await fleetStorage(runtime)).toEqual([
      {
        ...unknown,
        accountName: 'stlegacy',
        containers: [{ name: 'old', publicAccess: 'none', blobCount: 0, totalBytes: 0 }],
      },
      {
        ...unknown,
        accountName: 'storphan',
        containers: [{ name: 'backup', publicAccess: 'none', blobCount: 4, totalBytes: 400 }],
      },
    ]);
    expect(await fleetStorage(runtime, { refusedOnly: true })).toEqual([]);
  });
});

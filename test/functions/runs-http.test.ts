/**
 * Runs over HTTP: POST /api/runs starts an on-demand sweep (202), refuses overlap (409 Busy), unknown
 * tenants (404) and bad bodies (400); after the app's own queue workers drained it under the local
 * host, GET /api/runs and GET /api/runs/{runId} show statuses, counts and diagnoses. Against the
 * sandbox demo world: Litware, Fabrikam and Northwind are healthy, AdventureWorks never provisioned
 * the app (AADSTS700016), Woodgrove granted no role.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnosisFor } from '../../src/core/platform/diagnosis.js';
import type { TenantRecord } from '../../src/core/sweep/registry.js';
import { newRunId, type RunRecord, type TenantRunRecord } from '../../src/core/sweep/runs.js';
import type { StartSweepResult } from '../../src/core/sweep/sweep.js';
import { run } from '../../src/functions/run.js';
import { runs } from '../../src/functions/runs.js';
import { tenants } from '../../src/functions/tenants.js';
import {
  arrayContaining,
  call,
  drainRun,
  JWT_LIKE,
  objectContaining,
  startDemoFleet,
  tenantIdOf,
  type Fleet,
  type FunctionResponse,
} from '../support/http.js';

const CUSTOMERS = ['Litware', 'Fabrikam', 'Northwind Traders', 'AdventureWorks', 'Woodgrove Bank'];
let fleet: Fleet;
const ids: Record<string, string> = {};

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
});
afterAll(async () => {
  await fleet?.close();
});

/** A tenant of GET /api/runs/{runId}: warnings as a list, not the stored JSON string. */
type TenantRow = Omit<TenantRunRecord, 'warnings'> & {
  warnings?: Array<{ scope: string; id: string; code: string; fix: string }>;
  warningsTruncated?: boolean;
};
type RunView = RunRecord & { tenants: TenantRow[] };
type RunList = { items: RunRecord[] };

describe('POST /api/runs: refusals before anything starts', () => {
  it.each<[string, unknown, string]>([
    ['tenantIds that is not a list', { tenantIds: 'b5c23362-23f2-4e27-b549-6d38b6484efe' }, 'tenantIds'],
    ['a tenant id that is not a GUID', { tenantIds: ['litware.onmicrosoft.com'] }, 'tenantIds.0'],
    ['an empty tenantIds list', { tenantIds: [] }, 'tenantIds'],
    ['an unknown property', { tenants: [] }, 'body'],
    ['a non-JSON body', 'run everything', 'body'],
    ['an array body', ['b5c23362-23f2-4e27-b549-6d38b6484efe'], 'body'],
  ])('refuses %s with 400 naming the field', async (_case, body, field) => {
    const response = await call(runs, { method: 'POST', body });
    expect(response.status, response.text).toBe(400);
    expect(response.error()).toMatchObject({ code: 'InvalidInput', field });
  });

  it('refuses unknown tenants with 404 naming them, and leaves no run holding the lock', async () => {
    const unknown = ['00000000-0000-0000-0000-00000000abcd', '00000000-0000-0000-0000-00000000beef'];
    const response = await call(runs, { method: 'POST', body: { tenantIds: [ids.Litware!, ...unknown] } });
    expect(response.status).toBe(404);
    for (const id of unknown) expect(response.error().message).toContain(id);
    expect(response.error().message).not.toContain(ids.Litware!);
    expect(await fleet.runtime.runs.lockHolder()).toBeUndefined();
    expect(
      await fleet.runtime.storage.queue(fleet.runtime.config.names.sweepQueue).getProperties(),
    ).toMatchObject({
      approximateMessagesCount: 0,
    });
  });
});

describe('a whole run over HTTP', () => {
  // Two runs, one per stage, each its own fixture: the tests of a running run never see it drained by
  // another test, and the tests of a drained run drain their own. The lock allows one run at a time.
  describe('while it runs', () => {
    let started: FunctionResponse;
    let runId: string;

    beforeAll(async () => {
      started = await call(runs, { method: 'POST' });
      runId = started.json<StartSweepResult>().runId;
    });
    // Back to where the file started: no run holding the lock, nothing queued, and no tenant swept
    // (a drained run would make itself the lastSweep of tenants that stay healthy). Closed as a stuck
    // run is (abandoned), its messages removed.
    afterAll(async () => {
      if (!runId) return;
      const { runtime } = fleet;
      const diagnosis = diagnosisFor('RunTimedOut', {
        cloud: runtime.config.cloud,
        appClientId: runtime.config.appClientId,
      });
      await runtime.runs.finalizeRun(runId, new Date().toISOString(), { abandonPending: diagnosis });
      await runtime.storage.queue(runtime.config.names.sweepQueue).clearMessages();
    });

    it('starts a run with 202, its id and what was queued', () => {
      const response = started;
      expect(response.status, response.text).toBe(202);
      const body = response.json<StartSweepResult>();
      expect(body).toMatchObject({ queued: CUSTOMERS.length, skipped: 0, invalid: 0 });
      expect(body.runId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/);
      expect(response.headers.get('location')).toBe(`/api/runs/${body.runId}`);
    });

    it('refuses a second run while the first is running with 409 Busy naming the running run', async () => {
      const response = await call(runs, { method: 'POST', body: { tenantIds: [ids.Fabrikam] } });
      expect(response.status).toBe(409);
      expect(response.error().code).toBe('Busy');
      expect(response.error().message).toContain(runId);
      const listed = (await call(runs)).json<RunList>().items;
      expect(listed.filter((item) => item.status === 'running')).toHaveLength(1);
    });

    it('shows the run as running with its tenants queued before the workers run', async () => {
      const response = await call(run, { params: { runId } });
      expect(response.status).toBe(200);
      const body = response.json<RunView>();
      expect(body.status).toBe('running');
      expect(body.tenants.map((tenant) => tenant.status)).toEqual(CUSTOMERS.map(() => 'queued'));
    });
  });

  describe('after its queue drained', () => {
    let runId: string;

    beforeAll(async () => {
      const started = await call(runs, { method: 'POST' });
      expect(started.status, started.text).toBe(202);
      runId = started.json<StartSweepResult>().runId;
      await drainRun(fleet.runtime, runId);
    });

    it('after the queue drained: statuses, counts and each failure diagnosed with its fix', async () => {
      const response = await call(run, { params: { runId } });
      expect(response.status).toBe(200);
      const body = response.json<RunView>();
      expect(body).toMatchObject({ runId, trigger: 'http', status: 'completedWithErrors' });
      expect(body.totals).toMatchObject({ tenants: 5, succeeded: 2, partial: 1, failed: 2, skipped: 0 });
      expect(body).not.toHaveProperty('etag');
      const byName = new Map<string, TenantRow>(body.tenants.map((tenant) => [tenant.displayName, tenant]));
      for (const tenant of byName.values()) expect(tenant).not.toHaveProperty('etag');

      const adventureWorks = byName.get('AdventureWorks')!;
      expect(adventureWorks).toMatchObject({ status: 'failed', diagnosisCode: 'AADSTS700016' });
      expect(adventureWorks.diagnosisFix).toContain(
        `https://login.microsoftonline.com/${ids.AdventureWorks}/adminconsent?client_id=${fleet.runtime.config.appClientId}`,
      );
      expect(byName.get('Woodgrove Bank')).toMatchObject({
        status: 'failed',
        diagnosisCode: 'NoVisibleSubscriptions',
      });

      // Litware is partial: two of its storage accounts refuse the app (no data role; firewall).
      const litware = byName.get('Litware')!;
      expect(litware).toMatchObject({ status: 'partial', subscriptions: 2, storageRefused: 2 });
      // Warnings come back as a list (stored as a JSON string), in the order the accounts finished.
      expect(litware.warnings).toHaveLength(2);
      expect(litware.warnings).toEqual(
        arrayContaining([
          objectContaining({
            scope: 'storageAccount',
            id: 'stlitwareaudit01',
            code: 'AuthorizationPermissionMismatch',
          }),
          objectContaining({
            scope: 'storageAccount',
            id: 'stlitwarevault01',
            code: 'AuthorizationFailure',
          }),
        ]),
      );
      for (const name of ['Fabrikam', 'Northwind Traders']) {
        expect(byName.get(name)!.status, name).toBe('succeeded');
        expect(byName.get(name)!.resources, name).toBeGreaterThan(0);
      }
      expect(response.text).not.toMatch(JWT_LIKE);
    });

    it('lists runs newest first with their statuses, and honours top', async () => {
      const again = await call(runs, { method: 'POST', body: { tenantIds: [ids['Northwind Traders']] } });
      expect(again.status, again.text).toBe(202);
      const second = again.json<StartSweepResult>();
      expect(second.queued).toBe(1);
      await drainRun(fleet.runtime, second.runId);

      const response = await call(runs);
      expect(response.status).toBe(200);
      const mine = response
        .json<RunList>()
        .items.filter((item) => item.runId === runId || item.runId === second.runId);
      expect(mine.map((item) => item.runId)).toEqual([second.runId, runId]);
      expect(mine.map((item) => item.status)).toEqual(['completed', 'completedWithErrors']);
      expect(mine[0]!.totals?.tenants).toBe(1);
      for (const item of mine) expect(item).not.toHaveProperty('etag');

      const top = await call(runs, { query: { top: '1' } });
      expect(top.json<RunList>().items.map((item) => item.runId)).toEqual([second.runId]);
    });

    it('records the outcome on each registered tenant', async () => {
      const listed = (await call(tenants)).json<{ items: TenantRecord[] }>().items;
      const byName = new Map(listed.map((tenant) => [tenant.displayName, tenant]));
      // Registered moments ago and failing as an unpropagated service principal does (AADSTS700016):
      // recorded, but within the onboarding grace period it does not count towards the circuit breaker.
      expect(byName.get('AdventureWorks')).toMatchObject({
        consecutiveFailures: 0,
        lastSweep: { runId, status: 'failed' },
        lastError: { code: 'AADSTS700016' },
      });
      expect(byName.get('Fabrikam')).toMatchObject({
        onboardingState: 'verified',
        lastSweep: { runId, status: 'succeeded' },
      });
    });
  });
});

describe('GET /api/runs/{runId}: stored data the API must survive', () => {
  it('returns the warnings that fit the table property and how many were left out (no 500)', async () => {
    const runId = newRunId(new Date('2020-01-01T00:00:00Z'));
    const tenantId = ids.Fabrikam!;
    await fleet.runtime.runs.createRun({
      runId,
      trigger: 'cli',
      status: 'running',
      startedAt: '2020-01-01T00:00:00Z',
    });
    // 300 refused accounts: the JSON would exceed 30,000 characters, so the list is cut (src/core/sweep/runs.ts).
    const warnings = Array.from({ length: 300 }, (_, index) => ({
      scope: 'storageAccount',
      id: `stfabrikam${String(index).padStart(4, '0')}`,
      code: 'AuthorizationPermissionMismatch',
      fix: 'Ask the customer to assign Storage Blob Data Reader to the service principal on the account.',
    }));
    // A run left 'running' would be a second running run to the tests of a whole run: closed at the end.
    try {
      await fleet.runtime.runs.finishTenant(runId, tenantId, 'partial', {
        endedAt: '2020-01-01T00:01:00Z',
        warnings,
      });
      const response = await call(run, { params: { runId } });
      expect(response.status, response.text).toBe(200);
      const [tenant] = response.json<RunView>().tenants as unknown as Array<{
        warnings: unknown[];
        warningsOmitted: number;
      }>;
      expect(tenant).toMatchObject({ tenantId, status: 'partial' });
      expect(tenant!.warnings.length).toBeGreaterThan(100);
      expect(tenant!.warnings[0]).toEqual(warnings[0]);
      expect(tenant!.warnings.length + tenant!.warningsOmitted).toBe(300);
    } finally {
      await fleet.runtime.runs.finalizeRun(runId, '2020-01-01T00:02:00Z');
    }
  });
});

describe('GET /api/runs and /api/runs/{runId}: bad input', () => {
  it.each(['0', '201', 'ten', '-1', '1.5'])('refuses top=%s with 400', async (top) => {
    const response = await call(runs, { query: { top } });
    expect(response.status).toBe(400);
    expect(response.error()).toMatchObject({ code: 'InvalidInput', field: 'top' });
  });

  it.each(['nope', '', '20261123T024550584Z', '../runs', '20991231T235959999Z-abcdef'])(
    'answers 404 for run id %j',
    async (runId) => {
      const response = await call(run, { params: { runId } });
      expect(response.status).toBe(404);
      expect(response.error().code).toBe('NotFound');
    },
  );
});

/**
 * The sweep under faults: ARM throttling, a worker that dies half-way through a tenant, a tenant that
 * fails on every delivery, messages that reach the poison queue, overlapping and stuck runs, bad
 * registry rows and subscription scopes. One failing tenant never stops the others.
 */
import { odata } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorld, worldFacts } from '../../../sandbox/generator.js';
import { startSandbox, type Sandbox } from '../../../sandbox/index.js';
import {
  LocalFunctionsHost,
  loadFunctionHandlers,
  readQueueSemantics,
  runScheduledSweep,
  type FunctionHandlers,
} from '../../../dev/local-host.js';
import { sandboxFleetConfig } from '../../../dev/sandbox-fleet.js';
import { ConflictError } from '../../../src/core/platform/errors.js';
import { SUBSCRIPTION_MARKER } from '../../../src/core/inventory/inventory.js';
import { createRuntime, type FleetRuntime } from '../../../src/core/runtime.js';
import { startSweep } from '../../../src/core/sweep/sweep.js';
import { providerConnectionString, uniquePrefix } from '../../support/provider.js';

const RESOURCES = 250;
let sandbox: Sandbox;
let handlers: FunctionHandlers;
let facts: ReturnType<typeof worldFacts>;

beforeAll(async () => {
  sandbox = await startSandbox({
    world: generateWorld({
      seed: 11,
      tenants: 3,
      subscriptionsPerTenant: 2,
      resourcesPerSubscription: RESOURCES,
    }),
    arm: { pageSize: 100, throttle: false },
  });
  facts = worldFacts(sandbox.store.world);
  handlers = await loadFunctionHandlers();
});

afterAll(async () => {
  await sandbox?.close();
});

/** A fresh product installation (own tables and queues) on the shared sandbox. */
async function fleet(settings: Record<string, string> = {}, now?: () => Date) {
  const config = sandboxFleetConfig(sandbox, {
    providerConnectionString: providerConnectionString(),
    prefix: uniquePrefix(),
    settings: { TENANT_FLEET_SNAPSHOTS: 'false', ...settings },
  });
  const runtime = createRuntime(config, { log: () => undefined, ...(now ? { now } : {}) });
  await runtime.storage.ensureResources();
  for (const tenantId of facts.customerTenantIds) {
    await runtime.registry.add({ tenantId, displayName: `Customer ${tenantId.slice(0, 4)}` }, 'test');
  }
  const host = new LocalFunctionsHost({
    runtime,
    handlers,
    semantics: readQueueSemantics('host.json'),
    retryDelaySeconds: 0,
  });
  return { runtime, host };
}

/** A host that records each message's outcome as `tenantId:outcome` (retry, completed, ...). */
function recordingHost(runtime: FleetRuntime): { host: LocalFunctionsHost; events: string[] } {
  const events: string[] = [];
  const host = new LocalFunctionsHost({
    runtime,
    handlers,
    semantics: readQueueSemantics('host.json'),
    retryDelaySeconds: 0,
    onMessage: (event) => events.push(`${(event.message as { tenantId: string }).tenantId}:${event.outcome}`),
  });
  return { host, events };
}

async function inventoryCount(runtime: FleetRuntime, tenantId: string): Promise<number> {
  let count = 0;
  const filter = odata`PartitionKey ge ${`${tenantId}_`} and PartitionKey lt ${`${tenantId}\``}`;
  for await (const row of runtime.storage
    .table(runtime.config.names.inventoryTable)
    .listEntities({ queryOptions: { filter, select: ['RowKey'] } })) {
    if (row.rowKey !== SUBSCRIPTION_MARKER) count++;
  }
  return count;
}

/** Per tenant: its resource groups (4 per generated subscription) plus its resources. */
const perTenant = 2 * (RESOURCES + 4);

describe('sweep under faults', () => {
  it('completes throttled subscriptions (429 + Retry-After, retried by the SDK policy)', async () => {
    const { runtime, host } = await fleet();
    sandbox.setArmSettings({ throttle: { enabled: true, burst: 1, refillPerSecond: 1 } });
    const before = sandbox.counters.arm;
    try {
      const runId = await runScheduledSweep(host, runtime);
      const run = await runtime.runs.getRun(runId);
      expect(run.status).toBe('completed');
      expect(run.totals).toMatchObject({ succeeded: 3, failed: 0, resources: 3 * 2 * RESOURCES });
      for (const tenantId of facts.customerTenantIds)
        expect(await inventoryCount(runtime, tenantId)).toBe(perTenant);
      // 3 tenants x (1 subscription list + 2 x (1 group page + 3 resource pages)) = 27 answered requests; more were sent.
      expect(sandbox.counters.arm - before).toBeGreaterThan(27);
    } finally {
      sandbox.setArmSettings({ throttle: false });
    }
  });

  it('finishes a tenant whose worker died half-way on redelivery, without losing or duplicating rows', async () => {
    const { runtime, host } = await fleet({
      TENANT_FLEET_ARM_MAX_RETRIES: '0',
      TENANT_FLEET_SUBSCRIPTION_CONCURRENCY: '1',
    });
    const victim = facts.customerTenantIds[0]!;
    const subscription = sandbox.store.world.subscriptions.find((s) => s.tenantId === victim)!;
    // The second page of the first subscription fails once, after the first 100 rows were written.
    sandbox.setArmSettings({
      faults: [
        {
          kind: '500',
          match: { subscriptionId: subscription.subscriptionId, pathIncludes: 'skiptoken' },
          count: 1,
        },
      ],
    });
    const { host: retryingHost, events } = recordingHost(runtime);
    void host;
    try {
      const runId = await runScheduledSweep(retryingHost, runtime);
      expect(events).toContain(`${victim}:retry`);
      const row = await runtime.runs.getTenant(runId, victim);
      // The first sweep is a baseline, resumed as one: no resource reported as added, none twice.
      expect(row).toMatchObject({ status: 'succeeded', attempts: 2, baselined: perTenant, added: 0 });
      expect(await inventoryCount(runtime, victim)).toBe(perTenant);
      const changes: Array<{ changeType?: unknown; resourceId?: unknown; items?: unknown }> = [];
      const filter = odata`PartitionKey eq ${victim} and runId eq ${runId}`;
      for await (const change of runtime.storage
        .table(runtime.config.names.changesTable)
        .listEntities<{ changeType?: unknown; resourceId?: unknown; items?: unknown }>({
          queryOptions: { filter },
        })) {
        changes.push(change);
      }
      const victimSubscriptions = sandbox.store.world.subscriptions.filter((s) => s.tenantId === victim);
      expect(changes.map((change) => change.resourceId).sort()).toEqual(
        victimSubscriptions.map((s) => `/subscriptions/${s.subscriptionId}`).sort(),
      );
      expect(changes.every((change) => change.changeType === 'baseline')).toBe(true);
      expect(changes.reduce((sum, change) => sum + Number(change.items), 0)).toBe(perTenant);
    } finally {
      sandbox.setArmSettings({ faults: [] });
    }
  });

  it('records a tenant failing on every delivery at the last one, and the others still succeed', async () => {
    const { runtime, host } = await fleet({ TENANT_FLEET_ARM_MAX_RETRIES: '0' });
    const victim = facts.customerTenantIds[1]!;
    const subscriptions = sandbox.store.world.subscriptions.filter((s) => s.tenantId === victim);
    sandbox.setArmSettings({
      faults: subscriptions.map((s) => ({
        kind: '503' as const,
        match: { subscriptionId: s.subscriptionId },
      })),
    });
    try {
      const runId = await runScheduledSweep(host, runtime);
      const row = await runtime.runs.getTenant(runId, victim);
      expect(row).toMatchObject({ status: 'failed', attempts: 5, diagnosisCode: 'TransientFailure' });
      const run = await runtime.runs.getRun(runId);
      expect(run.totals).toMatchObject({ succeeded: 2, failed: 1 });
      expect((await runtime.registry.get(victim)).consecutiveFailures).toBe(1);
    } finally {
      sandbox.setArmSettings({ faults: [] });
    }
  });

  it('keeps a subscription ARM refuses (403) as a warning, and fails a tenant it refuses whole without retrying it', async () => {
    const { runtime, host } = await fleet();
    const [partly, refused, healthy] = facts.customerTenantIds as [string, string, string];
    const subscriptionsOf = (tenantId: string) =>
      sandbox.store.world.subscriptions.filter((s) => s.tenantId === tenantId).map((s) => s.subscriptionId);
    const [refusedOfPartly, readOfPartly] = subscriptionsOf(partly) as [string, string];
    // As when the customer removed the app's Reader role from those subscriptions while the run was on.
    sandbox.setArmSettings({
      faults: [refusedOfPartly, ...subscriptionsOf(refused)].map((subscriptionId) => ({
        kind: '403' as const,
        match: { subscriptionId, pathIncludes: '/resources' },
      })),
    });
    const { host: watchingHost, events } = recordingHost(runtime);
    void host;
    try {
      const runId = await runScheduledSweep(watchingHost, runtime);
      // One subscription refused: the tenant is partial, the other subscription swept whole.
      const partlyRow = await runtime.runs.getTenant(runId, partly);
      expect(partlyRow).toMatchObject({
        status: 'partial',
        attempts: 1,
        subscriptions: 1,
        resources: RESOURCES,
      });
      expect(JSON.parse(partlyRow!.warnings!)).toEqual([
        expect.objectContaining({ scope: 'subscription', id: refusedOfPartly, code: 'AuthorizationFailed' }),
      ]);
      let readRows = 0;
      for await (const row of runtime.storage
        .table(runtime.config.names.inventoryTable)
        .listEntities({ queryOptions: { filter: odata`PartitionKey eq ${`${partly}_${readOfPartly}`}` } }))
        if (row.rowKey !== SUBSCRIPTION_MARKER) readRows++;
      expect(readRows).toBe(RESOURCES + 4);
      // Every subscription refused: the tenant fails with the customer's fix, on its first delivery
      // (a refusal is not retried: nothing changes until the customer acts).
      expect(await runtime.runs.getTenant(runId, refused)).toMatchObject({
        status: 'failed',
        attempts: 1,
        diagnosisCode: 'AuthorizationFailed',
      });
      expect(events.filter((event) => event.startsWith(`${refused}:`))).toEqual([`${refused}:completed`]);
      expect(await runtime.runs.getTenant(runId, healthy)).toMatchObject({ status: 'succeeded' });
      expect(await inventoryCount(runtime, healthy)).toBe(perTenant);
      expect((await runtime.runs.getRun(runId)).totals).toMatchObject({
        succeeded: 1,
        partial: 1,
        failed: 1,
      });
      // Snapshots are off in these installations (TENANT_FLEET_SNAPSHOTS=false): none written or named.
      expect(partlyRow!.snapshotBlob).toBeUndefined();
      const snapshots = runtime.storage.container(runtime.config.names.snapshotsContainer).listBlobsFlat();
      expect((await snapshots.next()).done).toBe(true);
    } finally {
      sandbox.setArmSettings({ faults: [] });
    }
  });

  it('moves a message that crashes its worker on every delivery to the poison queue, and records it', async () => {
    const { runtime } = await fleet();
    const crashing: FunctionHandlers = {
      ...handlers,
      sweepWorker: () => Promise.reject(new Error('worker crashed')),
    };
    const outcomes: string[] = [];
    const host = new LocalFunctionsHost({
      runtime,
      handlers: crashing,
      semantics: readQueueSemantics('host.json'),
      retryDelaySeconds: 0,
      onMessage: (event) => outcomes.push(`${event.queue}:${event.outcome}:${event.dequeueCount}`),
    });
    const runId = await runScheduledSweep(host, runtime);
    const run = await runtime.runs.getRun(runId);
    expect(run.totals).toMatchObject({ tenants: 3, failed: 3 });
    for (const tenantId of facts.customerTenantIds) {
      expect(await runtime.runs.getTenant(runId, tenantId)).toMatchObject({
        status: 'failed',
        diagnosisCode: 'PoisonMessage',
      });
    }
    expect(outcomes.filter((outcome) => outcome === 'sweep:poisoned:5')).toHaveLength(3);
    expect(outcomes.filter((outcome) => outcome.startsWith('sweep:retry'))).toHaveLength(3 * 4);
    expect(outcomes.filter((outcome) => outcome.startsWith('poison:completed'))).toHaveLength(3);
  });

  it('never overlaps runs, and closes a stuck run as timedOut with its unfinished tenants abandoned', async () => {
    let clock = new Date('2026-11-23T06:00:00Z');
    const { runtime, host } = await fleet({ TENANT_FLEET_RUN_TIMEOUT_MINUTES: '60' }, () => clock);
    const first = await startSweep(runtime, { trigger: 'timer' });
    expect(first.queued).toBe(3);
    await expect(startSweep(runtime, { trigger: 'http' })).rejects.toMatchObject({ kind: 'busy' });
    await expect(startSweep(runtime, { trigger: 'timer' })).rejects.toBeInstanceOf(ConflictError);

    clock = new Date('2026-11-23T07:30:00Z'); // the workers never came: 90 minutes later
    const second = await startSweep(runtime, { trigger: 'timer' });
    expect(second.closedStuckRun).toBe(first.runId);
    const stuck = await runtime.runs.getRun(first.runId);
    expect(stuck).toMatchObject({ status: 'timedOut', totals: { abandoned: 3 } });
    expect(await runtime.runs.getTenant(first.runId, facts.customerTenantIds[0]!)).toMatchObject({
      status: 'abandoned',
      diagnosisCode: 'RunTimedOut',
    });

    // The old run's messages are still queued: they are recognised as finished and change nothing.
    await host.drain(async () => (await runtime.runs.getRun(second.runId)).status !== 'running');
    expect((await runtime.runs.getRun(first.runId)).totals?.abandoned).toBe(3);
    expect((await runtime.runs.getRun(second.runId)).totals).toMatchObject({ succeeded: 3 });
  });

  it('closes a run left open with every tenant finished when the next run starts, not at the timeout', async () => {
    const { runtime } = await fleet({ TENANT_FLEET_RUN_TIMEOUT_MINUTES: '60' });
    const first = await startSweep(runtime, { trigger: 'timer' });
    // Each tenant finished, but the worker that would have closed the run was killed before it did.
    for (const tenantId of facts.customerTenantIds)
      await runtime.runs.finishTenant(first.runId, tenantId, 'succeeded', {
        endedAt: runtime.now().toISOString(),
      });
    expect((await runtime.runs.getRun(first.runId)).status).toBe('running');

    const second = await startSweep(runtime, { trigger: 'timer' });
    expect(second.closedStuckRun).toBe(first.runId);
    expect(second.queued).toBe(3);
    expect(await runtime.runs.getRun(first.runId)).toMatchObject({
      status: 'completed',
      totals: { tenants: 3, succeeded: 3, abandoned: 0 },
    });
    expect((await runtime.runs.lockHolder())?.runId).toBe(second.runId);
  });

  it('reports a malformed registry row and still sweeps the others', async () => {
    const { runtime, host } = await fleet();
    await runtime.storage.table(runtime.config.names.tenantsTable).upsertEntity({
      partitionKey: 'tenant',
      rowKey: 'litware.onmicrosoft.com',
      displayName: 'Typo',
      enabled: true,
      createdAt: 'x',
      updatedAt: 'x',
    });
    const runId = await runScheduledSweep(host, runtime);
    const run = await runtime.runs.getRun(runId);
    expect(run.totals).toMatchObject({ succeeded: 3, invalid: 1 });
    const invalid = await runtime.runs.getTenant(runId, 'invalid_litware.onmicrosoft.com');
    expect(invalid).toMatchObject({ status: 'invalid', diagnosisCode: 'InvalidRegistryRow' });
  });

  it('sweeps only the listed subscriptions, and reports a listed one it cannot see', async () => {
    const { runtime, host } = await fleet();
    const tenantId = facts.customerTenantIds[2]!;
    const [kept] = sandbox.store.world.subscriptions.filter((s) => s.tenantId === tenantId);
    const invisible = '00000000-0000-4000-8000-0000000000ff';
    await runtime.registry.update(
      tenantId,
      { subscriptions: { mode: 'list', include: [kept!.subscriptionId, invisible] } },
      'test',
    );
    const runId = await runScheduledSweep(host, runtime);
    const row = await runtime.runs.getTenant(runId, tenantId);
    expect(row).toMatchObject({ status: 'partial', subscriptions: 1, resources: RESOURCES });
    expect(JSON.parse(row!.warnings!)).toEqual([
      expect.objectContaining({ id: invisible, code: 'SubscriptionNotVisible' }),
    ]);
    expect(await inventoryCount(runtime, tenantId)).toBe(RESOURCES + 4);

    // Excluding the last listed subscription later retires its inventory (all its rows become removals).
    await runtime.registry.update(
      tenantId,
      { subscriptions: { mode: 'all', include: [], exclude: [kept!.subscriptionId] } },
      'test',
    );
    const next = await runScheduledSweep(host, runtime);
    const after = await runtime.runs.getTenant(next, tenantId);
    expect(after).toMatchObject({
      status: 'succeeded',
      subscriptions: 1,
      removed: RESOURCES + 4,
      // The subscription now in scope for the first time is a baseline, not additions.
      baselined: RESOURCES + 4,
      added: 0,
    });
    expect(await inventoryCount(runtime, tenantId)).toBe(RESOURCES + 4);
  });
});

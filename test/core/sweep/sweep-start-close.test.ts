/**
 * How a run starts and closes, through the public entry points (startSweep, processTenantMessage,
 * recordPoisonMessage) against Azurite and a small sandbox world: on-demand runs naming tenants the
 * registry does not have, what the start records and enqueues, a lock held by a run that already
 * ended, the run timeout's boundary, a redelivery for a tenant already finished, and the lines an
 * operator reads in the log. Each test builds its own installation (own tables and queue), so any
 * test runs alone.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorld, worldFacts } from '../../../sandbox/generator.js';
import { startSandbox, type Sandbox } from '../../../sandbox/index.js';
import { sandboxFleetConfig } from '../../../dev/sandbox-fleet.js';
import { ConflictError, NotFoundError } from '../../../src/core/platform/errors.js';
import { diagnosisFor } from '../../../src/core/platform/diagnosis.js';
import { createRuntime, type FleetRuntime } from '../../../src/core/runtime.js';
import { newRunId } from '../../../src/core/sweep/runs.js';
import { processTenantMessage, recordPoisonMessage, startSweep } from '../../../src/core/sweep/sweep.js';
import { DiagnosedError } from '../../../src/core/sweep/tenant-sweep.js';
import { providerConnectionString, testConfig, uniquePrefix } from '../../support/provider.js';
import { queuedSweepMessages } from '../../support/sweep-queue.js';

let sandbox: Sandbox;
let facts: ReturnType<typeof worldFacts>;

beforeAll(async () => {
  sandbox = await startSandbox({
    world: generateWorld({ seed: 23, tenants: 2, subscriptionsPerTenant: 1, resourcesPerSubscription: 3 }),
    arm: { pageSize: 100, throttle: false },
  });
  facts = worldFacts(sandbox.store.world);
});

afterAll(async () => {
  await sandbox?.close();
});

interface Installation {
  runtime: FleetRuntime;
  /** Every line the product logged, as `level: message`. */
  logs: string[];
  setClock: (to: Date) => void;
}

/** A fresh installation (own tables and queue) on the shared sandbox, its tenants registered. */
async function installation(settings: Record<string, string> = {}): Promise<Installation> {
  const config = sandboxFleetConfig(sandbox, {
    providerConnectionString: providerConnectionString(),
    prefix: uniquePrefix(),
    settings: { TENANT_FLEET_SNAPSHOTS: 'false', TENANT_FLEET_ARM_MAX_RETRIES: '0', ...settings },
  });
  let clock: Date | undefined;
  const logs: string[] = [];
  const runtime = createRuntime(config, {
    log: (level, message) => logs.push(`${level}: ${message}`),
    now: () => clock ?? new Date(),
  });
  await runtime.storage.ensureResources();
  for (const tenantId of facts.customerTenantIds) {
    await runtime.registry.add({ tenantId, displayName: `Customer ${tenantId.slice(0, 4)}` }, 'test');
  }
  return { runtime, logs, setClock: (to) => (clock = to) };
}

/** A registry row that is not a tenant (a domain typed where a tenant id belongs). */
async function addMalformedRow(runtime: FleetRuntime, rowKey: string): Promise<void> {
  await runtime.storage.table(runtime.config.names.tenantsTable).upsertEntity({
    partitionKey: 'tenant',
    rowKey,
    displayName: 'Typo',
    enabled: true,
    createdAt: 'x',
    updatedAt: 'x',
  });
}

describe('an on-demand run naming tenants', () => {
  it('refuses a tenant the registry does not have, naming it, before anything is locked or recorded', async () => {
    const { runtime } = await installation();
    const unknown = randomUUID().toUpperCase();
    const another = randomUUID();
    const known = facts.customerTenantIds[0]!;

    const refused = startSweep(runtime, { trigger: 'http', tenantIds: [known, unknown, another, unknown] });

    await expect(refused).rejects.toBeInstanceOf(NotFoundError);
    // Each unknown tenant once, lower-cased, in the order given.
    await expect(refused).rejects.toThrow(
      new RegExp(`^not registered: ${unknown.toLowerCase()}, ${another}$`),
    );
    expect(await runtime.runs.lockHolder()).toBeUndefined();
    expect(await runtime.runs.listRuns()).toEqual([]);
    expect(await queuedSweepMessages(runtime)).toEqual([]);
    // Nothing half-started is left: the next run starts and is the only one.
    const next = await startSweep(runtime, { trigger: 'http', tenantIds: [known.toUpperCase()] });
    expect(next.queued).toBe(1);
  });

  it('refuses a name that is not a tenant id as invalid, not as unknown', async () => {
    const { runtime } = await installation();
    await expect(
      startSweep(runtime, { trigger: 'http', tenantIds: ['litware.onmicrosoft.com'] }),
    ).rejects.toThrow(/^tenantId: must be a tenant id \(GUID\)/);
    expect(await runtime.runs.listRuns()).toEqual([]);
  });

  it('refuses a tenant id whose row is malformed, and closes the run it had started', async () => {
    const { runtime } = await installation();
    const broken = randomUUID();
    // A row under a tenant id that is not a tenant record (edited by hand): not refused as unknown at
    // first, so the run starts, finds no tenant under that id and must not stay open.
    await runtime.storage
      .table(runtime.config.names.tenantsTable)
      .upsertEntity({ partitionKey: 'tenant', rowKey: broken, enabled: 'yes' }, 'Replace');

    await expect(startSweep(runtime, { trigger: 'http', tenantIds: [broken] })).rejects.toThrow(
      new RegExp(`^not registered: ${broken}$`),
    );

    expect(await runtime.runs.lockHolder()).toBeUndefined();
    expect(await queuedSweepMessages(runtime)).toEqual([]);
  });
});

describe('what a run records and enqueues at its start', () => {
  it('counts skipped and invalid rows, leaves queued rows open and gives each message its row ETag', async () => {
    const { runtime, logs } = await installation();
    const [kept, excluded] = facts.customerTenantIds as [string, string];
    await runtime.registry.update(excluded, { enabled: false, reason: 'paused' }, 'bob');
    await addMalformedRow(runtime, 'fabrikam.onmicrosoft.com');

    const result = await startSweep(runtime, { trigger: 'timer' });

    expect(result).toEqual({ runId: result.runId, queued: 1, skipped: 1, invalid: 1 });
    expect(logs).toContain(`info: run ${result.runId} started: 1 queued, 2 not swept`);
    const queuedRow = await runtime.runs.getTenant(result.runId, kept);
    expect(queuedRow?.status).toBe('queued');
    expect(queuedRow).not.toHaveProperty('endedAt');
    const [message, ...others] = await queuedSweepMessages(runtime);
    expect(others).toEqual([]);
    expect(message).toMatchObject({ v: 1, runId: result.runId, tenantId: kept });
    // The ETag the start wrote: a first delivery finishes the row against it without reading it.
    expect(message!.etag).toMatch(/^W\/"datetime'.+'"$/);
  });
});

describe('the lock at the start of a run', () => {
  it('releases a lock whose run already ended, without reporting that run as closed', async () => {
    const { runtime } = await installation();
    const ended = newRunId(new Date(Date.now() - 60_000));
    await runtime.runs.acquireLock(ended, new Date().toISOString());
    await runtime.runs.createRun({
      runId: ended,
      trigger: 'timer',
      status: 'completed',
      startedAt: new Date().toISOString(),
    });

    const result = await startSweep(runtime, { trigger: 'timer' });

    expect(result).not.toHaveProperty('closedStuckRun');
    expect(result.queued).toBe(2);
    expect((await runtime.runs.lockHolder())?.runId).toBe(result.runId);
    expect((await runtime.runs.getRun(ended)).status).toBe('completed');
  });

  it('holds a run exactly at its timeout as busy, and closes it one millisecond later with its age logged', async () => {
    const { runtime, logs, setClock } = await installation({ TENANT_FLEET_RUN_TIMEOUT_MINUTES: '90' });
    const startedAt = new Date('2026-11-23T06:00:00.000Z');
    setClock(startedAt);
    const first = await startSweep(runtime, { trigger: 'timer' });

    setClock(new Date(startedAt.getTime() + 90 * 60_000));
    await expect(startSweep(runtime, { trigger: 'timer' })).rejects.toMatchObject({
      kind: 'busy',
      message: `run ${first.runId} is still in progress (started ${startedAt.toISOString()})`,
    });

    setClock(new Date(startedAt.getTime() + 90 * 60_000 + 1));
    const second = await startSweep(runtime, { trigger: 'timer' });
    expect(second.closedStuckRun).toBe(first.runId);
    expect(logs).toContain(`warn: run ${first.runId} was stuck for 90 min and was closed as timedOut`);
  });

  it('logs a run closed at the next start because every tenant had finished', async () => {
    const { runtime, logs } = await installation();
    const first = await startSweep(runtime, { trigger: 'timer' });
    for (const tenantId of facts.customerTenantIds) {
      await runtime.runs.finishTenant(first.runId, tenantId, 'succeeded', {
        endedAt: new Date().toISOString(),
      });
    }

    await startSweep(runtime, { trigger: 'timer' });

    expect(logs).toContain(
      `warn: run ${first.runId} had every tenant finished but was still open; closed as completed`,
    );
  });
});

describe('processing tenant messages', () => {
  it('closes the run after the last of its messages when they are processed one after another', async () => {
    const { runtime, logs } = await installation();
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    const messages = await queuedSweepMessages(runtime);
    expect(messages).toHaveLength(2);

    expect(await processTenantMessage(runtime, messages[0], { dequeueCount: 1 })).toBe('succeeded');
    expect((await runtime.runs.getRun(runId)).status).toBe('running');
    expect(logs.filter((line) => line.includes('closed'))).toEqual([]);
    expect(await processTenantMessage(runtime, messages[1], { dequeueCount: 1 })).toBe('succeeded');

    expect(await runtime.runs.getRun(runId)).toMatchObject({
      status: 'completed',
      totals: { tenants: 2, succeeded: 2 },
    });
    expect(logs).toContain(`info: run ${runId} closed: completed`);
  });

  it('closes the run when the last tenant finishes while an earlier check of the same process is still reading', async () => {
    // The interleaving that left a run `running` with every tenant finished: the first worker's
    // drained check reads while the second tenant is still queued, and the second worker finishes
    // before that read returns, so it sees the first still in progress and leaves the check to it.
    const { runtime, logs } = await installation();
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    const [first, second] = await queuedSweepMessages(runtime);
    const realCheck = runtime.runs.isRunDrained;
    let releaseFirstCheck = (): void => undefined;
    const firstCheckHeld = new Promise<void>((resolve) => (releaseFirstCheck = resolve));
    let firstCheckRead = (): void => undefined;
    const firstCheckHasRead = new Promise<void>((resolve) => (firstCheckRead = resolve));
    let checks = 0;
    runtime.runs.isRunDrained = async (id) => {
      checks += 1;
      const drained = await realCheck(id);
      if (checks === 1) {
        firstCheckRead();
        await firstCheckHeld;
      }
      return drained;
    };

    const firstDone = processTenantMessage(runtime, first, { dequeueCount: 1 });
    await firstCheckHasRead;
    expect(await processTenantMessage(runtime, second, { dequeueCount: 1 })).toBe('succeeded');
    releaseFirstCheck();
    expect(await firstDone).toBe('succeeded');

    expect(await runtime.runs.getRun(runId)).toMatchObject({
      status: 'completed',
      totals: { tenants: 2, succeeded: 2 },
    });
    expect(logs.filter((line) => line.includes('closed'))).toEqual([`info: run ${runId} closed: completed`]);
  });

  it('closes the run from a redelivery that finishes while its twin is still in flight in the same process', async () => {
    // What the fault suite found: the same message delivered twice at once (its lease ran out). The
    // twin that finishes first deletes the message; had it left the check to the other twin, a worker
    // dying while that twin closes the run would leave no delivery to close it.
    const { runtime } = await installation();
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    const [first, second] = await queuedSweepMessages(runtime);
    expect(await processTenantMessage(runtime, first, { dequeueCount: 1 })).toBe('succeeded');
    const realBegin = runtime.runs.beginTenant.bind(runtime.runs);
    let releaseTwin = (): void => undefined;
    const twinHeld = new Promise<void>((resolve) => (releaseTwin = resolve));
    let begins = 0;
    runtime.runs.beginTenant = async (...args) => {
      begins += 1;
      if (begins === 1) await twinHeld; // the older delivery, held in flight
      return realBegin(...args);
    };

    const twin = processTenantMessage(runtime, second, { dequeueCount: 2 });
    expect(await processTenantMessage(runtime, second, { dequeueCount: 3 })).toBe('succeeded');
    // Closed by the delivery that returned, while its message is still there to be delivered again.
    expect(await runtime.runs.getRun(runId)).toMatchObject({
      status: 'completed',
      totals: { tenants: 2, succeeded: 2 },
    });
    releaseTwin();
    expect(await twin).toBe('duplicate');
    expect((await runtime.runs.getRun(runId)).status).toBe('completed');
  });

  it('checks once for a burst of messages of one run that all finish while each other is in flight', async () => {
    const { runtime } = await installation();
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    const messages = await queuedSweepMessages(runtime);
    const realCheck = runtime.runs.isRunDrained;
    let checks = 0;
    runtime.runs.isRunDrained = async (id) => {
      checks += 1;
      return realCheck(id);
    };

    const outcomes = await Promise.all(
      messages.map((message) => processTenantMessage(runtime, message, { dequeueCount: 1 })),
    );

    expect(outcomes).toEqual(['succeeded', 'succeeded']);
    expect((await runtime.runs.getRun(runId)).status).toBe('completed');
    expect(checks).toBe(1);
  });

  it('logs a message that is not a sweep message and drops it', async () => {
    const { runtime, logs } = await installation();
    expect(await processTenantMessage(runtime, { v: 1, runId: 'nope' }, { dequeueCount: 1 })).toBe(
      'invalid-message',
    );
    expect(logs).toEqual(['warn: dropped a sweep message that is not a sweep message (v, runId, tenantId)']);
  });

  it('logs a retryable failure as retried, then the last delivery as failed with its diagnosis', async () => {
    const { runtime, logs } = await installation();
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    const victim = facts.customerTenantIds[0]!;
    const subscription = sandbox.store.world.subscriptions.find((s) => s.tenantId === victim)!;
    sandbox.setArmSettings({
      faults: [{ kind: '503', match: { subscriptionId: subscription.subscriptionId } }],
    });
    try {
      const message = { v: 1, runId, tenantId: victim };
      await expect(processTenantMessage(runtime, message, { dequeueCount: 2 })).rejects.toThrow();
      expect(logs).toContain(
        `warn: tenant ${victim} attempt 2 failed (TransientFailure); the queue will retry`,
      );
      expect(await processTenantMessage(runtime, message, { dequeueCount: 5 })).toBe('failed');
      const meaning = (await runtime.runs.getTenant(runId, victim))?.diagnosisMeaning;
      expect(meaning).toBeTruthy();
      expect(logs).toContain(`warn: tenant ${victim} failed: TransientFailure: ${meaning}`);
    } finally {
      sandbox.setArmSettings({ faults: [] });
    }
  });

  it('sends a registry failure that is not a removal back to the queue instead of recording the tenant as removed', async () => {
    const { runtime } = await installation();
    const tenantId = facts.customerTenantIds[0]!;
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    // The tenant's row was overwritten by hand with something that is not a tenant record.
    await runtime.storage
      .table(runtime.config.names.tenantsTable)
      .upsertEntity({ partitionKey: 'tenant', rowKey: tenantId, enabled: 'yes' }, 'Replace');

    await expect(
      processTenantMessage(runtime, { v: 1, runId, tenantId }, { dequeueCount: 2 }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await runtime.runs.getTenant(runId, tenantId))?.diagnosisCode).toBeUndefined();
  });
});

describe('a redelivered message for a tenant already finished', () => {
  it('records the finished result in the registry when the worker died between the two writes', async () => {
    const { runtime } = await installation();
    const tenantId = facts.customerTenantIds[0]!;
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    // The first worker finished the run row and died before it updated the registry.
    await runtime.runs.finishTenant(runId, tenantId, 'partial', { endedAt: new Date().toISOString() });
    expect((await runtime.registry.get(tenantId)).lastSweep).toBeUndefined();

    const outcome = await processTenantMessage(runtime, { v: 1, runId, tenantId }, { dequeueCount: 2 });

    expect(outcome).toBe('duplicate');
    expect((await runtime.registry.get(tenantId)).lastSweep).toMatchObject({ runId, status: 'partial' });
  });

  it('is still a duplicate when the tenant has been removed from the registry meanwhile', async () => {
    const { runtime } = await installation();
    const tenantId = facts.customerTenantIds[0]!;
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    await runtime.runs.finishTenant(runId, tenantId, 'failed', { endedAt: new Date().toISOString() });
    await runtime.registry.remove(tenantId);

    const outcome = await processTenantMessage(runtime, { v: 1, runId, tenantId }, { dequeueCount: 3 });

    expect(outcome).toBe('duplicate');
    expect((await runtime.runs.getTenant(runId, tenantId))?.status).toBe('failed');
  });

  it('leaves the registry alone for a tenant whose row is still open (it was not finished)', async () => {
    const { runtime } = await installation();
    const tenantId = facts.customerTenantIds[0]!;
    const { runId } = await startSweep(runtime, { trigger: 'timer' });
    await runtime.runs.finishTenant(runId, tenantId, 'skipped', {
      endedAt: new Date().toISOString(),
      diagnosis: diagnosisFor('TenantRemoved', { cloud: runtime.config.cloud, appClientId: 'x', tenantId }),
    });

    expect(await processTenantMessage(runtime, { v: 1, runId, tenantId }, { dequeueCount: 2 })).toBe(
      'duplicate',
    );
    expect((await runtime.registry.get(tenantId)).lastSweep).toBeUndefined();
  });
});

describe('a poison message', () => {
  it('logs a poison message that is not a sweep message', async () => {
    const { runtime, logs } = await installation();
    expect(await recordPoisonMessage(runtime, 'not json')).toBe('invalid-message');
    expect(logs).toEqual(['warn: dropped a poison message that is not a sweep message']);
  });
});

describe('DiagnosedError', () => {
  it('names itself and carries the code and meaning in its message', () => {
    const diagnosis = diagnosisFor('TransientFailure', { cloud: testConfig().cloud, appClientId: 'x' });
    const error = new DiagnosedError(diagnosis);
    expect(error.name).toBe('DiagnosedError');
    expect(error.message).toBe(`TransientFailure: ${diagnosis.meaning}`);
    expect(error.diagnosis).toBe(diagnosis);
  });
});

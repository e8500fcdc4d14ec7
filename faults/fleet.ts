/**
 * A fleet under faults: a generated world swept by worker processes while ARM answers 429/503 (with
 * and without Retry-After) and drops connections, Azurite is stopped and started again, and workers
 * are killed at exact points of a sweep (kill-gate.ts) and at random moments. Then the world drifts and a second sweep under the same faults must
 * record exactly the drift.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { generateWorld } from '../sandbox/generator.js';
import { SUBSCRIPTION_MARKER } from '../src/core/inventory/inventory.js';
import { TENANT_MARKER } from '../src/core/inventory/tenant-marker.js';
import type { FleetRuntime } from '../src/core/runtime.js';
import { TableClient } from '@azure/data-tables';
import type { RestartableAzurite } from './azurite-proxy.js';
import { seeded } from './fuzz.js';
import { count, type FaultFigures } from './report.js';
import { registerWorld, ROOT, startPhaseFleet, type PhaseFleet } from './world.js';
import { KILL_POINTS, startKillGate, type KillGate } from './kill-gate.js';
import { checkExpectations, codeOf, stageMisconfigurations, type Expectation } from './misconfigure.js';
import type { TenantRunRecord } from '../src/core/sweep/runs.js';

export interface FleetSize {
  tenants: number;
  resourcesPerSubscription: number;
  workers: number;
  /** Kills at random moments per sweep, besides the exact kill points. */
  randomKillsPerSweep: number;
}

/** ARM faults: about 20% of requests (1 - 0.945^4), each kind with and without Retry-After. */
export const ARM_FAULTS = [
  { kind: '429' as const, probability: 0.055 }, // Retry-After: 1 (the sandbox's default)
  { kind: '503' as const, probability: 0.055 }, // no Retry-After (as ARM often sends)
  { kind: '503' as const, probability: 0.055, retryAfterSeconds: 1 },
  { kind: 'drop' as const, probability: 0.055 },
];

/** The settings of one worker: its Table traffic goes through its own front of the kill gate. */
function workerSettings(fleet: PhaseFleet, tableEndpoint: string): Record<string, string> {
  const connection = fleet.settings.AzureWebJobsStorage!.replace(
    /TableEndpoint=[^;]*/,
    `TableEndpoint=${tableEndpoint}`,
  );
  return { ...fleet.settings, AzureWebJobsStorage: connection };
}

async function startWorker(
  fleet: PhaseFleet,
  gate: KillGate,
  runId: string,
  onDone: () => void,
  errors: string[],
): Promise<ChildProcess> {
  // The worker waits for its settings on stdin: its gate port is known only once it has a pid.
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'faults', 'worker.ts')], {
    cwd: ROOT,
    env: { ...process.env, FAULTS_RUN_ID: runId },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.on('error', () => undefined); // a worker killed before it read its settings
  const tableEndpoint = await gate.attach(child);
  child.stdin.end(JSON.stringify(workerSettings(fleet, tableEndpoint)));
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.includes('"completed"')) onDone();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    if (errors.length < 2000) errors.push(chunk.toString());
  });
  return child;
}

/**
 * Runs one sweep with worker processes: each kill point (kill-gate.ts) armed once, a few kills at
 * random moments besides, and one Azurite restart halfway.
 */
async function sweepUnderFaults(
  fleet: PhaseFleet,
  azurite: RestartableAzurite,
  figures: FaultFigures,
  size: FleetSize,
  random: () => number,
  transcript: string[],
): Promise<string> {
  const host = await fleet.host();
  await host.fireTimer();
  const [run] = await fleet.runtime.runs.listRuns(1);
  if (!run) throw new Error('the timer started no run');
  let completed = 0;
  let restarted = false;
  const workers = new Set<ChildProcess>();
  const errors: string[] = [];
  const gate = startKillGate(connectionStringPart(azurite.connectionString, 'TableEndpoint'), {
    inventoryTable: fleet.runtime.config.names.inventoryTable,
    changesTable: fleet.runtime.config.names.changesTable,
    runsTable: fleet.runtime.config.names.runsTable,
  });
  const respawns: Array<Promise<void>> = [];
  let closing = false;
  const spawnOne = async (): Promise<void> => {
    const child = await startWorker(fleet, gate, run.runId, () => completed++, errors);
    workers.add(child);
    child.once('exit', (code, signal) => {
      workers.delete(child);
      // The suite kills with SIGKILL; a worker that exits with an error by itself is a defect.
      // It is reported, and replaced as the Functions host would, so that the run can still close.
      if (signal === null && code !== 0 && !closing) {
        figures.failures.push(
          `fleet: a worker crashed (exit code ${code}): ${errors.slice(-3).join(' ').slice(-600)}`,
        );
        respawns.push(spawnOne());
      }
    });
  };
  gate.onKill = () => {
    figures.workersKilled++;
    respawns.push(spawnOne());
  };
  // The run closes once: its point fires on the first try; the others after a few of their requests.
  for (const point of KILL_POINTS)
    gate.arm(point, point === 'whileClosingRun' ? 0 : Math.floor(random() * 3));
  for (let index = 0; index < size.workers; index++) await spawnOne();
  const deadline = Date.now() + 15 * 60_000;
  let randomKills = 0;
  let nextKill = Math.max(2, Math.floor(size.tenants / 4));
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (Date.now() > deadline) throw new Error(`run ${run.runId} did not close within 15 minutes`);
      // Besides the exact points, a kill at a random moment now and then.
      if (completed >= nextKill && workers.size > 0 && randomKills < size.randomKillsPerSweep) {
        nextKill = completed + Math.max(2, Math.floor(random() * (size.tenants / 3)));
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 400)));
        const victim = [...workers][Math.floor(random() * workers.size)];
        if (victim && victim.exitCode === null && victim.signalCode === null) {
          victim.kill('SIGKILL');
          randomKills++;
          figures.workersKilled++;
          count(figures.workerKills, 'random');
          await spawnOne();
        }
      }
      if (!restarted && completed >= size.tenants / 2) {
        restarted = true;
        await azurite.restart(1500);
        figures.azuriteRestarts++;
      }
      let status: string;
      try {
        status = (await fleet.runtime.runs.getRun(run.runId)).status;
      } catch {
        continue; // storage restarting
      }
      if (status !== 'running') break;
    }
  } finally {
    closing = true;
    await Promise.allSettled(respawns);
    for (const child of workers) child.kill('SIGKILL');
    await gate.close();
  }
  for (const point of KILL_POINTS) count(figures.workerKills, point, gate.hits[point]);
  const missed = gate.armed();
  if (missed.length > 0)
    figures.failures.push(
      `fleet: run ${run.runId} closed before these kill points were hit: ${missed.join(', ')}`,
    );
  transcript.push(...errors);
  return run.runId;
}

/** One endpoint of a storage connection string (`TableEndpoint`, ...). */
function connectionStringPart(connectionString: string, name: string): string {
  const value = new RegExp(`${name}=([^;]+)`).exec(connectionString)?.[1];
  if (!value) throw new Error(`the connection string has no ${name}`);
  return value;
}

async function inventoryRows(fleet: PhaseFleet): Promise<{ rows: number; duplicated: number }> {
  const table = TableClient.fromConnectionString(
    fleet.settings.AzureWebJobsStorage!,
    fleet.runtime.config.names.inventoryTable,
    {
      allowInsecureConnection: true,
    },
  );
  const seen = new Set<string>();
  let rows = 0;
  let duplicated = 0;
  for await (const entity of table.listEntities<Record<string, unknown>>()) {
    if (entity.rowKey === SUBSCRIPTION_MARKER || entity.rowKey === TENANT_MARKER) continue;
    rows++;
    const id = (
      typeof entity.resourceId === 'string' ? entity.resourceId : String(entity.rowKey)
    ).toLowerCase();
    if (seen.has(id)) duplicated++;
    seen.add(id);
  }
  return { rows, duplicated };
}

async function changeRows(fleet: PhaseFleet, runId: string): Promise<number> {
  const table = TableClient.fromConnectionString(
    fleet.settings.AzureWebJobsStorage!,
    fleet.runtime.config.names.changesTable,
    {
      allowInsecureConnection: true,
    },
  );
  let rows = 0;
  for await (const entity of table.listEntities()) if (entity.rowKey?.startsWith(`${runId}_`)) rows++;
  return rows;
}

/** Inventory rows the world should leave: subscriptions of tenants that are inventoried, as now owned. */
function expectedRows(fleet: PhaseFleet, excluded: Set<string>): number {
  const store = fleet.sandbox.store;
  let rows = 0;
  for (const subscription of store.world.subscriptions) {
    if (subscription.tenantId === store.world.tenants[0]!.id) continue; // the provider's own
    if (excluded.has(subscription.tenantId.toLowerCase()) || excluded.has(subscription.subscriptionId))
      continue;
    rows +=
      store.resourceGroups(subscription.subscriptionId).length +
      store.resourceCount(subscription.subscriptionId);
  }
  return rows;
}

/**
 * A sweep's run: every tenant row as expected (healthy ones succeeded, misconfigured ones with their
 * diagnosis), the run closed with totals equal to its tenant rows.
 */
async function checkRun(
  runtime: FleetRuntime,
  runId: string,
  figures: FaultFigures,
  label: string,
  expectations: Map<string, Expectation>,
) {
  const run = await runtime.runs.getRun(runId);
  const rows = new Map<string, TenantRunRecord>();
  const tally: Record<string, number> = {};
  for await (const tenant of runtime.runs.listTenants(runId)) {
    rows.set(tenant.tenantId, tenant);
    count(tally, tenant.status);
  }
  const matched = checkExpectations(figures, `fleet ${label}`, rows, expectations);
  const failing = [...expectations.values()].some((expected) => expected.status !== 'succeeded');
  const status = failing ? 'completedWithErrors' : 'completed';
  if (run.status !== status)
    figures.failures.push(`fleet: ${label} run closed as ${run.status}, expected ${status}`);
  const totals = run.totals;
  if (
    totals?.tenants !== rows.size ||
    rows.size !== expectations.size ||
    (['succeeded', 'partial', 'failed', 'skipped'] as const).some((key) => totals[key] !== (tally[key] ?? 0))
  )
    figures.failures.push(
      `fleet: ${label} run totals ${JSON.stringify(totals)} do not match its tenant rows ${JSON.stringify(tally)} (${expectations.size} tenants)`,
    );
  // Each misconfigured tenant's diagnosis, per sweep.
  for (const [tenantId, expected] of expectations) {
    if (expected.code === undefined) continue;
    figures.diagnosesExpected++;
    const row = rows.get(tenantId);
    if (row?.status === expected.status && codeOf(row) === expected.code) figures.diagnosesRight++;
  }
  const inventoried = [...rows.values()].filter(
    (row) =>
      (row.status === 'succeeded' || row.status === 'partial') &&
      expectations.get(row.tenantId)?.status === row.status,
  ).length;
  return { run, matched, inventoried, tally };
}

export async function fleetPhase(
  figures: FaultFigures,
  options: { azurite: RestartableAzurite; size: FleetSize; seed: number; transcript: string[] },
): Promise<void> {
  const { size } = options;
  const world = generateWorld({
    seed: options.seed,
    tenants: size.tenants,
    subscriptionsPerTenant: 2,
    resourcesPerSubscription: size.resourcesPerSubscription,
    // One account per tenant: the misconfigured blob role and firewall need one.
    storageAccountsPerTenant: 1,
    containersPerAccount: 1,
    blobsPerContainer: 2,
  });
  const random = seeded(options.seed);
  // 10% of token requests fail: 500, 503, held until the client gives up, or dropped.
  const fleet = await startPhaseFleet(
    world,
    options.azurite.connectionString,
    {},
    {
      tokenFaults: { rate: 0.1, random: seeded(options.seed + 1) },
    },
  );
  try {
    await registerWorld(fleet);
    // Misconfigured customers in the same faulted world (misconfigure.ts), the others healthy.
    const staged = stageMisconfigurations(fleet.sandbox.store);
    // Tenants failing as a whole, and the subscription Disabled from the start, leave no rows.
    const excluded = new Set([...staged.failing, staged.disabledSubscriptionId]);
    const inventoried = [...staged.expectations.values()].filter((expected) => expected.status !== 'failed');
    figures.tenantsExpected = inventoried.length;
    fleet.sandbox.setArmSettings({ faults: ARM_FAULTS });
    const first = await sweepUnderFaults(fleet, options.azurite, figures, size, random, options.transcript);
    const firstRun = await checkRun(fleet.runtime, first, figures, 'first sweep', staged.expectations);
    figures.tenantsInventoried = firstRun.inventoried;
    const rows = await inventoryRows(fleet);
    figures.rowsExpected = expectedRows(fleet, excluded);
    figures.rowsFound = rows.rows;
    figures.rowsDuplicated = rows.duplicated;
    if (rows.rows !== figures.rowsExpected)
      figures.failures.push(
        `fleet: ${rows.rows} inventory rows after the first sweep, the world has ${figures.rowsExpected}`,
      );
    console.log(
      `- first sweep ${first}: ${firstRun.inventoried}/${inventoried.length} tenants inventoried, ${JSON.stringify(firstRun.tally)}, ${rows.rows}/${figures.rowsExpected} rows, ${figures.workersKilled} workers killed`,
    );

    // Drift in every fourth tenant's first subscription, then a second sweep under the same faults.
    // A subscription moves to another tenant (its rows leave the first tenant: removed changes).
    const moved = staged.moveSubscription({ killable: true });
    excluded.add(moved.subscriptionId);
    let expectedChanges = moved.rows;
    fleet.sandbox.store.world.subscriptions
      .filter(
        (subscription) =>
          subscription.tenantId !== fleet.sandbox.store.world.tenants[0]!.id &&
          !excluded.has(subscription.tenantId.toLowerCase()) &&
          !excluded.has(subscription.subscriptionId),
      )
      .forEach((subscription, index) => {
        if (index % 8 !== 0) return;
        const drift = fleet.sandbox.store.driftGenerated(subscription.subscriptionId, {
          seed: options.seed + index,
          add: 2,
          modify: 2,
          remove: 1,
        });
        expectedChanges += drift.added.length + drift.modified.length + drift.removed.length;
      });
    const second = await sweepUnderFaults(fleet, options.azurite, figures, size, random, options.transcript);
    const secondRun = await checkRun(fleet.runtime, second, figures, 'second sweep', staged.expectations);
    figures.changesExpected = expectedChanges;
    figures.changesFound = await changeRows(fleet, second);
    if (figures.changesFound !== expectedChanges)
      figures.failures.push(
        `fleet: the second sweep recorded ${figures.changesFound} changes, the drift made ${expectedChanges}`,
      );
    const after = await inventoryRows(fleet);
    const expectedAfter = expectedRows(fleet, excluded);
    figures.rowsDuplicated += after.duplicated;
    if (after.rows !== expectedAfter)
      figures.failures.push(
        `fleet: ${after.rows} inventory rows after the drift sweep, the world has ${expectedAfter}`,
      );
    console.log(
      `- second sweep ${second}: ${JSON.stringify(secondRun.tally)}, ${figures.changesFound}/${expectedChanges} changes recorded, ${after.rows}/${expectedAfter} rows`,
    );
    for (const [kind, fired] of fleet.sandbox.counters.faults)
      count(figures.faultsInjected, `arm:${kind}`, fired);
    figures.armRequests += fleet.sandbox.counters.arm;
    for (const [kind, fired] of Object.entries(fleet.tokenProxy?.faults ?? {}))
      count(figures.faultsInjected, `token:${kind}`, fired);
    figures.tokenRequests += fleet.tokenProxy?.tokenRequests ?? 0;
    options.transcript.push(...fleet.logs);
  } finally {
    fleet.sandbox.setArmSettings({ faults: [] });
    await fleet.close();
  }
}

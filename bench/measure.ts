/**
 * Measures the contenders on one world: a fresh Azurite (behind the counting proxy), the sandbox in
 * its own process, then the fleet's first sweep and a repeat sweep with no changes, then (optionally)
 * the naive loop, on the same sandbox and the same Azurite, one after the other. Around every phase
 * the sandbox's and the proxy's counters are reset and read, and the CPU time of Azurite and of the
 * sandbox is sampled, so each figure belongs to exactly one phase.
 */
import type { ArmSettings } from '../sandbox/arm.js';
import { startMeasuredAzurite } from './azurite-process.js';
import { ContenderProcess, workerNodeArgs } from './contender-ipc.js';
import type { FleetInfo, FleetInput, FleetPhaseResult } from './fleet-contender.js';
import { idealBound, type IdealBound } from './ideal.js';
import type { NaiveInfo, NaiveInput, NaivePhaseResult } from './naive-contender.js';
import type { ArmShape, WorldShape } from './options.js';
import { cpuBetween, sampleProcess, type ProcessSample } from './processes.js';
import { startSandboxProcess, type SandboxCounters, type SandboxProcess } from './sandbox-process.js';
import { measureStorageFloor, type StorageFloor } from './storage-floor.js';
import { measureCpuFloor, type CpuFloorMeasurement } from './cpu-floor.js';
import { StorageProxy, type StorageCounts } from './storage-proxy.js';

/** Prefix of the fleet's tables, queues and containers in the benchmark's Azurite. */
export const FLEET_PREFIX = 'fleet';

/** Resource groups of a generated subscription (sandbox/generator.ts: `resourceGroupCount: 4`). */
export const GENERATED_RESOURCE_GROUPS = 4;

export interface PhaseMeasurement<Result> {
  result: Result;
  /** Requests the sandbox received during the phase. */
  sandbox: SandboxCounters;
  /** Requests Azurite received during the phase (through the proxy). */
  storage: StorageCounts;
  /**
   * CPU time the other processes spent during the phase; `bench` is this process (mostly the counting
   * proxy), which shares the machine's cores with them.
   */
  cpuMs: { azurite: number; sandbox: number; bench: number };
}

export interface WorldMeasurement {
  world: WorldShape;
  /** The sandbox ARM's settings as it reported them. */
  arm: ArmSettings;
  ideal: IdealBound;
  fleetInfo: FleetInfo;
  fleet: { first: PhaseMeasurement<FleetPhaseResult>; repeat: PhaseMeasurement<FleetPhaseResult> };
  naive?: PhaseMeasurement<NaivePhaseResult>;
  /** Azurite alone replaying the first sweep's Table writes (storage-floor.ts); when asked for. */
  storageFloor?: StorageFloor;
  /** The fleet's requests alone, sent again by a process of their own (cpu-floor.ts); when asked for. */
  cpuFloor?: CpuFloorMeasurement;
  /** Peak RSS and total CPU of the helper processes at the end of the world's measurement. */
  processes: { azurite?: ProcessSample; sandbox?: ProcessSample };
}

export interface MeasureOptions {
  naive: boolean;
  /** Record the first sweep's Table writes and replay them into a fresh Azurite (the storage floor). */
  storageFloor: boolean;
  /** Capture the sweeps' storage requests and send them again with the ARM pages (the CPU floor). */
  cpuFloor: boolean;
  /** Progress lines (stderr). */
  log: (line: string) => void;
  /** Distinguishes the tables of different worlds in logs. */
  label: string;
  /** The compiled contenders (compile.ts); under tsx without. */
  compiledDirectory?: string;
}

async function phase<Result>(
  run: () => Promise<Result>,
  sandbox: SandboxProcess,
  proxy: StorageProxy,
  azuritePid: number | undefined,
  progress: (line: string) => void,
): Promise<PhaseMeasurement<Result>> {
  await sandbox.resetCounters();
  proxy.take();
  const azuriteBefore = azuritePid ? sampleProcess(azuritePid) : undefined;
  const sandboxBefore = sampleProcess(sandbox.pid);
  const benchBefore = process.cpuUsage();
  const started = Date.now();
  // Large worlds take minutes (mostly Azurite's inserts): say how far the phase has come.
  const ticker = setInterval(() => {
    progress(
      `  ... ${Math.round((Date.now() - started) / 1000)} s: ${proxy.counts.table.rowsWritten.toLocaleString('en-US')} rows written, ` +
        `${proxy.counts.table.requests.toLocaleString('en-US')} table requests`,
    );
  }, 60_000);
  let result: Result;
  try {
    result = await run();
  } finally {
    clearInterval(ticker);
  }
  const benchCpu = process.cpuUsage(benchBefore);
  const storage = proxy.take();
  const counters = await sandbox.counters();
  return {
    result,
    sandbox: counters,
    storage,
    cpuMs: {
      azurite: cpuBetween(azuriteBefore, azuritePid ? sampleProcess(azuritePid) : undefined),
      sandbox: cpuBetween(sandboxBefore, sampleProcess(sandbox.pid)),
      bench: (benchCpu.user + benchCpu.system) / 1000,
    },
  };
}

export async function measureWorld(
  world: WorldShape,
  armShape: ArmShape,
  options: MeasureOptions,
): Promise<WorldMeasurement> {
  const { log, label } = options;
  const storage = await startMeasuredAzurite('azurite');
  const { azurite, pid: azuritePid } = storage;
  let proxy: StorageProxy | undefined;
  let sandbox: SandboxProcess | undefined;
  const contenders: Array<{ stop(): Promise<void> }> = [];
  try {
    proxy = await StorageProxy.start(azurite);
    sandbox = await startSandboxProcess(world, armShape);
    const arm = await sandbox.armSettings();
    const fleetNodeArgs = workerNodeArgs();
    log(
      `${label}: sandbox ready (pid ${sandbox.pid}), starting the fleet (${fleetNodeArgs.join(' ')}, as deployed)`,
    );

    const fleet = await ContenderProcess.start<FleetInfo, FleetPhaseResult>(
      'fleet-contender.ts',
      {
        endpoints: sandbox.endpoints,
        world,
        connectionString: proxy.connectionString,
        prefix: FLEET_PREFIX,
      } satisfies FleetInput,
      options.compiledDirectory,
      fleetNodeArgs,
    );
    contenders.push(fleet);
    const ideal = idealBound({
      tenants: fleet.info.tenants,
      subscriptionsPerTenant: world.subscriptionsPerTenant,
      resourcesPerSubscription: world.resourcesPerSubscription,
      resourceGroupsPerSubscription: world.resourcesPerSubscription > 0 ? GENERATED_RESOURCE_GROUPS : 0,
      latencyMs: arm.latencyMs,
      pageSize: arm.pageSize,
      throttle: arm.throttle,
      workers: fleet.info.workers,
      subscriptionConcurrency: fleet.info.subscriptionConcurrency,
    });
    log(`${label}: fleet ready in ${Math.round(fleet.info.setupMs)} ms; first sweep`);
    // The floor replays what the sweep stored: its inventory and change rows (the bookkeeping rows are
    // written against ETags of rows the fresh Azurite would not have).
    if (options.storageFloor)
      proxy.record(['inventory', 'changes'].map((table) => `${FLEET_PREFIX}${table}`));
    if (options.cpuFloor) proxy.capture();
    const first = await phase(() => fleet.run('first'), sandbox, proxy, azuritePid, log);
    const firstWrites = proxy.takeRecording();
    const firstRequests = proxy.takeCapture();
    log(`${label}: first sweep ${Math.round(first.result.wallMs)} ms; repeat sweep`);
    if (options.cpuFloor) proxy.capture();
    const repeat = await phase(() => fleet.run('repeat'), sandbox, proxy, azuritePid, log);
    const repeatRequests = proxy.takeCapture();
    log(`${label}: repeat sweep ${Math.round(repeat.result.wallMs)} ms`);
    await fleet.stop();

    let cpuFloor: CpuFloorMeasurement | undefined;
    if (options.cpuFloor) {
      log(
        `${label}: CPU floor (the sweeps' ${firstRequests.length} / ${repeatRequests.length} storage requests and their ARM pages, no product logic)`,
      );
      const shared = sandbox;
      cpuFloor = await measureCpuFloor(
        { first: firstRequests, repeat: repeatRequests },
        {
          endpoints: sandbox.endpoints,
          world,
          prefix: FLEET_PREFIX,
          compiledDirectory: options.compiledDirectory,
          phase: (run, floorProxy, pid) => phase(run, shared, floorProxy, pid, log),
        },
      );
      log(
        `${label}: CPU floor ${Math.round(cpuFloor.first.result.cpuMs)} / ${Math.round(cpuFloor.repeat.result.cpuMs)} ms of CPU`,
      );
    }

    // Right after the sweeps, before the naive loop fills Azurite further: the same conditions.
    let storageFloor: StorageFloor | undefined;
    if (options.storageFloor) {
      const concurrency = fleet.info.workers * fleet.info.subscriptionConcurrency;
      log(
        `${label}: storage floor (the first sweep's ${firstWrites.length} Table writes into a fresh Azurite)`,
      );
      storageFloor = await measureStorageFloor(firstWrites, concurrency);
      log(`${label}: storage floor ${Math.round(storageFloor.wallMs)} ms`);
    }

    let naive: PhaseMeasurement<NaivePhaseResult> | undefined;
    if (options.naive) {
      log(`${label}: naive loop (one tenant, one subscription, one row at a time)`);
      const loop = await ContenderProcess.start<NaiveInfo, NaivePhaseResult>(
        'naive-contender.ts',
        {
          endpoints: sandbox.endpoints,
          world,
          connectionString: proxy.connectionString,
          table: 'naiveinventory',
        } satisfies NaiveInput,
        options.compiledDirectory,
      );
      contenders.push(loop);
      naive = await phase(() => loop.run('loop'), sandbox, proxy, azuritePid, log);
      log(`${label}: naive loop ${Math.round(naive.result.wallMs)} ms`);
      await loop.stop();
    }
    return {
      world,
      arm,
      ideal,
      fleetInfo: fleet.info,
      fleet: { first, repeat },
      ...(naive ? { naive } : {}),
      ...(storageFloor ? { storageFloor } : {}),
      ...(cpuFloor ? { cpuFloor } : {}),
      processes: {
        ...(azuritePid ? { azurite: sampleProcess(azuritePid) } : {}),
        sandbox: sampleProcess(sandbox.pid),
      },
    };
  } finally {
    for (const contender of contenders) await contender.stop().catch(() => undefined);
    await sandbox?.stop();
    await proxy?.close();
    await storage.stop();
  }
}

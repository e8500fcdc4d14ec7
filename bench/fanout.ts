/**
 * The fan-out point (`--fanout-tenants N`): how a run starts for N registered tenants. Figures: wall
 * time, table requests against the fewest that could do it (the transaction floor of what it writes,
 * plus the registry's pages of 1,000), queue requests (one message per tenant) and the process's peak
 * RSS, which must not grow with the registry (paged reads, streamed writes).
 */
import { startMeasuredAzurite } from './azurite-process.js';
import { ContenderProcess, workerNodeArgs } from './contender-ipc.js';
import type { FanoutInfo, FanoutInput, FanoutPhaseResult } from './fanout-contender.js';
import { FLEET_PREFIX } from './measure.js';
import type { ArmShape } from './options.js';
import { startSandboxProcess } from './sandbox-process.js';
import { StorageProxy, type StorageCounts } from './storage-proxy.js';

/** Rows a registry page holds (the Table service's largest page). */
const REGISTRY_PAGE = 1000;

export interface FanoutFigures {
  tenants: number;
  queued: number;
  wallMs: number;
  cpuMs: number;
  tableRequests: number;
  /** Sum over the partitions written of ceil(rows / 100), plus the registry's pages. */
  tableRequestFloor: number;
  tableRequestsToFloor: number;
  queueRequests: number;
  /** The process's peak RSS during the fan-out (sampled) and since it started (setup included), MiB. */
  phasePeakRssMb: number;
  processPeakRssMb: number;
  heapUsedAtPeakMb: number;
}

/** The fewest table requests that write what the fan-out wrote and read the registry. */
export function fanoutFloor(storage: StorageCounts, tenants: number): number {
  let floor = Math.ceil(tenants / REGISTRY_PAGE);
  for (const partitions of Object.values(storage.partitionRows))
    for (const rows of Object.values(partitions)) floor += Math.ceil(rows / 100);
  return floor;
}

export async function measureFanout(
  tenants: number,
  arm: ArmShape,
  options: { log: (line: string) => void; compiledDirectory?: string },
): Promise<FanoutFigures> {
  const storage = await startMeasuredAzurite('azurite');
  let proxy: StorageProxy | undefined;
  let contender: ContenderProcess<FanoutInfo, FanoutPhaseResult> | undefined;
  const sandbox = await startSandboxProcess(
    { tenants: 1, subscriptionsPerTenant: 1, resourcesPerSubscription: 0, seed: 1 },
    arm,
  );
  try {
    proxy = await StorageProxy.start(storage.azurite);
    options.log(`fan-out: registering ${tenants.toLocaleString('en-US')} tenants (not timed)`);
    contender = await ContenderProcess.start<FanoutInfo, FanoutPhaseResult>(
      'fanout-contender.ts',
      {
        endpoints: sandbox.endpoints,
        connectionString: proxy.connectionString,
        prefix: FLEET_PREFIX,
        tenants,
      } satisfies FanoutInput,
      options.compiledDirectory,
      workerNodeArgs(),
    );
    proxy.take();
    const result = await contender.run('fanout');
    const counts = proxy.take();
    const floor = fanoutFloor(counts, tenants);
    options.log(`fan-out: ${Math.round(result.wallMs)} ms, ${counts.table.requests} table requests`);
    return {
      tenants,
      queued: result.queued,
      wallMs: Math.round(result.wallMs),
      cpuMs: Math.round(result.cpuMs),
      tableRequests: counts.table.requests,
      tableRequestFloor: floor,
      tableRequestsToFloor: Number((counts.table.requests / floor).toFixed(3)),
      queueRequests: counts.queue.requests,
      phasePeakRssMb: Math.round(result.phasePeakRssMb * 10) / 10,
      processPeakRssMb: Math.round(result.processPeakRssMb * 10) / 10,
      heapUsedAtPeakMb: result.atPeakMb.heapUsed,
    };
  } finally {
    await contender?.stop().catch(() => undefined);
    await sandbox.stop();
    await proxy?.close();
    await storage.stop();
  }
}

/**
 * The CPU floor's measurement: the fleet's captured storage requests (storage-proxy.ts `capture`) go
 * to files, a fresh Azurite behind a counting proxy of its own is started, and the floor's process
 * (cpu-floor-contender.ts, with the fleet's Node options) sends each sweep's requests and ARM pages
 * again, its CPU measured as the fleet's is. Like the storage floor it measures what the product
 * cannot go below, here on the sending side: the requests' own cost in the SDKs, Node and the kernel.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMeasuredAzurite } from './azurite-process.js';
import { ContenderProcess, workerNodeArgs } from './contender-ipc.js';
import type { CpuFloorInfo, CpuFloorInput, CpuFloorPhaseResult } from './cpu-floor-contender.js';
import type { PhaseMeasurement } from './measure.js';
import type { WorldShape } from './options.js';
import { writeCapture } from './request-capture.js';
import type { SandboxEndpoints } from '../sandbox/index.js';
import { StorageProxy, type CapturedRequest } from './storage-proxy.js';

export interface CpuFloorMeasurement {
  info: CpuFloorInfo;
  first: PhaseMeasurement<CpuFloorPhaseResult>;
  repeat: PhaseMeasurement<CpuFloorPhaseResult>;
}

/** Measures one phase of a contender against a proxy and an Azurite (measure.ts `phase`). */
export type MeasurePhase = <Result>(
  run: () => Promise<Result>,
  proxy: StorageProxy,
  azuritePid: number | undefined,
) => Promise<PhaseMeasurement<Result>>;

export async function measureCpuFloor(
  captures: { first: CapturedRequest[]; repeat: CapturedRequest[] },
  options: {
    endpoints: SandboxEndpoints;
    world: WorldShape;
    prefix: string;
    compiledDirectory?: string | undefined;
    phase: MeasurePhase;
  },
): Promise<CpuFloorMeasurement> {
  const directory = await mkdtemp(join(tmpdir(), 'bench-cpu-floor-'));
  const storage = await startMeasuredAzurite('azurite-cpu-floor');
  let proxy: StorageProxy | undefined;
  let floor: ContenderProcess<CpuFloorInfo, CpuFloorPhaseResult> | undefined;
  try {
    const files = { first: join(directory, 'first.bin'), repeat: join(directory, 'repeat.bin') };
    await writeCapture(files.first, captures.first);
    await writeCapture(files.repeat, captures.repeat);
    proxy = await StorageProxy.start(storage.azurite);
    floor = await ContenderProcess.start<CpuFloorInfo, CpuFloorPhaseResult>(
      'cpu-floor-contender.ts',
      {
        endpoints: options.endpoints,
        world: options.world,
        connectionString: proxy.connectionString,
        ports: proxy.ports,
        prefix: options.prefix,
        captures: files,
      } satisfies CpuFloorInput,
      options.compiledDirectory,
      workerNodeArgs(),
    );
    const first = await options.phase(() => floor!.run('first'), proxy, storage.pid);
    const repeat = await options.phase(() => floor!.run('repeat'), proxy, storage.pid);
    return { info: floor.info, first, repeat };
  } finally {
    await floor?.stop().catch(() => undefined);
    await proxy?.close();
    await storage.stop();
    await rm(directory, { recursive: true, force: true });
  }
}

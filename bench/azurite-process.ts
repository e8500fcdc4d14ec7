/**
 * Azurite as the benchmark runs it: its own process (so its CPU and memory are its own), a heap large
 * enough for a million rows, registered for cleanup, and CPU-profiled when BENCH_CPU_PROFILE is set.
 */
import { resolve } from 'node:path';
import { startAzurite, type AzuriteHandle } from '../sandbox/azurite.js';
import { registerChild, unregisterChild } from './cleanup.js';
import { childProcesses } from './processes.js';

export interface MeasuredAzurite {
  azurite: AzuriteHandle;
  /** Its process id, for CPU and memory samples (undefined if it could not be found). */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** `label` names the CPU profile's folder (`<BENCH_CPU_PROFILE>/<label>/`). */
export async function startMeasuredAzurite(label: string): Promise<MeasuredAzurite> {
  const before = new Set(childProcesses(process.pid, 'azurite'));
  // Azurite keeps every entity in one Node heap; at a million rows it needs more than the default cap.
  const nodeArgs = ['--max-old-space-size=16384'];
  const profileDirectory = process.env.BENCH_CPU_PROFILE;
  if (profileDirectory) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${resolve(profileDirectory, label)}`);
  const azurite = await startAzurite({ nodeArgs });
  const pid = childProcesses(process.pid, 'azurite').find((candidate) => !before.has(candidate));
  registerChild(pid);
  return {
    azurite,
    pid,
    stop: async () => {
      await azurite.stop();
      unregisterChild(pid);
    },
  };
}

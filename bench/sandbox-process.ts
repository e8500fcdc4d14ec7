/**
 * The sandbox cloud in its own process (`sandbox/cli.ts --generate ...`), so that the product's
 * process holds only the product: the RSS and CPU figures of each side are then separate. The
 * benchmark talks to it over its admin API (counters, ARM settings).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ArmSettings, ArmSettingsPatch } from '../sandbox/arm.js';
import type { RequestCounters } from '../sandbox/counters.js';
import type { SandboxEndpoints } from '../sandbox/index.js';
import { registerChild, unregisterChild } from './cleanup.js';
import type { ArmShape, WorldShape } from './options.js';

/** The repository (BENCH_ROOT when this runs compiled, from dist/). */
export const ROOT = process.env.BENCH_ROOT ?? resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The sandbox's request counters (GET /admin/counters): its snapshot, and the per-key maps as objects. */
export type SandboxCounters = ReturnType<RequestCounters['snapshot']> & {
  tokenByTenant: Record<string, number>;
  armBySubscription: Record<string, number>;
};

export interface SandboxProcess {
  pid: number;
  endpoints: SandboxEndpoints;
  counters(): Promise<SandboxCounters>;
  resetCounters(): Promise<void>;
  armSettings(): Promise<ArmSettings>;
  setArmSettings(patch: ArmSettingsPatch): Promise<ArmSettings>;
  stop(): Promise<void>;
}

async function admin<T>(endpoint: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${endpoint}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`sandbox admin ${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = once(child, 'exit').then(() => undefined);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  return exited.finally(() => clearTimeout(timer));
}

/** Starts the sandbox with a generated world and the given ARM settings (applied and read back). */
export async function startSandboxProcess(world: WorldShape, arm: ArmShape): Promise<SandboxProcess> {
  const spec =
    `tenants=${world.tenants},subscriptions=${world.subscriptionsPerTenant},` +
    `resources=${world.resourcesPerSubscription},seed=${world.seed}`;
  // BENCH_CPU_PROFILE: the sandbox is profiled too (its ARM shares the machine's cores with the fleet).
  const profileDirectory = process.env.BENCH_CPU_PROFILE;
  const child = spawn(
    process.execPath,
    [
      ...(profileDirectory ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profileDirectory, 'sandbox')}`] : []),
      '--import',
      'tsx',
      'sandbox/cli.ts',
      '--generate',
      spec,
      '--page-size',
      String(arm.pageSize),
      '--latency-ms',
      String(arm.latencyMs),
      ...(arm.throttle.enabled ? [] : ['--no-throttle']),
      '--no-storage',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  registerChild(child.pid);
  child.once('exit', () => unregisterChild(child.pid));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => line as string),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the sandbox exited (${String(code)}) before it started: ${stderr.trim()}`);
    }),
  ]);
  lines.on('line', () => undefined); // keep draining stdout
  const endpoints = JSON.parse(first) as SandboxEndpoints;
  const adminEndpoint = endpoints.adminEndpoint;
  const sandbox: SandboxProcess = {
    pid: child.pid!,
    endpoints,
    counters: () => admin<SandboxCounters>(adminEndpoint, 'GET', '/admin/counters'),
    resetCounters: async () => {
      await admin(adminEndpoint, 'POST', '/admin/counters/reset');
    },
    armSettings: () => admin<ArmSettings>(adminEndpoint, 'GET', '/admin/arm-settings'),
    setArmSettings: (patch) => admin<ArmSettings>(adminEndpoint, 'PUT', '/admin/arm-settings', patch),
    stop: () => stopChild(child),
  };
  // The CLI sets latency, page size and on/off; the bucket's size and refill are set here explicitly.
  await sandbox.setArmSettings({
    latencyMs: arm.latencyMs,
    pageSize: arm.pageSize,
    throttle: arm.throttle,
  });
  return sandbox;
}

/**
 * The fan-out point: starting a run for many registered tenants (the registry read, the run and its
 * tenant rows, one queue message each), in a process of its own so its memory is its own. Registering
 * the tenants is setup (not timed); the timed phase is the app's own `startSweep`. No tenant is swept.
 */
import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import type { Sandbox, SandboxEndpoints } from '../sandbox/index.js';
import { generateWorld } from '../sandbox/generator.js';
import { parseWorld } from '../sandbox/world.js';
import { sandboxFleetConfig } from '../dev/sandbox-fleet.js';
import { createRuntime } from '../src/core/runtime.js';
import { startSweep, type StartSweepResult } from '../src/core/sweep/sweep.js';
import { contenderInput, measurePhase, serveContender, type PhaseFigures } from './contender-ipc.js';

export interface FanoutInput {
  endpoints: SandboxEndpoints;
  /** The provider storage (through the benchmark's counting proxy). */
  connectionString: string;
  prefix: string;
  tenants: number;
}

export interface FanoutInfo {
  tenants: number;
  setupMs: number;
}

export type FanoutPhaseResult = PhaseFigures & Pick<StartSweepResult, 'runId' | 'queued'>;

async function main(): Promise<void> {
  const input = contenderInput<FanoutInput>();
  const started = performance.now();
  const world = parseWorld(
    generateWorld({ seed: 1, tenants: 1, subscriptionsPerTenant: 1, resourcesPerSubscription: 0 }),
  );
  // sandboxFleetConfig reads only the sandbox's endpoints and world; startSweep calls no cloud.
  const sandboxView = { endpoints: input.endpoints, store: { world } } as unknown as Sandbox;
  const config = sandboxFleetConfig(sandboxView, {
    providerConnectionString: input.connectionString,
    prefix: input.prefix,
  });
  const runtime = createRuntime(config, { log: () => undefined });
  await runtime.storage.ensureResources();
  // In slices, so that the setup's garbage does not inflate the memory the timed phase is measured with.
  const limit = pLimit(32);
  for (let start = 0; start < input.tenants; start += 500) {
    const slice = Math.min(500, input.tenants - start);
    await Promise.all(
      Array.from({ length: slice }, (_, i) =>
        limit(() =>
          runtime.registry.add({ tenantId: randomUUID(), displayName: `Tenant ${start + i}` }, 'bench'),
        ),
      ),
    );
  }
  serveContender<FanoutInfo>(
    { tenants: input.tenants, setupMs: performance.now() - started },
    {
      fanout: async (): Promise<FanoutPhaseResult> => {
        const { figures, value } = await measurePhase(
          () => startSweep(runtime, { trigger: 'timer' }),
          'fanout',
        );
        return { ...figures, runId: value.runId, queued: value.queued };
      },
    },
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`fanout contender: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

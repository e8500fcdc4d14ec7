/**
 * Contender (a): Tenant Fleet's sweep along the production path, in its own process. The app's own
 * timer, queue and worker handlers run under the local Functions host with host.json's queue
 * semantics (batchSize + newBatchThreshold = the tenants one instance works on at once), exactly as
 * `npm start` does.
 * Setup (tables, registering the tenants) is not timed; each `run` is one whole scheduled sweep.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QueueClient } from '@azure/storage-queue';
import pLimit from 'p-limit';
import type { SandboxEndpoints } from '../sandbox/index.js';
import { worldFacts } from '../sandbox/generator.js';
import {
  LocalFunctionsHost,
  loadFunctionHandlers,
  messagesAtOnce,
  readQueueSemantics,
  runScheduledSweep,
} from '../dev/local-host.js';
import { createRuntime, type FleetRuntime } from '../src/core/runtime.js';
import { RunStore, type RunTotals } from '../src/core/sweep/runs.js';
import { TableClient } from '@azure/data-tables';
import { contenderFleetConfig } from './contender-config.js';
import { contenderInput, measurePhase, serveContender, type PhaseFigures } from './contender-ipc.js';
import { HARNESS_HEADER } from './storage-proxy.js';
import type { WorldShape } from './options.js';
import { ROOT } from './sandbox-process.js';
import { startRequestTrace, traceMark } from './trace.js';

/** How long the bench lets one sweep run: the deployed functionTimeout (host.json, hh:mm:ss). */
const RUN_TIMEOUT_MS = (() => {
  const { functionTimeout } = JSON.parse(readFileSync(join(ROOT, 'host.json'), 'utf8')) as {
    functionTimeout: string;
  };
  const [hours, minutes, seconds] = functionTimeout.split(':').map(Number);
  return ((hours! * 60 + minutes!) * 60 + seconds!) * 1000;
})();

export interface FleetInput {
  endpoints: SandboxEndpoints;
  world: WorldShape;
  /** The provider storage (through the benchmark's counting proxy). */
  connectionString: string;
  /** Table/queue/container prefix of this contender. */
  prefix: string;
}

export interface FleetInfo {
  tenants: number;
  /** Tenants one instance works on at once (host.json's batchSize + newBatchThreshold). */
  workers: number;
  newBatchThreshold: number;
  subscriptionConcurrency: number;
  snapshots: boolean;
  setupMs: number;
}

export interface FleetPhaseResult extends PhaseFigures {
  runId: string;
  runStatus: string;
  totals?: RunTotals;
  /** Queue outcomes: completed messages, retried deliveries, poisoned messages. */
  messages: { completed: number; retried: number; poisoned: number };
  /** The first warnings and errors the app logged (empty on a clean sweep). */
  problems: string[];
}

/** How long a received message stays invisible (the Functions host renews its lease instead). */
const LEASE_SECONDS = 4 * 3600;

/**
 * The Functions host keeps renewing the visibility of a message while its function runs; the local
 * host (dev/local-host.ts) receives with a fixed 600 s and does not renew. On the largest series
 * worlds a tenant's first sweep takes longer than that (Azurite inserts a million rows), its message
 * reappears and the stale pop receipt then fails the local host. Receiving with a lease longer than
 * any sweep gives the local host the real host's behaviour; nothing else of the app changes.
 */
function holdMessagesWhileProcessing(runtime: FleetRuntime): void {
  const queueOf = runtime.storage.queue.bind(runtime.storage);
  runtime.storage.queue = (name: string): QueueClient => {
    const client = queueOf(name);
    const receive = client.receiveMessages.bind(client);
    client.receiveMessages = (options) =>
      receive({ ...options, visibilityTimeout: Math.max(options?.visibilityTimeout ?? 0, LEASE_SECONDS) });
    return client;
  };
}

/**
 * The run store the harness waits on: the same tables through clients that mark their requests, so
 * the proxy does not count the harness's polling of the run's status (the Functions host in Azure does
 * not read runs) as the product's bookkeeping.
 */
function harnessRuns(connectionString: string, config: FleetRuntime['config']): RunStore {
  const marked = (name: string): TableClient =>
    TableClient.fromConnectionString(connectionString, name, {
      allowInsecureConnection: true,
      additionalPolicies: [
        {
          policy: {
            name: 'benchHarness',
            sendRequest: (request, next) => {
              request.headers.set(HARNESS_HEADER, '1');
              return next(request);
            },
          },
          position: 'perCall',
        },
      ],
    });
  return new RunStore(marked(config.names.runsTable), marked(config.names.runTenantsTable));
}

async function main(): Promise<void> {
  const input = contenderInput<FleetInput>();
  startRequestTrace(process.env.BENCH_TRACE);
  const started = performance.now();
  const { world, config } = contenderFleetConfig(input);
  let problems: string[] = [];
  const runtime = createRuntime(config, {
    log: (level, message) => {
      if (level !== 'info' && problems.length < 20) problems.push(`${level}: ${message}`);
    },
  });
  holdMessagesWhileProcessing(runtime);
  await runtime.storage.ensureResources();
  const facts = worldFacts(world);
  const names = new Map(world.tenants.map((tenant) => [tenant.id, tenant.displayName]));
  const limit = pLimit(16);
  await Promise.all(
    facts.customerTenantIds.map((tenantId) =>
      limit(() => runtime.registry.add({ tenantId, displayName: names.get(tenantId) ?? tenantId }, 'bench')),
    ),
  );

  const semantics = readQueueSemantics(join(ROOT, 'host.json'));
  const messages = { completed: 0, retried: 0, poisoned: 0 };
  const host = new LocalFunctionsHost({
    runtime,
    handlers: await loadFunctionHandlers(),
    semantics,
    onMessage: (event) => {
      if (event.outcome === 'completed') messages.completed++;
      else if (event.outcome === 'retry') messages.retried++;
      else messages.poisoned++;
      if (event.outcome !== 'completed' && problems.length < 20)
        problems.push(`${event.outcome}: ${event.error ?? ''}`);
    },
  });

  const harness: FleetRuntime = { ...runtime, runs: harnessRuns(input.connectionString, config) };
  const sweep = async (label: string): Promise<FleetPhaseResult> => {
    problems = [];
    messages.completed = messages.retried = messages.poisoned = 0;
    traceMark('sweep');
    // A run may take as long as one invocation may under the host (functionTimeout): the local host's
    // default of 30 min cut the 1,000,000-resource tenant short on a loaded machine.
    const { figures, value: runId } = await measurePhase(
      () => runScheduledSweep(host, harness, { timeoutMs: RUN_TIMEOUT_MS }),
      label,
    );
    const run = await harness.runs.getRun(runId);
    return {
      ...figures,
      runId,
      runStatus: run.status,
      ...(run.totals ? { totals: run.totals } : {}),
      messages: { ...messages },
      problems,
    };
  };

  serveContender<FleetInfo>(
    {
      tenants: facts.customerTenantIds.length,
      workers: messagesAtOnce(semantics),
      newBatchThreshold: semantics.newBatchThreshold,
      subscriptionConcurrency: config.sweep.subscriptionConcurrency,
      snapshots: config.sweep.snapshots,
      setupMs: performance.now() - started,
    },
    { first: () => sweep('first'), repeat: () => sweep('repeat') },
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`fleet contender: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

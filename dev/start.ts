/**
 * `npm start`: the whole product, offline. Starts Azurite (the provider's storage) and the sandbox
 * cloud with the demo world, registers the demo customers, then runs one complete sweep through the
 * same timer, queue and worker handlers that run in Azure, and prints a summary.
 *
 * State (Azurite's data and the demo world with its drift) persists in .local/ between runs, so a
 * second `npm start` shows what changed since the first. `npm start -- --reset` starts over.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startAzurite, type AzuriteHandle } from '../sandbox/azurite.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { worldFacts } from '../sandbox/generator.js';
import { ConflictError, ensureError } from '../src/core/platform/errors.js';
import { createRuntime, type FleetRuntime } from '../src/core/runtime.js';
import type { TenantRunRecord } from '../src/core/sweep/runs.js';
import { applyDemoDrift } from './demo-drift.js';
import {
  LocalFunctionsHost,
  loadFunctionHandlers,
  readQueueSemantics,
  resumeInterruptedRun,
  runScheduledSweep,
} from './local-host.js';
import { LocalStateError, loadLocalState, type LocalState } from './local-state.js';
import { sandboxFleetConfig } from './sandbox-fleet.js';
import { serveUntilStopped } from './serve-main.js';
import { printSummary } from './summary.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function usage(): string {
  return 'usage: npm start [-- --reset] [-- --state-dir <dir>] [-- --serve [--port <n>] [--no-sweep-at-start]]';
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        reset: { type: 'boolean', default: false },
        'state-dir': { type: 'string' },
        serve: { type: 'boolean', default: false },
        port: { type: 'string', default: '7071' },
        'no-sweep-at-start': { type: 'boolean', default: false },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    console.error(`${ensureError(error).message}\n${usage()}`);
    return 2;
  }
  if (args.values.help) {
    console.log(usage());
    return 0;
  }
  const stateDir = resolve(args.values['state-dir'] ?? join(root, '.local'));
  let local: LocalState;
  try {
    local = await loadLocalState(stateDir, {
      reset: args.values.reset,
      // The command that starts over with the same state directory.
      resetCommand: `npm start -- --reset${args.values['state-dir'] ? ` --state-dir ${args.values['state-dir']}` : ''}`,
    });
  } catch (error) {
    if (!(error instanceof LocalStateError)) throw error;
    console.error(`npm start: ${error.message}`);
    return 2;
  }
  const { worldPath, statePath, previous, world } = local;

  const started = Date.now();
  let azurite: AzuriteHandle | undefined;
  let sandbox: Sandbox | undefined;
  try {
    console.log(`Tenant Fleet: local sweep #${previous.sweeps + 1} (state in ${stateDir})`);
    console.log(
      '- starting Azurite (provider storage) and the sandbox cloud (Entra, managed identity, ARM, customer storage)...',
    );
    [azurite, sandbox] = await Promise.all([
      startAzurite({ location: join(stateDir, 'provider-storage') }),
      startSandbox({
        world: world as never,
        storage: { location: join(stateDir, 'customer-storage') },
        stateDirectory: join(stateDir, 'sandbox'),
      }),
    ]);
    if (previous.sweeps > 0) {
      const drift = applyDemoDrift(sandbox.store, previous.sweeps);
      console.log(`- the demo world drifted since the last sweep: ${drift}`);
    }
    const apiAuth = process.env.TENANT_FLEET_HTTP_AUTH === 'appservice' ? registerApi(sandbox) : undefined;
    const config = sandboxFleetConfig(sandbox, {
      providerConnectionString: azurite.connectionString,
      settings: { ...serveSettings(), ...apiAuth?.settings },
    });
    if (apiAuth) {
      // Where callers get their tokens (no secret here: clients are made with POST /admin/api-clients).
      await writeFile(join(stateDir, 'api-auth.json'), JSON.stringify(apiAuth.info, null, 2));
      console.log(
        `- callers need a bearer token for ${apiAuth.info.scope} (see ${join(stateDir, 'api-auth.json')})`,
      );
    }
    const runtime = createRuntime(config, { log: () => undefined });
    await runtime.storage.ensureResources();
    const registered = await registerDemoTenants(runtime, sandbox);
    if (registered > 0) console.log(`- registered ${registered} customer tenants`);

    const handlers = await loadFunctionHandlers();
    if (args.values.serve) {
      await serveUntilStopped(runtime, handlers, {
        port: args.values.port,
        sweepAtStart: !args.values['no-sweep-at-start'],
      });
      await writeFile(worldPath, JSON.stringify(sandbox.store.snapshot(), null, 2));
      await writeFile(statePath, JSON.stringify({ sweeps: previous.sweeps + 1 }, null, 2));
      return 0;
    }
    let done = 0;
    let total = 0;
    const host = new LocalFunctionsHost({
      runtime,
      handlers,
      semantics: readQueueSemantics(join(root, 'host.json')),
      onMessage: (event) => {
        if (event.outcome !== 'completed' || event.queue !== 'sweep') {
          if (event.outcome === 'retry')
            console.log(`  retrying a tenant (delivery ${event.dequeueCount}): ${event.error ?? ''}`);
          if (event.outcome === 'poisoned')
            console.log(`  a tenant message went to the poison queue: ${event.error ?? ''}`);
          if (event.outcome === 'abandoned')
            console.log(`  the queue was unreachable (${event.error ?? ''}); the tenant comes back shortly`);
          return;
        }
        done++;
        const tenantId = (event.message as { tenantId?: string }).tenantId ?? '?';
        console.log(`  [${done}/${total}] ${names.get(tenantId) ?? tenantId} swept`);
      },
    });
    const names = new Map<string, string>();
    const resume = await resumeInterruptedRun(runtime);
    if (resume) {
      console.log(
        `- the previous local run ${resume.runId} (started ${resume.startedAt}) was interrupted with ` +
          `${resume.finished} of ${resume.total} tenant(s) finished; finishing it: ${resume.requeued} requeued`,
      );
    } else console.log('- sweeping: timer -> queue -> workers');
    const runId = await runScheduledSweep(host, runtime, {
      ...(resume ? { resume } : {}),
      onStarted: async (startedRunId) => {
        for await (const tenant of runtime.runs.listTenants(startedRunId)) {
          names.set(tenant.tenantId, tenant.displayName);
          if (tenant.status === 'queued' || tenant.status === 'running') total++;
        }
        console.log(`  run ${startedRunId}: ${total} tenant(s) queued`);
      },
    });

    const run = await runtime.runs.getRun(runId);
    const tenants: TenantRunRecord[] = [];
    for await (const tenant of runtime.runs.listTenants(runId)) tenants.push(tenant);
    await writeFile(worldPath, JSON.stringify(sandbox.store.snapshot(), null, 2));
    await writeFile(statePath, JSON.stringify({ sweeps: previous.sweeps + 1, lastRunId: runId }, null, 2));
    printSummary(run, tenants, { elapsedMs: Date.now() - started, stateDir, config });
    return 0;
  } catch (error) {
    const failure = ensureError(error);
    console.error(`npm start failed: ${failure.message}`);
    if (failure.name === 'ConfigError') console.error('Fix the setting named above.');
    else console.error('Try `npm start -- --reset` to start from a fresh demo world.');
    return 1;
  } finally {
    await sandbox?.close();
    await azurite?.stop();
  }
}

/** Settings serve mode takes from the environment (the schedule; token auth for tests). */
function serveSettings(): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const name of ['TENANT_FLEET_SWEEP_SCHEDULE', 'TENANT_FLEET_HTTP_AUTH']) {
    const value = process.env[name];
    if (value) settings[name] = value;
  }
  return settings;
}

/**
 * With TENANT_FLEET_HTTP_AUTH=appservice, the API app is registered in the sandbox's provider tenant
 * and the app validates bearer tokens for it, as in Azure. Operator clients with app roles are made
 * through the sandbox's admin API (POST /admin/api-clients) and get tokens by the client-credentials
 * grant from the sandbox's Entra.
 */
function registerApi(sandbox: Sandbox) {
  const tenantId = worldFacts(sandbox.store.world).homeTenantId;
  const api = sandbox.apiTokens.registerApi({ tenantId });
  return {
    settings: {
      TENANT_FLEET_API_AUDIENCE: api.appIdUri,
      TENANT_FLEET_API_CLIENT_ID: api.appId,
      TENANT_FLEET_AUTH_TENANT_ID: api.tenantId,
    },
    info: {
      tenantId: api.tenantId,
      scope: `${api.appIdUri}/.default`,
      authorityHost: sandbox.endpoints.authorityHost,
      caCertPath: sandbox.endpoints.caCertPath,
      clients: `${sandbox.endpoints.adminEndpoint}/admin/api-clients`,
    },
  };
}

/** Registers every customer tenant of the world (idempotent: already registered ones are kept). */
async function registerDemoTenants(runtime: FleetRuntime, sandbox: Sandbox): Promise<number> {
  const facts = worldFacts(sandbox.store.world);
  let added = 0;
  for (const tenant of sandbox.store.world.tenants) {
    if (tenant.id === facts.homeTenantId) continue;
    try {
      await runtime.registry.add(
        { tenantId: tenant.id, displayName: tenant.displayName, tags: ['demo'] },
        'npm-start',
      );
      added++;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  return added;
}

process.exitCode = await main();

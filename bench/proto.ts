import { startAzurite } from '../sandbox/azurite.js';
import { startSandbox } from '../sandbox/index.js';
import { generateWorld, worldFacts } from '../sandbox/generator.js';
import { createRuntime } from '../src/core/runtime.js';
import { sandboxFleetConfig } from '../dev/sandbox-fleet.js';
import {
  LocalFunctionsHost,
  loadFunctionHandlers,
  readQueueSemantics,
  runScheduledSweep,
} from '../dev/local-host.js';

const T = Number(process.argv[2] ?? 200),
  S = Number(process.argv[3] ?? 2),
  R = Number(process.argv[4] ?? 300);
const world = generateWorld({ seed: 1, tenants: T, subscriptionsPerTenant: S, resourcesPerSubscription: R });
const [az, sb] = await Promise.all([
  startAzurite(),
  startSandbox({ world, arm: { latencyMs: 25, pageSize: 100 } }),
]);
try {
  const config = sandboxFleetConfig(sb, { providerConnectionString: az.connectionString });
  const runtime = createRuntime(config, {
    log: (l, m) => {
      if (l !== 'info') console.log(l, m);
    },
  });
  await runtime.storage.ensureResources();
  const facts = worldFacts(sb.store.world);
  for (const t of sb.store.world.tenants)
    if (t.id !== facts.homeTenantId)
      await runtime.registry.add({ tenantId: t.id, displayName: t.displayName }, 'bench');
  const host = new LocalFunctionsHost({
    runtime,
    handlers: await loadFunctionHandlers(),
    semantics: readQueueSemantics('host.json'),
    onMessage: (e) => {
      if (e.outcome !== 'completed') console.log(e.outcome, e.error);
    },
  });
  for (let i = 0; i < 2; i++) {
    sb.counters.reset();
    const t0 = performance.now();
    const runId = await runScheduledSweep(host, runtime);
    const ms = performance.now() - t0;
    const run = await runtime.runs.getRun(runId);
    console.log(i, Math.round(ms), 'ms', sb.counters.snapshot(), JSON.stringify(run.totals));
  }
  console.log('rss', process.resourceUsage().maxRSS / 1024);
} finally {
  await sb.close();
  await az.stop();
}

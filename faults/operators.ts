/**
 * Concurrent operators: many updates of one tenant at once (each applies or gets 412 and is retried
 * by the client, as the API asks), two timers firing at once, and an on-demand run during a
 * scheduled one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runScheduledSweep } from '../dev/local-host.js';
import { httpRoutes } from '../src/functions/shared/routes.js';
import { loadAllRoutes } from './abuse.js';
import { invoke } from './invoke.js';
import type { FaultFigures } from './report.js';
import { registerWorld, ROOT, startPhaseFleet } from './world.js';

function route(name: string) {
  const found = httpRoutes().find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no route ${name}`);
  return found.handler;
}

/** One operator: read the tenant, bump the counter in its display name, write with If-Match; retry on 412. */
async function bump(tenantId: string): Promise<{ attempts: number }> {
  for (let attempt = 1; attempt <= 500; attempt++) {
    const read = await invoke(route('tenant'), {
      method: 'GET',
      params: { tenantId },
      query: {},
      headers: {},
    });
    if (read.status !== 200) throw new Error(`GET tenant answered ${read.status}: ${read.text}`);
    const record = JSON.parse(read.text) as { displayName: string; etag: string };
    const counter = Number(/^counter-(\d+)$/.exec(record.displayName)?.[1] ?? 0);
    const write = await invoke(route('tenant'), {
      method: 'PATCH',
      params: { tenantId },
      query: {},
      headers: { 'content-type': 'application/json', 'if-match': record.etag },
      body: JSON.stringify({ displayName: `counter-${counter + 1}` }),
    });
    if (write.status === 200) return { attempts: attempt };
    if (write.status !== 412) throw new Error(`PATCH tenant answered ${write.status}: ${write.text}`);
    // A polite client backs off a little (with jitter) before reading again.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * Math.min(attempt, 10)));
  }
  throw new Error('an update was refused 500 times in a row');
}

export async function operatorsPhase(
  figures: FaultFigures,
  options: { connectionString: string; updates: number; transcript: string[] },
): Promise<void> {
  await loadAllRoutes();
  const world = JSON.parse(await readFile(join(ROOT, 'sandbox', 'worlds', 'demo.json'), 'utf8')) as never;
  const fleet = await startPhaseFleet(world, options.connectionString);
  try {
    const [tenantId] = await registerWorld(fleet);
    // 100 concurrent updates of one tenant.
    const results = await Promise.all(Array.from({ length: options.updates }, () => bump(tenantId!)));
    const final = JSON.parse(
      (
        await invoke(route('tenant'), {
          method: 'GET',
          params: { tenantId: tenantId! },
          query: {},
          headers: {},
        })
      ).text,
    ) as { displayName: string };
    const applied = Number(/^counter-(\d+)$/.exec(final.displayName)?.[1] ?? 0);
    figures.lostUpdates = options.updates - applied;
    const retries = results.reduce((sum, result) => sum + result.attempts - 1, 0);
    console.log(`- ${options.updates} concurrent updates: ${applied} applied, ${retries} retries after 412`);
    if (figures.lostUpdates !== 0)
      figures.failures.push(
        `operators: ${figures.lostUpdates} of ${options.updates} concurrent updates were lost`,
      );

    // Two timers firing at once start exactly one run; an on-demand run meanwhile is refused with 409.
    const before = (await fleet.runtime.runs.listRuns(200)).length;
    const host = await fleet.host();
    await Promise.all([host.fireTimer(), host.fireTimer()]);
    const runs = await fleet.runtime.runs.listRuns(200);
    const started = runs.length - before;
    figures.runsOverlapping = Math.max(0, started - 1);
    console.log(`- two timers at once: ${started} run(s) started`);
    if (started !== 1)
      figures.failures.push(`operators: two timers at once started ${started} runs (expected 1)`);
    const onDemand = await invoke(route('runs'), {
      method: 'POST',
      params: {},
      query: {},
      headers: {},
      body: '',
    });
    console.log(`- on-demand run during the scheduled one: ${onDemand.status}`);
    if (onDemand.status !== 409)
      figures.failures.push(
        `operators: an on-demand run during a scheduled one answered ${onDemand.status} (expected 409)`,
      );
    const running = runs.find((run) => run.status === 'running');
    if (running)
      await runScheduledSweep(host, fleet.runtime, {
        resume: { runId: running.runId, startedAt: running.startedAt, finished: 0, requeued: 0, total: 0 },
        timeoutMs: 120_000,
      });
    const after = await fleet.runtime.runs.listRuns(200);
    if (after.some((run) => run.status === 'running'))
      figures.failures.push('operators: the scheduled run did not close');
    options.transcript.push(...fleet.logs, onDemand.text);
  } finally {
    await fleet.close();
  }
}

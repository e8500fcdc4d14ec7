/**
 * HTTP abuse: the seeded fuzzer against every registered route of a swept demo fleet, then the
 * registry, inventory and customer blobs compared by digest with what they were before.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpRoutes } from '../src/functions/shared/routes.js';
import { runScheduledSweep } from '../dev/local-host.js';
import { changedTables, firstDifference, sha256, tableDigests } from './digest.js';
import { fuzz, type FuzzResult } from './fuzz.js';
import { invoke } from './invoke.js';
import { registerWorld, ROOT, startPhaseFleet, type PhaseFleet } from './world.js';
import type { FaultFigures } from './report.js';

/** Imports every HTTP function module, so httpRoutes() lists every route the app has. */
export async function loadAllRoutes(): Promise<void> {
  const { readdir } = await import('node:fs/promises');
  const directory = join(ROOT, 'src', 'functions');
  const warn = console.warn;
  console.warn = () => undefined; // @azure/functions' "test mode" notice outside the host
  try {
    for (const file of (await readdir(directory)).filter((name) => name.endsWith('.ts')).sort())
      await import(join(directory, file));
  } finally {
    console.warn = warn;
  }
}

/** The customer blobs as the API lists them, for every tenant's accounts and containers. */
async function blobDigest(fleet: PhaseFleet): Promise<{ digest: string; listings: number }> {
  const route = (name: string) => httpRoutes().find((candidate) => candidate.name === name)!.handler;
  const world = fleet.sandbox.store.world;
  const parts: string[] = [];
  for (const account of world.storageAccounts) {
    const tenantId =
      world.subscriptions.find((sub) => sub.subscriptionId === account.subscriptionId)?.tenantId ?? '';
    const base = { tenantId, account: account.name };
    const containers = await invoke(route('storageContainers'), {
      method: 'GET',
      params: base,
      query: {},
      headers: {},
    });
    parts.push(`${account.name} ${containers.status} ${containers.text}`);
    for (const container of account.containers) {
      const blobs = await invoke(route('storageBlobs'), {
        method: 'GET',
        params: { ...base, container: container.name, blobName: '' },
        query: {},
        headers: {},
      });
      parts.push(`${account.name}/${container.name} ${blobs.status} ${blobs.text}`);
    }
  }
  return { digest: sha256(parts.join('\n')), listings: parts.length };
}

export async function abusePhase(
  figures: FaultFigures,
  options: { connectionString: string; requests: number; seed: number; transcript: string[] },
): Promise<void> {
  await loadAllRoutes();
  const world = JSON.parse(await readFile(join(ROOT, 'sandbox', 'worlds', 'demo.json'), 'utf8')) as never;
  const fleet = await startPhaseFleet(world, options.connectionString);
  try {
    const tenantIds = await registerWorld(fleet);
    const runId = await runScheduledSweep(await fleet.host(), fleet.runtime, { timeoutMs: 120_000 });
    // The audit log records every write attempt, refused ones included (that is its job): not compared.
    const compared = (table: string): boolean =>
      !/runs|runtenants|audit/.test(table.slice(fleet.prefix.length));
    const before = await tableDigests(options.connectionString, fleet.prefix, compared);
    const blobsBefore = await blobDigest(fleet);
    const storageAccounts = fleet.sandbox.store.world.storageAccounts;
    const routes = httpRoutes();
    console.log(
      `- fuzzing ${routes.length} routes (${routes.map((route) => route.name).join(', ')}) with ${options.requests} requests`,
    );
    const result: FuzzResult = await fuzz(
      routes,
      {
        tenantIds,
        accounts: storageAccounts.map((account) => account.name),
        containers: storageAccounts.flatMap((account) =>
          account.containers.map((container) => container.name),
        ),
        runIds: [runId],
      },
      {
        seed: options.seed,
        requests: options.requests,
        timeoutMs: 30_000,
        concurrency: 8,
        onProgress: (done) => {
          if (done % 2000 === 0) console.log(`  ${done} requests`);
        },
      },
    );
    const after = await tableDigests(options.connectionString, fleet.prefix, compared);
    const blobsAfter = await blobDigest(fleet);
    figures.fuzzRequests = result.requests;
    figures.responsesByStatus = result.byStatus;
    // A 502 that carries a diagnosis is the product's answer to a customer-side refusal (the tenant's
    // Entra, ARM or Storage said no to a well-formed read), not a server error: counted apart.
    const diagnosed = (answer: string): boolean => /^\{"error":\{"code":"(?!InternalError)/.test(answer);
    const upstream = result.serverErrors.filter((error) => error.status === 502 && diagnosed(error.answer));
    result.serverErrors = result.serverErrors.filter((error) => !upstream.includes(error));
    figures.responses5xx = result.serverErrors.length;
    figures.responses502Diagnosed = upstream.length;
    figures.hangs = result.hangs.length;
    options.transcript.push(...result.transcript, ...fleet.logs);
    for (const error of result.serverErrors.slice(0, 10))
      figures.failures.push(
        `fuzz: ${error.method} ${error.route} answered ${error.status}: ${error.answer} <- ${error.request}`,
      );
    if (result.serverErrors.length > 10)
      figures.failures.push(`fuzz: ${result.serverErrors.length - 10} more 5xx answers`);
    for (const hang of result.hangs.slice(0, 5))
      figures.failures.push(`fuzz: ${hang.method} ${hang.route} hung: ${hang.request}`);
    const changed = changedTables(before, after);
    for (const table of changed)
      figures.failures.push(
        `fuzz: table ${table} changed by malformed requests: ${firstDifference(before, after, table)}`,
      );
    if (Object.values(before.entities).reduce((a, b) => a + b, 0) === 0)
      figures.failures.push('fuzz: the compared tables were empty (nothing to protect)');
    if (blobsBefore.digest !== blobsAfter.digest) figures.failures.push('fuzz: customer blobs changed');
    console.log(
      `  ${result.requests} requests, statuses ${JSON.stringify(result.byStatus)}; tables compared: ${Object.keys(before.tables).length} (${JSON.stringify(before.entities)}), blob listings: ${blobsBefore.listings}`,
    );
  } finally {
    await fleet.close();
  }
}

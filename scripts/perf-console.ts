/**
 * `npm run perf:console`: how fast the console's first views answer on a generated 1,000-tenant world in
 * serve mode. Generates the world, starts `npm start -- --serve` on it (which registers every tenant
 * and sweeps once), then times each API call the overview and the explorer's first page make, several
 * times each. Writes reports/performance-console.json and prints a table; asserts nothing (speed is
 * reported in docs/performance-console.md, not tested).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateWorld } from '../sandbox/generator.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000' },
    subscriptions: { type: 'string', default: '2' },
    resources: { type: 'string', default: '25' },
    repeat: { type: 'string', default: '7' },
  },
});
const tenants = Number(values.tenants);
const repeat = Number(values.repeat);

const stateDir = await mkdtemp(join(tmpdir(), 'fleet-perf-'));
const world = generateWorld({
  seed: 12,
  tenants,
  subscriptionsPerTenant: Number(values.subscriptions),
  resourcesPerSubscription: Number(values.resources),
  storageAccountsPerTenant: 1,
  containersPerAccount: 2,
  blobsPerContainer: 2,
});
await writeFile(join(stateDir, 'world.json'), JSON.stringify(world));

const started = Date.now();
const child = spawn(
  process.execPath,
  ['--import', 'tsx', 'dev/start.ts', '--serve', '--port', '0', '--state-dir', stateDir],
  { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } },
);
let output = '';
child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
const log = (line: string): void =>
  console.error(`[perf ${Math.round((Date.now() - started) / 1000)} s] ${line}`);

try {
  while (!/serving on (http:\/\/127\.0\.0\.1:\d+)/.test(output)) {
    if (child.exitCode !== null) throw new Error(`serve mode exited:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const base = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
  log(`serving on ${base}; waiting for the sweep of ${tenants} tenants`);
  for (;;) {
    const runs = (await (await fetch(`${base}/api/runs?top=1`)).json()) as {
      items: Array<{ status: string }>;
    };
    if (runs.items[0] && runs.items[0].status !== 'running') break;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  const sweepSeconds = Math.round((Date.now() - started) / 1000);
  log('sweep done; timing');

  const facets = (await (await fetch(`${base}/api/fleet/inventory/facets`)).json()) as {
    byType: Record<string, number>;
    byLocation: Record<string, number>;
    tenantNames: Array<{ tenantId: string }>;
  };
  const type = Object.keys(facets.byType)[0]!;
  const location = Object.keys(facets.byLocation)[0]!;
  const tenantId = facets.tenantNames[500]?.tenantId ?? facets.tenantNames[0]!.tenantId;
  const calls: Array<[string, string]> = [
    ['overview', '/api/fleet/overview'],
    ['explorer: first page (no filter)', '/api/fleet/inventory?top=25'],
    ['explorer: facets (charts)', '/api/fleet/inventory/facets'],
    ['explorer: first page, type filter', `/api/fleet/inventory?top=25&type=${encodeURIComponent(type)}`],
    ['explorer: first page, location filter', `/api/fleet/inventory?top=25&location=${location}`],
    ['explorer: first page, one tenant', `/api/fleet/inventory?top=25&tenantId=${tenantId}`],
    ['explorer: first page, text filter', '/api/fleet/inventory?top=25&q=vm'],
    ['change feed: first page', '/api/fleet/changes?top=25'],
    ['storage view', '/api/fleet/storage'],
    ['runs list', '/api/runs?top=50'],
  ];
  const results: Array<{
    name: string;
    path: string;
    medianMs: number;
    maxMs: number;
    bytes: number;
    items?: number;
  }> = [];
  for (const [name, path] of calls) {
    const times: number[] = [];
    let bytes = 0;
    let items: number | undefined;
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      const response = await fetch(`${base}${path}`);
      const text = await response.text();
      times.push(performance.now() - t0);
      if (!response.ok) throw new Error(`${path}: ${response.status} ${text.slice(0, 200)}`);
      bytes = text.length;
      const parsed = JSON.parse(text) as { items?: unknown[]; tenants?: unknown[] };
      items = (parsed.items ?? parsed.tenants)?.length;
    }
    times.sort((a, b) => a - b);
    results.push({
      name,
      path,
      medianMs: Math.round(times[Math.floor(times.length / 2)]!),
      maxMs: Math.round(times.at(-1)!),
      bytes,
      ...(items !== undefined ? { items } : {}),
    });
    log(`${name}: median ${results.at(-1)!.medianMs} ms`);
  }
  const report = {
    at: new Date().toISOString(),
    world: {
      tenants,
      subscriptionsPerTenant: Number(values.subscriptions),
      resourcesPerSubscription: Number(values.resources),
    },
    sweepSeconds,
    repeat,
    results,
  };
  await mkdir(join(root, 'reports'), { recursive: true });
  await writeFile(join(root, 'reports', 'performance-console.json'), JSON.stringify(report, null, 2));
  console.log(
    `World: ${tenants} tenants x ${values.subscriptions} subscriptions x ${values.resources} resources; first sweep ${sweepSeconds} s`,
  );
  console.log('| call | median | max | items | bytes |\n| --- | ---: | ---: | ---: | ---: |');
  for (const result of results)
    console.log(
      `| ${result.name} | ${result.medianMs} ms | ${result.maxMs} ms | ${result.items ?? ''} | ${result.bytes} |`,
    );
} finally {
  if (child.exitCode === null) child.kill('SIGINT');
  await exited;
  await rm(stateDir, { recursive: true, force: true });
}

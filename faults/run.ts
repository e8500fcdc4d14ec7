/**
 * `npm run test:faults [-- --quick] [-- --seed n]`: the fault and abuse suite. Each phase runs its
 * own fleet (sandbox world + a fresh prefix in one Azurite) and adds to one set of figures, printed
 * at the end and written to reports/faults.json. Exit code 1 when any check failed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { abusePhase } from './abuse.js';
import { operatorsPhase } from './operators.js';
import { fleetPhase, type FleetSize } from './fleet.js';
import { misconfigPhase } from './misconfig.js';
import { interruptedPhase } from './interrupted.js';
import { stopIdentityForwarder } from './identity-forwarder.js';
import { scannerSelfCheck, scanProviderStorage, scanText, type Leak } from './secrets.js';
import { startRestartableAzurite } from './azurite-proxy.js';
import { emptyFigures, printFigures, writeReport, type FaultFigures } from './report.js';
import { ROOT } from './world.js';

export interface SuiteSize {
  fuzzRequests: number;
  fleet: FleetSize;
  misconfigTenants: number;
}

const SIZES: Record<'quick' | 'full', SuiteSize> = {
  quick: {
    fuzzRequests: 2_000,
    fleet: { tenants: 32, resourcesPerSubscription: 10, workers: 2, randomKillsPerSweep: 1 },
    misconfigTenants: 12,
  },
  full: {
    fuzzRequests: 10_000,
    fleet: { tenants: 500, resourcesPerSubscription: 30, workers: 3, randomKillsPerSweep: 3 },
    misconfigTenants: 40,
  },
};

async function phase(figures: FaultFigures, name: string, body: () => Promise<void>): Promise<void> {
  const started = Date.now();
  console.log(`\n[${name}]`);
  try {
    await body();
  } catch (error) {
    figures.failures.push(
      `${name}: the phase failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  }
  figures.phases[name] = Math.round((Date.now() - started) / 100) / 10;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      seed: { type: 'string', default: '13' },
      only: { type: 'string' },
    },
  });
  const mode = values.quick ? 'quick' : 'full';
  const size = SIZES[mode];
  const seed = Number(values.seed);
  const figures = emptyFigures(mode, seed);
  const only = values.only?.split(',');
  const wanted = (name: string): boolean => !only || only.includes(name);
  const started = Date.now();
  const dataDir = await mkdtemp(join(tmpdir(), 'tenant-fleet-faults-'));
  const azurite = await startRestartableAzurite(join(dataDir, 'azurite'));
  const transcript: string[] = [];
  try {
    console.log(`Fault suite (${mode}, seed ${seed})`);
    // The interrupted `npm start` runs its own processes (Azurite, sandbox): alongside the other phases.
    const interrupted = wanted('interrupted')
      ? phase(figures, 'interrupted', () => interruptedPhase(figures, transcript))
      : Promise.resolve();
    if (wanted('abuse'))
      await phase(figures, 'abuse', () =>
        abusePhase(figures, {
          connectionString: azurite.connectionString,
          requests: size.fuzzRequests,
          seed,
          transcript,
        }),
      );
    if (wanted('operators'))
      await phase(figures, 'operators', () =>
        operatorsPhase(figures, { connectionString: azurite.connectionString, updates: 100, transcript }),
      );
    if (wanted('fleet'))
      await phase(figures, 'fleet', () =>
        fleetPhase(figures, { azurite, size: size.fleet, seed, transcript }),
      );
    if (wanted('misconfig'))
      await phase(figures, 'misconfig', () =>
        misconfigPhase(figures, {
          connectionString: azurite.connectionString,
          tenants: size.misconfigTenants,
          seed,
          transcript,
        }),
      );
    await interrupted;
    await phase(figures, 'secrets', async () => {
      if (!scannerSelfCheck()) figures.failures.push('secrets: the scanner missed a planted canary');
      const leaks: Leak[] = [];
      transcript.forEach((text, index) => scanText(`answer or log #${index}`, text, leaks));
      const items = await scanProviderStorage(azurite.connectionString, leaks);
      scanText('reports/faults.json', JSON.stringify(figures), leaks);
      figures.leaksFound = leaks.length;
      console.log(
        `- scanned ${transcript.length} answers and log lines, ${items} stored entities and blobs, the report`,
      );
      for (const leak of leaks.slice(0, 10))
        figures.failures.push(`secrets: ${leak.what} in ${leak.where} (${leak.excerpt})`);
    });
  } finally {
    await stopIdentityForwarder();
    await azurite.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  figures.phases.total = Math.round((Date.now() - started) / 100) / 10;
  const reportPath = join(ROOT, 'reports', 'faults.json');
  await writeReport(reportPath, figures);
  printFigures(figures);
  console.log(`report: ${reportPath}`);
  return figures.failures.length === 0 ? 0 : 1;
}

process.exitCode = await main();

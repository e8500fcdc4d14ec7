/**
 * `npm run bench`: measures Tenant Fleet against the naive loop and the ideal bound on a generated
 * world, then runs the scaling series. Prints a table, writes reports/bench.json and the series chart.
 * It asserts nothing about time: the targets are reported as met or not.
 *
 * Processes: this one (orchestration and the counting storage proxy), Azurite, the sandbox cloud,
 * and one process per contender, so each RSS and CPU figure belongs to one of them.
 */
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { evaluateTargets, worldFigures, type WorldFigures } from './figures.js';
import { measureWorld } from './measure.js';
import { BenchUsageError, parseBenchArgs, USAGE, type BenchOptions } from './options.js';
import { formatReport, writeReport, type BenchReport, type SeriesEntry } from './report.js';
import { ROOT } from './sandbox-process.js';

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

/** Runs every measurement the options ask for and assembles the report. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const main = worldFigures(
    await measureWorld(options.world, options.arm, { naive: options.naive, log, label: 'default world' }),
  );
  const series: SeriesEntry[] = [];
  if (options.series.enabled) {
    for (const multiplier of options.series.multipliers) {
      const world = {
        ...options.world,
        tenants: options.series.tenants,
        resourcesPerSubscription: options.world.resourcesPerSubscription * multiplier,
      };
      const figures = worldFigures(
        await measureWorld(world, options.arm, { naive: false, log, label: `series x${multiplier}` }),
      );
      series.push({ multiplier, ...figures });
    }
  }
  const largest: WorldFigures | undefined = series[series.length - 1];
  return {
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    options,
    tenants: main.tenants,
    subscriptions: main.subscriptions,
    resources: main.resources,
    fleetMs: main.first.wallMs,
    repeatSweepMs: main.repeat.wallMs,
    naiveMs: main.naive?.wallMs ?? null,
    idealMs: main.idealMs,
    speedupVsNaive: main.naive?.speedupVsNaive ?? null,
    speedupVsNaiveRepeatSweep: main.naive?.speedupVsNaiveRepeat ?? null,
    ratioToIdeal: main.first.ratioToIdeal,
    ratioToIdealRepeatSweep: main.repeat.ratioToIdeal,
    miRequests: main.first.miRequests,
    tokenRequests: main.first.tokenRequests,
    armRequests: main.first.armRequests,
    tableRequestsPer1000Rows: main.first.tableRequestsPer1000Rows,
    repeatSweepWrites: main.repeat.inventoryRowsWritten,
    repeatSweepWritesAllTables: main.repeat.rowsWritten,
    peakRssMb: main.first.processPeakRssMb,
    peakRssMbLargestSeriesPoint: largest
      ? Math.max(largest.first.processPeakRssMb, largest.repeat.processPeakRssMb)
      : null,
    targets: evaluateTargets(main, largest),
    main,
    series,
  };
}

async function cli(): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const started = Date.now();
  const report = await runBench(options);
  process.stdout.write(`${formatReport(report)}\n`);
  const written = await writeReport(report, resolve(ROOT, options.reportDirectory));
  process.stdout.write(
    `\nWrote ${written.join(', ')} (${Math.round((Date.now() - started) / 1000)} s in all)\n`,
  );
  return 0;
}

cli().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);

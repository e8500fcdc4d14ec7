/**
 * The benchmark as a function: every measurement the options ask for, assembled into the report
 * (bench/run.ts is the command line around it; the smoke test calls it on a tiny world).
 */
import { cpus, totalmem } from 'node:os';
import { compileContenders } from './compile.js';
import {
  bookkeepingPerTenant,
  evaluateTargets,
  cpuFloorFirstToStorageFloor,
  cpuFloorSpeedupVsNaiveRepeat,
  firstSweepToStorageFloor,
  peakRss,
  worldFigures,
  type WorldFigures,
} from './figures.js';
import { measureFanout, type FanoutFigures } from './fanout.js';
import { measureWorld } from './measure.js';
import type { BenchOptions } from './options.js';
import type { BenchReport, SeriesEntry } from './report.js';

export type BenchLog = (line: string) => void;

/** Runs every measurement the options ask for and assembles the report. */
export async function runBench(options: BenchOptions, log: BenchLog = () => undefined): Promise<BenchReport> {
  log('compiling the contenders (they run as JavaScript, as in Azure)');
  const compiledDirectory = await compileContenders();
  const main = worldFigures(
    await measureWorld(options.world, options.arm, {
      naive: options.naive,
      storageFloor: options.storageFloor,
      cpuFloor: options.cpuFloor,
      log,
      label: 'default world',
      compiledDirectory,
    }),
  );
  const series: SeriesEntry[] = [];
  const seriesFailures: Array<{ multiplier: number; error: string }> = [];
  if (options.series.enabled) {
    for (const multiplier of options.series.multipliers) {
      const world = {
        ...options.world,
        tenants: options.series.tenants,
        resourcesPerSubscription: options.world.resourcesPerSubscription * multiplier,
      };
      try {
        const figures = worldFigures(
          await measureWorld(world, options.arm, {
            naive: false,
            storageFloor: false,
            cpuFloor: false,
            log,
            label: `series x${multiplier}`,
            compiledDirectory,
          }),
        );
        series.push({ multiplier, ...figures });
      } catch (error) {
        // One failed point must not lose the others (a run takes long): it is reported as failed.
        const message = (error as Error).message;
        log(`series x${multiplier} failed: ${message}`);
        seriesFailures.push({ multiplier, error: message });
      }
    }
  }
  let fanout: FanoutFigures | undefined;
  if (options.fleetScale.fanoutTenants > 0) {
    fanout = await measureFanout(options.fleetScale.fanoutTenants, options.arm, { log, compiledDirectory });
  }
  let largeTenant: WorldFigures | undefined;
  const large = options.fleetScale.largeTenant;
  if (large) {
    largeTenant = worldFigures(
      await measureWorld(
        {
          ...options.world,
          tenants: 1,
          subscriptionsPerTenant: large.subscriptions,
          resourcesPerSubscription: large.resources,
        },
        options.arm,
        {
          naive: false,
          storageFloor: false,
          cpuFloor: false,
          log,
          label: `large tenant 1x${large.subscriptions}x${large.resources}`,
          compiledDirectory,
        },
      ),
    );
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
    storageFloorMs: main.storageFloor?.wallMs ?? null,
    speedupVsNaiveCeiling: main.storageFloor?.speedupCeiling ?? null,
    miRequests: main.first.miRequests,
    tokenRequests: main.first.tokenRequests,
    armRequests: main.first.armRequests,
    tableRequestsPer1000Rows: main.first.inventoryWritesPer1000Rows,
    tableRequestsPer1000RowsAllTables: main.first.tableRequestsPer1000Rows,
    repeatSweepWrites: main.repeat.inventoryRowsWritten,
    repeatSweepWritesAllTables: main.repeat.rowsWritten,
    peakRssMb: main.first.processPeakRssMb,
    peakRssMbLargestSeriesPoint: largest ? peakRss(largest) : null,
    firstSweepToStorageFloor: firstSweepToStorageFloor(main),
    azuriteCpuFirstToStorageFloor: main.storageFloor?.azuriteCpuFirstToFloor ?? null,
    cpuFloorFirstToStorageFloor: cpuFloorFirstToStorageFloor(main),
    cpuFloorSpeedupVsNaiveRepeat: cpuFloorSpeedupVsNaiveRepeat(main),
    fleetCpuUsPerResourceRepeat: main.repeat.cpuUsPerResource,
    fleetCpuUsPerResourceFirst: main.first.cpuUsPerResource,
    cpuFloorUsPerResourceFirst: main.cpuFloor?.first.cpuUsPerResource ?? null,
    cpuFloorUsPerResourceRepeat: main.cpuFloor?.repeat.cpuUsPerResource ?? null,
    fleetCpuToFloorFirst: main.cpuFloor?.first.fleetCpuToFloor ?? null,
    fleetCpuToFloorRepeat: main.cpuFloor?.repeat.fleetCpuToFloor ?? null,
    bookkeepingRequestsPerTenant: bookkeepingPerTenant(main),
    inventoryWritesToTransactionFloor: main.first.inventoryWritesToTransactionFloor,
    repeatSweepWritesPerSubscription: main.repeat.writesPerSubscription,
    tokenRequestsPerTenant: main.first.tokenRequestsPerTenant,
    targets: evaluateTargets(main, series, { fanout, largeTenant }),
    main,
    series,
    ...(fanout ? { fanout } : {}),
    ...(largeTenant ? { largeTenant } : {}),
    seriesFailures,
  };
}

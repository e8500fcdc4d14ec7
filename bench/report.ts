/**
 * The benchmark's outputs: the table on stdout, reports/bench.json and the series chart.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seriesChart, type SeriesPoint } from './chart.js';
import type { FanoutFigures } from './fanout.js';
import { peakRss, type Target, type WorldFigures } from './figures.js';
import type { BenchOptions } from './options.js';

export interface SeriesEntry extends WorldFigures {
  multiplier: number;
}

export interface BenchReport {
  generatedAt: string;
  machine: { cpus: number; memoryGb: number; node: string };
  options: BenchOptions;
  // The figures the issue names, for the default world (first sweep unless said otherwise).
  tenants: number;
  subscriptions: number;
  resources: number;
  fleetMs: number;
  repeatSweepMs: number;
  naiveMs: number | null;
  idealMs: number;
  speedupVsNaive: number | null;
  speedupVsNaiveRepeatSweep: number | null;
  ratioToIdeal: number;
  ratioToIdealRepeatSweep: number;
  /**
   * Azurite alone storing the first sweep's Table writes (null when not measured): no sweep that stores
   * these rows in this emulator can be faster, whatever the product does.
   */
  storageFloorMs: number | null;
  /** naiveMs / storageFloorMs: the largest speedup over the naive loop reachable against this emulator. */
  speedupVsNaiveCeiling: number | null;
  miRequests: number;
  tokenRequests: number;
  armRequests: number;
  /** Write requests of the inventory writers per 1,000 rows they wrote (transactions of up to 100). */
  tableRequestsPer1000Rows: number;
  /** Every table request of the sweep (reads, registry and run rows too) per 1,000 rows written. */
  tableRequestsPer1000RowsAllTables: number;
  /** Inventory and change rows the repeat sweep wrote (the marker rows; change detection's cost). */
  repeatSweepWrites: number;
  /** Every row the repeat sweep wrote, run and registry bookkeeping included. */
  repeatSweepWritesAllTables: number;
  /** Peak RSS of the fleet's process on the default world, MiB. */
  peakRssMb: number;
  /** Peak RSS of the fleet's process at the series' largest point (the 1,000,000-resource target). */
  peakRssMbLargestSeriesPoint: number | null;
  // Issue 15's targets (each also a row of `targets`).
  /** First sweep wall time / storage floor of the same run (null without the floor). */
  firstSweepToStorageFloor: number | null;
  /**
   * Azurite's CPU in the first sweep over its CPU in the storage floor (null without the floor): how
   * much of firstSweepToStorageFloor is Azurite working more, and not waiting.
   */
  azuriteCpuFirstToStorageFloor: number | null;
  /**
   * The CPU floor's first sweep wall time / the storage floor (null without either): the sweep's own
   * requests sent with no product logic, and without waiting for ARM before writing, came this close
   * to the floor. What the machine allows firstSweepToStorageFloor, whatever the product does.
   */
  cpuFloorFirstToStorageFloor: number | null;
  /** naiveMs / the CPU floor's repeat sweep wall time: what speedupVsNaiveRepeatSweep can reach here. */
  cpuFloorSpeedupVsNaiveRepeat: number | null;
  /** Fleet CPU per resource, microseconds, repeat and first sweep. */
  fleetCpuUsPerResourceRepeat: number;
  fleetCpuUsPerResourceFirst: number;
  /**
   * The CPU floor (null when not measured): the process CPU per resource that the sweep's requests
   * alone cost (the same ARM pages, tokens and storage requests through the same SDK clients, no
   * product logic), and the fleet's CPU over it.
   */
  cpuFloorUsPerResourceFirst: number | null;
  cpuFloorUsPerResourceRepeat: number | null;
  fleetCpuToFloorFirst: number | null;
  fleetCpuToFloorRepeat: number | null;
  /** Table requests per tenant outside inventory and change rows, the larger of the two sweeps. */
  bookkeepingRequestsPerTenant: number;
  /** First sweep's inventory write requests / the sum over partitions of ceil(rows / 100). */
  inventoryWritesToTransactionFloor: number;
  repeatSweepWritesPerSubscription: number;
  tokenRequestsPerTenant: { min: number; max: number };
  targets: Target[];
  main: WorldFigures;
  series: SeriesEntry[];
  /** Starting a run for many registered tenants (--fanout-tenants), when measured. */
  fanout?: FanoutFigures;
  /** One very large tenant's sweeps (--large-tenant), when measured. */
  largeTenant?: WorldFigures;
  /** Series points that failed (the others are still reported). */
  seriesFailures: Array<{ multiplier: number; error: string }>;
}

const seconds = (ms: number): string => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
const integer = (value: number): string => value.toLocaleString('en-US');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
        .join('  '),
    )
    .join('\n');
}

/** CPU seconds of the contender, Azurite, the sandbox and the bench process (its counting proxy). */
function cpuCell(contender: number, others: { azurite: number; sandbox: number; bench: number }): string {
  return [contender, others.azurite, others.sandbox, others.bench].map(seconds).join(' / ');
}

/** The text printed on stdout. */
export function formatReport(report: BenchReport): string {
  const { main, options } = report;
  const arm = options.arm;
  const lines: string[] = [];
  lines.push(
    `Tenant Fleet benchmark: ${integer(main.tenants)} tenants x ${options.world.subscriptionsPerTenant} subscriptions x ` +
      `${integer(options.world.resourcesPerSubscription)} resources = ${integer(main.resources)} resources; ARM ${arm.latencyMs} ms per request, ` +
      `pages of ${arm.pageSize}, throttling ${arm.throttle.enabled ? `${arm.throttle.burst} burst + ${arm.throttle.refillPerSecond}/s` : 'off'}`,
  );
  lines.push(
    `Ideal bound: ${seconds(main.idealMs)} s (${main.idealWaves} waves of ${report.main.tenants > 0 ? 'up to ' : ''}workers x ${main.idealTenantMs} ms per tenant, ${integer(main.idealArmRequests)} ARM requests)`,
  );
  const floor = main.storageFloor;
  if (floor) {
    lines.push(
      `Storage floor: ${seconds(floor.wallMs)} s (Azurite alone storing the first sweep's ${integer(floor.requests)} Table writes, ` +
        `${integer(floor.rows)} rows, ${floor.concurrency} at a time; ${seconds(floor.azuriteCpuMs)} s of its CPU` +
        `${floor.failed ? `; ${integer(floor.failed)} REFUSED` : ''})`,
    );
  }
  const cpuFloor = main.cpuFloor;
  if (cpuFloor) {
    const { first, repeat } = cpuFloor;
    const differing = (sweep: typeof first): number =>
      sweep.differing.table + sweep.differing.queue + sweep.differing.blob;
    lines.push(
      `CPU floor: ${seconds(first.cpuMs)} s / ${seconds(repeat.cpuMs)} s of CPU in ${seconds(first.wallMs)} s / ${seconds(repeat.wallMs)} s ` +
        `(first / repeat sweep) for the sweeps' requests alone, ` +
        `sent again by a process with the fleet's Node options and SDK clients and no product logic: ` +
        `${integer(first.armRequests)} / ${integer(repeat.armRequests)} ARM pages, ${integer(first.tokenRequests)} / ${integer(repeat.tokenRequests)} tokens, ` +
        `${integer(first.tableRequests)} / ${integer(repeat.tableRequests)} table, ${integer(first.queueRequests)} / ${integer(repeat.queueRequests)} queue, ` +
        `${integer(first.blobRequests)} / ${integer(repeat.blobRequests)} blob requests as the fleet sent them ` +
        `(${integer(differing(first))} / ${integer(differing(repeat))} answered otherwise than the fleet's; queue answers not parsed)`,
    );
  }
  lines.push('');
  const naive = main.naive;
  const rows: string[][] = [
    ['', 'fleet: first sweep', 'fleet: repeat sweep', 'naive loop'],
    [
      'wall time (s)',
      seconds(main.first.wallMs),
      seconds(main.repeat.wallMs),
      naive ? seconds(naive.wallMs) : '-',
    ],
    [
      'ratio to ideal bound',
      `${main.first.ratioToIdeal}x`,
      `${main.repeat.ratioToIdeal}x`,
      naive ? `${(naive.wallMs / main.idealMs).toFixed(1)}x` : '-',
    ],
    [
      'speedup naive / fleet',
      naive ? `${naive.speedupVsNaive}x` : '-',
      naive ? `${naive.speedupVsNaiveRepeat}x` : '-',
      '1x',
    ],
    [
      'MI requests',
      integer(main.first.miRequests),
      integer(main.repeat.miRequests),
      naive ? integer(naive.miRequests) : '-',
    ],
    [
      'token requests',
      integer(main.first.tokenRequests),
      integer(main.repeat.tokenRequests),
      naive ? integer(naive.tokenRequests) : '-',
    ],
    [
      'ARM requests',
      integer(main.first.armRequests),
      integer(main.repeat.armRequests),
      naive ? integer(naive.armRequests) : '-',
    ],
    [
      'TLS connections (Entra, ARM)',
      integer(main.first.tlsConnections),
      integer(main.repeat.tlsConnections),
      naive ? integer(naive.tlsConnections) : '-',
    ],
    [
      'table requests',
      integer(main.first.tableRequests),
      integer(main.repeat.tableRequests),
      naive ? integer(naive.tableRequests) : '-',
    ],
    [
      'rows written (all tables)',
      integer(main.first.rowsWritten),
      integer(main.repeat.rowsWritten),
      naive ? integer(naive.rowsWritten) : '-',
    ],
    [
      '  of which inventory+changes',
      integer(main.first.inventoryRowsWritten),
      integer(main.repeat.inventoryRowsWritten),
      '-',
    ],
    [
      'table requests / 1,000 rows (all)',
      main.first.tableRequestsPer1000Rows.toFixed(2),
      main.repeat.tableRequestsPer1000Rows.toFixed(2),
      naive && naive.rowsWritten ? ((naive.tableRequests / naive.rowsWritten) * 1000).toFixed(2) : '-',
    ],
    [
      '  inventory writes / transaction floor',
      `${main.first.inventoryWriteRequests} / ${main.first.transactionFloor}`,
      `${main.repeat.inventoryWriteRequests} / ${main.repeat.transactionFloor}`,
      '-',
    ],
    [
      'bookkeeping requests per tenant',
      main.first.bookkeeping.perTenant.toFixed(2),
      main.repeat.bookkeeping.perTenant.toFixed(2),
      '-',
    ],
    [
      'fleet CPU per resource (us)',
      main.first.cpuUsPerResource.toFixed(1),
      main.repeat.cpuUsPerResource.toFixed(1),
      '-',
    ],
    [
      'CPU floor per resource (us)',
      cpuFloor ? cpuFloor.first.cpuUsPerResource.toFixed(1) : '-',
      cpuFloor ? cpuFloor.repeat.cpuUsPerResource.toFixed(1) : '-',
      '-',
    ],
    [
      'fleet CPU / CPU floor',
      cpuFloor ? `${cpuFloor.first.fleetCpuToFloor}x` : '-',
      cpuFloor ? `${cpuFloor.repeat.fleetCpuToFloor}x` : '-',
      '-',
    ],
    [
      '  inventory writes / 1,000 rows',
      main.first.inventoryWritesPer1000Rows.toFixed(2),
      main.repeat.inventoryWritesPer1000Rows.toFixed(2),
      '-',
    ],
    [
      'peak RSS, contender process (MiB)',
      main.first.processPeakRssMb.toFixed(0),
      main.repeat.processPeakRssMb.toFixed(0),
      naive ? naive.processPeakRssMb.toFixed(0) : '-',
    ],
    [
      'CPU s: contender / Azurite / sandbox / bench',
      cpuCell(main.first.cpuMs.fleet, main.first.cpuMs),
      cpuCell(main.repeat.cpuMs.fleet, main.repeat.cpuMs),
      naive ? cpuCell(naive.cpuMs.naive, naive.cpuMs) : '-',
    ],
  ];
  lines.push(table(rows));
  lines.push(
    `Sandbox process peak RSS ${main.sandboxPeakRssMb.toFixed(0)} MiB; Azurite process peak RSS ${main.azuritePeakRssMb.toFixed(0)} MiB.`,
  );
  if (report.series.length) {
    lines.push('');
    lines.push(
      `Scaling series: ${report.series[0]!.tenants} tenants x ${options.world.subscriptionsPerTenant} subscriptions x (${options.world.resourcesPerSubscription} x multiplier) resources`,
    );
    const seriesRows: string[][] = [
      [
        'multiplier',
        'resources',
        'first sweep (s)',
        'repeat sweep (s)',
        'ideal (s)',
        'fleet peak RSS (MiB)',
        'sandbox RSS',
        'Azurite RSS',
      ],
      ...report.series.map((entry) => [
        `x${entry.multiplier}`,
        integer(entry.resources),
        seconds(entry.first.wallMs),
        seconds(entry.repeat.wallMs),
        seconds(entry.idealMs),
        Math.max(entry.first.processPeakRssMb, entry.repeat.processPeakRssMb).toFixed(0),
        entry.sandboxPeakRssMb.toFixed(0),
        entry.azuritePeakRssMb.toFixed(0),
      ]),
    ];
    lines.push(table(seriesRows));
  }
  for (const failure of report.seriesFailures)
    lines.push(`Series point x${failure.multiplier} FAILED: ${failure.error}`);
  const { fanout, largeTenant } = report;
  if (fanout) {
    lines.push('');
    lines.push(
      `Fan-out: a run started for ${integer(fanout.tenants)} registered tenants in ${seconds(fanout.wallMs)} s ` +
        `(${seconds(fanout.cpuMs)} s CPU): ${integer(fanout.tableRequests)} table requests ` +
        `(${fanout.tableRequestsToFloor}x the floor of ${integer(fanout.tableRequestFloor)}), ` +
        `${integer(fanout.queueRequests)} queue requests; peak RSS ${fanout.phasePeakRssMb.toFixed(0)} MiB ` +
        `(heap used ${fanout.heapUsedAtPeakMb.toFixed(0)} MiB)`,
    );
  }
  if (largeTenant) {
    lines.push(
      `Large tenant: 1 x ${largeTenant.subscriptions} subscriptions x ${integer(largeTenant.resources / largeTenant.subscriptions)} resources: ` +
        `first sweep ${seconds(largeTenant.first.wallMs)} s, repeat ${seconds(largeTenant.repeat.wallMs)} s ` +
        `against its ARM bound ${seconds(largeTenant.idealMs)} s; peak RSS ${peakRss(largeTenant).toFixed(0)} MiB; ` +
        `run ${largeTenant.first.runStatus} / ${largeTenant.repeat.runStatus}`,
    );
  }
  lines.push('');
  lines.push('Targets (default world; RSS at the largest series point):');
  lines.push(
    table([
      ['target', 'wanted', 'measured', 'met'],
      ...report.targets.map((target) => [
        target.name,
        target.target,
        target.value,
        target.met === true ? 'yes' : target.met === false ? 'NO' : String(target.met),
      ]),
    ]),
  );
  return lines.join('\n');
}

/** Writes bench.json and bench-series.svg; returns their paths. */
export async function writeReport(report: BenchReport, directory: string): Promise<string[]> {
  await mkdir(directory, { recursive: true });
  const written: string[] = [];
  const jsonPath = join(directory, 'bench.json');
  await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  written.push(jsonPath);
  if (report.series.length) {
    const points: SeriesPoint[] = report.series.map((entry) => ({
      multiplier: entry.multiplier,
      resources: entry.resources,
      firstSweepMs: entry.first.wallMs,
      repeatSweepMs: entry.repeat.wallMs,
      idealMs: entry.idealMs,
      peakRssMb: Math.max(entry.first.processPeakRssMb, entry.repeat.processPeakRssMb),
    }));
    const options = report.options;
    const svgPath = join(directory, 'bench-series.svg');
    await writeFile(
      svgPath,
      seriesChart(
        points,
        `${report.series[0]!.tenants} tenants x ${options.world.subscriptionsPerTenant} subscriptions; ARM ${options.arm.latencyMs} ms, pages of ${options.arm.pageSize}; ${report.generatedAt}`,
      ),
    );
    written.push(svgPath);
  }
  return written;
}

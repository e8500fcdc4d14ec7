/**
 * From measurements to the figures the issue asks for, and the targets they are held against.
 * Pure functions: the smoke test checks them on a tiny world.
 */
import type { PhaseFigures } from './contender-ipc.js';
import type { FanoutFigures } from './fanout.js';
import { FLEET_PREFIX, type WorldMeasurement } from './measure.js';
import type { StorageFloor } from './storage-floor.js';
import { emptyTable, type StorageCounts, type TableCounts } from './storage-proxy.js';

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/** Counts of the fleet's own tables (its prefix is `fleet`), by role. */
export function fleetTables(storage: StorageCounts, prefix = FLEET_PREFIX) {
  const of = (name: string): TableCounts => storage.tables[`${prefix}${name}`] ?? emptyTable();
  return {
    inventory: of('inventory'),
    changes: of('changes'),
    storage: of('storage'),
    tenants: of('tenants'),
    runs: of('runs'),
    runTenants: of('runtenants'),
    aggregates: of('aggregates'),
  };
}

export interface SweepFigures {
  wallMs: number;
  ratioToIdeal: number;
  miRequests: number;
  tokenRequests: number;
  discoveryRequests: number;
  armRequests: number;
  /** TLS connections opened to Entra and ARM (connection reuse). */
  tlsConnections: number;
  /** Fewest and most token requests any one tenant needed. */
  tokenRequestsPerTenant: { min: number; max: number };
  tableRequests: number;
  rowsWritten: number;
  tableRequestsPer1000Rows: number;
  /** Inventory and change rows only (the SubscriptionSync writers), tenant marker rows left out. */
  inventoryRowsWritten: number;
  /**
   * Requests for inventory rows, reads included: the inventory and changes tables and the storage
   * inventory's table, tenant marker rows left out.
   */
  inventoryTableRequests: number;
  /** Write requests (transactions and single writes) to the inventory and changes tables. */
  inventoryWriteRequests: number;
  /** inventoryWriteRequests per 1,000 inventory and change rows: how well the writers batch. */
  inventoryWritesPer1000Rows: number;
  /**
   * The fewest write requests that could store the inventory and change rows written: the sum over
   * their partitions of ceil(rows / 100) (a transaction holds at most 100 rows of one partition).
   */
  transactionFloor: number;
  /** inventoryWriteRequests / transactionFloor (1 = every transaction as full as the rows allow). */
  inventoryWritesToTransactionFloor: number;
  /**
   * Bookkeeping: every table request that is not an inventory request (registry, run, run-tenant and
   * lock rows, tenant markers, the console's aggregates, and any table added later), in all and per
   * tenant of the run. Counted as all table requests less the inventory's, so none is left out.
   */
  bookkeeping: { requests: number; rowsWritten: number; tenantMarkerRequests: number; perTenant: number };
  /** The fleet process's CPU per resource of the world, microseconds. */
  cpuUsPerResource: number;
  /** Requests per table of the fleet (inventory, changes, storage, tenants, runs, runTenants). */
  tables: ReturnType<typeof fleetTables>;
  queueRequests: number;
  blobRequests: number;
  /** Storage answers 5xx, and requests the proxy re-sent on a fresh connection (both should be 0). */
  storageServerErrors: number;
  proxyResends: number;
  cpuMs: { fleet: number; azurite: number; sandbox: number; bench: number };
  processPeakRssMb: number;
  phasePeakRssMb: number;
  /** Node's heap and off-heap memory when the phase's RSS peaked. */
  memoryAtPeakMb: PhaseFigures['atPeakMb'];
  tenantsSucceeded: number;
  runStatus: string;
  retried: number;
}

function sweepFigures(
  measurement: WorldMeasurement,
  sweep: WorldMeasurement['fleet']['first'],
  tenants: number,
): SweepFigures {
  const { storage, sandbox, result } = sweep;
  const tables = fleetTables(storage);
  const perTenant = Object.entries(sandbox.tokenByTenant).map(([, count]) => count);
  while (perTenant.length < tenants) perTenant.push(0);
  // Tenant marker rows live in the inventory table but are bookkeeping: counted there, not here.
  const markers = storage.tenantMarkers;
  const inventoryRows = tables.inventory.rowsWritten + tables.changes.rowsWritten - markers.rowsWritten;
  const writeRequests =
    [tables.inventory, tables.changes].reduce(
      (sum, table) => sum + table.transactions + table.singleWrites,
      0,
    ) -
    markers.transactions -
    markers.singleWrites;
  const transactionFloor = [`${FLEET_PREFIX}inventory`, `${FLEET_PREFIX}changes`].reduce(
    (sum, table) =>
      sum +
      Object.values(storage.partitionRows[table] ?? {}).reduce(
        (partitions, rows) => partitions + Math.ceil(rows / 100),
        0,
      ),
    0,
  );
  const inventoryTableRequests =
    tables.inventory.requests + tables.changes.requests + tables.storage.requests - markers.requests;
  const bookkeepingRequests = storage.table.requests - inventoryTableRequests;
  const bookkeepingRows = storage.table.rowsWritten - inventoryRows - tables.storage.rowsWritten;
  const resources =
    tenants * measurement.world.subscriptionsPerTenant * measurement.world.resourcesPerSubscription;
  return {
    wallMs: round(result.wallMs, 0),
    ratioToIdeal: round(result.wallMs / measurement.ideal.ms),
    miRequests: sandbox.managedIdentity,
    tokenRequests: sandbox.token,
    discoveryRequests: sandbox.discovery,
    armRequests: sandbox.arm,
    tlsConnections: sandbox.tlsConnections,
    tokenRequestsPerTenant: {
      min: perTenant.length ? Math.min(...perTenant) : 0,
      max: perTenant.length ? Math.max(...perTenant) : 0,
    },
    tableRequests: storage.table.requests,
    rowsWritten: storage.table.rowsWritten,
    tableRequestsPer1000Rows: storage.table.rowsWritten
      ? round((storage.table.requests / storage.table.rowsWritten) * 1000)
      : 0,
    inventoryRowsWritten: inventoryRows,
    inventoryTableRequests,
    inventoryWriteRequests: writeRequests,
    inventoryWritesPer1000Rows: inventoryRows ? round((writeRequests / inventoryRows) * 1000) : 0,
    transactionFloor,
    inventoryWritesToTransactionFloor: transactionFloor ? round(writeRequests / transactionFloor, 3) : 0,
    bookkeeping: {
      requests: bookkeepingRequests,
      rowsWritten: bookkeepingRows,
      tenantMarkerRequests: markers.requests,
      perTenant: tenants ? round(bookkeepingRequests / tenants) : 0,
    },
    cpuUsPerResource: resources ? round((result.cpuMs * 1000) / resources, 1) : 0,
    tables,
    queueRequests: storage.queue.requests,
    blobRequests: storage.blob.requests,
    storageServerErrors: storage.serverErrors,
    proxyResends: storage.proxyResends,
    cpuMs: {
      fleet: round(result.cpuMs, 0),
      azurite: round(sweep.cpuMs.azurite, 0),
      sandbox: round(sweep.cpuMs.sandbox, 0),
      bench: round(sweep.cpuMs.bench, 0),
    },
    processPeakRssMb: round(result.processPeakRssMb, 1),
    phasePeakRssMb: round(result.phasePeakRssMb, 1),
    memoryAtPeakMb: result.atPeakMb,
    tenantsSucceeded: result.totals?.succeeded ?? 0,
    runStatus: result.runStatus,
    retried: result.messages.retried,
  };
}

export interface WorldFigures {
  tenants: number;
  subscriptions: number;
  resources: number;
  idealMs: number;
  idealTenantMs: number;
  idealWaves: number;
  idealArmRequests: number;
  first: SweepFigures;
  repeat: SweepFigures & { writesPerSubscription: number };
  naive?: {
    wallMs: number;
    speedupVsNaive: number;
    speedupVsNaiveRepeat: number;
    miRequests: number;
    tokenRequests: number;
    armRequests: number;
    /** TLS connections opened to Entra and ARM (connection reuse). */
    tlsConnections: number;
    tableRequests: number;
    rowsWritten: number;
    resources: number;
    processPeakRssMb: number;
    cpuMs: { naive: number; azurite: number; sandbox: number; bench: number };
  };
  /** Azurite alone replaying the first sweep's Table writes (storage-floor.ts), when measured. */
  storageFloor?: StorageFloor & {
    /** The floor over the ideal bound: the best ratio to ideal any sweep storing these rows can reach here. */
    ratioToIdeal: number;
    /**
     * Azurite's CPU in the first sweep over its CPU in the floor. Above 1, the sweep made Azurite work
     * more than the floor's writes alone (its other storage requests, or cores shared with the fleet,
     * the sandbox and the benchmark's proxy); the rest of `firstSweepToStorageFloor` over this figure is
     * time Azurite spent waiting: for requests, or for a core.
     */
    azuriteCpuFirstToFloor: number;
    /** The naive loop over the floor: the largest speedup any sweep storing these rows can reach here. */
    speedupCeiling?: number;
  };
  /** The fleet's requests alone, sent again with no product logic (cpu-floor.ts), when measured. */
  cpuFloor?: { first: CpuFloorSweep; repeat: CpuFloorSweep };
  sandboxPeakRssMb: number;
  azuritePeakRssMb: number;
}

/** One sweep's CPU floor: what its requests alone cost a process, and the fleet's CPU over it. */
export interface CpuFloorSweep {
  wallMs: number;
  /** CPU time of the floor's process. */
  cpuMs: number;
  /**
   * Azurite's CPU answering the floor's storage requests (all of the sweep's, in an Azurite of its own
   * that shares the cores with the floor's process and the sandbox only).
   */
  azuriteCpuMs: number;
  cpuUsPerResource: number;
  /** The fleet's CPU time over the floor's, in the same sweep. */
  fleetCpuToFloor: number;
  miRequests: number;
  tokenRequests: number;
  armRequests: number;
  tableRequests: number;
  queueRequests: number;
  blobRequests: number;
  /**
   * Storage requests answered otherwise than the fleet's (success against failure; e.g. the fleet's
   * pop receipts, which the floor's queue does not know), per service.
   */
  differing: { table: number; queue: number; blob: number };
  processPeakRssMb: number;
}

function cpuFloorSweep(
  floor: NonNullable<WorldMeasurement['cpuFloor']>['first'],
  fleet: WorldMeasurement['fleet']['first'],
  resources: number,
): CpuFloorSweep {
  const { result, sandbox, storage, cpuMs } = floor;
  return {
    wallMs: round(result.wallMs, 0),
    cpuMs: round(result.cpuMs, 0),
    azuriteCpuMs: round(cpuMs.azurite, 0),
    cpuUsPerResource: resources ? round((result.cpuMs * 1000) / resources, 1) : 0,
    fleetCpuToFloor: result.cpuMs ? round(fleet.result.cpuMs / result.cpuMs) : 0,
    miRequests: sandbox.managedIdentity,
    tokenRequests: sandbox.token,
    armRequests: sandbox.arm,
    tableRequests: storage.table.requests,
    queueRequests: storage.queue.requests,
    blobRequests: storage.blob.requests,
    differing: result.differing,
    processPeakRssMb: round(result.processPeakRssMb, 1),
  };
}

export function worldFigures(measurement: WorldMeasurement): WorldFigures {
  const tenants = measurement.fleetInfo.tenants;
  const subscriptions = tenants * measurement.world.subscriptionsPerTenant;
  const first = sweepFigures(measurement, measurement.fleet.first, tenants);
  const repeat = sweepFigures(measurement, measurement.fleet.repeat, tenants);
  const naive = measurement.naive;
  const floor = measurement.storageFloor;
  const cpuFloor = measurement.cpuFloor;
  const resources = subscriptions * measurement.world.resourcesPerSubscription;
  return {
    tenants,
    subscriptions,
    resources,
    idealMs: round(measurement.ideal.ms, 0),
    idealTenantMs: round(measurement.ideal.tenantMs, 0),
    idealWaves: measurement.ideal.waves,
    idealArmRequests: measurement.ideal.armRequests,
    first,
    repeat: { ...repeat, writesPerSubscription: round(repeat.inventoryRowsWritten / subscriptions, 3) },
    ...(naive
      ? {
          naive: {
            wallMs: round(naive.result.wallMs, 0),
            speedupVsNaive: round(naive.result.wallMs / first.wallMs, 1),
            speedupVsNaiveRepeat: round(naive.result.wallMs / repeat.wallMs, 1),
            miRequests: naive.sandbox.managedIdentity,
            tokenRequests: naive.sandbox.token,
            armRequests: naive.sandbox.arm,
            tlsConnections: naive.sandbox.tlsConnections,
            tableRequests: naive.storage.table.requests,
            rowsWritten: naive.storage.table.rowsWritten,
            resources: naive.result.resources,
            processPeakRssMb: round(naive.result.processPeakRssMb, 1),
            cpuMs: {
              naive: round(naive.result.cpuMs, 0),
              azurite: round(naive.cpuMs.azurite, 0),
              sandbox: round(naive.cpuMs.sandbox, 0),
              bench: round(naive.cpuMs.bench, 0),
            },
          },
        }
      : {}),
    ...(floor
      ? {
          storageFloor: {
            ...floor,
            wallMs: round(floor.wallMs, 0),
            azuriteCpuMs: round(floor.azuriteCpuMs, 0),
            ratioToIdeal: round(floor.wallMs / measurement.ideal.ms),
            azuriteCpuFirstToFloor: floor.azuriteCpuMs ? round(first.cpuMs.azurite / floor.azuriteCpuMs) : 0,
            ...(naive ? { speedupCeiling: round(naive.result.wallMs / floor.wallMs, 1) } : {}),
          },
        }
      : {}),
    ...(cpuFloor
      ? {
          cpuFloor: {
            first: cpuFloorSweep(cpuFloor.first, measurement.fleet.first, resources),
            repeat: cpuFloorSweep(cpuFloor.repeat, measurement.fleet.repeat, resources),
          },
        }
      : {}),
    sandboxPeakRssMb: round(measurement.processes.sandbox?.peakRssMb ?? 0, 1),
    azuritePeakRssMb: round(measurement.processes.azurite?.peakRssMb ?? 0, 1),
  };
}

export interface Target {
  name: string;
  target: string;
  value: string;
  met: boolean | 'not measured';
}

/** The larger of the two sweeps' bookkeeping requests per tenant (the target holds for each sweep). */
export function bookkeepingPerTenant(main: WorldFigures): number {
  return Math.max(main.first.bookkeeping.perTenant, main.repeat.bookkeeping.perTenant);
}

/** First sweep wall time over the storage floor of the same run (null without a floor). */
export function firstSweepToStorageFloor(main: WorldFigures): number | null {
  return main.storageFloor ? round(main.first.wallMs / main.storageFloor.wallMs) : null;
}

/**
 * The CPU floor's first sweep over the storage floor (null without either): the sweep's own requests,
 * sent again with no product logic and without waiting for ARM before writing, against Azurite storing
 * the inventory writes alone. No sweep that sends these requests on this machine can come closer to the
 * storage floor than a sender that does nothing else, so firstSweepToStorageFloor is read against it.
 */
export function cpuFloorFirstToStorageFloor(main: WorldFigures): number | null {
  return main.storageFloor && main.cpuFloor
    ? round(main.cpuFloor.first.wallMs / main.storageFloor.wallMs)
    : null;
}

/**
 * The naive loop over the CPU floor's repeat sweep (null without either): the speedup the repeat
 * sweep's requests alone reach on this machine, with no product logic; speedupVsNaiveRepeatSweep is
 * read against it.
 */
export function cpuFloorSpeedupVsNaiveRepeat(main: WorldFigures): number | null {
  return main.naive && main.cpuFloor?.repeat.wallMs
    ? round(main.naive.wallMs / main.cpuFloor.repeat.wallMs, 1)
    : null;
}

/** The fleet's peak RSS of a world (first or repeat sweep, whichever is higher). */
export function peakRss(world: WorldFigures): number {
  return Math.max(world.first.processPeakRssMb, world.repeat.processPeakRssMb);
}

/** The CPU floor beside a fleet CPU target's value: what the sweep's requests alone cost. */
function cpuFloorNote(floor: CpuFloorSweep | undefined): string {
  return floor ? ` (CPU floor ${floor.cpuUsPerResource} us, fleet ${floor.fleetCpuToFloor}x it)` : '';
}

/** The CPU floor's figure beside a wall-time target's value: the same requests sent with no product logic. */
function requestsAlone(figure: number | null, unit: string): string {
  return figure === null ? '' : `; the requests alone ${figure}${unit}`;
}

/** Peak RSS may grow this much from the series' smallest point to its largest and still count as flat. */
export const FLAT_RSS_RATIO = 1.5;

/** The targets (issue 15), on the default world's figures and the scaling series. */
export function evaluateTargets(
  main: WorldFigures,
  series: WorldFigures[],
  scale: { fanout?: FanoutFigures | undefined; largeTenant?: WorldFigures | undefined } = {},
): Target[] {
  const targets: Target[] = [];
  const { first, repeat } = main;
  const naive = main.naive;
  const floorRatio = firstSweepToStorageFloor(main);
  targets.push({
    name: 'firstSweepToStorageFloor',
    target: '<= 1.2',
    value:
      floorRatio === null
        ? '-'
        : `${floorRatio} (${(first.wallMs / 1000).toFixed(1)} s / ${(main.storageFloor!.wallMs / 1000).toFixed(1)} s; ` +
          `Azurite's CPU ${main.storageFloor!.azuriteCpuFirstToFloor}x its floor's` +
          `${requestsAlone(cpuFloorFirstToStorageFloor(main), '')})`,
    met: floorRatio === null ? 'not measured' : floorRatio <= 1.2,
  });
  targets.push({
    name: 'fleetCpuUsPerResourceRepeat',
    target: '<= 25 us',
    value: `${repeat.cpuUsPerResource} us${cpuFloorNote(main.cpuFloor?.repeat)}`,
    met: repeat.cpuUsPerResource <= 25,
  });
  targets.push({
    name: 'fleetCpuUsPerResourceFirst',
    target: '<= 60 us',
    value: `${first.cpuUsPerResource} us${cpuFloorNote(main.cpuFloor?.first)}`,
    met: first.cpuUsPerResource <= 60,
  });
  targets.push({
    name: 'speedupVsNaiveRepeatSweep',
    target: '>= 50x',
    value: naive
      ? `${naive.speedupVsNaiveRepeat}x (first sweep ${naive.speedupVsNaive}x` +
        `${requestsAlone(cpuFloorSpeedupVsNaiveRepeat(main), 'x')})`
      : '-',
    met: naive ? naive.speedupVsNaiveRepeat >= 50 : 'not measured',
  });
  const bookkeeping = bookkeepingPerTenant(main);
  targets.push({
    name: 'bookkeepingRequestsPerTenant',
    target: '<= 4',
    value: `${bookkeeping} (first sweep ${first.bookkeeping.perTenant}, repeat ${repeat.bookkeeping.perTenant})`,
    met: bookkeeping <= 4,
  });
  targets.push({
    name: 'inventoryWritesToTransactionFloor',
    target: '<= 1.05',
    value: `${first.inventoryWritesToTransactionFloor} (${first.inventoryWriteRequests} / ${first.transactionFloor})`,
    met: first.inventoryWritesToTransactionFloor <= 1.05,
  });
  targets.push({
    name: 'repeatSweepWritesPerSubscription',
    target: '<= 1',
    value: String(repeat.writesPerSubscription),
    met: repeat.writesPerSubscription <= 1,
  });
  targets.push({
    name: 'miRequests',
    target: '1 per sweep',
    value: String(first.miRequests),
    met: first.miRequests === 1,
  });
  targets.push({
    name: 'tokenRequests per tenant',
    target: '1',
    value:
      first.tokenRequestsPerTenant.min === first.tokenRequestsPerTenant.max
        ? String(first.tokenRequestsPerTenant.min)
        : `${first.tokenRequestsPerTenant.min}..${first.tokenRequestsPerTenant.max}`,
    met: first.tokenRequestsPerTenant.min === 1 && first.tokenRequestsPerTenant.max === 1,
  });
  const largest = series[series.length - 1];
  const smallest = series[0];
  if (largest && smallest && largest.resources >= 1_000_000) {
    const peak = peakRss(largest);
    const growth = round(peak / peakRss(smallest));
    targets.push({
      name: 'peakRssMbLargestSeriesPoint',
      target: `< 300 MB, flat (<= ${FLAT_RSS_RATIO}x)`,
      value: `${peak} MB at ${largest.resources.toLocaleString('en-US')} resources (${growth}x the smallest point)`,
      met: peak < 300 && growth <= FLAT_RSS_RATIO,
    });
  } else {
    targets.push({
      name: 'peakRssMbLargestSeriesPoint',
      target: `< 300 MB, flat (<= ${FLAT_RSS_RATIO}x)`,
      value: largest ? `largest series point has ${largest.resources} resources` : 'series not run',
      met: 'not measured',
    });
  }
  const { fanout, largeTenant } = scale;
  targets.push({
    name: 'fanoutTableRequestsToFloor',
    target: '<= 1.1',
    value: fanout
      ? `${fanout.tableRequestsToFloor} (${fanout.tableRequests} / ${fanout.tableRequestFloor} at ${fanout.tenants.toLocaleString('en-US')} tenants; peak RSS ${fanout.phasePeakRssMb} MB)`
      : '-',
    met: fanout ? fanout.tableRequestsToFloor <= 1.1 : 'not measured',
  });
  targets.push({
    name: 'largeTenantCompletes',
    target: 'within the heap limit',
    value: largeTenant
      ? `${largeTenant.resources.toLocaleString('en-US')} resources: first sweep ${(largeTenant.first.wallMs / 1000).toFixed(1)} s (ARM bound ${(largeTenant.idealMs / 1000).toFixed(1)} s), peak RSS ${peakRss(largeTenant)} MB`
      : '-',
    met: largeTenant
      ? largeTenant.first.runStatus === 'completed' && largeTenant.repeat.runStatus === 'completed'
      : 'not measured',
  });
  return targets;
}

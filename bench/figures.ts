/**
 * From measurements to the figures the issue asks for, and the targets they are held against.
 * Pure functions: the smoke test checks them on a tiny world.
 */
import type { PhaseFigures } from './contender-ipc.js';
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
  /** Inventory and change rows only (the SubscriptionSync writers), and the requests they took. */
  inventoryRowsWritten: number;
  inventoryTableRequests: number;
  /** Write requests (transactions and single writes) to the inventory and changes tables. */
  inventoryWriteRequests: number;
  /** inventoryWriteRequests per 1,000 inventory and change rows: how well the writers batch. */
  inventoryWritesPer1000Rows: number;
  /** Registry, run and run-tenant bookkeeping (requests, rows). */
  bookkeeping: { requests: number; rowsWritten: number };
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
  const inventoryRows = tables.inventory.rowsWritten + tables.changes.rowsWritten;
  const writeRequests = [tables.inventory, tables.changes].reduce(
    (sum, table) => sum + table.transactions + table.singleWrites,
    0,
  );
  const bookkeeping = [tables.tenants, tables.runs, tables.runTenants];
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
    inventoryTableRequests: tables.inventory.requests + tables.changes.requests,
    inventoryWriteRequests: writeRequests,
    inventoryWritesPer1000Rows: inventoryRows ? round((writeRequests / inventoryRows) * 1000) : 0,
    bookkeeping: {
      requests: bookkeeping.reduce((sum, table) => sum + table.requests, 0),
      rowsWritten: bookkeeping.reduce((sum, table) => sum + table.rowsWritten, 0),
    },
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
    /** The naive loop over the floor: the largest speedup any sweep storing these rows can reach here. */
    speedupCeiling?: number;
  };
  sandboxPeakRssMb: number;
  azuritePeakRssMb: number;
}

export function worldFigures(measurement: WorldMeasurement): WorldFigures {
  const tenants = measurement.fleetInfo.tenants;
  const subscriptions = tenants * measurement.world.subscriptionsPerTenant;
  const first = sweepFigures(measurement, measurement.fleet.first, tenants);
  const repeat = sweepFigures(measurement, measurement.fleet.repeat, tenants);
  const naive = measurement.naive;
  const floor = measurement.storageFloor;
  return {
    tenants,
    subscriptions,
    resources: subscriptions * measurement.world.resourcesPerSubscription,
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
            ...(naive ? { speedupCeiling: round(naive.result.wallMs / floor.wallMs, 1) } : {}),
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

/** The issue's targets, evaluated on the default world's figures and the series' largest point. */
export function evaluateTargets(main: WorldFigures, largest: WorldFigures | undefined): Target[] {
  const targets: Target[] = [];
  const first = main.first;
  const floor = main.storageFloor;
  const naive = main.naive;
  targets.push({
    name: 'sweep vs naive loop: first sweep',
    target: '>= 25x faster',
    value: naive
      ? `${naive.speedupVsNaive}x` +
        (floor?.speedupCeiling !== undefined
          ? ` (the storage floor allows ${floor.speedupCeiling}x at most)`
          : '')
      : '-',
    met: naive ? naive.speedupVsNaive >= 25 : 'not measured',
  });
  targets.push({
    name: 'sweep vs naive loop: repeat sweep',
    target: '>= 25x faster',
    value: naive ? `${naive.speedupVsNaiveRepeat}x` : '-',
    met: naive ? naive.speedupVsNaiveRepeat >= 25 : 'not measured',
  });
  targets.push({
    name: 'sweep vs ideal bound: first sweep',
    target: '<= 1.3x',
    value: `${first.ratioToIdeal}x${floor ? ` (the storage floor alone is ${floor.ratioToIdeal}x)` : ''}`,
    met: first.ratioToIdeal <= 1.3,
  });
  targets.push({
    name: 'sweep vs ideal bound: repeat sweep',
    target: '<= 1.3x',
    value: `${main.repeat.ratioToIdeal}x`,
    met: main.repeat.ratioToIdeal <= 1.3,
  });
  targets.push({
    name: 'MI requests per sweep',
    target: 'exactly 1',
    value: String(first.miRequests),
    met: first.miRequests === 1,
  });
  targets.push({
    name: 'token requests per tenant',
    target: 'exactly 1',
    value:
      first.tokenRequestsPerTenant.min === first.tokenRequestsPerTenant.max
        ? String(first.tokenRequestsPerTenant.min)
        : `${first.tokenRequestsPerTenant.min}..${first.tokenRequestsPerTenant.max}`,
    met: first.tokenRequestsPerTenant.min === 1 && first.tokenRequestsPerTenant.max === 1,
  });
  targets.push({
    name: 'table requests per 1,000 rows written',
    target: '<= 12',
    value: `${first.inventoryWritesPer1000Rows} (inventory writers; every table request: ${first.tableRequestsPer1000Rows})`,
    met: first.inventoryWritesPer1000Rows <= 12,
  });
  targets.push({
    name: 'repeat sweep writes per subscription',
    target: '<= 1',
    value: `${main.repeat.writesPerSubscription} (inventory+changes; bookkeeping ${main.repeat.bookkeeping.rowsWritten} rows for ${main.tenants} tenants)`,
    met: main.repeat.writesPerSubscription <= 1,
  });
  if (largest && largest.resources >= 1_000_000) {
    const peak = Math.max(largest.first.processPeakRssMb, largest.repeat.processPeakRssMb);
    targets.push({
      name: `peak RSS at ${largest.resources.toLocaleString('en-US')} resources`,
      target: '< 300 MB',
      value: `${peak} MB (fleet process)`,
      met: peak < 300,
    });
  } else {
    targets.push({
      name: 'peak RSS at 1,000,000 resources',
      target: '< 300 MB',
      value: largest ? `largest series point has ${largest.resources} resources` : 'series not run',
      met: 'not measured',
    });
  }
  return targets;
}

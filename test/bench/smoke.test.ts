/**
 * Smoke test of `npm run bench` on a tiny world (2 tenants x 2 subscriptions x 150 resources, no
 * latency): the report has the shape the issue asks for, and the request counts are exact. Nothing
 * here asserts a time.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBench } from '../../bench/bench.js';
import { idealBound, pages, throttleFloorMs } from '../../bench/ideal.js';
import { BenchUsageError, parseBenchArgs, seriesTenantsFor } from '../../bench/options.js';
import { formatReport, writeReport } from '../../bench/report.js';
import {
  keysOfPath,
  tableOfPath,
  transactionOperations,
  transactionTargets,
} from '../../bench/storage-proxy.js';

describe('bench pieces', () => {
  it('parses flags, scales the series to a million resources, and refuses bad input', () => {
    const options = parseBenchArgs([]);
    if (options === 'help') throw new Error('unexpected help');
    expect(options.world).toMatchObject({
      tenants: 200,
      subscriptionsPerTenant: 2,
      resourcesPerSubscription: 300,
    });
    expect(options.arm).toMatchObject({
      latencyMs: 25,
      pageSize: 100,
      throttle: { burst: 250, refillPerSecond: 25 },
    });
    expect(options.series.multipliers).toEqual([1, 10, 100]);
    expect(options.series.tenants * 2 * 300 * 100).toBeGreaterThanOrEqual(1_000_000);
    expect(seriesTenantsFor(2, 300, 100)).toBe(17);
    const quick = parseBenchArgs(['--quick', '--no-throttle', '--latency-ms', '5']);
    if (quick === 'help') throw new Error('unexpected help');
    expect(quick).toMatchObject({ quick: true, arm: { latencyMs: 5, throttle: { enabled: false } } });
    expect(parseBenchArgs(['--help'])).toBe('help');
    expect(() => parseBenchArgs(['--tenants', 'many'])).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(['--frobnicate'])).toThrow(/unknown flag '--frobnicate'/);
    expect(() => parseBenchArgs(['--tenants'])).toThrow(/^--tenants needs an integer$/);
    expect(() => parseBenchArgs(['--quick', 'now'])).toThrow(/unexpected argument 'now'/);
    expect(() => parseBenchArgs(['--tenants', '0'])).toThrow(/--tenants needs an integer from 1/);
    const flags = parseBenchArgs([
      '--no-series',
      '--series',
      '--no-naive',
      '--no-floor',
      '--no-cpu-floor',
      '--report-dir',
      'out',
    ]);
    if (flags === 'help') throw new Error('unexpected help');
    expect(flags).toMatchObject({
      naive: false,
      storageFloor: false,
      cpuFloor: false,
      reportDirectory: 'out',
      series: { enabled: true },
      arm: { throttle: { enabled: true } },
    });
    const multiplied = parseBenchArgs(['--series-multipliers', '10,1', '--series-tenants', '3']);
    if (multiplied === 'help') throw new Error('unexpected help');
    expect(multiplied.series).toEqual({ enabled: true, tenants: 3, multipliers: [1, 10] });
    // The fleet-scale points come with the series, and each can be sized or left out.
    expect(options.fleetScale).toEqual({
      fanoutTenants: 10_000,
      largeTenant: { subscriptions: 40, resources: 25_000 },
    });
    const scaled = parseBenchArgs(['--no-series', '--fanout-tenants', '2000', '--large-tenant', '10x25000']);
    if (scaled === 'help') throw new Error('unexpected help');
    expect(scaled.fleetScale).toEqual({
      fanoutTenants: 2000,
      largeTenant: { subscriptions: 10, resources: 25_000 },
    });
    const none = parseBenchArgs(['--fanout-tenants', '0', '--large-tenant', 'none']);
    if (none === 'help') throw new Error('unexpected help');
    expect(none.fleetScale).toEqual({ fanoutTenants: 0, largeTenant: null });
    expect(() => parseBenchArgs(['--large-tenant', '40by25000'])).toThrow(
      /--large-tenant needs subscriptions x resources/,
    );
  });

  it('computes the ideal bound from pages, latency, concurrency and the throttling floor', () => {
    expect(pages(0, 100)).toBe(1);
    expect(pages(300, 100)).toBe(3);
    expect(throttleFloorMs(251, { enabled: true, burst: 250, refillPerSecond: 25 })).toBe(40);
    expect(throttleFloorMs(10_000, { enabled: false, burst: 250, refillPerSecond: 25 })).toBe(0);
    const bound = idealBound({
      tenants: 200,
      subscriptionsPerTenant: 2,
      resourcesPerSubscription: 300,
      resourceGroupsPerSubscription: 4,
      latencyMs: 25,
      pageSize: 100,
      throttle: { enabled: true, burst: 250, refillPerSecond: 25 },
      workers: 16,
      subscriptionConcurrency: 4,
    });
    // 13 waves x (subscription list 25 ms + the longer list, 3 pages of resources, 75 ms).
    expect(bound).toMatchObject({ ms: 1300, tenantMs: 100, waves: 13, armRequests: 1800 });
    // A subscription of 30,000 resources at 1 ms per page is throttling-bound: (301 - 250) / 25 per s.
    const throttled = idealBound({
      tenants: 1,
      subscriptionsPerTenant: 1,
      resourcesPerSubscription: 30_000,
      resourceGroupsPerSubscription: 4,
      latencyMs: 1,
      pageSize: 100,
      throttle: { enabled: true, burst: 250, refillPerSecond: 25 },
      workers: 16,
      subscriptionConcurrency: 4,
    });
    expect(throttled.subscriptionMs).toBe(2040);
  });

  it('reads tables and operations out of Table requests', () => {
    expect(tableOfPath("/devstoreaccount1/inventory(PartitionKey='a',RowKey='b')")).toEqual({
      table: 'inventory',
      entity: 'entity',
    });
    expect(tableOfPath('/devstoreaccount1/inventory()?$filter=x')).toEqual({
      table: 'inventory',
      entity: 'query',
    });
    const body = [
      '--changeset_1',
      "PUT http://127.0.0.1:1/devstoreaccount1/changes(PartitionKey='t',RowKey='1') HTTP/1.1",
      '',
      "PUT http://127.0.0.1:1/devstoreaccount1/changes(PartitionKey='t',RowKey='2') HTTP/1.1",
      "DELETE http://127.0.0.1:1/devstoreaccount1/changes(PartitionKey='t',RowKey='3') HTTP/1.1",
    ].join('\r\n');
    expect(Object.fromEntries(transactionOperations(body))).toEqual({ changes: 3 });
    expect(transactionTargets(body).map((target) => target.rowKey)).toEqual(['1', '2', '3']);
    expect(keysOfPath("/devstoreaccount1/inventory(PartitionKey='t_a',RowKey='%21tenant')")).toEqual({
      partitionKey: 't_a',
      rowKey: '!tenant',
    });
    expect(keysOfPath("/a/runs(PartitionKey='it''s',RowKey='x')")).toEqual({
      partitionKey: "it's",
      rowKey: 'x',
    });
    expect(keysOfPath('/devstoreaccount1/inventory()')).toBeUndefined();
  });
});

describe('npm run bench on a tiny world', () => {
  it('reports every figure the issue names, with exact request counts', { timeout: 240_000 }, async () => {
    const report = await runBench({
      world: { tenants: 2, subscriptionsPerTenant: 2, resourcesPerSubscription: 150, seed: 3 },
      // 1 ms of latency, not 0: with none the ideal bound is 0 ms and the ratio to it is not a number.
      arm: { latencyMs: 1, pageSize: 100, throttle: { enabled: true, burst: 250, refillPerSecond: 25 } },
      naive: true,
      storageFloor: true,
      cpuFloor: true,
      series: { enabled: true, tenants: 1, multipliers: [2] },
      fleetScale: { fanoutTenants: 150, largeTenant: { subscriptions: 3, resources: 120 } },
      quick: true,
      reportDirectory: 'unused',
    });
    const { main } = report;
    expect(report).toMatchObject({ tenants: 2, subscriptions: 4, resources: 600 });
    // Times and memory cannot be exact: each is a finite positive number (NaN and Infinity fail), and the
    // ratios are the ones of the reported figures they come from (rounding apart).
    for (const value of [main.first.wallMs, main.naive!.wallMs, main.idealMs, report.peakRssMb])
      expectFinitePositive(value);
    expect(report.peakRssMb).toBe(main.first.processPeakRssMb);
    expectFinitePositive(report.speedupVsNaive);
    expectRatioOfRoundedFigures(report.speedupVsNaive!, main.naive!.wallMs, main.first.wallMs, 1);
    expectFinitePositive(report.ratioToIdeal);
    expectRatioOfRoundedFigures(report.ratioToIdeal, main.first.wallMs, main.idealMs, 2);

    // First sweep: one MI token, one token per tenant, exactly the ARM pages the world has.
    expect(main.first).toMatchObject({ miRequests: 1, tokenRequests: 2, discoveryRequests: 2 });
    expect(main.first.tokenRequestsPerTenant).toEqual({ min: 1, max: 1 });
    // Per tenant: the subscription list, then per subscription 1 page of groups and 2 of resources.
    expect(main.first.armRequests).toBe(2 * (1 + 2 * (1 + 2)));
    expect(main.first.armRequests).toBe(main.idealArmRequests);
    expect(report).toMatchObject({ miRequests: 1, tokenRequests: 2, armRequests: 14 });
    // A first sweep is a baseline. Per subscription: 150 resources + 4 groups, the marker twice (pending
    // in the first transaction, final in the last) and one baseline change record. The tenant's marker
    // row (the subscriptions that have an inventory) is bookkeeping, not counted here.
    expect(main.first.inventoryRowsWritten).toBe(4 * (154 + 2 + 1));
    // Transactions of at most 100 rows: 2 per subscription for its rows, 1 per tenant for the baseline
    // records of its subscriptions (they share the tenant's change partition).
    expect(main.first.inventoryWriteRequests).toBe(4 * 2 + 2);
    expect(report.tableRequestsPer1000Rows).toBe(Number(((10 / 628) * 1000).toFixed(2)));
    // The transaction floor: 156 rows in each subscription's partition (2 transactions), 2 baseline
    // records in each tenant's change partition (1).
    expect(main.first.transactionFloor).toBe(4 * 2 + 2 * 1);
    expect(report.inventoryWritesToTransactionFloor).toBe(1);
    // Tenant markers: created by each tenant's first sweep (no read), read by the next.
    expect(main.first.bookkeeping.tenantMarkerRequests).toBe(2);
    expect(main.repeat.bookkeeping.tenantMarkerRequests).toBe(2);
    // Every table request is an inventory request or bookkeeping: the bookkeeping is exactly the
    // requests of the tables that hold no inventory, and the tenant markers.
    for (const sweep of [main.first, main.repeat]) {
      const { tenants, runs, runTenants, aggregates } = sweep.tables;
      expect(sweep.bookkeeping.requests).toBe(
        tenants.requests +
          runs.requests +
          runTenants.requests +
          aggregates.requests +
          sweep.bookkeeping.tenantMarkerRequests,
      );
    }
    // The console's aggregate row: written by each tenant's first sweep, left as it is by a repeat
    // sweep that changed nothing.
    expect(main.first.tables.aggregates.singleWrites).toBe(2);
    expect(main.repeat.tables.aggregates.requests).toBe(0);
    expect(report.bookkeepingRequestsPerTenant).toBe(
      Math.max(main.first.bookkeeping.perTenant, main.repeat.bookkeeping.perTenant),
    );
    expect(main.first.bookkeeping.perTenant).toBe(main.first.bookkeeping.requests / 2);
    expect(report.fleetCpuUsPerResourceFirst).toBe(main.first.cpuUsPerResource);
    // From the unrounded CPU time: within rounding of the reported milliseconds.
    expect(Math.abs(main.first.cpuUsPerResource - (main.first.cpuMs.fleet * 1000) / 600)).toBeLessThan(2);
    // From the reported (rounded) wall times themselves: exact to its two digits.
    expect(report.firstSweepToStorageFloor).toBe(
      Number((main.first.wallMs / main.storageFloor!.wallMs).toFixed(2)),
    );
    // Azurite's own CPU in the sweep against its CPU in the floor: how much of the ratio is Azurite working.
    expectFinitePositive(main.storageFloor!.azuriteCpuMs);
    expectFinitePositive(main.storageFloor!.azuriteCpuFirstToFloor);
    expectRatioOfRoundedFigures(
      main.storageFloor!.azuriteCpuFirstToFloor,
      main.first.cpuMs.azurite,
      main.storageFloor!.azuriteCpuMs,
      2,
    );
    expect(report.azuriteCpuFirstToStorageFloor).toBe(main.storageFloor!.azuriteCpuFirstToFloor);
    expect(report.targets.find((target) => target.name === 'firstSweepToStorageFloor')!.value).toContain(
      `Azurite's CPU ${main.storageFloor!.azuriteCpuFirstToFloor}x its floor's`,
    );
    expect(report.tokenRequestsPerTenant).toEqual({ min: 1, max: 1 });
    expect(main.first.tenantsSucceeded).toBe(2);
    expect(main.first.runStatus).toBe('completed');

    // Repeat sweep with no changes: tokens cached, the same ARM pages, no inventory write at all (each
    // subscription marker already says what this sweep found).
    expect(main.repeat).toMatchObject({ miRequests: 0, tokenRequests: 0, armRequests: 14 });
    expect(main.repeat.inventoryRowsWritten).toBe(0);
    // Previous state by point reads (4 subscription markers, 2 tenant markers), no query.
    expect(main.repeat.tables.inventory).toMatchObject({ queries: 0, pointReads: 6, transactions: 0 });
    // The tenant marker lists the storage accounts with rows (none here): no storage query either time.
    expect(main.first.tables.storage.requests).toBe(0);
    expect(main.repeat.tables.storage.requests).toBe(0);
    // A first sweep creates its tenant markers and finds no subscription markers (4 point reads), so
    // no rows: it queries nothing.
    expect(main.first.tables.inventory).toMatchObject({ queries: 0, pointReads: 4 });
    expect(report.repeatSweepWrites).toBe(0);
    expect(main.repeat.writesPerSubscription).toBe(0);

    // The naive loop: a credential pair per tenant, no groups, one request per resource. Its MI tokens
    // come from @azure/identity's process-wide MI token cache, so even a new credential per tenant asks once.
    expect(main.naive).toMatchObject({
      miRequests: 1,
      tokenRequests: 2,
      armRequests: 2 * (1 + 2 * 2),
      tableRequests: 600,
      rowsWritten: 600,
      resources: 600,
    });

    // The storage floor replays exactly the first sweep's writes to the inventory and change tables
    // (the tenant markers' too), and Azurite accepts every one of them (valid as sent).
    expect(main.storageFloor).toMatchObject({
      requests: main.first.inventoryWriteRequests + 2,
      rows: main.first.inventoryRowsWritten + 2,
      failed: 0,
    });
    expect(main.storageFloor!.concurrency).toBeGreaterThan(0);
    expectFinitePositive(main.storageFloor!.wallMs);
    expect(report.storageFloorMs).toBe(main.storageFloor!.wallMs);
    // From the unrounded times: within rounding of the reported ones.
    expectRatioOfRoundedFigures(
      report.speedupVsNaiveCeiling!,
      main.naive!.wallMs,
      main.storageFloor!.wallMs,
      1,
    );

    // The CPU floor sends each sweep's requests again with no product logic: the same ARM pages and
    // tokens, and exactly the storage requests the fleet sent (counted by a proxy of its own).
    const cpuFloor = main.cpuFloor!;
    for (const [floor, sweep] of [
      [cpuFloor.first, main.first],
      [cpuFloor.repeat, main.repeat],
    ] as const) {
      expect(floor).toMatchObject({
        miRequests: sweep.miRequests,
        tokenRequests: sweep.tokenRequests,
        armRequests: sweep.armRequests,
        tableRequests: sweep.tableRequests,
        queueRequests: sweep.queueRequests,
        blobRequests: sweep.blobRequests,
      });
      expectFinitePositive(floor.cpuMs);
      expectFinitePositive(floor.cpuUsPerResource);
      expect(Math.abs(floor.cpuUsPerResource - (floor.cpuMs * 1000) / 600)).toBeLessThan(2);
      expectFinitePositive(floor.azuriteCpuMs);
      expectFinitePositive(floor.fleetCpuToFloor);
      expectRatioOfRoundedFigures(floor.fleetCpuToFloor, sweep.cpuMs.fleet, floor.cpuMs, 2);
    }
    expect(cpuFloor.first.tokenRequests).toBe(2);
    expect(report).toMatchObject({
      cpuFloorUsPerResourceFirst: cpuFloor.first.cpuUsPerResource,
      cpuFloorUsPerResourceRepeat: cpuFloor.repeat.cpuUsPerResource,
      fleetCpuToFloorFirst: cpuFloor.first.fleetCpuToFloor,
      fleetCpuToFloorRepeat: cpuFloor.repeat.fleetCpuToFloor,
    });
    // What the wall-time targets are read against: the same requests with no product logic, their wall
    // time over the storage floor (first sweep) and the naive loop over it (repeat sweep).
    expectFinitePositive(cpuFloor.first.wallMs);
    expectFinitePositive(cpuFloor.repeat.wallMs);
    expect(report.cpuFloorFirstToStorageFloor).toBe(
      Number((cpuFloor.first.wallMs / main.storageFloor!.wallMs).toFixed(2)),
    );
    expect(report.cpuFloorSpeedupVsNaiveRepeat).toBe(
      Number((main.naive!.wallMs / cpuFloor.repeat.wallMs).toFixed(1)),
    );
    const targetValue = (name: string): string =>
      report.targets.find((target) => target.name === name)!.value;
    expect(targetValue('firstSweepToStorageFloor')).toContain(
      `the requests alone ${report.cpuFloorFirstToStorageFloor})`,
    );
    expect(targetValue('speedupVsNaiveRepeatSweep')).toContain(
      `the requests alone ${report.cpuFloorSpeedupVsNaiveRepeat}x)`,
    );

    expect(report.series).toHaveLength(1);
    // The floors are measured on the default world only.
    expect(report.series[0]!.storageFloor).toBeUndefined();
    expect(report.series[0]!.cpuFloor).toBeUndefined();
    expect(report.series[0]).toMatchObject({ multiplier: 2, tenants: 1, resources: 600 });
    expect(report.series[0]!.repeat.inventoryRowsWritten).toBe(0); // nothing changed: nothing written
    // Every target of the issue, the speed ones for the first and the repeat sweep each.
    expect(report.targets.map((target) => target.name)).toEqual([
      'firstSweepToStorageFloor',
      'fleetCpuUsPerResourceRepeat',
      'fleetCpuUsPerResourceFirst',
      'speedupVsNaiveRepeatSweep',
      'bookkeepingRequestsPerTenant',
      'inventoryWritesToTransactionFloor',
      'repeatSweepWritesPerSubscription',
      'miRequests',
      'tokenRequests per tenant',
      'peakRssMbLargestSeriesPoint',
      'fanoutTableRequestsToFloor',
      'largeTenantCompletes',
    ]);
    const met = (name: string) => report.targets.find((target) => target.name === name)!.met;
    expect(met('miRequests')).toBe(true);
    expect(met('tokenRequests per tenant')).toBe(true);
    expect(met('repeatSweepWritesPerSubscription')).toBe(true);
    expect(met('inventoryWritesToTransactionFloor')).toBe(report.inventoryWritesToTransactionFloor <= 1.05);
    expect(met('peakRssMbLargestSeriesPoint')).toBe('not measured');
    // The fan-out of 150 tenants: the lock and run rows, 2 transactions of tenant rows, 1 registry page;
    // one message per tenant.
    expect(report.fanout).toMatchObject({ tenants: 150, queued: 150, tableRequestFloor: 1 + 1 + 2 + 1 });
    expect(report.fanout!.queueRequests).toBeGreaterThanOrEqual(150);
    expect(report.largeTenant).toMatchObject({ tenants: 1, subscriptions: 3, resources: 360 });
    expect(met('largeTenantCompletes')).toBe(true);

    const text = formatReport(report);
    expect(text).toContain('fleet: first sweep');
    expect(text).toContain('Scaling series');
    expect(text).toContain('Storage floor:');
    expect(text).toContain('CPU floor:');
    const directory = await mkdtemp(join(tmpdir(), 'bench-smoke-'));
    try {
      const written = await writeReport(report, directory);
      expect(written.map((path) => path.slice(directory.length + 1)).sort()).toEqual([
        'bench-series.svg',
        'bench.json',
      ]);
      const json = JSON.parse(await readFile(join(directory, 'bench.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      for (const key of [
        'tenants',
        'speedupVsNaive',
        'ratioToIdeal',
        'miRequests',
        'tokenRequests',
        'armRequests',
        'tableRequestsPer1000Rows',
        'repeatSweepWrites',
        'peakRssMb',
        'firstSweepToStorageFloor',
        'azuriteCpuFirstToStorageFloor',
        'fleetCpuUsPerResourceRepeat',
        'fleetCpuUsPerResourceFirst',
        'cpuFloorUsPerResourceFirst',
        'cpuFloorUsPerResourceRepeat',
        'fleetCpuToFloorFirst',
        'fleetCpuToFloorRepeat',
        'speedupVsNaiveRepeatSweep',
        'bookkeepingRequestsPerTenant',
        'inventoryWritesToTransactionFloor',
        'repeatSweepWritesPerSubscription',
        'tokenRequestsPerTenant',
        'peakRssMbLargestSeriesPoint',
        'series',
      ])
        expect(json).toHaveProperty(key);
      expect(await readFile(join(directory, 'bench-series.svg'), 'utf8')).toMatch(/^<svg /);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

/** A measured time or size: a number that is finite and above zero (NaN and Infinity are neither). */
/**
 * A ratio the report computed from unrounded figures and rounded to `digits`, checked against the
 * figures it reports rounded to whole units (milliseconds). Each of those can be off by half a unit,
 * so the ratio can lie anywhere between the two extremes, and its own rounding adds half its last digit:
 * for 89 ms of fleet CPU against 28 ms of floor that is 3.04 to 3.25, not the 0.05 of toBeCloseTo(…, 1),
 * which a run once missed (3.23 against 3.18 recomputed). A wrong ratio still fails: twice or half the
 * figure lies far outside.
 */
function expectRatioOfRoundedFigures(
  reported: number,
  numerator: number,
  denominator: number,
  digits: number,
): void {
  const lowest = (numerator - 0.5) / (denominator + 0.5) - 0.5 * 10 ** -digits;
  const highest = (numerator + 0.5) / (denominator - 0.5) + 0.5 * 10 ** -digits;
  expect(reported, `${reported} = ${numerator} / ${denominator}, each rounded`).toBeGreaterThanOrEqual(
    lowest,
  );
  expect(reported, `${reported} = ${numerator} / ${denominator}, each rounded`).toBeLessThanOrEqual(highest);
}

function expectFinitePositive(value: number | null | undefined): void {
  expect(Number.isFinite(value) && value! > 0, `${value} is finite and positive`).toBe(true);
}

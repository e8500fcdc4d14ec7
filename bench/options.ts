/**
 * Command-line options of `npm run bench`. Every dimension of the world and of the sandbox's ARM can
 * be scaled; `--quick` is a small run (well under a minute) for checking the benchmark itself.
 */
import { parseFlags } from '../sandbox/flags.js';

/** The generated world: customer tenants x subscriptions x resources per subscription. */
export interface WorldShape {
  tenants: number;
  subscriptionsPerTenant: number;
  resourcesPerSubscription: number;
  seed: number;
}

/** The sandbox ARM's settings the benchmark runs with (throttling: ARM's 2024+ token bucket). */
export interface ArmShape {
  latencyMs: number;
  pageSize: number;
  throttle: { enabled: boolean; burst: number; refillPerSecond: number };
}

export interface BenchOptions {
  world: WorldShape;
  arm: ArmShape;
  /** Run the naive loop (contender b); off only to save time while working on the product. */
  naive: boolean;
  /** Replay the first sweep's Table writes into a fresh Azurite (storage-floor.ts), default world only. */
  storageFloor: boolean;
  /** Send the sweeps' requests again with no product logic (cpu-floor.ts), default world only. */
  cpuFloor: boolean;
  series: {
    enabled: boolean;
    /** Tenants of every series world (default: the fewest whose largest point reaches 1,000,000 resources). */
    tenants: number;
    /** Multipliers of resources per subscription (so of resources per tenant). */
    multipliers: number[];
  };
  /** The fleet-scale points (bench/fanout.ts and one very large tenant), run with the series. */
  fleetScale: {
    /** Registered tenants a run is started for (0: not measured). */
    fanoutTenants: number;
    /** One tenant of this many subscriptions x resources each (null: not measured). */
    largeTenant: { subscriptions: number; resources: number } | null;
  };
  quick: boolean;
  /** Where bench.json and the chart go. */
  reportDirectory: string;
}

/** The default world and ARM: 200 x 2 x 300, 25 ms, pages of 100, throttling 250 burst / 25 per s. */
export const DEFAULTS = {
  tenants: 200,
  subscriptionsPerTenant: 2,
  resourcesPerSubscription: 300,
  seed: 7,
  latencyMs: 25,
  pageSize: 100,
  burst: 250,
  refillPerSecond: 25,
  multipliers: [1, 10, 100],
  /** The series' largest point must reach this many resources in total. */
  seriesTarget: 1_000_000,
  fanoutTenants: 10_000,
  largeTenant: { subscriptions: 40, resources: 25_000 },
} as const;

/** `--quick`: small enough for well under a minute, same code paths. */
export const QUICK = {
  tenants: 10,
  subscriptionsPerTenant: 2,
  resourcesPerSubscription: 100,
  seriesTenants: 2,
  multipliers: [1, 10],
  fanoutTenants: 200,
  largeTenant: { subscriptions: 2, resources: 1000 },
} as const;

export const USAGE = `usage: npm run bench -- [options]
  --tenants N             customer tenants (default ${DEFAULTS.tenants})
  --subscriptions N       subscriptions per tenant (default ${DEFAULTS.subscriptionsPerTenant})
  --resources N           resources per subscription (default ${DEFAULTS.resourcesPerSubscription})
  --seed N                world seed (default ${DEFAULTS.seed})
  --latency-ms N          ARM latency per request (default ${DEFAULTS.latencyMs})
  --page-size N           ARM page size (default ${DEFAULTS.pageSize})
  --no-throttle           ARM throttling off (default on: ${DEFAULTS.burst} burst, ${DEFAULTS.refillPerSecond}/s refill)
  --series | --no-series  the scaling series (default on)
  --series-tenants N      tenants of the series worlds (default: enough for 1,000,000 resources at the largest point)
  --series-multipliers L  comma-separated multipliers of resources per subscription (default ${DEFAULTS.multipliers.join(',')})
  --fanout-tenants N      start a run for N registered tenants (default ${DEFAULTS.fanoutTenants.toLocaleString('en-US')} with the series, 0: skip)
  --large-tenant SxR      one tenant of S subscriptions x R resources (default ${DEFAULTS.largeTenant.subscriptions}x${DEFAULTS.largeTenant.resources} with the series, none: skip)
  --no-naive              skip the naive loop (no speedup figure)
  --no-floor              skip the storage floor (Azurite alone replaying the first sweep's Table writes)
  --no-cpu-floor          skip the CPU floor (the sweeps' requests sent again by a process with no product logic)
  --quick                 ${QUICK.tenants} x ${QUICK.subscriptionsPerTenant} x ${QUICK.resourcesPerSubscription}, series ${QUICK.seriesTenants} tenants x${QUICK.multipliers.join(', x')} (well under a minute)
  --report-dir DIR        where bench.json and bench-series.svg go (default reports/)`;

/** A usage error; the message names the flag and what it needs. */
export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

function integer(flag: string, text: string | undefined, min: number, max = 10_000_000): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new BenchUsageError(`${flag} needs an integer from ${min} to ${max} (got '${text ?? ''}')`);
  }
  return Number(text);
}

function multipliers(text: string | undefined): number[] {
  const parts = (text ?? '').split(',').map((part) => part.trim());
  if (parts.length === 0 || parts.some((part) => !/^\d+$/.test(part) || Number(part) < 1)) {
    throw new BenchUsageError(
      `--series-multipliers needs positive integers like 1,10,100 (got '${text ?? ''}')`,
    );
  }
  return [...new Set(parts.map(Number))].sort((a, b) => a - b);
}

/** Smallest tenant count whose largest series point reaches `target` resources. */
export function seriesTenantsFor(
  subscriptionsPerTenant: number,
  resourcesPerSubscription: number,
  largestMultiplier: number,
  target: number = DEFAULTS.seriesTarget,
): number {
  const perTenant = subscriptionsPerTenant * resourcesPerSubscription * largestMultiplier;
  return perTenant > 0 ? Math.max(1, Math.ceil(target / perTenant)) : 1;
}

const FLAGS = {
  tenants: { type: 'string' },
  subscriptions: { type: 'string' },
  resources: { type: 'string' },
  seed: { type: 'string' },
  'latency-ms': { type: 'string' },
  'page-size': { type: 'string' },
  throttle: { type: 'boolean', default: true },
  series: { type: 'boolean', default: true },
  'series-tenants': { type: 'string' },
  'series-multipliers': { type: 'string' },
  'fanout-tenants': { type: 'string' },
  'large-tenant': { type: 'string' },
  naive: { type: 'boolean', default: true },
  floor: { type: 'boolean', default: true },
  'cpu-floor': { type: 'boolean', default: true },
  quick: { type: 'boolean' },
  'report-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** An integer flag's value, or `fallback` when the flag is absent. */
function optionalInteger(
  flag: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max?: number,
): number {
  return text === undefined ? fallback : integer(flag, text, min, max);
}

/** Parses the arguments after `tsx bench/run.ts`; throws {@link BenchUsageError}. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | 'help' {
  const flags = parseFlags(
    argv,
    FLAGS,
    {
      tenants: 'an integer',
      subscriptions: 'an integer',
      resources: 'an integer',
      seed: 'an integer',
      'latency-ms': 'an integer',
      'page-size': 'an integer',
      'series-tenants': 'an integer',
      'series-multipliers': 'positive integers like 1,10,100',
      'fanout-tenants': 'an integer',
      'large-tenant': 'subscriptions x resources like 40x25000, or none',
      'report-dir': 'a directory',
    },
    (message) => new BenchUsageError(message),
  );
  if (flags.help) return 'help';
  const quick = flags.quick === true;
  const tenants = optionalInteger('--tenants', flags.tenants, quick ? QUICK.tenants : DEFAULTS.tenants, 1);
  const subscriptions = optionalInteger(
    '--subscriptions',
    flags.subscriptions,
    quick ? QUICK.subscriptionsPerTenant : DEFAULTS.subscriptionsPerTenant,
    1,
    1000,
  );
  const resources = optionalInteger(
    '--resources',
    flags.resources,
    quick ? QUICK.resourcesPerSubscription : DEFAULTS.resourcesPerSubscription,
    0,
  );
  const seed = optionalInteger('--seed', flags.seed, DEFAULTS.seed, 0, 2 ** 31);
  const latencyMs = optionalInteger('--latency-ms', flags['latency-ms'], DEFAULTS.latencyMs, 0, 60_000);
  const pageSize = optionalInteger('--page-size', flags['page-size'], DEFAULTS.pageSize, 1, 5000);
  const throttle = flags.throttle;
  const series = flags.series;
  const seriesTenants =
    flags['series-tenants'] !== undefined
      ? integer('--series-tenants', flags['series-tenants'], 1)
      : quick
        ? QUICK.seriesTenants
        : undefined;
  const seriesMultipliers =
    flags['series-multipliers'] !== undefined
      ? multipliers(flags['series-multipliers'])
      : quick
        ? [...QUICK.multipliers]
        : [...DEFAULTS.multipliers];
  const naive = flags.naive;
  const storageFloor = flags.floor;
  const scaleDefaults = quick ? QUICK : DEFAULTS;
  const fanoutTenants = optionalInteger(
    '--fanout-tenants',
    flags['fanout-tenants'],
    series ? scaleDefaults.fanoutTenants : 0,
    0,
    1_000_000,
  );
  const largeTenant =
    flags['large-tenant'] !== undefined
      ? largeTenantShape(flags['large-tenant'])
      : series
        ? { ...scaleDefaults.largeTenant }
        : null;
  const reportDirectory = flags['report-dir'] ?? 'reports';
  const largest = seriesMultipliers[seriesMultipliers.length - 1]!;
  return {
    world: { tenants, subscriptionsPerTenant: subscriptions, resourcesPerSubscription: resources, seed },
    arm: {
      latencyMs,
      pageSize,
      throttle: { enabled: throttle, burst: DEFAULTS.burst, refillPerSecond: DEFAULTS.refillPerSecond },
    },
    naive,
    storageFloor,
    cpuFloor: flags['cpu-floor'],
    series: {
      enabled: series,
      tenants: seriesTenants ?? seriesTenantsFor(subscriptions, resources, largest),
      multipliers: seriesMultipliers,
    },
    fleetScale: { fanoutTenants, largeTenant },
    quick,
    reportDirectory,
  };
}

/** `--large-tenant 40x25000` (subscriptions x resources each), or `none`. */
function largeTenantShape(text: string): { subscriptions: number; resources: number } | null {
  if (text === 'none') return null;
  const match = /^(\d+)x(\d+)$/.exec(text);
  if (!match || Number(match[1]) < 1 || Number(match[2]) < 1)
    throw new BenchUsageError(
      `--large-tenant needs subscriptions x resources like 40x25000, or none (got '${text}')`,
    );
  return { subscriptions: Number(match[1]), resources: Number(match[2]) };
}

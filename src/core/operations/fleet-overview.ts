/**
 * The fleet at a glance: every registered tenant in one state (healthy, warnings, failing, skipped by
 * the circuit breaker, excluded, never swept), a failing tenant with the diagnosis and fix of its last
 * sweep, the last and next sweep and totals. Reads: the registry (one query), the aggregates (one
 * query), the newest runs (one query) and the tenant rows of the runs that hold a failing tenant's last
 * sweep (usually one query: all tenants were last swept by the same run).
 */
import { readTenantAggregates } from '../inventory/aggregates.js';
import { Schedule } from '../platform/schedule.js';
import type { FleetRuntime } from '../runtime.js';
import { isInvalidRow, type InvalidTenantRow, type TenantRecord } from '../sweep/registry.js';
import { readBoundedJsonList, type RunRecord } from '../sweep/runs.js';

export const TENANT_STATES = [
  'failing',
  'circuitOpen',
  'warnings',
  'neverSwept',
  'excluded',
  'healthy',
] as const;
export type TenantState = (typeof TENANT_STATES)[number];

export interface TenantDiagnosis {
  code: string;
  meaning: string;
  fix: string;
}

export interface TenantOverview {
  tenantId: string;
  displayName: string;
  state: TenantState;
  enabled: boolean;
  tags: string[];
  onboardingState: string;
  consecutiveFailures: number;
  lastSweep?: TenantRecord['lastSweep'];
  exclusion?: TenantRecord['exclusion'];
  diagnosis?: TenantDiagnosis;
  /** Problems of a partial sweep (accounts or subscriptions that refused), first ones. */
  warnings?: Array<{ scope: string; id: string; code: string; fix: string }>;
  resources: number;
  resourceGroups: number;
  storageAccounts: number;
  storageRefused: number;
  publicContainers: number;
}

export interface FleetOverview {
  tenants: TenantOverview[];
  invalid: InvalidTenantRow[];
  counts: Record<TenantState, number>;
  totals: {
    tenants: number;
    resources: number;
    resourceGroups: number;
    storageAccounts: number;
    publicContainers: number;
    blobs: number;
    blobBytes: number;
  };
  lastRun?: Omit<RunRecord, 'etag'>;
  runningRun?: Omit<RunRecord, 'etag'>;
  schedule: string;
  nextSweepAt?: string;
}

function stateOf(tenant: TenantRecord, circuitOpen: boolean): TenantState {
  if (!tenant.enabled) return 'excluded';
  if (circuitOpen) return 'circuitOpen';
  if (!tenant.lastSweep) return 'neverSwept';
  if (tenant.lastSweep.status === 'failed') return 'failing';
  if (tenant.lastSweep.status === 'partial') return 'warnings';
  return 'healthy';
}

type Warning = NonNullable<TenantOverview['warnings']>[number];

/**
 * A tenant row's first warnings, and how many it holds in all: a list cut to fit its property ends with
 * `{ truncated: n }` (boundedJsonList, run-records.ts), the n warnings left out.
 */
function parseWarnings(value: string | undefined): { first: Warning[]; total: number } | undefined {
  const list = value ? readBoundedJsonList(value) : undefined;
  if (!list) return undefined;
  const warnings = list.items.filter(
    (item): item is Warning => !!item && typeof item === 'object' && 'code' in item,
  );
  return { first: warnings.slice(0, 10), total: warnings.length + (list.omitted ?? 0) };
}

export async function fleetOverview(runtime: FleetRuntime): Promise<FleetOverview> {
  const { registry, runs, config } = runtime;
  const [rows, aggregates, recent] = await Promise.all([
    (async () => {
      const found: Array<TenantRecord | InvalidTenantRow> = [];
      for await (const row of registry.list()) found.push(row);
      return found;
    })(),
    readTenantAggregates(runtime.storage.table(config.names.aggregatesTable)),
    runs.listRuns(5),
  ]);
  const tenants: TenantOverview[] = [];
  const invalid: InvalidTenantRow[] = [];
  for (const row of rows) {
    if (isInvalidRow(row)) {
      invalid.push(row);
      continue;
    }
    const aggregate = aggregates.get(row.tenantId);
    tenants.push({
      tenantId: row.tenantId,
      displayName: row.displayName,
      state: stateOf(row, registry.isCircuitOpen(row)),
      enabled: row.enabled,
      tags: row.tags,
      onboardingState: row.onboardingState,
      consecutiveFailures: row.consecutiveFailures,
      ...(row.lastSweep ? { lastSweep: row.lastSweep } : {}),
      ...(row.exclusion ? { exclusion: row.exclusion } : {}),
      resources: aggregate?.resources ?? 0,
      resourceGroups: aggregate?.resourceGroups ?? 0,
      storageAccounts: aggregate?.storageAccounts ?? 0,
      storageRefused: aggregate?.storageRefused ?? 0,
      publicContainers: aggregate?.publicContainers ?? 0,
    });
  }
  // The diagnosis and fix of each troubled tenant's last sweep, from that run's tenant rows.
  const troubled = tenants.filter(
    (tenant) =>
      tenant.lastSweep &&
      (tenant.state === 'failing' || tenant.state === 'circuitOpen' || tenant.state === 'warnings'),
  );
  const byRun = new Map<string, TenantOverview[]>();
  for (const tenant of troubled)
    byRun.set(tenant.lastSweep!.runId, [...(byRun.get(tenant.lastSweep!.runId) ?? []), tenant]);
  for (const [runId, group] of byRun) {
    const wanted = new Map(group.map((tenant) => [tenant.tenantId, tenant]));
    for await (const row of runs.listTenants(runId)) {
      const tenant = wanted.get(row.tenantId);
      if (!tenant) continue;
      if (row.diagnosisCode)
        tenant.diagnosis = {
          code: row.diagnosisCode,
          meaning: row.diagnosisMeaning ?? '',
          fix: row.diagnosisFix ?? '',
        };
      const warnings = parseWarnings(row.warnings);
      if (warnings?.first.length) {
        const first = warnings.first[0]!;
        tenant.warnings = warnings.first;
        // The count says how many refused in all, not only the first ones listed.
        tenant.diagnosis ??= {
          code: first.code,
          meaning: `${first.scope === 'storageAccount' ? 'Storage account' : 'Subscription'} ${first.id} refused the app${warnings.total > 1 ? ` (and ${warnings.total - 1} more)` : ''}.`,
          fix: first.fix,
        };
      }
    }
  }
  const order = new Map(TENANT_STATES.map((state, index) => [state, index]));
  tenants.sort(
    (a, b) => order.get(a.state)! - order.get(b.state)! || a.displayName.localeCompare(b.displayName),
  );
  const counts = Object.fromEntries(TENANT_STATES.map((state) => [state, 0])) as Record<TenantState, number>;
  for (const tenant of tenants) counts[tenant.state]++;
  const registered = new Set(tenants.map((tenant) => tenant.tenantId));
  const live = [...aggregates.values()].filter((aggregate) => registered.has(aggregate.tenantId));
  const strip = ({ etag: _etag, ...run }: RunRecord): Omit<RunRecord, 'etag'> => run;
  const running = recent.find((run) => run.status === 'running');
  const last = recent.find((run) => run.status !== 'running');
  const next = new Schedule(config.sweep.schedule).next(runtime.now());
  return {
    tenants,
    invalid,
    counts,
    totals: {
      tenants: tenants.length,
      resources: live.reduce((sum, tenant) => sum + tenant.resources, 0),
      resourceGroups: live.reduce((sum, tenant) => sum + tenant.resourceGroups, 0),
      storageAccounts: live.reduce((sum, tenant) => sum + tenant.storageAccounts, 0),
      publicContainers: live.reduce((sum, tenant) => sum + tenant.publicContainers, 0),
      blobs: live.reduce((sum, tenant) => sum + tenant.blobs, 0),
      blobBytes: live.reduce((sum, tenant) => sum + tenant.blobBytes, 0),
    },
    ...(last ? { lastRun: strip(last) } : {}),
    ...(running ? { runningRun: strip(running) } : {}),
    schedule: config.sweep.schedule,
    ...(next ? { nextSweepAt: next.toISOString() } : {}),
  };
}

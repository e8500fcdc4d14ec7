/**
 * What run rows hold: the run row (`runs` table, partition `run`, newest first) and the tenant rows of
 * a run (`runtenants` table, partition = run id), their statuses and counts, and how a row is read
 * back into a record. Run ids say when a run started and sort by it.
 */
import { randomBytes } from 'node:crypto';
import { NotFoundError } from '../platform/errors.js';
import { newestFirstKey } from '../storage/table-keys.js';

export type RunTrigger = 'timer' | 'http' | 'cli';
export type RunStatus = 'running' | 'completed' | 'completedWithErrors' | 'timedOut';
export type TenantRunStatus =
  'queued' | 'running' | 'succeeded' | 'partial' | 'failed' | 'skipped' | 'invalid' | 'abandoned';

export const TERMINAL_TENANT_STATUSES: readonly TenantRunStatus[] = [
  'succeeded',
  'partial',
  'failed',
  'skipped',
  'invalid',
  'abandoned',
];

export interface TenantRunCounts {
  subscriptions: number;
  resourceGroups: number;
  resources: number;
  /** Resources taken into a subscription's first inventory (its baseline), not counted as added. */
  baselined: number;
  added: number;
  removed: number;
  modified: number;
  storageAccounts: number;
  storageRefused: number;
  blobs: number;
  blobBytes: number;
}

export interface TenantRunRecord extends Partial<TenantRunCounts> {
  runId: string;
  tenantId: string;
  displayName: string;
  status: TenantRunStatus;
  attempts: number;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  diagnosisCode?: string;
  diagnosisMeaning?: string;
  diagnosisFix?: string;
  diagnosisDetail?: string;
  /** JSON list of per-subscription and per-account problems that did not fail the tenant. */
  warnings?: string;
  snapshotBlob?: string;
  etag?: string;
}

/**
 * A worker's claim on a tenant row: the row's ETag as last written (by the run's start, or by
 * `beginTenant` moving it to `running`), and when the work started.
 */
export interface TenantClaim {
  /** Absent when the claim was taken after a conflict (the row is then read before it is finished). */
  etag?: string;
  startedAt: string;
  /** Set when the row was not moved to `running`: the attempt, written with the result. */
  attempt?: number;
}

export interface RunTotals extends TenantRunCounts {
  tenants: number;
  succeeded: number;
  partial: number;
  failed: number;
  skipped: number;
  invalid: number;
  abandoned: number;
}

export interface RunRecord {
  runId: string;
  trigger: RunTrigger;
  status: RunStatus;
  startedAt: string;
  endedAt?: string;
  totals?: RunTotals;
  etag?: string;
}

/** Partition of the run rows in the `runs` table. */
export const RUN_PARTITION = 'run';

/** Run ids sort by time and say when they started: `20261123T063000123Z-3f9a1c`. */
export function newRunId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

const RUN_ID_PATTERN = /^(\d{8}T\d{9}Z)-[0-9a-f]{6}$/;

export function isRunId(value: unknown): boolean {
  return typeof value === 'string' && RUN_ID_PATTERN.test(value);
}

function runStartMs(runId: string): number {
  const stamp = RUN_ID_PATTERN.exec(runId)?.[1];
  if (!stamp) throw new NotFoundError(`'${runId}' is not a run id`);
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}.${stamp.slice(15, 18)}Z`;
  return Date.parse(iso);
}

export function runRowKey(runId: string): string {
  return `${newestFirstKey(runStartMs(runId))}_${runId}`;
}

/** The counts a tenant row holds (and a run's totals add up). */
export const COUNT_FIELDS: Array<keyof TenantRunCounts> = [
  'subscriptions',
  'resourceGroups',
  'resources',
  'baselined',
  'added',
  'removed',
  'modified',
  'storageAccounts',
  'storageRefused',
  'blobs',
  'blobBytes',
];

/** Counts of nothing found yet (every count field 0). */
export function emptyCounts(): TenantRunCounts {
  return Object.fromEntries(COUNT_FIELDS.map((field) => [field, 0])) as unknown as TenantRunCounts;
}

/**
 * A JSON list that fits a Table string property (32K characters): whole items are kept while they fit
 * and a last `{ truncated: n }` item says how many were left out, so the value always parses.
 */
export function boundedJsonList(items: unknown[], maxChars: number): string {
  const kept: unknown[] = [];
  let length = 2;
  for (const [index, item] of items.entries()) {
    const text = JSON.stringify(item);
    const reserve = index < items.length - 1 ? 40 : 0; // room for the truncation marker
    if (length + text.length + 1 + reserve > maxChars) {
      kept.push({ truncated: items.length - index });
      break;
    }
    kept.push(item);
    length += text.length + 1;
  }
  return JSON.stringify(kept);
}

/**
 * Reads what boundedJsonList wrote: the items kept and, for a list that was cut, how many were left out
 * (`omitted`, absent when nothing was). Undefined for a value that is not a JSON list (written by hand
 * or by an older version).
 */
export function readBoundedJsonList(value: string): { items: unknown[]; omitted?: number } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const cut = (parsed.at(-1) as { truncated?: unknown } | null | undefined)?.truncated;
  return typeof cut === 'number' ? { items: parsed.slice(0, -1), omitted: cut } : { items: parsed };
}

export function flatten(row: Omit<TenantRunRecord, 'runId' | 'attempts'>): Record<string, unknown> {
  const { tenantId: _tenantId, etag: _etag, ...rest } = row;
  return Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function toRun(entity: Record<string, unknown>): RunRecord {
  const run: RunRecord = {
    runId: text(entity.runId),
    trigger: entity.trigger as RunTrigger,
    status: entity.status as RunStatus,
    startedAt: text(entity.startedAt),
    etag: text(entity.etag),
  };
  if (typeof entity.endedAt === 'string') run.endedAt = entity.endedAt;
  if (typeof entity.totals === 'string') run.totals = JSON.parse(entity.totals) as RunTotals;
  return run;
}

export function toTenantRun(entity: Record<string, unknown>): TenantRunRecord {
  const record: TenantRunRecord = {
    runId: text(entity.partitionKey),
    tenantId: text(entity.rowKey),
    displayName: text(entity.displayName),
    status: entity.status as TenantRunStatus,
    attempts: Number(entity.attempts ?? 0),
    etag: text(entity.etag),
  };
  for (const key of [
    'startedAt',
    'endedAt',
    'diagnosisCode',
    'diagnosisMeaning',
    'diagnosisFix',
    'diagnosisDetail',
    'warnings',
    'snapshotBlob',
  ] as const) {
    if (typeof entity[key] === 'string' && entity[key] !== '') record[key] = entity[key];
  }
  if (typeof entity.durationMs === 'number') record.durationMs = entity.durationMs;
  for (const field of COUNT_FIELDS) if (typeof entity[field] === 'number') record[field] = entity[field];
  return record;
}

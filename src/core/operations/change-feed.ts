/**
 * The change feed across tenants: what sweeps found added, removed or modified (and each subscription's
 * baseline), newest run first. Change rows live in each tenant's partition keyed by run; the run's
 * tenant rows say which tenants changed in it, so a page reads one query per run walked plus one per
 * tenant that changed, never the whole table. Bounded like the explorer (PAGE_BUDGET table pages).
 */
import { odata } from '@azure/data-tables';
import { z } from 'zod';
import { InputError } from '../platform/errors.js';
import { GUID_PATTERN } from '../platform/ids.js';
import type { FleetRuntime } from '../runtime.js';
import { underscorePrefixRange } from '../storage/table-keys.js';
import type { RunRecord, TenantRunRecord } from '../sweep/runs.js';
import { decodeCursor, encodeCursor, PAGE_BUDGET } from './fleet-cursor.js';
import { queryPage, type ChangeEntry, type Page } from './results.js';

export const CHANGE_KINDS = ['added', 'removed', 'modified', 'baseline'] as const;

const isoTime = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO 8601 time');

export const changeFilterSchema = z
  .object({
    tenantId: z
      .string()
      .regex(GUID_PATTERN, 'must be a GUID')
      .transform((value) => value.toLowerCase())
      .optional(),
    kind: z.enum(CHANGE_KINDS).optional(),
    since: isoTime.optional(),
    until: isoTime.optional(),
  })
  .strict();

export type ChangeFilter = z.output<typeof changeFilterSchema>;

export function parseChangeFilter(query: Record<string, string | undefined>): ChangeFilter {
  const present = Object.fromEntries(
    Object.entries(query).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = changeFilterSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(String(issue.path[0] ?? 'query'), issue.message);
  }
  return parsed.data;
}

export interface FleetChange extends ChangeEntry {
  tenantId: string;
  tenantName: string;
}

/** Runs newest first, limited to the time window (a run is in it when it started in it). */
async function runsInWindow(runtime: FleetRuntime, filter: ChangeFilter): Promise<RunRecord[]> {
  const runs = await runtime.runs.listRuns(500);
  const since = filter.since ? Date.parse(filter.since) : -Infinity;
  const until = filter.until ? Date.parse(filter.until) : Infinity;
  return runs.filter((run) => {
    const at = Date.parse(run.startedAt);
    return at >= since && at <= until;
  });
}

/** The tenants of a run that recorded changes, by tenant id. */
async function changedTenants(
  runtime: FleetRuntime,
  runId: string,
  filter: ChangeFilter,
): Promise<TenantRunRecord[]> {
  const found: TenantRunRecord[] = [];
  for await (const tenant of runtime.runs.listTenants(runId)) {
    if (filter.tenantId && tenant.tenantId !== filter.tenantId) continue;
    const changed =
      (tenant.added ?? 0) + (tenant.removed ?? 0) + (tenant.modified ?? 0) + (tenant.baselined ?? 0);
    if (changed > 0) found.push(tenant);
  }
  return found.sort((a, b) => a.tenantId.localeCompare(b.tenantId));
}

function changeQuery(tenantId: string, runId: string, filter: ChangeFilter): string {
  let query = `${odata`PartitionKey eq ${tenantId}`} and ${underscorePrefixRange('RowKey', runId)}`;
  if (filter.kind) query += ` and ${odata`changeType eq ${filter.kind}`}`;
  return query;
}

function toChange(row: Record<string, unknown>, tenant: TenantRunRecord): FleetChange {
  const parse = (value: unknown): unknown => {
    if (typeof value !== 'string' || value === '') return undefined;
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  };
  return {
    tenantId: tenant.tenantId,
    tenantName: tenant.displayName,
    runId: String(row.runId),
    changeType: String(row.changeType),
    resourceId: String(row.resourceId),
    name: String(row.name),
    type: String(row.type),
    subscriptionId: String(row.subscriptionId),
    changedFields: parse(row.changedFields) ?? [],
    ...(row.before ? { before: parse(row.before) } : {}),
    ...(row.after ? { after: parse(row.after) } : {}),
    detectedAt: String(row.detectedAt),
  };
}

export async function changeFeed(
  runtime: FleetRuntime,
  filter: ChangeFilter,
  options: { top?: number; continuationToken?: string } = {},
): Promise<Page<FleetChange>> {
  const top = options.top ?? 50;
  if (!Number.isInteger(top) || top < 1 || top > 1000) throw new InputError('top', 'must be from 1 to 1000');
  const cursor = decodeCursor(options.continuationToken);
  const table = runtime.storage.table(runtime.config.names.changesTable);
  const runs = await runsInWindow(runtime, filter);
  let runIndex = cursor?.r ? runs.findIndex((run) => run.runId === cursor.r) : 0;
  if (runIndex < 0) runIndex = runs.length;
  const items: FleetChange[] = [];
  let budget = PAGE_BUDGET;
  let resume = cursor;
  for (; runIndex < runs.length; runIndex++) {
    const runId = runs[runIndex]!.runId;
    if (budget-- <= 0) return { items, continuationToken: encodeCursor({ v: 1, r: runId, t: '' }) };
    const tenants = await changedTenants(runtime, runId, filter);
    let tenantIndex = resume?.t ? tenants.findIndex((tenant) => tenant.tenantId >= resume!.t) : 0;
    if (tenantIndex < 0) tenantIndex = tenants.length;
    let token = resume?.t && tenants[tenantIndex]?.tenantId === resume.t ? resume.k : undefined;
    resume = undefined;
    while (tenantIndex < tenants.length) {
      const tenant = tenants[tenantIndex]!;
      if (budget-- <= 0)
        return {
          items,
          continuationToken: encodeCursor({
            v: 1,
            r: runId,
            t: tenant.tenantId,
            ...(token ? { k: token } : {}),
          }),
        };
      const page = await queryPage(table, changeQuery(tenant.tenantId, runId, filter), {
        top: top - items.length,
        ...(token ? { continuationToken: token } : {}),
      });
      for (const row of page.rows) items.push(toChange(row, tenant));
      token = page.continuationToken;
      if (!token) tenantIndex++;
      if (items.length >= top) {
        const next = tenants[tenantIndex];
        const nextRun = runs[runIndex + 1];
        const continuation = next
          ? encodeCursor({ v: 1, r: runId, t: next.tenantId, ...(token ? { k: token } : {}) })
          : nextRun
            ? encodeCursor({ v: 1, r: nextRun.runId, t: '' })
            : undefined;
        return { items, ...(continuation ? { continuationToken: continuation } : {}) };
      }
    }
  }
  return { items };
}

/** Every matching change, streamed (the exports). */
export async function* changeRows(runtime: FleetRuntime, filter: ChangeFilter): AsyncGenerator<FleetChange> {
  const table = runtime.storage.table(runtime.config.names.changesTable);
  for (const run of await runsInWindow(runtime, filter)) {
    for (const tenant of await changedTenants(runtime, run.runId, filter)) {
      const rows = table.listEntities<Record<string, unknown>>({
        queryOptions: { filter: changeQuery(tenant.tenantId, run.runId, filter) },
      });
      for await (const row of rows) yield toChange(row, tenant);
    }
  }
}

/** A resource's history: every change recorded for it (one query in its tenant's partition). */
export async function resourceHistory(
  runtime: FleetRuntime,
  tenantId: string,
  resourceId: string,
): Promise<ChangeEntry[]> {
  if (!/^\/subscriptions\/[^/]+\//i.test(resourceId) || resourceId.length > 2048)
    throw new InputError('resourceId', 'must be an ARM resource id (/subscriptions/...)');
  const table = runtime.storage.table(runtime.config.names.changesTable);
  const tenant: TenantRunRecord = { runId: '', tenantId, displayName: '', status: 'succeeded', attempts: 0 };
  const found: ChangeEntry[] = [];
  const rows = table.listEntities<Record<string, unknown>>({
    queryOptions: { filter: odata`PartitionKey eq ${tenantId} and resourceId eq ${resourceId}` },
  });
  for await (const row of rows) {
    const { tenantId: _t, tenantName: _n, ...change } = toChange(row, tenant);
    found.push(change);
  }
  return found.sort((a, b) => b.detectedAt.localeCompare(a.detectedAt));
}

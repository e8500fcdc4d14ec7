/**
 * The audit log: an append-only table of who did what through the API (every change, and every read
 * of customer data). One row per event, in one partition, keyed newest first (inverted timestamp,
 * then the invocation id and a sequence number): listing the latest events reads the table's first
 * rows, and a time range is a row key range. A retried write of the same event hits the same key and
 * is taken as done (insert, never update: rows are never changed or deleted by the app).
 */
import { odata, RestError, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { actorLabel, sanitizeDisplayName, type Caller } from '../auth/caller.js';
import { InputError } from '../platform/errors.js';
import { GUID_PATTERN } from '../platform/ids.js';
import { newestFirstKey } from '../storage/table-keys.js';
import { queryPage, type Page } from '../operations/results.js';
import type { FleetRuntime } from '../runtime.js';

const PARTITION = 'audit';

export const AUDIT_ACTIONS = [
  'tenant.create',
  'tenant.update',
  'tenant.delete',
  'tenant.reset',
  'tenant.diagnose',
  'run.start',
  'blob.write',
  'blob.delete',
  'blob.read',
  'blob.list',
  'container.list',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** `started` is written before the operation runs; the outcome row after it. */
export type AuditOutcome = 'started' | 'succeeded' | 'refused' | 'failed';

export interface AuditEvent {
  action: AuditAction;
  /** What was acted on, e.g. `tenants/{id}` or `{account}/{container}/{blob}`. */
  target: string;
  tenantId?: string;
  outcome: AuditOutcome;
  /** The HTTP status answered (0 for `started`). */
  status: number;
  etagBefore?: string;
  etagAfter?: string;
  /** A short reason for a refusal or failure (an error code, never a token). */
  detail?: string;
}

export interface AuditRecord extends AuditEvent {
  at: string;
  actor: { objectId?: string; appId?: string; upn?: string; name: string; label: string; via: string };
  invocationId: string;
}

export interface AuditQuery {
  tenantId?: string;
  /** Object id, app id or UPN of the actor. */
  actor?: string;
  action?: string;
  /** ISO timestamps, inclusive. */
  from?: string;
  to?: string;
  top?: number;
  continuationToken?: string;
}

const MAX_TARGET = 1024;

/**
 * Text safe for a table property and a log line: no control characters, at most `max` characters (a
 * blob target keeps its whole path up to that, not just a display name's length).
 */
function bounded(value: string, max: number): string {
  return sanitizeDisplayName(value, '', max);
}

export class AuditLog {
  constructor(
    private readonly table: TableClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Appends one event. `sequence` tells apart the rows of one invocation. The SDK's retry of a lost
   * answer resends the same row (same key), and the 409 it then gets means the first attempt landed.
   */
  async append(caller: Caller, invocationId: string, sequence: number, event: AuditEvent): Promise<void> {
    const at = this.now();
    const rowKey = `${newestFirstKey(at.getTime())}-${bounded(invocationId, 64)}-${String(sequence).padStart(3, '0')}`;
    const entity = {
      partitionKey: PARTITION,
      rowKey,
      at: at.toISOString(),
      actorObjectId: caller.objectId ?? '',
      actorAppId: caller.appId ?? '',
      actorUpn: caller.upn ?? '',
      actorName: caller.name,
      actor: actorLabel(caller),
      via: caller.via,
      action: event.action,
      target: bounded(event.target, MAX_TARGET),
      // Route parameters are caller input: only a tenant id is stored as one (the target keeps the rest).
      tenantId: event.tenantId && GUID_PATTERN.test(event.tenantId) ? event.tenantId.toLowerCase() : '',
      outcome: event.outcome,
      status: event.status,
      etagBefore: event.etagBefore ?? '',
      etagAfter: event.etagAfter ?? '',
      detail: bounded(event.detail ?? '', 512),
      invocationId: bounded(invocationId, 64),
    };
    try {
      await this.table.createEntity(entity);
    } catch (error) {
      // The row exists: an earlier attempt of this same write reached the table.
      if (error instanceof RestError && error.statusCode === 409) return;
      throw error;
    }
  }

  /** One page of events, newest first, filtered. */
  async list(query: AuditQuery): Promise<Page<AuditRecord>> {
    const filter = auditFilter(query);
    const page = await queryPage(this.table, filter, {
      ...(query.top !== undefined ? { top: query.top } : {}),
      ...(query.continuationToken !== undefined ? { continuationToken: query.continuationToken } : {}),
    });
    return {
      items: page.rows.map(recordOf),
      ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
    };
  }
}

const logs = new WeakMap<FleetRuntime, AuditLog>();

/** The runtime's audit log (one per runtime: the HTTP functions and the CLI share it). */
export function auditLogOf(runtime: FleetRuntime): AuditLog {
  let log = logs.get(runtime);
  if (!log) {
    log = new AuditLog(runtime.storage.table(runtime.config.names.auditTable), () => runtime.now());
    logs.set(runtime, log);
  }
  return log;
}

const isoTime = z.iso.datetime({ offset: true });

function timeOf(name: 'from' | 'to', value: string): number {
  if (value.length > 40 || !isoTime.safeParse(value).success)
    throw new InputError(name, 'must be an ISO 8601 time such as 2026-11-30T12:00:00Z');
  return Date.parse(value);
}

/** The OData filter of a query (through the `odata` template only: values are escaped). */
export function auditFilter(query: AuditQuery): string {
  const parts = [odata`PartitionKey eq ${PARTITION}`];
  // Row keys sort newest first: the newest time bounds the range from below.
  if (query.to !== undefined) parts.push(odata`RowKey ge ${newestFirstKey(timeOf('to', query.to))}`);
  if (query.from !== undefined)
    parts.push(odata`RowKey lt ${`${newestFirstKey(timeOf('from', query.from))}.`}`);
  if (query.tenantId !== undefined) {
    if (!GUID_PATTERN.test(query.tenantId)) throw new InputError('tenantId', 'must be a tenant id (GUID)');
    parts.push(odata`tenantId eq ${query.tenantId.toLowerCase()}`);
  }
  if (query.action !== undefined) {
    if (!(AUDIT_ACTIONS as readonly string[]).includes(query.action))
      throw new InputError('action', `must be one of ${AUDIT_ACTIONS.join(', ')}`);
    parts.push(odata`action eq ${query.action}`);
  }
  if (query.actor !== undefined) {
    const actor = query.actor.trim();
    // eslint-disable-next-line no-control-regex -- control characters are what it refuses
    if (actor === '' || actor.length > 256 || /[\u0000-\u001f\u007f]/.test(actor))
      throw new InputError('actor', 'must be an object id, app id or UPN (at most 256 characters)');
    const lower = actor.toLowerCase();
    parts.push(
      odata`(actorObjectId eq ${lower} or actorAppId eq ${lower} or actorUpn eq ${actor} or actor eq ${actor})`,
    );
  }
  return parts.join(' and ');
}

function recordOf(row: Record<string, unknown>): AuditRecord {
  const text = (name: string): string => (typeof row[name] === 'string' ? row[name] : '');
  const optional = (name: string, value = text(name)) => (value ? { [name]: value } : {});
  return {
    at: text('at'),
    actor: {
      ...(text('actorObjectId') ? { objectId: text('actorObjectId') } : {}),
      ...(text('actorAppId') ? { appId: text('actorAppId') } : {}),
      ...(text('actorUpn') ? { upn: text('actorUpn') } : {}),
      name: text('actorName'),
      label: text('actor'),
      via: text('via'),
    },
    action: text('action') as AuditAction,
    target: text('target'),
    ...optional('tenantId'),
    outcome: text('outcome') as AuditOutcome,
    status: typeof row.status === 'number' ? row.status : 0,
    ...optional('etagBefore'),
    ...optional('etagAfter'),
    ...optional('detail'),
    invocationId: text('invocationId'),
  };
}

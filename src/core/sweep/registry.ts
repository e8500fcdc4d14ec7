/**
 * The tenant registry: one Table entity per customer tenant. Every update is conditional on the ETag
 * read (optimistic concurrency): two operators or two workers never silently overwrite each other.
 * Rows that do not parse (written by hand, or by an older version) are reported, never thrown, so one
 * bad row cannot stop a sweep.
 */
import { odata, RestError, type TableClient, type TableEntityResult } from '@azure/data-tables';
import { z } from 'zod';
import type { CloudName } from '../platform/cloud.js';
import type { Diagnosis } from '../platform/diagnosis.js';
import { ConflictError, InputError, NotFoundError } from '../platform/errors.js';
import { GUID_PATTERN, isGuid, parseTenantId } from '../platform/ids.js';
import { likelyPropagation } from '../platform/propagation.js';

const PARTITION = 'tenant';

export type OnboardingState = 'pending' | 'verified' | 'failed';
export type SweepOutcomeStatus = 'succeeded' | 'partial' | 'failed';

export interface SubscriptionScope {
  /** `all`: every subscription the service principal sees; `list`: only `include`. */
  mode: 'all' | 'list';
  include: string[];
  exclude: string[];
}

export interface TenantRecord {
  tenantId: string;
  displayName: string;
  enabled: boolean;
  /** Who excluded the tenant, when and why (present while `enabled` is false). */
  exclusion?: { by: string; at: string; reason: string };
  tags: string[];
  subscriptions: SubscriptionScope;
  cloud: CloudName;
  onboardingState: OnboardingState;
  lastSweep?: { runId: string; status: SweepOutcomeStatus; at: string };
  consecutiveFailures: number;
  lastError?: { code: string; message: string; at: string };
  createdAt: string;
  updatedAt: string;
  etag: string;
}

/** A registry row that could not be read as a tenant (kept in the table, reported to the operator). */
export interface InvalidTenantRow {
  rowKey: string;
  problem: string;
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const displayName = z
  .string()
  .trim()
  .min(1)
  .max(256)
  .refine((value) => !CONTROL_CHARACTERS.test(value), 'must not contain control characters');

const subscriptionId = z
  .string()
  .regex(GUID_PATTERN, 'must be a subscription id (GUID)')
  .transform((s) => s.toLowerCase());
const tag = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[\w.:-]+$/, 'tags are letters, digits and . _ : -');

const subscriptionScopeInput = z
  .object({
    mode: z.enum(['all', 'list']).default('all'),
    // Stored as one JSON string property (at most 32K characters): 2 x 400 ids is about 31.2K.
    include: z.array(subscriptionId).max(400).default([]),
    exclude: z.array(subscriptionId).max(400).default([]),
  })
  .strict()
  .refine((scope) => scope.mode === 'all' || scope.include.length > 0, {
    message: "mode 'list' needs at least one subscription in include",
    path: ['include'],
  });

export const newTenantSchema = z
  .object({
    tenantId: z
      .string()
      .regex(GUID_PATTERN, 'must be a tenant id (GUID)')
      .transform((s) => s.toLowerCase()),
    displayName: displayName,
    enabled: z.boolean().default(true),
    tags: z.array(tag).max(50).default([]),
    subscriptions: subscriptionScopeInput.default({ mode: 'all', include: [], exclude: [] }),
    cloud: z.enum(['AzurePublicCloud', 'AzureUSGovernment', 'AzureChinaCloud', 'Sandbox']).optional(),
  })
  .strict();
export type NewTenant = z.input<typeof newTenantSchema>;

export const tenantPatchSchema = z
  .object({
    displayName: displayName.optional(),
    enabled: z.boolean().optional(),
    /** Why the tenant is excluded; required when disabling. */
    reason: z.string().trim().min(1).max(1024).optional(),
    tags: z.array(tag).max(50).optional(),
    subscriptions: subscriptionScopeInput.optional(),
  })
  .strict()
  .refine((patch) => patch.enabled !== false || patch.reason !== undefined, {
    message: 'a reason is required to exclude a tenant',
    path: ['reason'],
  });
export type TenantPatch = z.input<typeof tenantPatchSchema>;

/** The stored shape: flat properties (Table storage has no arrays or objects). */
const rowSchema = z.object({
  rowKey: z.string().regex(GUID_PATTERN, 'the row key is not a tenant id (GUID)'),
  displayName: z.string().min(1),
  enabled: z.boolean(),
  excludedBy: z.string().optional(),
  excludedAt: z.string().optional(),
  excludedReason: z.string().optional(),
  tags: z.string().default('[]'),
  subscriptionScope: z.string().default('{"mode":"all","include":[],"exclude":[]}'),
  cloud: z.string().default('AzurePublicCloud'),
  onboardingState: z.enum(['pending', 'verified', 'failed']).default('pending'),
  lastSweepRunId: z.string().optional(),
  lastSweepStatus: z.enum(['succeeded', 'partial', 'failed']).optional(),
  lastSweepAt: z.string().optional(),
  consecutiveFailures: z.number().int().nonnegative().default(0),
  lastErrorCode: z.string().optional(),
  lastErrorMessage: z.string().optional(),
  lastErrorAt: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

function parseJson<T>(schema: z.ZodType<T>, text: string, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${what} is not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${what}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

type Row = Record<string, unknown> & { partitionKey?: string; rowKey?: string; etag?: string };

/** Reads one stored row into a record, or explains why it cannot. */
export function parseTenantRow(entity: Row): TenantRecord | InvalidTenantRow {
  const rowKey = String(entity.rowKey ?? '');
  const parsed = rowSchema.safeParse(entity);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { rowKey, problem: `${issue.path.join('.') || 'row'}: ${issue.message}` };
  }
  const row = parsed.data;
  try {
    const tags = parseJson(z.array(z.string()), row.tags, 'tags');
    const subscriptions = parseJson(subscriptionScopeInput, row.subscriptionScope, 'subscriptionScope');
    const record: TenantRecord = {
      tenantId: row.rowKey.toLowerCase(),
      displayName: row.displayName,
      enabled: row.enabled,
      tags,
      subscriptions,
      cloud: row.cloud as CloudName,
      onboardingState: row.onboardingState,
      consecutiveFailures: row.consecutiveFailures,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      etag: String(entity.etag ?? ''),
    };
    if (!row.enabled && row.excludedAt) {
      record.exclusion = {
        by: row.excludedBy ?? 'unknown',
        at: row.excludedAt,
        reason: row.excludedReason ?? '',
      };
    }
    if (row.lastSweepRunId && row.lastSweepStatus && row.lastSweepAt) {
      record.lastSweep = { runId: row.lastSweepRunId, status: row.lastSweepStatus, at: row.lastSweepAt };
    }
    if (row.lastErrorCode) {
      record.lastError = {
        code: row.lastErrorCode,
        message: row.lastErrorMessage ?? '',
        at: row.lastErrorAt ?? '',
      };
    }
    return record;
  } catch (error) {
    return { rowKey, problem: (error as Error).message };
  }
}

export function isInvalidRow(value: TenantRecord | InvalidTenantRow): value is InvalidTenantRow {
  return 'problem' in value;
}

function isStatus(error: unknown, status: number): boolean {
  return error instanceof RestError && error.statusCode === status;
}

const MAX_ETAG_RETRIES = 8;

export class TenantRegistry {
  constructor(
    private readonly table: TableClient,
    private readonly options: {
      circuitBreakerThreshold: number;
      defaultCloud: CloudName;
      now?: () => Date;
      /** Minutes after registration in which propagation-like failures do not count (default 30). */
      onboardingGraceMinutes?: number;
    },
  ) {}

  private now(): string {
    return (this.options.now?.() ?? new Date()).toISOString();
  }

  /** True when the tenant failed enough sweeps in a row to be skipped until reset or verified. */
  isCircuitOpen(record: TenantRecord): boolean {
    return record.consecutiveFailures >= this.options.circuitBreakerThreshold;
  }

  async add(input: unknown, actor: string): Promise<TenantRecord> {
    const parsed = newTenantSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InputError(issue.path.join('.') || 'body', issue.message);
    }
    const tenant = parsed.data;
    const now = this.now();
    const entity: Record<string, unknown> & { partitionKey: string; rowKey: string } = {
      partitionKey: PARTITION,
      rowKey: tenant.tenantId,
      displayName: tenant.displayName,
      enabled: tenant.enabled,
      tags: JSON.stringify(tenant.tags),
      subscriptionScope: JSON.stringify(tenant.subscriptions),
      cloud: tenant.cloud ?? this.options.defaultCloud,
      onboardingState: 'pending',
      consecutiveFailures: 0,
      createdAt: now,
      updatedAt: now,
    };
    if (!tenant.enabled)
      Object.assign(entity, { excludedBy: actor, excludedAt: now, excludedReason: 'added disabled' });
    try {
      await this.table.createEntity(entity);
    } catch (error) {
      if (isStatus(error, 409))
        throw new ConflictError(`tenant ${tenant.tenantId} is already registered`, 'exists');
      throw error;
    }
    return this.get(tenant.tenantId);
  }

  async get(tenantId: string): Promise<TenantRecord> {
    const id = parseTenantId(tenantId);
    let entity: TableEntityResult<Row>;
    try {
      entity = await this.table.getEntity<Row>(PARTITION, id);
    } catch (error) {
      if (isStatus(error, 404)) throw new NotFoundError(`tenant ${id} is not registered`);
      throw error;
    }
    const record = parseTenantRow(entity);
    if (isInvalidRow(record))
      throw new ConflictError(
        `registry row ${record.rowKey} is invalid (${record.problem}); correct or delete it`,
      );
    return record;
  }

  /** Streams every row, valid or not, page by page. */
  async *list(options: { enabledOnly?: boolean } = {}): AsyncGenerator<TenantRecord | InvalidTenantRow> {
    const filter = options.enabledOnly
      ? odata`PartitionKey eq ${PARTITION} and enabled eq ${true}`
      : odata`PartitionKey eq ${PARTITION}`;
    for await (const entity of this.table.listEntities<Row>({ queryOptions: { filter } })) {
      yield parseTenantRow(entity);
    }
  }

  /** Applies a patch, conditional on `ifMatch` when given (HTTP If-Match), else on the ETag just read. */
  async update(tenantId: string, input: unknown, actor: string, ifMatch?: string): Promise<TenantRecord> {
    const parsed = tenantPatchSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InputError(issue.path.join('.') || 'body', issue.message);
    }
    const patch = parsed.data;
    const current = await this.get(tenantId);
    const now = this.now();
    const changes: Record<string, unknown> = { updatedAt: now };
    if (patch.displayName !== undefined) changes.displayName = patch.displayName;
    if (patch.tags !== undefined) changes.tags = JSON.stringify(patch.tags);
    if (patch.subscriptions !== undefined) changes.subscriptionScope = JSON.stringify(patch.subscriptions);
    if (patch.enabled === false && current.enabled) {
      Object.assign(changes, {
        enabled: false,
        excludedBy: actor,
        excludedAt: now,
        excludedReason: patch.reason,
      });
    } else if (patch.enabled === true && !current.enabled) {
      Object.assign(changes, { enabled: true, excludedBy: '', excludedAt: '', excludedReason: '' });
    } else if (patch.enabled === false && patch.reason !== undefined) {
      changes.excludedReason = patch.reason;
    }
    await this.merge(current.tenantId, changes, ifMatch ?? current.etag);
    return this.get(current.tenantId);
  }

  async remove(tenantId: string, ifMatch?: string): Promise<void> {
    const id = parseTenantId(tenantId);
    try {
      await this.table.deleteEntity(PARTITION, id, ifMatch ? { etag: ifMatch } : {});
    } catch (error) {
      if (isStatus(error, 404)) throw new NotFoundError(`tenant ${id} is not registered`);
      if (isStatus(error, 412))
        throw new ConflictError(`tenant ${id} was changed by someone else; read it again`, 'etag');
      throw error;
    }
  }

  /** Closes the circuit breaker (an operator fixed the cause). */
  async resetCircuit(tenantId: string): Promise<TenantRecord> {
    return this.retryOnEtag(tenantId, () => ({ consecutiveFailures: 0, updatedAt: this.now() }));
  }

  /** Records a successful onboarding check: verified, and the circuit closes. */
  async markVerified(tenantId: string, verified: boolean, diagnosis?: Diagnosis): Promise<TenantRecord> {
    return this.retryOnEtag(tenantId, () => ({
      onboardingState: verified ? 'verified' : 'failed',
      ...(verified ? { consecutiveFailures: 0 } : {}),
      ...(diagnosis
        ? { lastErrorCode: diagnosis.code, lastErrorMessage: diagnosis.meaning, lastErrorAt: this.now() }
        : {}),
      updatedAt: this.now(),
    }));
  }

  /**
   * Records the outcome of a tenant in a run. Idempotent per run: a redelivered message that reports
   * the same run again does not count a second failure. `known`, the record the sweep started from,
   * saves a read: if the row changed since, its ETag no longer matches and the row is read again.
   * Nothing is read back after the write (a sweep does not need the record; `get` does).
   */
  async recordSweepOutcome(
    tenantId: string,
    runId: string,
    status: SweepOutcomeStatus,
    diagnosis?: Diagnosis,
    known?: TenantRecord,
  ): Promise<void> {
    await this.mergeOnEtag(
      tenantId,
      (current) => {
        if (current.lastSweep?.runId === runId && current.lastSweep.status === status) return undefined;
        const now = this.now();
        const alreadyCounted = current.lastSweep?.runId === runId;
        // A tenant not yet verified, registered within the grace period, failing as propagation does
        // (platform/propagation.ts): the failure is recorded but does not count towards the breaker.
        const propagating =
          current.onboardingState !== 'verified' &&
          likelyPropagation(diagnosis, current.createdAt, new Date(now), this.options.onboardingGraceMinutes);
        const failures =
          status === 'failed' ? current.consecutiveFailures + (alreadyCounted || propagating ? 0 : 1) : 0;
        return {
          lastSweepRunId: runId,
          lastSweepStatus: status,
          lastSweepAt: now,
          consecutiveFailures: failures,
          ...(status !== 'failed' && current.onboardingState !== 'verified'
            ? { onboardingState: 'verified' }
            : {}),
          ...(diagnosis
            ? {
                lastErrorCode: diagnosis.code,
                lastErrorMessage: `${diagnosis.meaning} Fix: ${diagnosis.fix}`.slice(0, 2000),
                lastErrorAt: now,
              }
            : {}),
          updatedAt: now,
        };
      },
      known,
    );
  }

  private async merge(tenantId: string, changes: Record<string, unknown>, etag: string): Promise<void> {
    try {
      await this.table.updateEntity({ partitionKey: PARTITION, rowKey: tenantId, ...changes }, 'Merge', {
        etag,
      });
    } catch (error) {
      if (isStatus(error, 412))
        throw new ConflictError(`tenant ${tenantId} was changed by someone else; read it again`, 'etag');
      if (isStatus(error, 404)) throw new NotFoundError(`tenant ${tenantId} is not registered`);
      throw error;
    }
  }

  /** Merges `compute`'s changes (see mergeOnEtag), and returns the record as stored afterwards. */
  private async retryOnEtag(
    tenantId: string,
    compute: (current: TenantRecord) => Record<string, unknown> | undefined,
  ): Promise<TenantRecord> {
    const unchanged = await this.mergeOnEtag(tenantId, compute);
    return unchanged ?? (await this.get(tenantId));
  }

  /**
   * Read, compute, merge against the ETag read; on a conflict (someone wrote in between), again from
   * a fresh read, a bounded number of times. Returns the record when `compute` had nothing to change,
   * undefined after a write.
   */
  private async mergeOnEtag(
    tenantId: string,
    compute: (current: TenantRecord) => Record<string, unknown> | undefined,
    known?: TenantRecord,
  ): Promise<TenantRecord | undefined> {
    for (let attempt = 0; ; attempt++) {
      const current = attempt === 0 && known ? known : await this.get(tenantId);
      const changes = compute(current);
      if (!changes) return current;
      try {
        await this.merge(current.tenantId, changes, current.etag);
        return undefined;
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= MAX_ETAG_RETRIES) throw error;
      }
    }
  }
}

/** True when a registry row key is a tenant id; used to report invalid rows by key only. */
export function looksLikeTenantId(value: string): boolean {
  return isGuid(value);
}

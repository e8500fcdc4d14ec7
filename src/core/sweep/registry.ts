/**
 * The tenant registry: one Table entity per customer tenant (what a row holds: registry-row.ts). Every
 * update is conditional on the ETag read (optimistic concurrency): two operators or two workers never
 * silently overwrite each other. The circuit breaker and outcome rules are tenant-health.ts.
 */
import { odata, type TableClient, type TableEntityResult } from '@azure/data-tables';
import type { CloudName } from '../platform/cloud.js';
import type { Diagnosis } from '../platform/diagnosis.js';
import { ConflictError, InputError, NotFoundError } from '../platform/errors.js';
import { parseTenantId } from '../platform/ids.js';
import { hasStatus } from '../storage/table-errors.js';
import {
  isInvalidRow,
  newTenantSchema,
  parseTenantRow,
  REGISTRY_PARTITION,
  tenantPatchSchema,
  type InvalidTenantRow,
  type Row,
  type SweepOutcomeStatus,
  type TenantRecord,
} from './registry-row.js';
import {
  circuitResetChanges,
  isCircuitOpen,
  sweepOutcomeChanges,
  verificationChanges,
} from './tenant-health.js';

// Callers import the row types and parsers from here, as before the split.
export * from './registry-row.js';

const MAX_ETAG_RETRIES = 8;

export class TenantRegistry {
  constructor(
    private readonly table: TableClient,
    private readonly options: {
      circuitBreakerThreshold: number;
      defaultCloud: CloudName;
      now?: () => Date;
      /** Minutes after registration in which propagation-like failures do not count (the setting). */
      onboardingGraceMinutes: number;
    },
  ) {}

  private now(): string {
    return (this.options.now?.() ?? new Date()).toISOString();
  }

  /** True when the tenant failed enough sweeps in a row to be skipped (tenant-health.ts). */
  isCircuitOpen(record: TenantRecord): boolean {
    return isCircuitOpen(record, this.options.circuitBreakerThreshold);
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
      partitionKey: REGISTRY_PARTITION,
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
      if (hasStatus(error, 409))
        throw new ConflictError(`tenant ${tenant.tenantId} is already registered`, 'exists');
      throw error;
    }
    return this.get(tenant.tenantId);
  }

  async get(tenantId: string): Promise<TenantRecord> {
    const id = parseTenantId(tenantId);
    let entity: TableEntityResult<Row>;
    try {
      entity = await this.table.getEntity<Row>(REGISTRY_PARTITION, id);
    } catch (error) {
      if (hasStatus(error, 404)) throw new NotFoundError(`tenant ${id} is not registered`);
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
      ? odata`PartitionKey eq ${REGISTRY_PARTITION} and enabled eq ${true}`
      : odata`PartitionKey eq ${REGISTRY_PARTITION}`;
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
      await this.table.deleteEntity(REGISTRY_PARTITION, id, ifMatch ? { etag: ifMatch } : {});
    } catch (error) {
      if (hasStatus(error, 404)) throw new NotFoundError(`tenant ${id} is not registered`);
      if (hasStatus(error, 412))
        throw new ConflictError(`tenant ${id} was changed by someone else; read it again`, 'etag');
      throw error;
    }
  }

  /** Closes the circuit breaker (an operator fixed the cause). */
  async resetCircuit(tenantId: string): Promise<TenantRecord> {
    return this.retryOnEtag(tenantId, () => circuitResetChanges(this.now()));
  }

  /** Records a successful onboarding check: verified, and the circuit closes. */
  async markVerified(tenantId: string, verified: boolean, diagnosis?: Diagnosis): Promise<TenantRecord> {
    return this.retryOnEtag(tenantId, () => verificationChanges(verified, this.now(), diagnosis));
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
      (current) =>
        sweepOutcomeChanges(
          current,
          runId,
          status,
          this.now(),
          diagnosis,
          this.options.onboardingGraceMinutes,
        ),
      known,
    );
  }

  private async merge(tenantId: string, changes: Record<string, unknown>, etag: string): Promise<void> {
    try {
      await this.table.updateEntity(
        { partitionKey: REGISTRY_PARTITION, rowKey: tenantId, ...changes },
        'Merge',
        {
          etag,
        },
      );
    } catch (error) {
      if (hasStatus(error, 412))
        throw new ConflictError(`tenant ${tenantId} was changed by someone else; read it again`, 'etag');
      if (hasStatus(error, 404)) throw new NotFoundError(`tenant ${tenantId} is not registered`);
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

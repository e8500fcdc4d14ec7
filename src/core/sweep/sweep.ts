/**
 * The sweep: the timer starts a run and fans out one queue message per tenant; queue workers (scaled
 * out by Functions) each process one tenant; the last worker to finish closes the run.
 *
 * Guarantees:
 * - runs never overlap (a lock row); a stuck run is closed as `timedOut` by the next start;
 * - one tenant's failure never touches another's (each is its own message);
 * - a redelivered message never double-counts: the tenant's run row finishes once, inventory and
 *   change rows are upserts keyed by run and resource, the snapshot blob name is fixed;
 * - retryable failures are rethrown (the queue redelivers) until the last delivery, where the failure
 *   is recorded with its diagnosis; a message that still dies reaches the poison queue and is recorded.
 */
import pLimit from 'p-limit';
import {
  listInventoryItems,
  listVisibleSubscriptions,
  resourceClient,
  subscriptionClient,
  type ArmOptions,
  type VisibleSubscription,
} from '../platform/arm.js';
import { diagnose, diagnosisFor, type Diagnosis } from '../platform/diagnosis.js';
import { ConflictError, NotFoundError, ensureError } from '../platform/errors.js';
import { countRunChanges, InventorySync, type SubscriptionSyncResult } from '../inventory/inventory.js';
import { isInvalidRow, type TenantRecord } from './registry.js';
import {
  newRunId,
  type RunRecord,
  type RunTrigger,
  type TenantRunCounts,
  type TenantRunStatus,
} from './runs.js';
import type { FleetRuntime } from '../runtime.js';
import { classifySubscriptions, tenantMovedTo } from './subscription-states.js';
import { SnapshotWriter, snapshotBlobName } from '../storage/snapshot.js';
import { encodeSweepMessage, parseSweepMessage } from './sweep-message.js';
import { syncTenantStorage } from '../inventory/storage-inventory.js';

/** Deliveries before the host moves a message to the poison queue; equals host.json's maxDequeueCount. */
export const MAX_DEQUEUE_COUNT = 5;

/** Tenants enqueued at once when a run starts. */
const ENQUEUE_CONCURRENCY = 16;

export interface StartSweepResult {
  runId: string;
  queued: number;
  skipped: number;
  invalid: number;
  /** A stuck run that was closed before this one started. */
  closedStuckRun?: string;
}

export interface StartSweepOptions {
  trigger: RunTrigger;
  /** Only these tenants (on-demand runs); all enabled tenants otherwise. */
  tenantIds?: string[];
}

interface PlannedTenant {
  tenantId: string;
  displayName: string;
  status: TenantRunStatus;
  diagnosis?: Diagnosis;
}

/** Starts a run: takes the lock, records the run and its tenants, enqueues one message per tenant. */
export async function startSweep(
  runtime: FleetRuntime,
  options: StartSweepOptions,
): Promise<StartSweepResult> {
  const { runs, registry, config } = runtime;
  await runtime.storage.ensureResources();
  const now = runtime.now();
  const nowIso = now.toISOString();
  if (options.tenantIds) {
    // Unknown tenants are refused before anything is locked or recorded (no empty run is left behind).
    const missing: string[] = [];
    for (const tenantId of new Set(options.tenantIds.map((id) => id.toLowerCase()))) {
      try {
        await registry.get(tenantId);
      } catch (error) {
        if (error instanceof NotFoundError) missing.push(tenantId);
        else if (!(error instanceof ConflictError)) throw error; // an invalid row is reported by the run
      }
    }
    if (missing.length) throw new NotFoundError(`not registered: ${missing.join(', ')}`);
  }
  const closedStuckRun = await closeStuckRun(runtime, now);
  const runId = newRunId(now);
  await runs.acquireLock(runId, nowIso);
  try {
    await runs.createRun({ runId, trigger: options.trigger, status: 'running', startedAt: nowIso });
    const wanted = options.tenantIds ? new Set(options.tenantIds.map((id) => id.toLowerCase())) : undefined;
    const planned: PlannedTenant[] = [];
    const context = { cloud: config.cloud, appClientId: config.appClientId };
    for await (const row of registry.list()) {
      if (isInvalidRow(row)) {
        if (wanted) continue;
        planned.push({
          tenantId: `invalid_${row.rowKey}`.slice(0, 200),
          displayName: row.rowKey,
          status: 'invalid',
          diagnosis: diagnosisFor('InvalidRegistryRow', context, row.problem),
        });
        continue;
      }
      if (wanted && !wanted.has(row.tenantId)) continue;
      const tenantContext = { ...context, tenantId: row.tenantId };
      if (!row.enabled) {
        planned.push({
          ...identity(row),
          status: 'skipped',
          diagnosis: diagnosisFor('TenantExcluded', tenantContext, row.exclusion?.reason ?? ''),
        });
      } else if (registry.isCircuitOpen(row) && !wanted) {
        planned.push({
          ...identity(row),
          status: 'skipped',
          diagnosis: diagnosisFor(
            'CircuitOpen',
            tenantContext,
            `${row.consecutiveFailures} failures in a row; last: ${row.lastError?.code ?? 'unknown'}`,
          ),
        });
      } else {
        planned.push({ ...identity(row), status: 'queued' });
      }
    }
    if (wanted) {
      const found = new Set(planned.map((tenant) => tenant.tenantId));
      const missing = [...wanted].filter((id) => !found.has(id));
      if (missing.length) throw new NotFoundError(`not registered: ${missing.join(', ')}`);
    }
    await runs.addTenants(
      runId,
      planned.map((tenant) => ({
        tenantId: tenant.tenantId,
        displayName: tenant.displayName,
        status: tenant.status,
        ...(tenant.status !== 'queued' ? { endedAt: nowIso } : {}),
        ...(tenant.diagnosis
          ? {
              diagnosisCode: tenant.diagnosis.code,
              diagnosisMeaning: tenant.diagnosis.meaning,
              diagnosisFix: tenant.diagnosis.fix,
              diagnosisDetail: tenant.diagnosis.detail,
            }
          : {}),
      })),
    );
    const queue = runtime.storage.queue(config.names.sweepQueue);
    const limit = pLimit(ENQUEUE_CONCURRENCY);
    const queued = planned.filter((tenant) => tenant.status === 'queued');
    await Promise.all(
      queued.map((tenant) =>
        limit(() => queue.sendMessage(encodeSweepMessage({ v: 1, runId, tenantId: tenant.tenantId }))),
      ),
    );
    if (queued.length === 0) await runs.finalizeRun(runId, nowIso);
    runtime.log(
      'info',
      `run ${runId} started: ${queued.length} queued, ${planned.length - queued.length} not swept`,
    );
    return {
      runId,
      queued: queued.length,
      skipped: planned.filter((tenant) => tenant.status === 'skipped').length,
      invalid: planned.filter((tenant) => tenant.status === 'invalid').length,
      ...(closedStuckRun ? { closedStuckRun } : {}),
    };
  } catch (error) {
    // Nothing was enqueued for a run that failed to start: close it so the lock is not left behind.
    await runs.finalizeRun(runId, runtime.now().toISOString()).catch(() => undefined);
    throw error;
  }
}

function identity(row: TenantRecord): { tenantId: string; displayName: string } {
  return { tenantId: row.tenantId, displayName: row.displayName };
}

/** Closes the run holding the lock if it has run longer than the timeout. Returns its id if closed. */
async function closeStuckRun(runtime: FleetRuntime, now: Date): Promise<string | undefined> {
  const holder = await runtime.runs.lockHolder();
  if (!holder) return undefined;
  let run: RunRecord;
  try {
    run = await runtime.runs.getRun(holder.runId);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    await runtime.runs.releaseLock(holder.runId); // a lock without its run: left by a crash at start
    return undefined;
  }
  if (run.status !== 'running') {
    await runtime.runs.releaseLock(run.runId);
    return undefined;
  }
  const age = now.getTime() - Date.parse(run.startedAt);
  if (age <= runtime.config.sweep.runTimeoutMs) {
    throw new ConflictError(`run ${run.runId} is still in progress (started ${run.startedAt})`, 'busy');
  }
  const diagnosis = diagnosisFor('RunTimedOut', {
    cloud: runtime.config.cloud,
    appClientId: runtime.config.appClientId,
  });
  await runtime.runs.finalizeRun(run.runId, now.toISOString(), { abandonPending: diagnosis });
  runtime.log(
    'warn',
    `run ${run.runId} was stuck for ${Math.round(age / 60000)} min and was closed as timedOut`,
  );
  return run.runId;
}

export type ProcessOutcome = 'succeeded' | 'partial' | 'failed' | 'skipped' | 'duplicate' | 'invalid-message';

/**
 * Processes one tenant message. Throws only for retryable failures before the last delivery (so the
 * queue redelivers); everything else is recorded and returns normally.
 */
export async function processTenantMessage(
  runtime: FleetRuntime,
  raw: unknown,
  delivery: { dequeueCount: number },
): Promise<ProcessOutcome> {
  const message = parseSweepMessage(raw);
  if (!message) {
    runtime.log('warn', 'dropped a sweep message that is not a sweep message (v, runId, tenantId)');
    return 'invalid-message';
  }
  const { runId, tenantId } = message;
  const { runs, registry, config } = runtime;
  const context = { cloud: config.cloud, appClientId: config.appClientId, tenantId };
  const claim = await runs.beginTenant(runId, tenantId, delivery.dequeueCount, runtime.now().toISOString());
  if (!claim) {
    await reconcileFinishedTenant(runtime, runId, tenantId);
    return 'duplicate';
  }
  let tenant: TenantRecord;
  try {
    tenant = await registry.get(tenantId);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    await runs.finishTenant(
      runId,
      tenantId,
      'skipped',
      { endedAt: runtime.now().toISOString(), diagnosis: diagnosisFor('TenantRemoved', context) },
      claim,
    );
    await closeRunIfDrained(runtime, runId);
    return 'skipped';
  }
  let outcome: ProcessOutcome;
  try {
    const result = await sweepTenant(runtime, tenant, runId, { redelivered: delivery.dequeueCount > 1 });
    const status = result.warnings.length > 0 ? 'partial' : 'succeeded';
    const warning = result.warnings[0]?.diagnosis;
    if (
      await runs.finishTenant(
        runId,
        tenantId,
        status,
        {
          endedAt: runtime.now().toISOString(),
          ...result.counts,
          warnings: result.warnings.map(summarizeWarning),
          ...(result.snapshotBlob ? { snapshotBlob: result.snapshotBlob } : {}),
        },
        claim,
      )
    ) {
      await registry.recordSweepOutcome(tenantId, runId, status, warning, tenant);
    }
    outcome = status;
  } catch (caught) {
    const error = ensureError(caught);
    const diagnosis = error instanceof DiagnosedError ? error.diagnosis : diagnose(error, context);
    if (diagnosis.retryable && delivery.dequeueCount < MAX_DEQUEUE_COUNT) {
      runtime.log(
        'warn',
        `tenant ${tenantId} attempt ${delivery.dequeueCount} failed (${diagnosis.code}); the queue will retry`,
      );
      throw error;
    }
    if (
      await runs.finishTenant(
        runId,
        tenantId,
        'failed',
        { endedAt: runtime.now().toISOString(), diagnosis },
        claim,
      )
    ) {
      await registry.recordSweepOutcome(tenantId, runId, 'failed', diagnosis, tenant);
    }
    runtime.log('warn', `tenant ${tenantId} failed: ${diagnosis.code}: ${diagnosis.meaning}`);
    outcome = 'failed';
  }
  await closeRunIfDrained(runtime, runId);
  return outcome;
}

/** A message that exhausted its deliveries: record the tenant as failed (never lost silently). */
export async function recordPoisonMessage(
  runtime: FleetRuntime,
  raw: unknown,
): Promise<'recorded' | 'duplicate' | 'invalid-message'> {
  const message = parseSweepMessage(raw);
  if (!message) {
    runtime.log('warn', 'dropped a poison message that is not a sweep message');
    return 'invalid-message';
  }
  const { runId, tenantId } = message;
  const diagnosis = diagnosisFor('PoisonMessage', {
    cloud: runtime.config.cloud,
    appClientId: runtime.config.appClientId,
    tenantId,
  });
  const recorded = await runtime.runs.finishTenant(runId, tenantId, 'failed', {
    endedAt: runtime.now().toISOString(),
    diagnosis,
  });
  if (recorded) {
    await runtime.registry
      .recordSweepOutcome(tenantId, runId, 'failed', diagnosis)
      .catch((error: unknown) => {
        if (!(error instanceof NotFoundError)) throw error;
      });
  }
  await closeRunIfDrained(runtime, runId);
  return recorded ? 'recorded' : 'duplicate';
}

/** A redelivered message for a finished tenant: make sure the registry and run reflect it (idempotent). */
async function reconcileFinishedTenant(
  runtime: FleetRuntime,
  runId: string,
  tenantId: string,
): Promise<void> {
  const row = await runtime.runs.getTenant(runId, tenantId);
  if (row && (row.status === 'succeeded' || row.status === 'partial' || row.status === 'failed')) {
    await runtime.registry.recordSweepOutcome(tenantId, runId, row.status).catch((error: unknown) => {
      if (!(error instanceof NotFoundError)) throw error;
    });
  }
  await closeRunIfDrained(runtime, runId);
}

async function closeRunIfDrained(runtime: FleetRuntime, runId: string): Promise<void> {
  if (await runtime.runs.isRunDrained(runId)) {
    const run = await runtime.runs.finalizeRun(runId, runtime.now().toISOString());
    if (run.status !== 'running') runtime.log('info', `run ${runId} closed: ${run.status}`);
  }
}

/** A failure the product diagnosed itself (no exception from a service behind it). */
export class DiagnosedError extends Error {
  override readonly name = 'DiagnosedError';
  constructor(readonly diagnosis: Diagnosis) {
    super(`${diagnosis.code}: ${diagnosis.meaning}`);
  }
}

export interface TenantWarning {
  scope: 'subscription' | 'storageAccount';
  id: string;
  diagnosis: Diagnosis;
}

function summarizeWarning(warning: TenantWarning): Record<string, string> {
  return { scope: warning.scope, id: warning.id, code: warning.diagnosis.code, fix: warning.diagnosis.fix };
}

export interface TenantSweepResult {
  counts: TenantRunCounts;
  warnings: TenantWarning[];
  snapshotBlob?: string;
  tableRequests: number;
}

/** Inventory, change detection, storage inventory and snapshot for one tenant. */
export async function sweepTenant(
  runtime: FleetRuntime,
  tenant: TenantRecord,
  runId: string,
  options: {
    /** A later delivery of the tenant's message: an earlier one may have written some of the changes. */
    redelivered?: boolean;
  } = {},
): Promise<TenantSweepResult> {
  const { config, storage } = runtime;
  const tenantId = tenant.tenantId;
  const context = { cloud: config.cloud, appClientId: config.appClientId, tenantId };
  const credential = runtime.chain.forTenant(tenantId);
  const armOptions: ArmOptions = { cloud: config.cloud, maxRetries: config.sweep.armMaxRetries };
  const now = runtime.now().toISOString();
  const warnings: TenantWarning[] = [];

  const tables = {
    inventory: storage.table(config.names.inventoryTable),
    changes: storage.table(config.names.changesTable),
  };
  // Which subscriptions had an inventory before: read while ARM lists the visible ones.
  const retireSync = new InventorySync(tables);
  const knownRead = retireSync.tenantSubscriptions(tenantId);
  knownRead.catch(() => undefined); // a failure surfaces at the await below

  const subscriptions = subscriptionClient(credential, armOptions);
  const listed: VisibleSubscription[] = [];
  for await (const subscription of listVisibleSubscriptions(subscriptions)) listed.push(subscription);
  // Disabled: kept, not swept; Deleted: retired (subscription-states.ts states the rule).
  const known = await knownRead;
  const states = classifySubscriptions(listed, new Set(known.subscriptionIds), context, warnings);
  const visible = listed.filter((subscription) => subscription.state !== 'Deleted');
  const scope = tenant.subscriptions;
  const excluded = new Set(scope.exclude);
  const kept = states.kept.filter((id) => !excluded.has(id) && known.subscriptionIds.includes(id));
  let inScope = states.swept.filter((subscription) => !excluded.has(subscription.subscriptionId));
  if (scope.mode === 'list') {
    const listed = new Set(scope.include);
    inScope = inScope.filter((subscription) => listed.has(subscription.subscriptionId));
    const seen = new Set(visible.map((subscription) => subscription.subscriptionId));
    for (const id of scope.include) {
      if (!seen.has(id))
        warnings.push({
          scope: 'subscription',
          id,
          diagnosis: diagnosisFor('SubscriptionNotVisible', context, id),
        });
    }
  }
  if (inScope.length === 0 && kept.length === 0) {
    throw new DiagnosedError(
      warnings[0]?.diagnosis ??
        diagnosisFor('NoVisibleSubscriptions', context, `${visible.length} visible, none in scope`),
    );
  }

  const snapshot = config.sweep.snapshots
    ? new SnapshotWriter(
        storage.container(config.names.snapshotsContainer),
        snapshotBlobName(tenantId, runId),
      )
    : undefined;
  const syncContext = {
    tenantId,
    runId,
    now,
    ...(snapshot ? { onItem: (item: unknown) => snapshot.write(item) } : {}),
  };
  let tableRequests = 0;
  try {
    const current = new Set([...inScope.map((subscription) => subscription.subscriptionId), ...kept]);
    const knownAndCurrent = new Set([...known.subscriptionIds, ...current]);
    if (!known.stored || knownAndCurrent.size !== known.subscriptionIds.length) {
      await retireSync.recordTenantSubscriptions(tenantId, knownAndCurrent, known.storageAccounts);
    }
    const limit = pLimit(config.sweep.subscriptionConcurrency);
    const results = await Promise.all(
      inScope.map((subscription) =>
        limit(async (): Promise<SubscriptionSyncResult | undefined> => {
          // One sync (and so one pair of writers) per subscription: batches never mix partitions' order.
          const sync = new InventorySync(tables);
          try {
            const client = resourceClient(credential, subscription.subscriptionId, armOptions);
            return await sync.syncSubscription(
              syncContext,
              subscription,
              listInventoryItems(client, subscription.subscriptionId),
            );
          } catch (error) {
            const diagnosis = diagnose(error, context);
            if (diagnosis.retryable) throw error;
            warnings.push({ scope: 'subscription', id: subscription.subscriptionId, diagnosis });
            return undefined;
          } finally {
            const stats = sync.stats();
            tableRequests += stats.inventory.requests + stats.changes.requests;
          }
        }),
      ),
    );
    const synced = results.filter((result): result is SubscriptionSyncResult => result !== undefined);
    if (synced.length === 0 && inScope.length > 0) throw new DiagnosedError(warnings[0]!.diagnosis);

    // Subscriptions inventoried before but no longer visible or in scope: their resources are removed.
    const retired = known.subscriptionIds.filter((subscriptionId) => !current.has(subscriptionId));
    for (const subscriptionId of retired) {
      const movedTo = await tenantMovedTo(subscriptions, subscriptionId, tenantId);
      if (movedTo) {
        warnings.push({
          scope: 'subscription',
          id: subscriptionId,
          diagnosis: diagnosisFor('SubscriptionMoved', context, `${subscriptionId} now in tenant ${movedTo}`),
        });
      }
      synced.push(
        await retireSync.retireSubscription(syncContext, {
          subscriptionId,
          displayName: '',
          state: '',
          tenantId,
        }),
      );
    }
    if (retired.length > 0) await retireSync.recordTenantSubscriptions(tenantId, current);

    const counts: TenantRunCounts = {
      subscriptions: synced.filter((result) => current.has(result.subscriptionId)).length,
      resourceGroups: 0,
      resources: 0,
      baselined: 0,
      added: 0,
      removed: 0,
      modified: 0,
      storageAccounts: 0,
      storageRefused: 0,
      blobs: 0,
      blobBytes: 0,
    };
    for (const result of synced) {
      counts.baselined += result.baselined;
      counts.added += result.added;
      counts.removed += result.removed;
      counts.modified += result.modified;
      if (!current.has(result.subscriptionId)) continue; // retired: nothing of it is in the inventory now
      counts.resourceGroups += result.resourceGroups;
      counts.resources += result.items - result.resourceGroups;
    }
    // What this delivery found is exact on a first delivery. After a redelivery, the change rows say
    // what the run found in all (a query over the tenant's change rows; only then, since it costs one).
    if (options.redelivered) Object.assign(counts, await countRunChanges(tables.changes, tenantId, runId));

    const storageResult = await syncTenantStorage({
      cloud: config.cloud,
      credential,
      table: storage.table(config.names.storageTable),
      tenantId,
      runId,
      now,
      appClientId: config.appClientId,
      concurrency: config.sweep.storageAccountConcurrency,
      accounts: synced.flatMap((result) => result.storageAccounts),
      known: known.storageAccounts,
      record: (accounts) => retireSync.recordTenantStorageAccounts(tenantId, accounts),
      sweptSubscriptions: new Set(
        synced.map((result) => result.subscriptionId).filter((id) => current.has(id)),
      ),
      currentSubscriptions: current,
    });
    counts.storageAccounts = storageResult.accounts;
    counts.storageRefused = storageResult.refused.length;
    counts.blobs = storageResult.blobs;
    counts.blobBytes = storageResult.blobBytes;
    for (const { name, diagnosis } of storageResult.refused)
      warnings.push({ scope: 'storageAccount', id: name, diagnosis });

    const finished = snapshot ? await snapshot.finish() : undefined;
    return { counts, warnings, tableRequests, ...(finished ? { snapshotBlob: finished.blobName } : {}) };
  } catch (error) {
    snapshot?.abort();
    throw error;
  }
}

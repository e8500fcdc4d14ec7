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
import { diagnose, diagnosisFor, type Diagnosis, type DiagnosisContext } from '../platform/diagnosis.js';
import { ConflictError, NotFoundError, ensureError } from '../platform/errors.js';
import { isInvalidRow, type TenantRecord } from './registry.js';
import { newRunId, type RunRecord, type RunTrigger, type TenantClaim, type TenantRunStatus } from './runs.js';
import type { FleetRuntime } from '../runtime.js';
import { encodeSweepMessage, parseSweepMessage, type SweepMessage } from './sweep-message.js';
import { DiagnosedError, sweepTenant, type TenantSweepResult, type TenantWarning } from './tenant-sweep.js';

/**
 * Deliveries before the host moves a message to the poison queue: host.json's maxDequeueCount, kept
 * equal by test/functions/host-settings.test.ts.
 */
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
  const { runs } = runtime;
  await runtime.storage.ensureResources();
  const now = runtime.now();
  const nowIso = now.toISOString();
  if (options.tenantIds) await refuseUnregistered(runtime, options.tenantIds);
  const closedStuckRun = await closeStuckRun(runtime, now);
  const runId = newRunId(now);
  await runs.acquireLock(runId, nowIso);
  try {
    await runs.createRun({ runId, trigger: options.trigger, status: 'running', startedAt: nowIso });
    const wanted = options.tenantIds ? new Set(options.tenantIds.map((id) => id.toLowerCase())) : undefined;
    const planned = await recordPlannedTenants(runtime, runId, nowIso, planTenants(runtime, wanted), wanted);
    if (wanted) {
      const missing = [...wanted].filter((id) => !planned.found.has(id));
      if (missing.length) throw new NotFoundError(`not registered: ${missing.join(', ')}`);
    }
    const { queued } = planned;
    await enqueueTenants(runtime, runId, queued);
    if (queued.length === 0) await runs.finalizeRun(runId, nowIso);
    runtime.log(
      'info',
      `run ${runId} started: ${queued.length} queued, ${planned.skipped + planned.invalid} not swept`,
    );
    return {
      runId,
      queued: queued.length,
      skipped: planned.skipped,
      invalid: planned.invalid,
      ...(closedStuckRun ? { closedStuckRun } : {}),
    };
  } catch (error) {
    // Nothing was enqueued for a run that failed to start: close it so the lock is not left behind.
    await runs.finalizeRun(runId, runtime.now().toISOString()).catch(() => undefined);
    throw error;
  }
}

/** Refuses unknown tenants before anything is locked or recorded (no empty run is left behind). */
async function refuseUnregistered(runtime: FleetRuntime, tenantIds: string[]): Promise<void> {
  const missing: string[] = [];
  for (const tenantId of new Set(tenantIds.map((id) => id.toLowerCase()))) {
    try {
      await runtime.registry.get(tenantId);
    } catch (error) {
      if (error instanceof NotFoundError) missing.push(tenantId);
      else if (!(error instanceof ConflictError)) throw error; // an invalid row is reported by the run
    }
  }
  if (missing.length) throw new NotFoundError(`not registered: ${missing.join(', ')}`);
}

/**
 * What the run does with each registry row: queue it, skip it (excluded, or its circuit is open on a
 * scheduled run) or report it (a row that is not a tenant). `wanted`: only these tenants.
 */
async function* planTenants(
  runtime: FleetRuntime,
  wanted: Set<string> | undefined,
): AsyncGenerator<PlannedTenant> {
  const { registry, config } = runtime;
  const context = { cloud: config.cloud, appClientId: config.appClientId };
  for await (const row of registry.list()) {
    if (isInvalidRow(row)) {
      if (wanted) continue;
      yield {
        tenantId: `invalid_${row.rowKey}`.slice(0, 200),
        displayName: row.rowKey,
        status: 'invalid',
        diagnosis: diagnosisFor('InvalidRegistryRow', context, row.problem),
      };
      continue;
    }
    if (wanted && !wanted.has(row.tenantId)) continue;
    const tenantContext = { ...context, tenantId: row.tenantId };
    if (!row.enabled) {
      yield {
        ...identity(row),
        status: 'skipped',
        diagnosis: diagnosisFor('TenantExcluded', tenantContext, row.exclusion?.reason ?? ''),
      };
    } else if (registry.isCircuitOpen(row) && !wanted) {
      yield {
        ...identity(row),
        status: 'skipped',
        diagnosis: diagnosisFor(
          'CircuitOpen',
          tenantContext,
          `${row.consecutiveFailures} failures in a row; last: ${row.lastError?.code ?? 'unknown'}`,
        ),
      };
    } else {
      yield { ...identity(row), status: 'queued' };
    }
  }
}

/** A queued tenant as the fan-out keeps it until its message is sent: its id and its row's ETag. */
interface QueuedTenant {
  tenantId: string;
  etag?: string;
}

/** Tenant rows written per transaction (they share the run's partition). */
const PLANNED_BATCH = 100;

/**
 * Writes the run's tenant rows as the registry is read, a transaction per 100, so the fan-out holds a
 * page of the registry and a batch of rows, not the registry. The queued tenants' ids and ETags are
 * kept for their messages, which are sent only once every row exists: a worker that finished early
 * must not find the run drained while rows are still to be written.
 */
async function recordPlannedTenants(
  runtime: FleetRuntime,
  runId: string,
  nowIso: string,
  planned: AsyncIterable<PlannedTenant>,
  wanted: Set<string> | undefined,
): Promise<{ queued: QueuedTenant[]; skipped: number; invalid: number; found: Set<string> }> {
  // `found`: the wanted tenants the registry had (on-demand runs only, a short list).
  const result = { queued: [] as QueuedTenant[], skipped: 0, invalid: 0, found: new Set<string>() };
  let batch: PlannedTenant[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    const etags = await runtime.runs.addTenants(
      runId,
      rows.map((tenant) => runTenantRow(tenant, nowIso)),
    );
    for (const tenant of rows) {
      if (tenant.status !== 'queued') continue;
      const etag = etags.get(tenant.tenantId);
      result.queued.push({ tenantId: tenant.tenantId, ...(etag ? { etag } : {}) });
    }
  };
  for await (const tenant of planned) {
    if (tenant.status === 'skipped') result.skipped++;
    if (tenant.status === 'invalid') result.invalid++;
    if (wanted?.has(tenant.tenantId)) result.found.add(tenant.tenantId);
    batch.push(tenant);
    if (batch.length >= PLANNED_BATCH) await flush();
  }
  await flush();
  return result;
}

/** The run's first row of a tenant: queued, or already final (skipped, invalid) with its diagnosis. */
function runTenantRow(tenant: PlannedTenant, nowIso: string) {
  return {
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
  };
}

/**
 * One sweep message per queued tenant (with its run row's ETag), a few sent at once: a fixed number of
 * senders take the next tenant in turn, so nothing is allocated per tenant up front.
 */
async function enqueueTenants(runtime: FleetRuntime, runId: string, queued: QueuedTenant[]): Promise<void> {
  const queue = runtime.storage.queue(runtime.config.names.sweepQueue);
  let next = 0;
  const sender = async (): Promise<void> => {
    while (next < queued.length) {
      const { tenantId, etag } = queued[next++]!;
      await queue.sendMessage(encodeSweepMessage({ v: 1, runId, tenantId, ...(etag ? { etag } : {}) }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(ENQUEUE_CONCURRENCY, queued.length) }, sender));
}

function identity(row: TenantRecord): { tenantId: string; displayName: string } {
  return { tenantId: row.tenantId, displayName: row.displayName };
}

/**
 * Closes the run holding the lock if every tenant of it has finished, or if it has run longer than the
 * timeout. Returns its id if closed.
 */
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
  // Every tenant finished, but the worker whose turn it was to close the run died first and nothing
  // is left to redeliver: close it now rather than refuse new runs until the run timeout.
  if (await runtime.runs.isRunDrained(run.runId)) {
    const closed = await runtime.runs.finalizeRun(run.runId, now.toISOString());
    runtime.log(
      'warn',
      `run ${run.runId} had every tenant finished but was still open; closed as ${closed.status}`,
    );
    return run.runId;
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
  const { runId } = message;
  const redelivered = delivery.dequeueCount > 1;
  count(inProgress, runId, 1);
  if (redelivered) count(redeliveriesInProgress, runId, 1);
  let left: number;
  let redeliveriesLeft: number;
  let outcome: ProcessOutcome;
  try {
    outcome = await processTenant(runtime, message, delivery);
  } finally {
    left = count(inProgress, runId, -1);
    redeliveriesLeft = redelivered
      ? count(redeliveriesInProgress, runId, -1)
      : (redeliveriesInProgress.get(runId) ?? 0);
  }
  if (left === 0 || redelivered || redeliveriesLeft > 0) await closeRunIfDrained(runtime, runId);
  return outcome;
}

/**
 * Tenant messages of each run that this process is working on. Only the worker that leaves none of
 * its run in flight here checks whether the run is drained, instead of one query per tenant
 * (docs/performance.md). It checks after it stops counting itself: a message that finishes while
 * that check reads is then the last in flight, and checks again after its own write (checking while
 * still counted left a run `running` with every tenant finished). A worker that throws does not
 * check: the queue redelivers its message, and that delivery (or the poison handler) checks later,
 * after every write that deferred to it.
 *
 * Redeliveries are the exception. A message delivered again may be in flight twice at once (its lease
 * ran out while it was processed), and the twin that finishes first deletes it. A check left to the
 * other twin is then made by a delivery whose message is gone: if its worker dies while closing the
 * run, no delivery is left to close it (the fault suite found a run left `running` that way, every
 * tenant finished and the queue empty). So a redelivery checks whatever else is in flight, and so does
 * any message that finishes while a redelivery of its run is in flight here: each checks while its own
 * message is still on the queue. Redeliveries are rare, and so are these extra checks.
 */
const inProgress = new Map<string, number>();
/** The redeliveries (dequeue count above 1) among `inProgress`. */
const redeliveriesInProgress = new Map<string, number>();

/** Adds `delta` to a run's count in `counts` and returns the new count (an entry at 0 is removed). */
function count(counts: Map<string, number>, runId: string, delta: number): number {
  const value = (counts.get(runId) ?? 0) + delta;
  if (value > 0) counts.set(runId, value);
  else counts.delete(runId);
  return Math.max(value, 0);
}

async function processTenant(
  runtime: FleetRuntime,
  message: SweepMessage,
  delivery: { dequeueCount: number },
): Promise<ProcessOutcome> {
  const { runId, tenantId } = message;
  const { config } = runtime;
  const job: TenantJob = {
    runtime,
    runId,
    tenantId,
    delivery: delivery.dequeueCount,
    context: { cloud: config.cloud, appClientId: config.appClientId, tenantId },
  };
  const claim = await claimTenant(runtime, message, delivery.dequeueCount);
  if (!claim) {
    await reconcileFinishedTenant(runtime, runId, tenantId);
    return 'duplicate';
  }
  const tenant = await registeredTenant(job, claim);
  if (!tenant) return 'skipped';
  try {
    const result = await sweepTenant(runtime, tenant, runId, { redelivered: delivery.dequeueCount > 1 });
    return await recordSwept(job, claim, tenant, result);
  } catch (caught) {
    return recordFailure(job, claim, tenant, caught);
  }
}

/**
 * The worker's claim on the tenant's run row. A first delivery that carries the row's ETag from the
 * run's start takes it without a request: the row is written once, with the result, against that ETag
 * (a row changed since fails that write and is read again). A redelivery reads the row and moves it
 * to `running` (attempt n), or finds it finished.
 */
async function claimTenant(
  runtime: FleetRuntime,
  message: SweepMessage,
  dequeueCount: number,
): Promise<TenantClaim | undefined> {
  const now = runtime.now().toISOString();
  if (dequeueCount <= 1 && message.etag) return { etag: message.etag, startedAt: now, attempt: 1 };
  return runtime.runs.beginTenant(message.runId, message.tenantId, dequeueCount, now);
}

/** One delivery of one tenant's message: what the steps below share. */
interface TenantJob {
  runtime: FleetRuntime;
  runId: string;
  tenantId: string;
  /** Which delivery this is (the queue's dequeue count). */
  delivery: number;
  context: DiagnosisContext;
}

/** The tenant's registry record; a tenant removed since the run started is recorded as skipped. */
async function registeredTenant(job: TenantJob, claim: TenantClaim): Promise<TenantRecord | undefined> {
  const { runtime, runId, tenantId } = job;
  try {
    return await runtime.registry.get(tenantId);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    await runtime.runs.finishTenant(
      runId,
      tenantId,
      'skipped',
      { endedAt: runtime.now().toISOString(), diagnosis: diagnosisFor('TenantRemoved', job.context) },
      claim,
    );
    return undefined;
  }
}

/** Records a swept tenant (partial when something was refused) in the run and, once, in the registry. */
async function recordSwept(
  job: TenantJob,
  claim: TenantClaim,
  tenant: TenantRecord,
  result: TenantSweepResult,
): Promise<ProcessOutcome> {
  const { runtime, runId, tenantId } = job;
  const status = result.warnings.length > 0 ? 'partial' : 'succeeded';
  const warning = result.warnings[0]?.diagnosis;
  if (
    await runtime.runs.finishTenant(
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
    await runtime.registry.recordSweepOutcome(tenantId, runId, status, warning, tenant);
  }
  return status;
}

/**
 * A failed sweep: rethrown while it is retryable and deliveries remain (the queue redelivers it),
 * otherwise recorded with its diagnosis in the run and, once, in the registry.
 */
async function recordFailure(
  job: TenantJob,
  claim: TenantClaim,
  tenant: TenantRecord,
  caught: unknown,
): Promise<ProcessOutcome> {
  const { runtime, runId, tenantId } = job;
  const error = ensureError(caught);
  const diagnosis = error instanceof DiagnosedError ? error.diagnosis : diagnose(error, job.context);
  if (diagnosis.retryable && job.delivery < MAX_DEQUEUE_COUNT) {
    runtime.log(
      'warn',
      `tenant ${tenantId} attempt ${job.delivery} failed (${diagnosis.code}); the queue will retry`,
    );
    throw error;
  }
  if (
    await runtime.runs.finishTenant(
      runId,
      tenantId,
      'failed',
      { endedAt: runtime.now().toISOString(), diagnosis },
      claim,
    )
  ) {
    await runtime.registry.recordSweepOutcome(tenantId, runId, 'failed', diagnosis, tenant);
  }
  runtime.log('warn', `tenant ${tenantId} failed: ${diagnosis.code}: ${diagnosis.meaning}`);
  return 'failed';
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
}

async function closeRunIfDrained(runtime: FleetRuntime, runId: string): Promise<void> {
  if (await runtime.runs.isRunDrained(runId)) {
    const run = await runtime.runs.finalizeRun(runId, runtime.now().toISOString());
    if (run.status !== 'running') runtime.log('info', `run ${runId} closed: ${run.status}`);
  }
}

function summarizeWarning(warning: TenantWarning): Record<string, string> {
  return { scope: warning.scope, id: warning.id, code: warning.diagnosis.code, fix: warning.diagnosis.fix };
}

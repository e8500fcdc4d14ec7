/**
 * One tenant's sweep: list its subscriptions, sync each one's inventory with change detection, retire
 * the subscriptions that left, inventory its storage, write its snapshot. Each step below is one
 * function; `sweepTenant` runs them in order. Recording the outcome is the caller's (sweep.ts).
 */
import type { TokenCredential } from '@azure/core-auth';
import type { ResourceManagementClient } from '@azure/arm-resources';
import pLimit from 'p-limit';
import {
  listInventoryPages,
  listVisibleSubscriptions,
  subscriptionClient,
  type ArmOptions,
  type InventoryItem,
  type VisibleSubscription,
} from '../platform/arm.js';
import { diagnose, diagnosisFor, type Diagnosis, type DiagnosisContext } from '../platform/diagnosis.js';
import {
  SubscriptionSync,
  type InventoryTables,
  type SubscriptionSyncResult,
  type SyncContext,
} from '../inventory/subscription-sync.js';
import { countRunChanges } from '../inventory/run-changes.js';
import { noMarker, TenantMarkers, type TenantMarker } from '../inventory/tenant-marker.js';
import { syncTenantStorage } from '../inventory/storage-inventory.js';
import { InventoryAggregate, writeTenantAggregate } from '../inventory/aggregates.js';
import type { TenantRecord } from './registry.js';
import { inSubscriptionScope } from './registry-row.js';
import { classifySubscriptions, tenantMovedTo } from './subscription-states.js';
import { emptyCounts, type TenantRunCounts } from './runs.js';
import type { FleetRuntime } from '../runtime.js';
import { SnapshotWriter, snapshotBlobName } from '../storage/snapshot.js';
import { TableBatchWriter } from '../storage/table-batch.js';

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

export interface TenantSweepResult {
  counts: TenantRunCounts;
  warnings: TenantWarning[];
  snapshotBlob?: string;
  tableRequests: number;
}

/** What every step of one tenant's sweep shares. */
interface TenantSweep {
  runtime: FleetRuntime;
  tenant: TenantRecord;
  tenantId: string;
  runId: string;
  now: string;
  context: DiagnosisContext;
  credential: TokenCredential;
  /** The tenant's ARM client (kept between sweeps): the subscription list and every inventory read. */
  arm: ResourceManagementClient;
  armOptions: ArmOptions;
  tables: InventoryTables;
  markers: TenantMarkers;
  /** The baseline records of the tenant's subscriptions: one transaction in its change partition. */
  baselines: TableBatchWriter;
  /** Warnings found so far (subscriptions not visible or refused, storage accounts refused). */
  warnings: TenantWarning[];
  /** Table requests of the subscriptions' syncs (for the benchmark). */
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
  const sweep = beginTenantSweep(runtime, tenant, runId);
  const redelivered = options.redelivered === true;
  // Which subscriptions had an inventory before: read while ARM lists the visible ones, except on a
  // tenant's first sweep, which creates its marker instead (establishMarker).
  const knownRead = neverSwept(tenant, redelivered) ? undefined : sweep.markers.read(sweep.tenantId);
  knownRead?.catch(() => undefined); // a failure surfaces at the await below
  const listed = await listSubscriptions(sweep);
  const snapshot = openSnapshot(sweep, redelivered);
  // Counts for the fleet views (aggregates.ts), fed by the same per-item callback as the snapshot.
  const aggregate = new InventoryAggregate();
  const syncContext: SyncContext = {
    tenantId: sweep.tenantId,
    runId,
    now: sweep.now,
    onItem: (item: InventoryItem) => {
      aggregate.add(item);
      return snapshot?.write(item);
    },
  };
  try {
    const { known, inScope, current, snapshotNamed } = await establishMarker(
      sweep,
      listed,
      knownRead,
      snapshot,
    );
    const synced = await syncSubscriptions(sweep, syncContext, inScope);
    synced.push(...(await retireSubscriptions(sweep, syncContext, known, current)));
    await sweep.baselines.flush(); // before the counts: a redelivery counts from the change rows
    sweep.tableRequests += sweep.baselines.stats.requests;
    const counts = await countInventory(sweep, synced, current, redelivered);
    const storageSummary = await syncStorage(sweep, synced, known, current);
    Object.assign(counts, storageSummary.counts);
    const changed = changedInventory(sweep.tenant, counts, redelivered);
    if (aggregateMayDiffer(sweep, known, changed, storageSummary.counts)) {
      await writeTenantAggregate(
        sweep.runtime.storage.table(sweep.runtime.config.names.aggregatesTable),
        { tenantId: sweep.tenantId, displayName: sweep.tenant.displayName, runId, at: sweep.now },
        aggregate,
        {
          accounts: storageSummary.counts.storageAccounts,
          refused: storageSummary.counts.storageRefused,
          publicContainers: storageSummary.publicContainers,
          blobs: storageSummary.counts.blobs,
          blobBytes: storageSummary.counts.blobBytes,
        },
      );
      if (known.aggregateName !== sweep.tenant.displayName)
        await sweep.markers.recordAggregateName(sweep.tenantId, sweep.tenant.displayName);
    }
    const snapshotBlob = snapshot
      ? await finishSnapshot(sweep, snapshot, known, {
          changed,
          named: snapshotNamed,
        })
      : undefined;
    return {
      counts,
      warnings: sweep.warnings,
      tableRequests: sweep.tableRequests,
      ...(snapshotBlob ? { snapshotBlob } : {}),
    };
  } catch (error) {
    snapshot?.abort();
    throw error;
  }
}

function beginTenantSweep(runtime: FleetRuntime, tenant: TenantRecord, runId: string): TenantSweep {
  const { config, storage } = runtime;
  const tenantId = tenant.tenantId;
  const tables = {
    inventory: storage.table(config.names.inventoryTable),
    changes: storage.table(config.names.changesTable),
  };
  return {
    runtime,
    tenant,
    tenantId,
    runId,
    now: runtime.now().toISOString(),
    context: { cloud: config.cloud, appClientId: config.appClientId, tenantId },
    credential: runtime.chain.forTenant(tenantId),
    arm: runtime.arm.forTenant(tenantId),
    armOptions: runtime.arm.options,
    tables,
    markers: new TenantMarkers(tables.inventory),
    baselines: new TableBatchWriter(tables.changes),
    warnings: [],
    tableRequests: 0,
  };
}

/**
 * A tenant no sweep has recorded an outcome for, on its message's first delivery: as a rule it has no
 * marker row yet (its first sweep writes it), so the sweep creates the marker instead of reading it.
 */
function neverSwept(tenant: TenantRecord, redelivered: boolean): boolean {
  return tenant.lastSweep === undefined && !redelivered;
}

/**
 * The tenant's marker before the sync, the subscriptions to sweep and those with an inventory now,
 * with new subscriptions recorded in the marker (recordSubscriptionsBeforeSync). Without `knownRead`
 * (a first sweep) the marker is created, one request instead of a read and a write; a marker found
 * then (the tenant had one after all) is read, and the sweep goes on as any other.
 */
async function establishMarker(
  sweep: TenantSweep,
  listed: VisibleSubscription[],
  knownRead: Promise<TenantMarker> | undefined,
  snapshot: SnapshotWriter | undefined,
): Promise<{
  known: TenantMarker;
  inScope: VisibleSubscription[];
  current: Set<string>;
  snapshotNamed: boolean;
}> {
  if (!knownRead) {
    const known = noMarker();
    const scope = scopeOrUndefined(sweep, listed, known);
    if (scope) {
      const current = new Set(scope.inScope.map((subscription) => subscription.subscriptionId));
      if (await sweep.markers.create(sweep.tenantId, current, snapshot?.blobName, sweep.tenant.displayName))
        return {
          known: { ...known, aggregateName: sweep.tenant.displayName }, // created with it
          inScope: scope.inScope,
          current,
          snapshotNamed: snapshot !== undefined,
        };
    }
    sweep.warnings.length = 0; // found again below, against the marker read
    knownRead = sweep.markers.read(sweep.tenantId);
  }
  const known = await knownRead;
  const { inScope, kept } = subscriptionsInScope(sweep, listed, known);
  const current = new Set([...inScope.map((subscription) => subscription.subscriptionId), ...kept]);
  const snapshotNamed = await recordSubscriptionsBeforeSync(sweep, known, current, snapshot);
  return { known, inScope, current, snapshotNamed };
}

/** subscriptionsInScope, or undefined where it fails the tenant (decided again against a marker read). */
function scopeOrUndefined(
  sweep: TenantSweep,
  listed: VisibleSubscription[],
  known: TenantMarker,
): { inScope: VisibleSubscription[]; kept: string[] } | undefined {
  try {
    return subscriptionsInScope(sweep, listed, known);
  } catch (error) {
    if (error instanceof DiagnosedError) return undefined;
    throw error;
  }
}

/**
 * Whether the tenant's aggregate row may differ from what this sweep counted, so it must be written.
 * It cannot when the inventory did not change since a sweep that succeeded without warnings (that
 * sweep wrote the same counts: every subscription in scope was read whole), the tenant has no storage
 * accounts (their blob counts change without an inventory change) and its name is the one the row
 * carries. A repeat sweep that changed nothing then writes no aggregate (docs/performance.md).
 */
function aggregateMayDiffer(
  sweep: TenantSweep,
  known: TenantMarker,
  changed: boolean,
  storage: Pick<TenantRunCounts, 'storageAccounts' | 'storageRefused'>,
): boolean {
  const hadStorage = !known.storageAccounts || Object.keys(known.storageAccounts).length > 0;
  return (
    changed ||
    sweep.tenant.lastSweep?.status !== 'succeeded' ||
    sweep.warnings.length > 0 ||
    hadStorage ||
    storage.storageAccounts + storage.storageRefused > 0 ||
    known.aggregateName !== sweep.tenant.displayName
  );
}

/** The subscriptions ARM shows the tenant's identity, in every state (subscription-states.ts sorts them). */
async function listSubscriptions(sweep: TenantSweep): Promise<VisibleSubscription[]> {
  const listed: VisibleSubscription[] = [];
  for await (const subscription of listVisibleSubscriptions(sweep.arm)) listed.push(subscription);
  return listed;
}

/**
 * The subscriptions the tenant's scope selects: those to sweep, and Disabled ones with rows, which are
 * kept as they are (subscription-states.ts states the rule; Deleted ones are retired). A listed
 * subscription that is not visible is a warning. Nothing in scope fails the tenant (a diagnosed
 * failure, not retried).
 */
function subscriptionsInScope(
  sweep: TenantSweep,
  listed: VisibleSubscription[],
  known: TenantMarker,
): { inScope: VisibleSubscription[]; kept: string[] } {
  const scope = sweep.tenant.subscriptions;
  const states = classifySubscriptions(listed, new Set(known.subscriptionIds), sweep.context, sweep.warnings);
  const visible = listed.filter((subscription) => subscription.state !== 'Deleted');
  const kept = states.kept.filter(
    (id) => inSubscriptionScope(scope, id) && known.subscriptionIds.includes(id),
  );
  const inScope = states.swept.filter((subscription) =>
    inSubscriptionScope(scope, subscription.subscriptionId),
  );
  if (scope.mode === 'list') {
    const seen = new Set(visible.map((subscription) => subscription.subscriptionId));
    for (const id of scope.include) {
      if (!seen.has(id))
        sweep.warnings.push({
          scope: 'subscription',
          id,
          diagnosis: diagnosisFor('SubscriptionNotVisible', sweep.context, id),
        });
    }
  }
  if (inScope.length === 0 && kept.length === 0) {
    throw new DiagnosedError(
      sweep.warnings[0]?.diagnosis ??
        diagnosisFor('NoVisibleSubscriptions', sweep.context, `${visible.length} visible, none in scope`),
    );
  }
  return { inScope, kept };
}

/**
 * The snapshot blob of this tenant and run, when snapshots are on: held until the sweep knows whether
 * the inventory changed (finishSnapshot).
 */
function openSnapshot(sweep: TenantSweep, redelivered: boolean): SnapshotWriter | undefined {
  const { config, storage } = sweep.runtime;
  if (!config.sweep.snapshots) return undefined;
  return new SnapshotWriter(
    storage.container(config.names.snapshotsContainer),
    snapshotBlobName(sweep.tenantId, sweep.runId),
    // Records are held unserialised only while the snapshot may be thrown away: a tenant that is
    // written a snapshot whatever it finds (its first sweep) would hold every resource to the end for
    // nothing, each one surviving collection after collection (docs/performance.md).
    { deferred: true, holdRecords: !snapshotWrittenAnyway(sweep.tenant, redelivered) },
  );
}

/**
 * A tenant that gets this run's snapshot whatever the sweep finds: no sweep of it has finished well yet
 * (its marker may name a snapshot that was never written, recordSubscriptionsBeforeSync), or this is a
 * redelivery (the run's counts may be an earlier delivery's).
 */
function snapshotWrittenAnyway(tenant: TenantRecord, redelivered: boolean): boolean {
  const finishedBefore = tenant.lastSweep?.status === 'succeeded' || tenant.lastSweep?.status === 'partial';
  return !finishedBefore || redelivered;
}

/** True when the run found changes, or gets a snapshot anyway (snapshotWrittenAnyway). */
function changedInventory(tenant: TenantRecord, counts: TenantRunCounts, redelivered: boolean): boolean {
  return (
    snapshotWrittenAnyway(tenant, redelivered) ||
    counts.baselined + counts.added + counts.removed + counts.modified > 0
  );
}

/**
 * A tenant whose inventory changed gets this run's snapshot, and its marker points at it (after the
 * blob is written). One that did not change points its run at the snapshot it already has: the same
 * inventory, no blob written and nothing compressed (docs/performance.md). The blob name the run
 * row gets either way.
 */
async function finishSnapshot(
  sweep: TenantSweep,
  snapshot: SnapshotWriter,
  known: TenantMarker,
  state: {
    changed: boolean;
    /** The marker already names this run's snapshot (written before the sync). */
    named: boolean;
  },
): Promise<string> {
  if (!state.changed && known.snapshotBlob && !snapshot.uploading) {
    snapshot.discard();
    return known.snapshotBlob;
  }
  const finished = await snapshot.finish();
  if (!state.named) await sweep.markers.recordSnapshot(sweep.tenantId, finished.blobName);
  return finished.blobName;
}

/**
 * New subscriptions are recorded in the tenant marker before they are synced, so a sweep that dies
 * half-way never leaves an inventory nobody will retire; an unchanged list writes nothing.
 */
async function recordSubscriptionsBeforeSync(
  sweep: TenantSweep,
  known: TenantMarker,
  current: Set<string>,
  snapshot: SnapshotWriter | undefined,
): Promise<boolean> {
  const knownAndCurrent = new Set([...known.subscriptionIds, ...current]);
  if (known.stored && knownAndCurrent.size === known.subscriptionIds.length) return false;
  // A tenant without a snapshot yet (its first sweep) names this run's in the same write, saving one
  // later: until a sweep of it has finished, the next one writes a snapshot anyway (changedInventory).
  const snapshotBlob = snapshot && !known.snapshotBlob ? snapshot.blobName : undefined;
  await sweep.markers.recordSubscriptions(
    sweep.tenantId,
    knownAndCurrent,
    known.storageAccounts,
    snapshotBlob,
  );
  return snapshotBlob !== undefined;
}

/**
 * Syncs each subscription in scope, a few at a time. A subscription that fails for good is a warning;
 * a retryable failure fails the tenant (the queue retries it); none synced fails the tenant.
 */
async function syncSubscriptions(
  sweep: TenantSweep,
  syncContext: SyncContext,
  inScope: VisibleSubscription[],
): Promise<SubscriptionSyncResult[]> {
  const limit = pLimit(sweep.runtime.config.sweep.subscriptionConcurrency);
  const results = await Promise.all(
    inScope.map((subscription) =>
      limit(async (): Promise<SubscriptionSyncResult | undefined> => {
        // One sync (and so one pair of writers) per subscription: batches never mix partitions' order.
        const sync = new SubscriptionSync(sweep.tables, sweep.baselines);
        try {
          return await sync.syncSubscription(
            syncContext,
            subscription,
            listInventoryPages(sweep.arm, subscription.subscriptionId),
          );
        } catch (error) {
          const diagnosis = diagnose(error, sweep.context);
          if (diagnosis.retryable) throw error;
          sweep.warnings.push({ scope: 'subscription', id: subscription.subscriptionId, diagnosis });
          return undefined;
        } finally {
          const stats = sync.stats();
          sweep.tableRequests += stats.inventory.requests + stats.changes.requests;
        }
      }),
    ),
  );
  const synced = results.filter((result): result is SubscriptionSyncResult => result !== undefined);
  if (synced.length === 0 && inScope.length > 0) throw new DiagnosedError(sweep.warnings[0]!.diagnosis);
  return synced;
}

/** Subscriptions inventoried before but no longer visible or in scope: their resources are removed. */
async function retireSubscriptions(
  sweep: TenantSweep,
  syncContext: SyncContext,
  known: TenantMarker,
  current: Set<string>,
): Promise<SubscriptionSyncResult[]> {
  const retireSync = new SubscriptionSync(sweep.tables);
  const retired = known.subscriptionIds.filter((subscriptionId) => !current.has(subscriptionId));
  const results: SubscriptionSyncResult[] = [];
  const subscriptions =
    retired.length > 0 ? subscriptionClient(sweep.credential, sweep.armOptions) : undefined;
  for (const subscriptionId of retired) {
    // A subscription that moved to another tenant is retired here and baselined there (subscription-states.ts).
    const movedTo = await tenantMovedTo(subscriptions!, subscriptionId, sweep.tenantId);
    if (movedTo) {
      sweep.warnings.push({
        scope: 'subscription',
        id: subscriptionId,
        diagnosis: diagnosisFor(
          'SubscriptionMoved',
          sweep.context,
          `${subscriptionId} now in tenant ${movedTo}`,
        ),
      });
    }
    results.push(
      await retireSync.retireSubscription(syncContext, {
        subscriptionId,
        displayName: '',
        state: '',
        tenantId: sweep.tenantId,
      }),
    );
  }
  if (retired.length > 0) await sweep.markers.recordSubscriptions(sweep.tenantId, current);
  return results;
}

/** The run's counts of the tenant's inventory and changes (storage counts are added by syncStorage). */
async function countInventory(
  sweep: TenantSweep,
  synced: SubscriptionSyncResult[],
  current: Set<string>,
  redelivered: boolean,
): Promise<TenantRunCounts> {
  const counts: TenantRunCounts = {
    ...emptyCounts(),
    subscriptions: synced.filter((result) => current.has(result.subscriptionId)).length,
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
  if (redelivered)
    Object.assign(counts, await countRunChanges(sweep.tables.changes, sweep.tenantId, sweep.runId));
  return counts;
}

/** The storage inventory of the accounts found; a refused account is a warning. */
async function syncStorage(
  sweep: TenantSweep,
  synced: SubscriptionSyncResult[],
  known: TenantMarker,
  current: Set<string>,
): Promise<{
  counts: Pick<TenantRunCounts, 'storageAccounts' | 'storageRefused' | 'blobs' | 'blobBytes'>;
  publicContainers: number;
}> {
  const { config, storage } = sweep.runtime;
  const result = await syncTenantStorage({
    cloud: config.cloud,
    credential: sweep.credential,
    table: storage.table(config.names.storageTable),
    tenantId: sweep.tenantId,
    runId: sweep.runId,
    now: sweep.now,
    appClientId: config.appClientId,
    concurrency: config.sweep.storageAccountConcurrency,
    accounts: synced.flatMap((entry) => entry.storageAccounts),
    known: known.storageAccounts,
    record: (accounts) => sweep.markers.recordStorageAccounts(sweep.tenantId, accounts),
    sweptSubscriptions: new Set(synced.map((entry) => entry.subscriptionId).filter((id) => current.has(id))),
    currentSubscriptions: current,
  });
  for (const { name, diagnosis } of result.refused)
    sweep.warnings.push({ scope: 'storageAccount', id: name, diagnosis });
  return {
    counts: {
      storageAccounts: result.accounts,
      storageRefused: result.refused.length,
      blobs: result.blobs,
      blobBytes: result.blobBytes,
    },
    publicContainers: result.publicContainers,
  };
}

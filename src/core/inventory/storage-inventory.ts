/**
 * Storage inventory of a customer's storage accounts with the tenant's FIC token for Azure Storage:
 * containers with their public access level, blob count and bytes per container, or the exact refusal
 * (missing data role, network rule, ...) as a diagnosis. A refused account is a result, not a failure.
 */
import type { TokenCredential } from '@azure/core-auth';
import { odata, type TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import pLimit from 'p-limit';
import { pipelineOptionsFor, type CloudProfile } from '../platform/cloud.js';
import { diagnose, type Diagnosis } from '../platform/diagnosis.js';
import { parseStorageAccountName } from '../platform/ids.js';
import { TableBatchWriter } from '../storage/table-batch.js';

export interface ContainerSummary {
  name: string;
  publicAccess: 'none' | 'blob' | 'container';
  blobCount: number;
  totalBytes: number;
}

export interface StorageAccountResult {
  accountName: string;
  subscriptionId: string;
  resourceGroup: string;
  reachable: boolean;
  containers: ContainerSummary[];
  blobCount: number;
  totalBytes: number;
  diagnosis?: Diagnosis;
}

/** A Blob service client for a customer account: the URL comes from the cloud profile, never from input. */
export function customerBlobService(
  cloud: CloudProfile,
  accountName: string,
  credential: TokenCredential,
): BlobServiceClient {
  const name = parseStorageAccountName(accountName);
  return new BlobServiceClient(cloud.blobEndpoint(name), credential, {
    ...pipelineOptionsFor(cloud),
    retryOptions: { maxTries: 3 },
  });
}

export async function inventoryStorageAccount(
  cloud: CloudProfile,
  credential: TokenCredential,
  account: { name: string; subscriptionId: string; resourceGroup: string },
  diagnosisContext: { appClientId: string; tenantId: string },
): Promise<StorageAccountResult> {
  const result: StorageAccountResult = {
    accountName: account.name,
    subscriptionId: account.subscriptionId,
    resourceGroup: account.resourceGroup,
    reachable: true,
    containers: [],
    blobCount: 0,
    totalBytes: 0,
  };
  try {
    const service = customerBlobService(cloud, account.name, credential);
    for await (const container of service.listContainers()) {
      const summary: ContainerSummary = {
        name: container.name,
        publicAccess: container.properties.publicAccess ?? 'none',
        blobCount: 0,
        totalBytes: 0,
      };
      // Page by page: a container of millions of blobs never sits in memory.
      for await (const page of service
        .getContainerClient(container.name)
        .listBlobsFlat()
        .byPage({ maxPageSize: 5000 })) {
        for (const blob of page.segment.blobItems) {
          summary.blobCount++;
          summary.totalBytes += blob.properties.contentLength ?? 0;
        }
      }
      result.containers.push(summary);
      result.blobCount += summary.blobCount;
      result.totalBytes += summary.totalBytes;
    }
  } catch (error) {
    const diagnosis = diagnose(error, { cloud, ...diagnosisContext });
    if (diagnosis.retryable) throw error;
    result.reachable = false;
    result.containers = [];
    result.blobCount = 0;
    result.totalBytes = 0;
    result.diagnosis = diagnosis;
  }
  return result;
}

/**
 * Writes an account's result to the `storage` table: one account row (`{account}`) and one row per
 * container (`{account}:{container}`) in the tenant's partition; container rows that no longer exist
 * are deleted. Upserts only, so a redelivered message rewrites the same rows.
 */
export async function writeStorageResult(
  table: TableClient,
  tenantId: string,
  runId: string,
  now: string,
  result: StorageAccountResult,
): Promise<void> {
  const writer = new TableBatchWriter(table);
  const prefix = `${result.accountName}:`;
  const existing = table.listEntities({
    queryOptions: {
      filter: odata`PartitionKey eq ${tenantId} and RowKey gt ${prefix} and RowKey lt ${`${result.accountName};`}`,
      select: ['RowKey'],
    },
  });
  const current = new Set(result.containers.map((container) => `${prefix}${container.name}`));
  for await (const row of existing) {
    if (row.rowKey && !current.has(row.rowKey)) await writer.delete(tenantId, row.rowKey);
  }
  await writer.upsert({
    partitionKey: tenantId,
    rowKey: result.accountName,
    kind: 'account',
    accountName: result.accountName,
    subscriptionId: result.subscriptionId,
    resourceGroup: result.resourceGroup,
    reachable: result.reachable,
    containerCount: result.containers.length,
    blobCount: result.blobCount,
    totalBytes: result.totalBytes,
    publicContainers: result.containers.filter((container) => container.publicAccess !== 'none').length,
    diagnosisCode: result.diagnosis?.code ?? '',
    diagnosisMeaning: result.diagnosis?.meaning ?? '',
    diagnosisFix: result.diagnosis?.fix ?? '',
    runId,
    checkedAt: now,
  });
  for (const container of result.containers) {
    await writer.upsert({
      partitionKey: tenantId,
      rowKey: `${prefix}${container.name}`,
      kind: 'container',
      accountName: result.accountName,
      containerName: container.name,
      publicAccess: container.publicAccess,
      blobCount: container.blobCount,
      totalBytes: container.totalBytes,
      runId,
      checkedAt: now,
    });
  }
  await writer.flush();
}

/**
 * The accounts of a tenant that may have rows in the storage table, with their subscriptions (kept in
 * the tenant's inventory marker, see TenantMarkers.recordStorageAccounts in tenant-marker.ts). Recorded before an
 * account's rows are first written, so a sweep that dies half-way never leaves rows nobody retires.
 */
export type KnownStorageAccounts = Record<string, string>;

/**
 * The known accounts to retire: those not found this sweep whose subscription was read this sweep
 * (`sweptSubscriptions`) or is no longer in the tenant's inventory (`currentSubscriptions`). An account
 * of a subscription that failed this sweep keeps its rows: a passing failure must not erase them.
 */
export function accountsToRetire(
  known: KnownStorageAccounts,
  found: Set<string>,
  sweptSubscriptions: Set<string>,
  currentSubscriptions: Set<string>,
): string[] {
  return Object.entries(known)
    .filter(
      ([name, subscriptionId]) =>
        !found.has(name) &&
        (sweptSubscriptions.has(subscriptionId) || !currentSubscriptions.has(subscriptionId)),
    )
    .map(([name]) => name);
}

/** Deletes the rows (account and containers) of the named accounts; a range query per account. */
export async function retireAccounts(
  table: TableClient,
  tenantId: string,
  names: Iterable<string>,
): Promise<void> {
  const writer = new TableBatchWriter(table);
  for (const name of names) {
    const rows = table.listEntities({
      queryOptions: {
        filter: odata`PartitionKey eq ${tenantId} and RowKey ge ${name} and RowKey lt ${`${name};`}`,
        select: ['RowKey'],
      },
    });
    for await (const row of rows) {
      // The range also holds longer account names that start with this one (`ab` < `abc` < `ab;`).
      if (row.rowKey === name || row.rowKey?.startsWith(`${name}:`))
        await writer.delete(tenantId, row.rowKey);
    }
  }
  await writer.flush();
}

/**
 * Lists the accounts that have rows in the tenant's partition, with their subscriptions: one scan of
 * the partition, for a tenant whose marker does not list its accounts yet (stored by an earlier version).
 */
export async function storedAccounts(table: TableClient, tenantId: string): Promise<KnownStorageAccounts> {
  const known: KnownStorageAccounts = {};
  const rows = table.listEntities<{ accountName?: string; subscriptionId?: string; kind?: string }>({
    queryOptions: {
      filter: odata`PartitionKey eq ${tenantId}`,
      select: ['RowKey', 'accountName', 'subscriptionId', 'kind'],
    },
  });
  for await (const row of rows) {
    const account = row.accountName ?? row.rowKey?.split(':')[0];
    if (!account) continue;
    // A container row without its account row still names an account with rows (subscription unknown).
    if (row.kind === 'account' || !(account in known)) known[account] = row.subscriptionId ?? '';
  }
  return known;
}

export interface TenantStorageInput {
  cloud: CloudProfile;
  credential: TokenCredential;
  table: TableClient;
  tenantId: string;
  runId: string;
  now: string;
  appClientId: string;
  /** Accounts read at once. */
  concurrency: number;
  /** The storage accounts the inventory found this sweep. */
  accounts: Array<{ name: string; subscriptionId: string; resourceGroup: string }>;
  /** The accounts with rows, from the tenant's marker; undefined for a marker from before that list. */
  known: KnownStorageAccounts | undefined;
  /** Writes the accounts with rows to the tenant's marker. */
  record: (accounts: KnownStorageAccounts) => Promise<void>;
  /** Subscriptions read this sweep, and those still in the tenant's inventory (see accountsToRetire). */
  sweptSubscriptions: Set<string>;
  currentSubscriptions: Set<string>;
}

export interface TenantStorageResult {
  accounts: number;
  blobs: number;
  blobBytes: number;
  /** Containers open to anonymous reads (for the fleet's storage view). */
  publicContainers: number;
  /** Accounts that refused to be read, and why. */
  refused: Array<{ name: string; diagnosis: Diagnosis }>;
}

/**
 * A tenant's storage inventory: each account found is read and its rows written; the rows of accounts
 * gone since are deleted. New accounts are recorded in the marker before their rows are written, gone
 * ones after their rows are deleted, so the marker always names every account that may have rows and
 * a sweep needs no query to know what to retire.
 */
export async function syncTenantStorage(input: TenantStorageInput): Promise<TenantStorageResult> {
  const { table, tenantId } = input;
  const found: KnownStorageAccounts = Object.fromEntries(
    input.accounts.map((account) => [account.name, account.subscriptionId]),
  );
  const known = input.known ?? (await storedAccounts(table, tenantId));
  const recorded = { ...known, ...found };
  const newAccounts = Object.entries(found).some(([name, subscriptionId]) => known[name] !== subscriptionId);
  if (!input.known || newAccounts) await input.record(recorded);

  const result: TenantStorageResult = {
    accounts: 0,
    blobs: 0,
    blobBytes: 0,
    publicContainers: 0,
    refused: [],
  };
  const limit = pLimit(input.concurrency);
  await Promise.all(
    input.accounts.map((account) =>
      limit(async () => {
        const read = await inventoryStorageAccount(input.cloud, input.credential, account, {
          appClientId: input.appClientId,
          tenantId,
        });
        await writeStorageResult(table, tenantId, input.runId, input.now, read);
        result.accounts++;
        result.blobs += read.blobCount;
        result.blobBytes += read.totalBytes;
        result.publicContainers += read.containers.filter((c) => c.publicAccess !== 'none').length;
        if (read.diagnosis) result.refused.push({ name: account.name, diagnosis: read.diagnosis });
      }),
    ),
  );

  const gone = accountsToRetire(
    recorded,
    new Set(Object.keys(found)),
    input.sweptSubscriptions,
    input.currentSubscriptions,
  );
  if (gone.length > 0) {
    await retireAccounts(table, tenantId, gone);
    await input.record(Object.fromEntries(Object.entries(recorded).filter(([name]) => !gone.includes(name))));
  }
  return result;
}

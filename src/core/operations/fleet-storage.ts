/**
 * Customer storage across tenants: accounts with their containers (public access, blob counts and
 * bytes) and the accounts that refused the app, with the fix. The storage table holds a row per account
 * and per container, so it stays small (thousands of rows for a thousand tenants): one query for the
 * tenant's partition, or the table for the whole fleet.
 */
import { odata } from '@azure/data-tables';
import { text } from '../storage/entity-fields.js';
import { readTenantAggregates } from '../inventory/aggregates.js';
import { parseTenantId } from '../platform/ids.js';
import type { FleetRuntime } from '../runtime.js';

export interface FleetContainer {
  name: string;
  publicAccess: string;
  blobCount: number;
  totalBytes: number;
}

export interface FleetStorageAccount {
  tenantId: string;
  tenantName: string;
  accountName: string;
  subscriptionId: string;
  resourceGroup: string;
  reachable: boolean;
  blobCount: number;
  totalBytes: number;
  publicContainers: number;
  containers: FleetContainer[];
  diagnosis?: { code: string; meaning: string; fix: string };
  checkedAt: string;
}

/** Accounts, grouped with their containers, ordered by tenant name then account name. */
export async function fleetStorage(
  runtime: FleetRuntime,
  filter: { tenantId?: string; publicOnly?: boolean; refusedOnly?: boolean } = {},
): Promise<FleetStorageAccount[]> {
  const tenantId = filter.tenantId ? parseTenantId(filter.tenantId) : undefined;
  const names = new Map(
    [
      ...(await readTenantAggregates(runtime.storage.table(runtime.config.names.aggregatesTable))).values(),
    ].map((tenant) => [tenant.tenantId, tenant.displayName]),
  );
  const table = runtime.storage.table(runtime.config.names.storageTable);
  const accounts = new Map<string, FleetStorageAccount>();
  const rows = table.listEntities<Record<string, unknown>>(
    tenantId ? { queryOptions: { filter: odata`PartitionKey eq ${tenantId}` } } : {},
  );
  const account = (row: Record<string, unknown>): FleetStorageAccount => {
    const key = `${String(row.partitionKey)}/${String(row.accountName)}`;
    let found = accounts.get(key);
    if (!found) {
      found = {
        tenantId: String(row.partitionKey),
        tenantName: names.get(String(row.partitionKey)) ?? '',
        accountName: String(row.accountName),
        subscriptionId: '',
        resourceGroup: '',
        reachable: true,
        blobCount: 0,
        totalBytes: 0,
        publicContainers: 0,
        containers: [],
        checkedAt: '',
      };
      accounts.set(key, found);
    }
    return found;
  };
  for await (const row of rows) {
    const target = account(row);
    if (row.kind === 'container') {
      target.containers.push({
        name: String(row.containerName),
        publicAccess: text(row.publicAccess, 'none'),
        blobCount: Number(row.blobCount ?? 0),
        totalBytes: Number(row.totalBytes ?? 0),
      });
    } else {
      Object.assign(target, {
        subscriptionId: text(row.subscriptionId),
        resourceGroup: text(row.resourceGroup),
        reachable: row.reachable !== false,
        blobCount: Number(row.blobCount ?? 0),
        totalBytes: Number(row.totalBytes ?? 0),
        publicContainers: Number(row.publicContainers ?? 0),
        checkedAt: text(row.checkedAt),
        ...(row.diagnosisCode
          ? {
              diagnosis: {
                code: text(row.diagnosisCode),
                meaning: text(row.diagnosisMeaning),
                fix: text(row.diagnosisFix),
              },
            }
          : {}),
      });
    }
  }
  return [...accounts.values()]
    .filter((item) => !filter.publicOnly || item.publicContainers > 0)
    .filter((item) => !filter.refusedOnly || !item.reachable)
    .sort((a, b) => a.tenantName.localeCompare(b.tenantName) || a.accountName.localeCompare(b.accountName));
}

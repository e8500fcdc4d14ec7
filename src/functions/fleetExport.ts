/**
 * GET /api/fleet/export/{dataset}?format=csv|ndjson&<the view's filters>: inventory, changes or storage,
 * streamed as they are read (no whole-result buffer). Filters are checked before the first byte, so a
 * bad one is a 400; the filename says what and when.
 */
import type { HttpResponseInit } from '@azure/functions';
import { changeRows, parseChangeFilter, type FleetChange } from '../core/operations/change-feed.js';
import { encodeRows, parseExportFormat } from '../core/operations/export-format.js';
import { fleetStorage } from '../core/operations/fleet-storage.js';
import {
  inventoryRows,
  parseInventoryFilter,
  type FleetResource,
} from '../core/operations/inventory-explorer.js';
import { NotFoundError } from '../core/platform/errors.js';
import { filterQuery } from './fleetInventory.js';
import { httpRoute } from './shared/routes.js';
import { handle } from './shared/http.js';

export const INVENTORY_COLUMNS: Array<keyof FleetResource> = [
  'tenantId',
  'tenantName',
  'subscriptionId',
  'resourceGroup',
  'name',
  'type',
  'location',
  'tags',
  'resourceId',
  'firstSeen',
  'lastModified',
];
export const CHANGE_COLUMNS: Array<keyof FleetChange> = [
  'tenantId',
  'tenantName',
  'runId',
  'detectedAt',
  'changeType',
  'name',
  'type',
  'subscriptionId',
  'changedFields',
  'before',
  'after',
  'resourceId',
];

interface StorageRow {
  tenantId: string;
  tenantName: string;
  accountName: string;
  container: string;
  publicAccess: string;
  blobCount: number;
  totalBytes: number;
  reachable: boolean;
  diagnosisCode: string;
  fix: string;
}
const STORAGE_COLUMNS: Array<keyof StorageRow> = [
  'tenantId',
  'tenantName',
  'accountName',
  'container',
  'publicAccess',
  'blobCount',
  'totalBytes',
  'reachable',
  'diagnosisCode',
  'fix',
];

/** One row per container, or one per account that has none (a refused account among them). */
function* storageRows(accounts: Awaited<ReturnType<typeof fleetStorage>>): Generator<StorageRow> {
  for (const account of accounts) {
    const base = {
      tenantId: account.tenantId,
      tenantName: account.tenantName,
      accountName: account.accountName,
      reachable: account.reachable,
      diagnosisCode: account.diagnosis?.code ?? '',
      fix: account.diagnosis?.fix ?? '',
    };
    if (account.containers.length === 0)
      yield {
        ...base,
        container: '',
        publicAccess: '',
        blobCount: account.blobCount,
        totalBytes: account.totalBytes,
      };
    for (const container of account.containers)
      yield {
        ...base,
        container: container.name,
        publicAccess: container.publicAccess,
        blobCount: container.blobCount,
        totalBytes: container.totalBytes,
      };
  }
}

function streamed(
  body: AsyncIterable<Uint8Array>,
  format: 'csv' | 'ndjson',
  dataset: string,
): HttpResponseInit {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
  return {
    status: 200,
    body,
    headers: {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
      'content-disposition': `attachment; filename="fleet-${dataset}-${stamp}.${format}"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
  };
}

export const fleetExport = handle('Fleet.Read', async (request, { runtime }) => {
  const dataset = request.params.dataset ?? '';
  const format = parseExportFormat(request.query.get('format') ?? 'csv');
  const query = filterQuery(request);
  if (dataset === 'inventory') {
    const filter = parseInventoryFilter(query);
    return streamed(encodeRows(inventoryRows(runtime, filter), format, INVENTORY_COLUMNS), format, dataset);
  }
  if (dataset === 'changes') {
    const filter = parseChangeFilter(query);
    return streamed(encodeRows(changeRows(runtime, filter), format, CHANGE_COLUMNS), format, dataset);
  }
  if (dataset === 'storage') {
    const accounts = await fleetStorage(runtime, {
      ...(query.tenantId ? { tenantId: query.tenantId } : {}),
      publicOnly: query.public === 'true',
      refusedOnly: query.refused === 'true',
    });
    return streamed(encodeRows(storageRows(accounts), format, STORAGE_COLUMNS), format, dataset);
  }
  throw new NotFoundError(`no export '${dataset}' (inventory, changes or storage)`);
});

httpRoute('fleetExport', { route: 'fleet/export/{dataset}', methods: ['GET'], handler: fleetExport });

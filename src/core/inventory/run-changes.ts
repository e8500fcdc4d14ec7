/**
 * The changes a run recorded for a tenant, counted from its change rows (see changeRow in inventory.ts).
 */
import { odata, type TableClient } from '@azure/data-tables';
import { BASELINE_CHANGE, type ChangeType } from './inventory.js';
import { underscorePrefixRange } from '../storage/table-keys.js';

/**
 * The changes a run recorded for a tenant, counted from the change rows themselves: a tenant whose
 * first delivery died half-way wrote part of them then, so counting only what this delivery found
 * would under-count (and counting both would double-count).
 */
export async function countRunChanges(
  changes: TableClient,
  tenantId: string,
  runId: string,
): Promise<Record<ChangeType | 'baselined', number>> {
  const counts: Record<ChangeType | 'baselined', number> = {
    baselined: 0,
    added: 0,
    removed: 0,
    modified: 0,
  };
  const rows = changes.listEntities<{ changeType?: string; items?: number }>({
    queryOptions: {
      filter: `${odata`PartitionKey eq ${tenantId}`} and ${underscorePrefixRange('RowKey', runId)}`,
      select: ['changeType', 'items'],
    },
  });
  for await (const row of rows) {
    if (row.changeType === BASELINE_CHANGE) counts.baselined += Number(row.items ?? 0);
    else if (row.changeType === 'added' || row.changeType === 'removed' || row.changeType === 'modified')
      counts[row.changeType]++;
  }
  return counts;
}

/**
 * The inventory manifest tests' world: one provider storage on the shared Azurite, one tenant, and
 * helpers that sweep disks of a subscription through the real SubscriptionSync and read back its marker
 * row, its rows and its change records.
 */
import { randomUUID } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { InventoryItem } from '../../src/core/platform/arm.js';
import { inventoryPartition, SUBSCRIPTION_MARKER } from '../../src/core/inventory/inventory.js';
import { SubscriptionSync } from '../../src/core/inventory/subscription-sync.js';
import { inventoryFixture } from './provider.js';

export function manifestSyncFixture() {
  const { config, storage, tables, tenantId, subscription } = inventoryFixture();

  /** Counts the requests a TableClient sends, by kind. */
  function countRequests(table: TableClient): { queries: number; pointReads: number } {
    const counts = { queries: 0, pointReads: 0 };
    const policy: PipelinePolicy = {
      name: 'count-requests',
      sendRequest: (request, next) => {
        if (request.method === 'GET') {
          if (/\(\)(\?|$)/.test(new URL(request.url).pathname + '?')) counts.queries++;
          else counts.pointReads++;
        }
        return next(request);
      },
    };
    table.pipeline.addPolicy(policy);
    return counts;
  }

  type Subscription = typeof subscription;

  /** A subscription of its own, so a test starts from an empty partition whatever ran before it. */
  function newSubscription(): Subscription {
    return { ...subscription, subscriptionId: randomUUID() };
  }

  function resource(
    index: number,
    patch: Partial<InventoryItem> = {},
    { subscriptionId } = subscription,
  ): InventoryItem {
    return {
      id: `/subscriptions/${subscriptionId}/resourceGroups/rg-${index % 3}/providers/Microsoft.Compute/disks/disk-${index}`,
      name: `disk-${index}`,
      type: 'Microsoft.Compute/disks',
      location: 'westeurope',
      resourceGroup: `rg-${index % 3}`,
      subscriptionId,
      tags: { env: 'prod' },
      ...patch,
    };
  }

  async function* stream(items: InventoryItem[], failAfter?: number): AsyncGenerator<InventoryItem> {
    let given = 0;
    for (const item of items) {
      if (failAfter !== undefined && given++ === failAfter) throw new Error('worker died');
      yield await Promise.resolve(item); // as from ARM: one item at a time, asynchronously
    }
  }

  async function sweep(runId: string, items: InventoryItem[], failAfter?: number, target = subscription) {
    const sync = new SubscriptionSync(tables);
    const result = await sync.syncSubscription(
      { tenantId, runId, now: new Date().toISOString() },
      target,
      stream(items, failAfter),
    );
    return { result, stats: sync.stats() };
  }

  async function marker(target = subscription): Promise<Record<string, unknown>> {
    return tables.inventory.getEntity<Record<string, unknown>>(
      inventoryPartition(tenantId, target.subscriptionId),
      SUBSCRIPTION_MARKER,
    );
  }

  /** Inventory rows stored for a subscription (its marker row apart). */
  async function storedRows(target = subscription): Promise<number> {
    let count = 0;
    for await (const entity of tables.inventory.listEntities({
      queryOptions: {
        filter: odata`PartitionKey eq ${inventoryPartition(tenantId, target.subscriptionId)}`,
        select: ['RowKey'],
      },
    }))
      if (entity.rowKey !== SUBSCRIPTION_MARKER) count++;
    return count;
  }

  async function changesOf(runId: string): Promise<Array<Record<string, unknown>>> {
    const rows = [];
    for await (const row of tables.changes.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${tenantId} and runId eq ${runId}` },
    }))
      rows.push(row);
    return rows;
  }

  return {
    config,
    storage,
    tables,
    tenantId,
    subscription,
    countRequests,
    newSubscription,
    resource,
    stream,
    sweep,
    marker,
    storedRows,
    changesOf,
  };
}

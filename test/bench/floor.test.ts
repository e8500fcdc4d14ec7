/**
 * The benchmark's storage floor: the proxy records the Table writes of the tables it is asked for, as
 * sent, and the floor replays them into a fresh Azurite that then holds the same rows.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableClient, type TransactionAction } from '@azure/data-tables';
import { measureStorageFloor } from '../../bench/storage-floor.js';
import { StorageProxy } from '../../bench/storage-proxy.js';
import { providerConnectionString, uniquePrefix } from '../support/provider.js';

let proxy: StorageProxy;
const prefix = uniquePrefix();
const recordedTable = `${prefix}inventory`;
const otherTable = `${prefix}runs`;

function port(service: 'Blob' | 'Queue' | 'Table'): number {
  const match = new RegExp(`${service}Endpoint=https?://[^:]+:(\\d+)/`).exec(providerConnectionString());
  if (!match) throw new Error(`no ${service} endpoint in the test storage connection string`);
  return Number(match[1]);
}

beforeAll(async () => {
  proxy = await StorageProxy.start({
    blobPort: port('Blob'),
    queuePort: port('Queue'),
    tablePort: port('Table'),
  });
});
afterAll(async () => {
  await proxy?.close();
});

const client = (table: string): TableClient =>
  TableClient.fromConnectionString(proxy.connectionString, table, { allowInsecureConnection: true });

describe('storage floor', () => {
  it(
    'replays the recorded writes (transactions and single writes) of the recorded tables only',
    {
      timeout: 60_000,
    },
    async () => {
      const inventory = client(recordedTable);
      const runs = client(otherTable);
      await Promise.all([inventory.createTable(), runs.createTable()]);
      proxy.record([recordedTable]);
      // Two partitions of 150 rows (a transaction of 100 and one of 50 each), one row upserted twice,
      // a single-entity write, reads, and writes to a table that is not recorded.
      for (const partition of ['a', 'b']) {
        for (let start = 0; start < 150; start += 100) {
          const actions: TransactionAction[] = [];
          for (let i = start; i < Math.min(start + 100, 150); i++) {
            actions.push([
              'upsert',
              { partitionKey: partition, rowKey: `r${i}`, name: `vm-${i}` },
              'Replace',
            ]);
          }
          await inventory.submitTransaction(actions);
        }
      }
      await inventory.upsertEntity({ partitionKey: 'a', rowKey: 'r0', name: 'vm-0-renamed' }, 'Replace');
      await inventory.upsertEntity({ partitionKey: 'c', rowKey: 'marker', id: randomUUID() }, 'Merge');
      await inventory.getEntity('a', 'r1');
      await runs.upsertEntity({ partitionKey: 'run', rowKey: 'tenant', status: 'running' });
      const recorded = proxy.takeRecording();

      expect(recorded.map((write) => write.rows)).toEqual([100, 50, 100, 50, 1, 1]);
      const floor = await measureStorageFloor(recorded, 4, { countStored: true });
      expect(floor).toMatchObject({ requests: 6, rows: 302, concurrency: 4, failed: 0, storedRows: 301 });
      // A time cannot be exact: finite and positive (NaN and Infinity fail).
      expect(Number.isFinite(floor.wallMs) && floor.wallMs > 0, `wallMs ${floor.wallMs}`).toBe(true);
      // Recording stopped with takeRecording: later writes are not kept.
      await runs.upsertEntity({ partitionKey: 'run', rowKey: 'tenant2', status: 'running' });
      expect(proxy.takeRecording()).toEqual([]);
    },
  );

  it('counts a write Azurite refuses as failed', { timeout: 60_000 }, async () => {
    const inventory = client(recordedTable);
    await inventory.createTable(); // no error if the test before made it; this one also runs alone
    proxy.record([recordedTable]);
    // A conditional update against an ETag the fresh Azurite never issued: refused there (412).
    const written = await inventory.upsertEntity({ partitionKey: 'd', rowKey: 'r', name: 'x' });
    await inventory.updateEntity({ partitionKey: 'd', rowKey: 'r', name: 'y' }, 'Merge', {
      etag: written.etag,
    });
    const floor = await measureStorageFloor(proxy.takeRecording(), 1, { countStored: true });
    expect(floor).toMatchObject({ requests: 2, failed: 1, storedRows: 1 });
  });
});

/**
 * The storage floor: how long Azurite alone takes to store what the fleet's first sweep stored. The
 * proxy records the sweep's Table writes (transactions and single-entity writes, as sent); they are
 * replayed, in the order received and as many at once as the fleet had in flight, into a fresh Azurite
 * with nothing else running: no ARM, no fleet, no reads, no queue or blob traffic.
 *
 * Why: the ideal bound counts ARM only, and the naive loop sets the speedup. Against an emulator that
 * serves every row on one thread, no sweep that stores these rows can be faster than this floor, so
 * the floor says how far the speedup and the ratio to the ideal bound can go on this machine at all.
 * It measures the emulator, not the product: a storage account in Azure serves partitions in parallel.
 */
import { Agent, request as httpRequest } from 'node:http';
import { TableClient } from '@azure/data-tables';
import { failedOperation } from '../src/core/storage/table-transaction.js';
import { startMeasuredAzurite } from './azurite-process.js';
import { cpuBetween, sampleProcess } from './processes.js';
import { tableOfPath, transactionOperations, type RecordedTableWrite } from './storage-proxy.js';

export interface StorageFloor {
  /** Table write requests replayed (transactions and single-entity writes). */
  requests: number;
  rows: number;
  /** Requests in flight at once. */
  concurrency: number;
  wallMs: number;
  /** Azurite's CPU time for the replay. */
  azuriteCpuMs: number;
  /** Requests Azurite refused (a transaction counts when any of its operations failed); 0 expected. */
  failed: number;
  /** Rows stored after the replay, counted when asked for (a row written twice counts once). */
  storedRows?: number;
}

/** The tables the writes touch (created in the fresh Azurite before the replay). */
function tablesOf(writes: RecordedTableWrite[]): Set<string> {
  const tables = new Set<string>();
  for (const write of writes) {
    const { table } = tableOfPath(write.path);
    if (table !== '$batch') tables.add(table);
    else for (const name of transactionOperations(write.body.toString('utf8')).keys()) tables.add(name);
  }
  return tables;
}

function send(agent: Agent, port: number, write: RecordedTableWrite): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: '127.0.0.1', port, method: write.method, path: write.path, headers: write.headers, agent },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const status = answer.statusCode ?? 0;
          const body = Buffer.concat(chunks).toString('utf8');
          resolve(status < 300 && !failedOperation(body));
        });
        answer.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(write.body);
  });
}

/** Replays `writes` into a fresh Azurite, `concurrency` at a time, and measures it. */
export async function measureStorageFloor(
  writes: RecordedTableWrite[],
  concurrency: number,
  options: { countStored?: boolean } = {},
): Promise<StorageFloor> {
  const storage = await startMeasuredAzurite('azurite-floor');
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  try {
    // The recorded requests are signed for the development account, as the fresh Azurite's is.
    const tables = [...tablesOf(writes)].map((table) =>
      TableClient.fromConnectionString(storage.azurite.connectionString, table, {
        allowInsecureConnection: true,
      }),
    );
    await Promise.all(tables.map((table) => table.createTable()));
    const before = storage.pid ? sampleProcess(storage.pid) : undefined;
    const started = performance.now();
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: Math.max(1, concurrency) }, async () => {
        while (next < writes.length) {
          const write = writes[next++]!;
          if (!(await send(agent, storage.azurite.tablePort, write))) failed++;
        }
      }),
    );
    const wallMs = performance.now() - started;
    const after = storage.pid ? sampleProcess(storage.pid) : undefined;
    let storedRows: number | undefined;
    if (options.countStored) {
      storedRows = 0;
      for (const table of tables) {
        for await (const page of table.listEntities({ queryOptions: { select: ['RowKey'] } }).byPage())
          storedRows += page.length;
      }
    }
    return {
      ...(storedRows !== undefined ? { storedRows } : {}),
      requests: writes.length,
      rows: writes.reduce((sum, write) => sum + write.rows, 0),
      concurrency,
      wallMs,
      azuriteCpuMs: cpuBetween(before, after),
      failed,
    };
  } finally {
    agent.destroy();
    await storage.stop();
  }
}

/**
 * A counting pass-through in front of Azurite (the provider's storage): every Table, Queue and Blob
 * request a contender sends goes through it unchanged, so the counts are what the service received,
 * whatever client sent them (the product's writers, its registry and run rows, the naive loop's SDK
 * calls). A Table transaction ($batch) is opened to count its operations and the tables they touch.
 * Loopback only; the benchmark's own process runs it, so its CPU is not the product's.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { close, listen } from '../sandbox/http.js';
import { DEV_ACCOUNT, type AzuriteHandle } from '../sandbox/azurite.js';

/** Requests of one table (or of all tables). */
export interface TableCounts {
  /** Requests received: transactions, queries, point reads, single writes, table creation. */
  requests: number;
  /** Entity group transactions ($batch). */
  transactions: number;
  /** Query pages (GET on `table()`), each one request. */
  queries: number;
  pointReads: number;
  /** Single-entity writes (insert, upsert, merge, delete outside a transaction). */
  singleWrites: number;
  /** Entities written or deleted, inside transactions or not. */
  rowsWritten: number;
}

export interface StorageCounts {
  table: TableCounts;
  /** Per table (a transaction's operations are attributed to the table they name). */
  tables: Record<string, TableCounts>;
  /**
   * Requests on tenant marker rows (row key TENANT_MARKER, in the inventory table): bookkeeping, not
   * inventory. Also counted in `tables`.
   */
  tenantMarkers: TableCounts;
  /**
   * Rows written per table and partition, tenant markers left out: the transaction floor of a table
   * is the sum over its partitions of ceil(rows / 100).
   */
  partitionRows: Record<string, Record<string, number>>;
  queue: { requests: number };
  blob: { requests: number; bytesUploaded: number };
  /** Answers with status 5xx (the emulator failing, never expected). */
  serverErrors: number;
  /** Requests the proxy sent again because Azurite closed a kept-alive connection under them. */
  proxyResends: number;
  /** The benchmark's own requests (HARNESS_HEADER), forwarded and not counted above. */
  harnessRequests: number;
}

export const emptyTable = (): TableCounts => ({
  requests: 0,
  transactions: 0,
  queries: 0,
  pointReads: 0,
  singleWrites: 0,
  rowsWritten: 0,
});

export function emptyStorageCounts(): StorageCounts {
  return {
    table: emptyTable(),
    tables: {},
    tenantMarkers: emptyTable(),
    partitionRows: {},
    queue: { requests: 0 },
    blob: { requests: 0, bytesUploaded: 0 },
    serverErrors: 0,
    proxyResends: 0,
    harnessRequests: 0,
  };
}

const WRITE_METHODS = new Set(['PUT', 'PATCH', 'MERGE', 'DELETE', 'POST']);
/** An operation line inside a transaction body: `PUT http://host/account/table(...) HTTP/1.1`. */
const OPERATION_LINE = /^(PUT|PATCH|MERGE|DELETE|POST|GET) (\S+) HTTP\/1\.1\r?$/gm;

/** An entity's keys in a Table-service path (`...(PartitionKey='a',RowKey='b')`), quotes undoubled. */
export function keysOfPath(path: string): { partitionKey: string; rowKey: string } | undefined {
  let decoded = path.split('?')[0]!;
  try {
    decoded = decodeURIComponent(decoded);
  } catch {
    // keep the raw path
  }
  const match = /\(PartitionKey='((?:[^']|'')*)',\s*RowKey='((?:[^']|'')*)'\)$/.exec(decoded);
  return match
    ? { partitionKey: match[1]!.replace(/''/g, "'"), rowKey: match[2]!.replace(/''/g, "'") }
    : undefined;
}

/** An entity's keys in a JSON request body (an insert's), if it has both. */
export function keysOfBody(body: Buffer | undefined): { partitionKey: string; rowKey: string } | undefined {
  if (!body || body.length === 0) return undefined;
  try {
    const entity = JSON.parse(body.toString('utf8')) as { PartitionKey?: unknown; RowKey?: unknown };
    return typeof entity.PartitionKey === 'string' && typeof entity.RowKey === 'string'
      ? { partitionKey: entity.PartitionKey, rowKey: entity.RowKey }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The table a Table-service path names (`/account/inventory(PartitionKey=...)` -> `inventory`). */
export function tableOfPath(path: string): { table: string; entity: 'query' | 'entity' | 'collection' } {
  const [, , segment = ''] = path.split('?')[0]!.split('/');
  let decoded = segment;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    // keep the raw segment
  }
  const open = decoded.indexOf('(');
  if (open < 0) return { table: decoded, entity: 'collection' };
  const inside = decoded.slice(open + 1, decoded.lastIndexOf(')'));
  return { table: decoded.slice(0, open), entity: inside.trim() === '' ? 'query' : 'entity' };
}

/** Counts the operations of a transaction body per table. */
export function transactionOperations(body: string): Map<string, number> {
  const perTable = new Map<string, number>();
  for (const { table } of transactionTargets(body)) perTable.set(table, (perTable.get(table) ?? 0) + 1);
  return perTable;
}

/** The table and keys of every operation of a transaction body, in order. */
export function transactionTargets(
  body: string,
): Array<{ table: string; partitionKey?: string; rowKey?: string }> {
  const targets: Array<{ table: string; partitionKey?: string; rowKey?: string }> = [];
  for (const match of body.matchAll(OPERATION_LINE)) {
    let path = match[2]!;
    try {
      path = new URL(path).pathname;
    } catch {
      // already a path
    }
    targets.push({ table: tableOfPath(path).table, ...keysOfPath(path) });
  }
  return targets;
}

/**
 * Header the benchmark's own requests carry (the fleet contender's polling of its run's status): the
 * proxy forwards them uncounted, so the counts are the product's requests alone.
 */
export const HARNESS_HEADER = 'x-bench-harness';

/** Row key of a tenant's marker row (src/core/inventory/tenant-marker.ts, TENANT_MARKER). */
export const TENANT_MARKER_ROW = '!tenant';

export type Service = 'table' | 'queue' | 'blob';

/** Any request as the proxy received it (for the CPU floor: sent again by a process of its own). */
export interface CapturedRequest {
  service: Service;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** The status Azurite answered it with (once answered). */
  status?: number;
}

/** A Table write as the proxy received it (for the storage floor: replayed into a fresh Azurite). */
export interface RecordedTableWrite {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** Entities the request writes (a transaction's operations, or 1). */
  rows: number;
}

/** Sends of one request at most (the first and two more on a fresh connection). */
const MAX_ATTEMPTS = 3;

export class StorageProxy {
  counts: StorageCounts = emptyStorageCounts();
  /** Table writes kept while recording (see `record`), and the tables recorded. */
  private recorded: RecordedTableWrite[] | undefined;
  private recordedTables = new Set<string>();
  /** Every request of the product kept while capturing (see `capture`). */
  private captured: CapturedRequest[] | undefined;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: Infinity });

  private constructor(
    private readonly servers: Record<Service, Server>,
    readonly ports: Record<Service, number>,
  ) {}

  /** Starts one listener per service in front of an Azurite. */
  static async start(
    azurite: Pick<AzuriteHandle, 'blobPort' | 'queuePort' | 'tablePort'>,
  ): Promise<StorageProxy> {
    const targets: Record<Service, number> = {
      table: azurite.tablePort,
      queue: azurite.queuePort,
      blob: azurite.blobPort,
    };
    const servers = {} as Record<Service, Server>;
    const ports = {} as Record<Service, number>;
    const proxy = new StorageProxy(servers, ports);
    for (const service of ['table', 'queue', 'blob'] as const) {
      servers[service] = createServer((request, response) => {
        proxy.forward(service, targets[service], request, response);
      });
      ports[service] = await listen(servers[service]);
    }
    return proxy;
  }

  /** The development account's connection string, pointed at this proxy. */
  get connectionString(): string {
    const base = `http://127.0.0.1`;
    return (
      `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT.name};AccountKey=${DEV_ACCOUNT.key};` +
      `BlobEndpoint=${base}:${this.ports.blob}/${DEV_ACCOUNT.name};` +
      `QueueEndpoint=${base}:${this.ports.queue}/${DEV_ACCOUNT.name};` +
      `TableEndpoint=${base}:${this.ports.table}/${DEV_ACCOUNT.name};`
    );
  }

  /**
   * Keeps the Table writes (transactions and single-entity writes, not reads) to `tables` from now
   * until `takeRecording`, in the order received. Memory: the request bodies, about 0.6 KB per row.
   */
  record(tables: Iterable<string>): void {
    this.recorded = [];
    this.recordedTables = new Set(tables);
  }

  takeRecording(): RecordedTableWrite[] {
    const recorded = this.recorded ?? [];
    this.recorded = undefined;
    return recorded;
  }

  /**
   * Keeps every request the product sends (Table, Queue and Blob; reads too, the harness's own left
   * out) from now until `takeCapture`, in the order received, bodies included.
   */
  capture(): void {
    this.captured = [];
  }

  takeCapture(): CapturedRequest[] {
    const captured = this.captured ?? [];
    this.captured = undefined;
    return captured;
  }

  /** Returns the counts since the last reset and starts new ones. */
  take(): StorageCounts {
    const counts = this.counts;
    this.counts = emptyStorageCounts();
    return counts;
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.servers).map((server) => close(server)));
    this.agent.destroy();
  }

  private tableCounts(table: string): TableCounts {
    return (this.counts.tables[table] ??= emptyTable());
  }

  /** Counts a row written to `table` in its partition (tenant markers are bookkeeping, left out). */
  private countPartitionRow(
    table: string,
    partitionKey: string | undefined,
    rowKey: string | undefined,
  ): void {
    if (rowKey === TENANT_MARKER_ROW) return;
    const partitions = (this.counts.partitionRows[table] ??= {});
    const key = partitionKey ?? '';
    partitions[key] = (partitions[key] ?? 0) + 1;
  }

  /** Counts a Table request; returns the table it writes and how many rows (0 for reads). */
  private countTable(
    method: string,
    path: string,
    body: Buffer | undefined,
  ): { table: string; rows: number } {
    const total = this.counts.table;
    total.requests++;
    const { table, entity } = tableOfPath(path);
    if (table === '$batch') {
      total.transactions++;
      const targets = transactionTargets(body?.toString('utf8') ?? '');
      let first: string | undefined;
      let markerRows = 0;
      for (const target of targets) {
        const counts = this.tableCounts(target.table);
        // The request counts once, for the table of its first operation (one transaction, one partition).
        if (first === undefined) {
          counts.requests++;
          counts.transactions++;
          first = target.table;
        }
        counts.rowsWritten++;
        total.rowsWritten++;
        if (target.rowKey === TENANT_MARKER_ROW) markerRows++;
        this.countPartitionRow(target.table, target.partitionKey, target.rowKey);
      }
      if (markerRows > 0) {
        this.counts.tenantMarkers.requests++;
        this.counts.tenantMarkers.transactions++;
        this.counts.tenantMarkers.rowsWritten += markerRows;
      }
      return { table: first ?? '', rows: targets.length };
    }
    const counts = this.tableCounts(table);
    // An insert (POST to the table) names its keys in its body, not its path.
    const keys = keysOfPath(path) ?? (method === 'POST' ? keysOfBody(body) : undefined);
    const marker = keys?.rowKey === TENANT_MARKER_ROW ? this.counts.tenantMarkers : undefined;
    counts.requests++;
    if (marker) marker.requests++;
    if (method === 'GET' && entity === 'query') {
      counts.queries++;
      total.queries++;
    } else if (method === 'GET') {
      counts.pointReads++;
      total.pointReads++;
      if (marker) marker.pointReads++;
    } else if (WRITE_METHODS.has(method) && table !== 'Tables') {
      counts.singleWrites++;
      counts.rowsWritten++;
      total.singleWrites++;
      total.rowsWritten++;
      if (marker) {
        marker.singleWrites++;
        marker.rowsWritten++;
      }
      this.countPartitionRow(table, keys?.partitionKey, keys?.rowKey);
      return { table, rows: 1 };
    }
    return { table, rows: 0 };
  }

  /** Counts (and keeps, when recording or capturing) one of the product's requests. */
  private count(
    service: Service,
    method: string,
    path: string,
    headers: IncomingMessage['headers'],
    body: Buffer,
  ): CapturedRequest | undefined {
    const captured = this.captured ? { service, method, path, headers: { ...headers }, body } : undefined;
    if (captured) this.captured!.push(captured);
    if (service === 'table') {
      const { table, rows } = this.countTable(method, path, body);
      if (rows > 0 && this.recorded && this.recordedTables.has(table))
        this.recorded.push({ method, path, headers: { ...headers }, body, rows });
    } else if (service === 'queue') this.counts.queue.requests++;
    else {
      this.counts.blob.requests++;
      if (method === 'PUT') this.counts.blob.bytesUploaded += body.length;
    }
    return captured;
  }

  private forward(
    service: Service,
    targetPort: number,
    request: IncomingMessage,
    response: ServerResponse,
  ): void {
    const method = request.method ?? 'GET';
    const path = request.url ?? '/';
    let captured: CapturedRequest | undefined;
    const send = (body: Buffer, attempt: number): void => {
      let answered = false;
      const upstream = httpRequest(
        {
          host: '127.0.0.1',
          port: targetPort,
          method,
          path,
          headers: request.headers,
          agent: this.agent,
        },
        (answer) => {
          answered = true;
          if (captured) captured.status = answer.statusCode ?? 0;
          if ((answer.statusCode ?? 0) >= 500) this.counts.serverErrors++;
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      upstream.on('error', (error) => {
        // A kept-alive connection Azurite has just closed fails before any answer: send the request
        // again on another connection, as the SDKs do when they talk to Azurite directly. The proxy
        // must not turn that into an error the client sees.
        if (!answered && attempt < MAX_ATTEMPTS) {
          this.counts.proxyResends++;
          send(body, attempt + 1);
          return;
        }
        if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
        response.end(`bench proxy: ${error.message}`);
      });
      upstream.end(body);
    };
    // Bodies are read whole (a transaction is at most 4 MiB, a snapshot block 512 KiB): to count a
    // transaction's operations, and to be able to send a request again.
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      if (request.headers[HARNESS_HEADER]) this.counts.harnessRequests++;
      else captured = this.count(service, method, path, request.headers, body);
      send(body, 1);
    });
  }
}

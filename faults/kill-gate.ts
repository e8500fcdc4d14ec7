/**
 * Worker kills at exact points of a sweep, without hooks in the product: each worker process talks to
 * the Table service through its own front (one port per worker, so a request says whose it is), which
 * reads each request and, when one marks an armed kill point, holds it unanswered, SIGKILLs the worker
 * that sent it and drops the connection. The write never reaches storage, as when a host dies mid-call.
 *
 * The points, as seen on the wire:
 * - `afterSomeRows`: an inventory transaction of a tenant whose rows this worker already wrote in an
 *   earlier inventory transaction (the tenant is half inventoried);
 * - `betweenChangesAndInventory`: the first inventory transaction of a tenant after a write of that
 *   tenant's change rows (changes are written first; the rows they describe are not);
 * - `whileClosingRun`: the write of the run row that closes the run (it carries the run's totals).
 */
import {
  createServer,
  request as httpRequest,
  Agent,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { ChildProcess } from 'node:child_process';

export type KillPoint = 'afterSomeRows' | 'betweenChangesAndInventory' | 'whileClosingRun';
export const KILL_POINTS: readonly KillPoint[] = [
  'afterSomeRows',
  'betweenChangesAndInventory',
  'whileClosingRun',
];

export interface KillGateTables {
  inventoryTable: string;
  changesTable: string;
  runsTable: string;
}

/** One table write in a request: its table and partition (a transaction holds several). */
interface TableWrite {
  table: string;
  partition: string;
}

const WRITE_LINE = /^(?:PUT|PATCH|MERGE|POST|DELETE) (\S+) HTTP\/1\.1\r?$/gm;
const ENTITY_URL = /\/([A-Za-z0-9]+)\(PartitionKey='([^']*)',RowKey='[^']*'\)/;

function decodeKey(value: string): string {
  try {
    return decodeURIComponent(value).replace(/''/g, "'");
  } catch {
    return value;
  }
}

/** The table writes a request makes: the operations of a `$batch`, or the request itself. */
export function tableWrites(method: string, url: string, body: string): TableWrite[] {
  if (method === 'GET' || method === 'HEAD') return [];
  const writes: TableWrite[] = [];
  const urls = /\/\$batch(?:\?|$)/.test(url)
    ? [...body.matchAll(WRITE_LINE)].map((match) => match[1]!)
    : [url];
  for (const target of urls) {
    const entity = ENTITY_URL.exec(target);
    if (entity) writes.push({ table: entity[1]!, partition: decodeKey(entity[2]!) });
  }
  return writes;
}

interface WorkerState {
  child: ChildProcess;
  /** Tenants whose change rows this worker wrote and whose inventory rows have not followed yet. */
  changesPending: Set<string>;
  /** Tenants this worker wrote inventory rows for. */
  rowsWritten: Set<string>;
}

export interface KillGate {
  /** The Table endpoint (`http://127.0.0.1:port/account`) for one worker; its requests may kill it. */
  attach(child: ChildProcess): Promise<string>;
  /** Arms a point: the `skip + 1`-th request that marks it kills its worker. */
  arm(point: KillPoint, skip?: number): void;
  armed(): KillPoint[];
  /** Kills per point so far. */
  hits: Record<KillPoint, number>;
  /** Called after each kill (the suite starts a replacement worker). */
  onKill?: (point: KillPoint) => void;
  close(): Promise<void>;
}

/** The tenant of an inventory partition (`{tenantId}_{subscriptionId}`) or of a tenant marker row. */
function tenantOfInventory(partition: string): string {
  return partition.split('_')[0]!.toLowerCase();
}

export function startKillGate(upstreamTableEndpoint: string, tables: KillGateTables): KillGate {
  const upstream = new URL(upstreamTableEndpoint);
  const agent = new Agent({ keepAlive: true });
  const servers = new Set<Server>();
  const armed = new Map<KillPoint, number>();
  const lower = {
    inventory: tables.inventoryTable.toLowerCase(),
    changes: tables.changesTable.toLowerCase(),
    runs: tables.runsTable.toLowerCase(),
  };

  /** The armed point this request marks, if any; updates the worker's state for the others. */
  function pointOf(state: WorkerState, method: string, url: string, body: string): KillPoint | undefined {
    const writes = tableWrites(method, url, body);
    let point: KillPoint | undefined;
    const fire = (candidate: KillPoint): boolean => {
      const skip = armed.get(candidate);
      if (skip === undefined || point) return false;
      if (skip > 0) {
        armed.set(candidate, skip - 1);
        return false;
      }
      point = candidate;
      return true;
    };
    const inventoryTenants = new Set<string>();
    for (const write of writes) {
      const table = write.table.toLowerCase();
      if (table === lower.changes) state.changesPending.add(write.partition.toLowerCase());
      if (table === lower.inventory) inventoryTenants.add(tenantOfInventory(write.partition));
      if (table === lower.runs && method !== 'DELETE' && body.includes('"totals"')) fire('whileClosingRun');
    }
    for (const tenant of inventoryTenants) {
      if (state.changesPending.has(tenant)) fire('betweenChangesAndInventory');
      else if (state.rowsWritten.has(tenant)) fire('afterSomeRows');
    }
    if (point) return point;
    for (const tenant of inventoryTenants) {
      state.changesPending.delete(tenant);
      state.rowsWritten.add(tenant);
    }
    return undefined;
  }

  function forward(request: IncomingMessage, body: Buffer, response: ServerResponse) {
    const outgoing = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: request.url,
        headers: request.headers,
        agent,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
        answer.once('error', () => response.destroy());
      },
    );
    outgoing.once('error', () => response.destroy());
    outgoing.end(body);
  }

  const gate: KillGate = {
    hits: { afterSomeRows: 0, betweenChangesAndInventory: 0, whileClosingRun: 0 },
    arm(point, skip = 0) {
      armed.set(point, skip);
    },
    armed: () => [...armed.keys()],
    async attach(child) {
      const state: WorkerState = { child, changesPending: new Set(), rowsWritten: new Set() };
      const server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.once('error', () => response.destroy());
        request.on('end', () => {
          const body = Buffer.concat(chunks);
          const point = pointOf(state, request.method ?? 'GET', request.url ?? '/', body.toString('utf8'));
          if (!point) return forward(request, body, response);
          if (child.exitCode !== null || child.signalCode !== null) return void request.socket.destroy();
          armed.delete(point);
          gate.hits[point]++;
          // Held: the worker dies with this request unanswered, then the connection drops.
          child.once('exit', () => {
            request.socket.destroy();
            gate.onKill?.(point);
          });
          child.kill('SIGKILL');
        });
      });
      servers.add(server);
      child.once('exit', () => {
        servers.delete(server);
        server.close();
        server.closeAllConnections();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      return `http://127.0.0.1:${port}${upstream.pathname.replace(/\/+$/, '')}`;
    },
    async close() {
      await Promise.all(
        [...servers].map((server) => {
          server.closeAllConnections();
          return new Promise((resolve) => server.close(resolve));
        }),
      );
      servers.clear();
      agent.destroy();
    },
  };
  return gate;
}

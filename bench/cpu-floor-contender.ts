/**
 * The CPU floor (issue 15): what the fleet's requests alone cost the process that sends them. The same
 * HTTP requests the fleet's sweep sent, through the same SDK clients, credential classes and shared
 * HTTP client options, in a process set up like the fleet's (compiled JS, the worker's heap limit),
 * with no product logic: no change detection, rows, keys, snapshots or bookkeeping decisions.
 *
 * - ARM: per tenant a token (one ClientAssertionCredential per tenant behind the process's one MI
 *   credential, as CredentialChain holds them) and the same list pages (the subscription list, then
 *   each subscription's resource group and resource lists side by side, pages one after the other,
 *   each page's JSON parsed), `workers` tenants at once and `subscriptionConcurrency` subscriptions of
 *   a tenant at once, through one ResourceManagementClient per tenant made as the product makes it.
 * - Storage: every Table, Queue and Blob request the counting proxy captured during the fleet's sweep
 *   (storage-proxy.ts `capture`), sent again as captured through a TableClient's, a QueueClient's and a
 *   BlobServiceClient's own pipelines (which sign them again), `workers` at once; a Table answer's JSON
 *   is parsed. Conditions on ETags of the fleet's Azurite are dropped (or made `*`), so writes land in
 *   the floor's fresh Azurite; answers may still differ (a queue message's pop receipt is the fleet's).
 */
import { join } from 'node:path';
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import type { ResourceManagementClient } from '@azure/arm-resources';
import pLimit from 'p-limit';
import type { SandboxEndpoints } from '../sandbox/index.js';
import { worldFacts } from '../sandbox/generator.js';
import { messagesAtOnce, readQueueSemantics } from '../dev/local-host.js';
// The product's api-versions, so the floor reads the same lists as the fleet.
import { RESOURCES_API_VERSION, SUBSCRIPTIONS_API_VERSION } from '../src/core/platform/arm.js';
import { sharedPipelineOptionsFor } from '../src/core/platform/cloud.js';
import { createRuntime } from '../src/core/runtime.js';
import { contenderFleetConfig } from './contender-config.js';
import { contenderInput, measurePhase, serveContender, type PhaseFigures } from './contender-ipc.js';
import type { WorldShape } from './options.js';
import { readCapture } from './request-capture.js';
import { ROOT } from './sandbox-process.js';
import type { CapturedRequest, Service } from './storage-proxy.js';

export interface CpuFloorInput {
  endpoints: SandboxEndpoints;
  world: WorldShape;
  /** The floor's own Azurite (through a counting proxy of its own), and that proxy's ports. */
  connectionString: string;
  ports: Record<Service, number>;
  /** The fleet's prefix: the same table, queue and container names. */
  prefix: string;
  /** Capture files (request-capture.ts) of the fleet's sweeps, by phase. */
  captures: Record<string, string>;
}

export interface CpuFloorInfo {
  tenants: number;
  workers: number;
  subscriptionConcurrency: number;
  /** Storage requests captured per phase. */
  captured: Record<string, number>;
  setupMs: number;
}

export interface CpuFloorPhaseResult extends PhaseFigures {
  /** ARM list pages read and the items (resource groups and resources) they held. */
  armPages: number;
  armItems: number;
  /**
   * Storage requests sent again, and per service those answered otherwise than the fleet's were (a
   * success where the fleet's failed or the other way round: rows or messages the floor's Azurite
   * has not, or has, unlike the fleet's).
   */
  replayed: number;
  differing: Record<Service, number>;
}

/** Headers the clients' pipelines set themselves (signature, date, ids, framing). */
const PIPELINE_HEADERS = new Set([
  'authorization',
  'x-ms-date',
  'date',
  'host',
  'content-length',
  'connection',
  'user-agent',
  'x-ms-client-request-id',
  'transfer-encoding',
  'expect',
]);

interface PreparedRequest {
  service: Service;
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** The status the fleet's request was answered with. */
  status: number | undefined;
}

/**
 * A captured request made ready to send again (in setup, not timed): the floor's endpoint, the headers
 * the pipeline does not set, ETag conditions of the fleet's Azurite dropped (a write becomes an
 * upsert) or made `*` (a delete, and the operations of a transaction).
 */
function prepare(captured: CapturedRequest, ports: Record<Service, number>): PreparedRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(captured.headers)) {
    if (value === undefined || PIPELINE_HEADERS.has(name)) continue;
    if (name === 'if-match' && captured.service === 'table') {
      if (captured.method === 'DELETE') headers[name] = '*';
      continue;
    }
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  let body: Buffer | undefined = captured.body.length > 0 ? captured.body : undefined;
  // Kept as buffers (outside the heap, whose limit is the fleet's): a first sweep's bodies are larger.
  if (body && captured.service === 'table' && body.includes('If-Match:'))
    body = Buffer.from(body.toString('utf8').replace(/^If-Match: .*$/gim, 'If-Match: *'), 'utf8');
  return {
    service: captured.service,
    url: `http://127.0.0.1:${ports[captured.service]}${captured.path}`,
    method: captured.method,
    headers,
    body,
    status: captured.status,
  };
}

type Sender = (request: PipelineRequest) => Promise<PipelineResponse>;

/** One client per service, as the product makes them, each sending through its own pipeline. */
function storageSenders(connectionString: string): Record<Service, Sender> {
  const table = TableClient.fromConnectionString(connectionString, 'any', { allowInsecureConnection: true });
  // As table-transaction.ts sends its transactions: the TableClient's pipeline, one HTTP client.
  const tableHttp = createDefaultHttpClient();
  // The storage SDKs' clients send through the core pipeline their constructor built from the
  // storage pipeline (shared key signing, the storage retry policy) and its HTTP client; neither is public.
  type Internal = { pipeline: { _corePipeline: Pipeline; _coreHttpClient: HttpClient } };
  const queue = (new QueueClient(connectionString, 'any') as unknown as Internal).pipeline;
  const blob = (BlobServiceClient.fromConnectionString(connectionString) as unknown as Internal).pipeline;
  return {
    table: (request) => table.pipeline.sendRequest(tableHttp, request),
    queue: (request) => queue._corePipeline.sendRequest(queue._coreHttpClient, request),
    blob: (request) => blob._corePipeline.sendRequest(blob._coreHttpClient, request),
  };
}

async function replay(
  requests: readonly PreparedRequest[],
  senders: Record<Service, Sender>,
  concurrency: number,
): Promise<Record<Service, number>> {
  const differing: Record<Service, number> = { table: 0, queue: 0, blob: 0 };
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) {
        const prepared = requests[next++]!;
        const request = createPipelineRequest({
          url: prepared.url,
          method: prepared.method as PipelineRequest['method'],
          headers: createHttpHeaders(prepared.headers),
          ...(prepared.body !== undefined ? { body: prepared.body } : {}),
          allowInsecureConnection: true,
        });
        const response = await senders[prepared.service](request);
        if (response.status >= 400 !== (prepared.status ?? 0) >= 400) {
          differing[prepared.service]++;
          // BENCH_CPU_FLOOR_DEBUG=1 names them (for checking that the floor still sends what the fleet did).
          if (process.env.BENCH_CPU_FLOOR_DEBUG)
            process.stderr.write(
              `cpu floor: ${prepared.method} ${prepared.url} answered ${response.status}, the fleet's ${prepared.status ?? '-'}\n`,
            );
        }
        // The SDKs parse a Table answer's JSON (an entity, a query page, a transaction's is multipart).
        const text = response.bodyAsText;
        if (prepared.service === 'table' && text && text.startsWith('{')) JSON.parse(text);
      }
    }),
  );
  return differing;
}

/** Reads every page of an ARM list through the client's pipeline; returns pages and items. */
async function readList(
  client: ResourceManagementClient,
  httpClient: HttpClient,
  firstUrl: string,
  onItem?: (item: { subscriptionId?: string }) => void,
): Promise<{ pages: number; items: number }> {
  let url: string | undefined = firstUrl;
  let pages = 0;
  let items = 0;
  while (url) {
    const response = await client.pipeline.sendRequest(
      httpClient,
      createPipelineRequest({
        url,
        method: 'GET',
        headers: createHttpHeaders({ accept: 'application/json' }),
      }),
    );
    if (response.status !== 200) throw new Error(`ARM answered ${response.status} for ${url}`);
    const body = JSON.parse(response.bodyAsText ?? '{}') as { value?: unknown[]; nextLink?: string };
    pages++;
    for (const item of body.value ?? []) {
      items++;
      onItem?.(item as { subscriptionId?: string });
    }
    const nextLink = body.nextLink || undefined;
    url =
      nextLink && !/[?&]api-version=/i.test(nextLink)
        ? `${nextLink}${nextLink.includes('?') ? '&' : '?'}api-version=${RESOURCES_API_VERSION}`
        : nextLink;
  }
  return { pages, items };
}

async function main(): Promise<void> {
  const input = contenderInput<CpuFloorInput>();
  const started = performance.now();
  const { world, config } = contenderFleetConfig(input);
  // The tables, queues and containers the captured requests name, and the registered tenants whose
  // rows the sweeps read (setup, as the fleet contender's).
  const runtime = createRuntime(config, { log: () => undefined });
  await runtime.storage.ensureResources();
  const tenants = worldFacts(world).customerTenantIds;
  const names = new Map(world.tenants.map((tenant) => [tenant.id, tenant.displayName]));
  const register = pLimit(16);
  await Promise.all(
    tenants.map((tenantId) =>
      register(() =>
        runtime.registry.add({ tenantId, displayName: names.get(tenantId) ?? tenantId }, 'bench'),
      ),
    ),
  );
  const workers = messagesAtOnce(readQueueSemantics(join(ROOT, 'host.json')));
  const subscriptionConcurrency = config.sweep.subscriptionConcurrency;
  const prepared: Record<string, PreparedRequest[]> = {};
  for (const [phase, path] of Object.entries(input.captures))
    prepared[phase] = (await readCapture(path)).map((request) => prepare(request, input.ports));
  const senders = storageSenders(input.connectionString);
  // The runtime's ARM clients: one MI credential, and a ClientAssertionCredential and client per tenant.
  const armHttp = sharedPipelineOptionsFor(config.cloud).httpClient;
  const arm = config.cloud.armEndpoint;

  const armSweep = async (): Promise<{ pages: number; items: number }> => {
    const totals = { pages: 0, items: 0 };
    const add = (list: { pages: number; items: number }): void => {
      totals.pages += list.pages;
      totals.items += list.items;
    };
    const limit = pLimit(workers);
    await Promise.all(
      tenants.map((tenantId) =>
        limit(async () => {
          // The tenant's kept client, as the product's (platform/tenant-arm.ts): its first request
          // fetches the tenant's token, and the repeat sweep uses it again.
          const client = runtime.arm.forTenant(tenantId);
          const subscriptions: string[] = [];
          add(
            await readList(
              client,
              armHttp,
              `${arm}/subscriptions?api-version=${SUBSCRIPTIONS_API_VERSION}`,
              (item) => {
                if (item.subscriptionId) subscriptions.push(item.subscriptionId);
              },
            ),
          );
          const perSubscription = pLimit(subscriptionConcurrency);
          await Promise.all(
            subscriptions.map((id) =>
              perSubscription(async () => {
                const base = `${arm}/subscriptions/${encodeURIComponent(id)}`;
                const lists = await Promise.all([
                  readList(client, armHttp, `${base}/resourcegroups?api-version=${RESOURCES_API_VERSION}`),
                  readList(
                    client,
                    armHttp,
                    `${base}/resources?api-version=${RESOURCES_API_VERSION}&%24expand=changedTime`,
                  ),
                ]);
                lists.forEach(add);
              }),
            ),
          );
        }),
      ),
    );
    return totals;
  };

  const phase = async (label: string): Promise<CpuFloorPhaseResult> => {
    const requests = prepared[label];
    if (!requests) throw new Error(`no capture for phase '${label}'`);
    const { figures, value } = await measurePhase(
      () => Promise.all([armSweep(), replay(requests, senders, workers)]),
      `cpu-floor-${label}`,
    );
    const [lists, differing] = value;
    return { ...figures, armPages: lists.pages, armItems: lists.items, replayed: requests.length, differing };
  };

  serveContender<CpuFloorInfo>(
    {
      tenants: tenants.length,
      workers,
      subscriptionConcurrency,
      captured: Object.fromEntries(Object.entries(prepared).map(([label, list]) => [label, list.length])),
      setupMs: performance.now() - started,
    },
    Object.fromEntries(Object.keys(prepared).map((label) => [label, () => phase(label)])),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`cpu floor contender: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

/**
 * CPU-only microbenchmark of the fleet's per-resource path, without Azurite or the sandbox's servers:
 * realistic ARM pages (the sandbox's generated world, spelled as its ARM spells them, pages of 100,
 * `changedTime` expanded) are built in memory first, then every tenant is swept as tenant-sweep.ts
 * does it: one `ResourceManagementClient` per tenant (made by the product's `resourceClient`, with the
 * retry and pacing policies), `listInventoryPages` through that client's pipeline, a `SubscriptionSync`
 * per subscription with the tenant's deferred baseline writer, the aggregate and the deferred snapshot
 * fed per item. The HTTP clients answer from memory: ARM from the prepared page texts, Table storage
 * from a policy in the TableClients' own pipelines (after their signing policy) that accepts every
 * transaction and keeps the subscriptions' marker rows, so a repeat sweep reads its manifest back.
 *
 * It runs compiled (as the contenders do, bench/compile.ts; tsx's helpers would add calls of their own
 * to every closure), with the deployed worker's heap limit.
 *
 * Cases: `first` (empty tables: baselines) and `repeat` (nothing changed; ARM spells ids and types in
 * another pass's casing, as the sandbox does). Prints CPU microseconds per resource (user + system of
 * this process) for each iteration. What it leaves out: real sockets, Azurite, tokens (a static
 * credential), the registry and run rows; it measures the product's per-resource work plus the SDK
 * pipelines' per-request part, so compare it with itself.
 *
 *   npm run bench:cpu-path -- [--tenants 40] [--subscriptions 2] [--resources 300] [--iterations 3]
 *   npm run bench:cpu-path -- --profile reports/cpu-path   # a V8 CPU profile per case and iteration
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import {
  createHttpHeaders,
  type HttpClient,
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { AzureNamedKeyCredential, TableClient } from '@azure/data-tables';
import type { ContainerClient } from '@azure/storage-blob';
import { messagesAtOnce, readQueueSemantics } from '../dev/local-host.js';
import { generateWorld } from '../sandbox/generator.js';
import { WorldStore } from '../sandbox/state.js';
import { resourceGroupJson, resourceJson } from '../sandbox/arm/json.js';
import { CasingVariation, DEFAULT_REALISM } from '../sandbox/arm/realism.js';
import { ArmPacer } from '../src/core/platform/arm-pacing.js';
import { listInventoryPages, resourceClient, type ArmOptions } from '../src/core/platform/arm.js';
import { AZURE_CLOUDS } from '../src/core/platform/cloud.js';
import { InventoryAggregate } from '../src/core/inventory/aggregates.js';
import { SubscriptionSync, type SyncContext } from '../src/core/inventory/subscription-sync.js';
import { SnapshotWriter } from '../src/core/storage/snapshot.js';
import { TableBatchWriter } from '../src/core/storage/table-batch.js';

const ARM = 'https://arm.cpu-path.invalid';
const API = 'api-version=2025-04-01';
const PAGE = 100;
/** The fleet works on this many tenants at once (host.json's, as the host runs them; npm runs this at the root). */
const TENANTS_AT_ONCE = messagesAtOnce(readQueueSemantics(join(process.cwd(), 'host.json')));
const CHANGED_TIME = '2026-11-30T10:00:00.0000000Z';

interface TenantPages {
  tenantId: string;
  subscriptions: Array<{ subscriptionId: string; displayName: string }>;
  /** Page text by URL (groups and resources of every subscription), one map per casing pass. */
  pages: Map<string, string>;
  resources: number;
}

/** The world's tenants with every ARM page as text, in the casing of `pass`. */
function preparePages(
  shape: { tenants: number; subscriptions: number; resources: number },
  pass: number,
): TenantPages[] {
  const store = new WorldStore(
    generateWorld({
      seed: 7,
      tenants: shape.tenants,
      subscriptionsPerTenant: shape.subscriptions,
      resourcesPerSubscription: shape.resources,
    }),
  );
  const casing = new CasingVariation();
  const home = store.world.tenants[0]!.id;
  const result: TenantPages[] = [];
  for (const tenant of store.world.tenants) {
    if (tenant.id === home) continue;
    const pages = new Map<string, string>();
    let resources = 0;
    const subscriptions = store.subscriptionsOfTenant(tenant.id).map((subscription) => {
      const sub = subscription.subscriptionId;
      const base = `${ARM}/subscriptions/${sub}`;
      const groups = store.resourceGroups(sub).map((group) => resourceGroupJson(group, DEFAULT_REALISM));
      pages.set(`${base}/resourcegroups?${API}`, JSON.stringify({ value: groups }));
      resources += groups.length;
      casing.pass(sub, true);
      for (let cursor = 0; cursor !== undefined;) {
        const scan = store.scanResources(sub, { cursor, limit: PAGE });
        const value = scan.items.map((r) => ({
          ...resourceJson(r, casing.spell(r, DEFAULT_REALISM, pass)),
          changedTime: CHANGED_TIME,
        }));
        resources += value.length;
        const url = `${base}/resources?${API}&%24expand=changedTime${cursor ? `&%24skiptoken=${cursor}` : ''}`;
        const next =
          scan.next !== undefined
            ? `${base}/resources?${API}&%24expand=changedTime&%24skiptoken=${scan.next}`
            : undefined;
        pages.set(url, JSON.stringify(next ? { value, nextLink: next } : { value }));
        if (scan.next === undefined) break;
        cursor = scan.next;
      }
      return { subscriptionId: sub, displayName: subscription.displayName };
    });
    result.push({ tenantId: tenant.id, subscriptions, pages, resources });
  }
  return result;
}

const credential: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: 'cpu-path', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

function armHttpClient(pages: () => Map<string, string>): HttpClient {
  return {
    sendRequest: (request: PipelineRequest): Promise<PipelineResponse> => {
      const body = pages().get(request.url);
      return Promise.resolve({
        request,
        status: body === undefined ? 404 : 200,
        headers: createHttpHeaders({ 'content-type': 'application/json' }),
        bodyAsText: body ?? '{"error":{"code":"NotFound","message":"no such page"}}',
      });
    },
  };
}

/**
 * Table storage in memory, as a policy after the SDK's own (signing included): a transaction is
 * accepted as a whole; the marker row of a partition is kept (the manifest a repeat sweep reads).
 */
class MemoryTables {
  readonly markers = new Map<string, string>();
  transactions = 0;

  readonly policy: PipelinePolicy = {
    name: 'cpuPathMemoryTables',
    sendRequest: (request): Promise<PipelineResponse> => {
      const respond = (status: number, bodyAsText = ''): Promise<PipelineResponse> =>
        Promise.resolve({
          request,
          status,
          bodyAsText,
          headers: createHttpHeaders({ 'content-type': 'application/json;odata=minimalmetadata' }),
        });
      if (request.method === 'POST' && request.url.endsWith('/$batch')) {
        this.transactions++;
        // The product sends a transaction as bytes (table-transaction.ts): only the marker's JSON is read.
        const body = request.body as Buffer;
        const at = body.indexOf("RowKey='!subscription')");
        if (at >= 0) {
          const start = body.indexOf('{', at);
          const json = body.toString('utf8', start, body.indexOf('\r\n', start));
          const row = JSON.parse(json) as { PartitionKey: string };
          this.markers.set(row.PartitionKey, json);
        }
        return respond(202);
      }
      if (request.method === 'GET') {
        const partition = /PartitionKey='([^']*)'/.exec(decodeURIComponent(request.url))?.[1];
        const marker = partition !== undefined ? this.markers.get(partition) : undefined;
        if (marker) return respond(200, marker);
        return respond(404, '{"odata.error":{"code":"ResourceNotFound","message":{"value":"not found"}}}');
      }
      return respond(204);
    },
  };

  table(name: string): TableClient {
    return new TableClient(
      `http://127.0.0.1:10002/devstoreaccount1`,
      name,
      new AzureNamedKeyCredential('devstoreaccount1', Buffer.alloc(64, 1).toString('base64')),
      { allowInsecureConnection: true, additionalPolicies: [{ policy: this.policy, position: 'perRetry' }] },
    );
  }
}

/** A container whose uploads read the snapshot's stream to its end and keep nothing. */
const discardingContainer = {
  getBlockBlobClient: () => ({
    uploadStream: async (stream: NodeJS.ReadableStream): Promise<void> => {
      for await (const chunk of stream) void chunk;
    },
  }),
} as unknown as ContainerClient;

async function sweepTenant(
  tenant: TenantPages,
  tables: MemoryTables,
  armOptions: ArmOptions,
  runId: string,
  changed: boolean,
): Promise<number> {
  const inventory = tables.table('inventory');
  const changes = tables.table('changes');
  const baselines = new TableBatchWriter(changes);
  const aggregate = new InventoryAggregate();
  const snapshot = new SnapshotWriter(discardingContainer, `${tenant.tenantId}/${runId}.ndjson.gz`, {
    deferred: true,
  });
  const context: SyncContext = {
    tenantId: tenant.tenantId,
    runId,
    now: new Date().toISOString(),
    onItem: (item) => {
      aggregate.add(item);
      return snapshot.write(item);
    },
  };
  const client = resourceClient(credential, armOptions);
  let items = 0;
  let found = 0;
  await Promise.all(
    tenant.subscriptions.map(async (subscription) => {
      const sync = new SubscriptionSync({ inventory, changes }, baselines);
      const result = await sync.syncSubscription(
        context,
        { ...subscription, state: 'Enabled', tenantId: tenant.tenantId },
        listInventoryPages(client, subscription.subscriptionId),
      );
      items += result.items;
      if (result.sameListing) sameListings++;
      found += result.added + result.modified + result.removed + (changed ? 0 : result.baselined);
    }),
  );
  await baselines.flush();
  if (!changed && found > 0) throw new Error(`tenant ${tenant.tenantId}: ${found} changes in a repeat sweep`);
  if (changed) await snapshot.finish();
  else snapshot.discard();
  return items;
}

/** Subscriptions whose listing was the stored one (page-digests.ts), since the last sweep began. */
let sameListings = 0;

async function sweep(
  tenants: TenantPages[],
  tables: MemoryTables,
  armOptions: ArmOptions,
  runId: string,
  changed: boolean,
): Promise<number> {
  let items = 0;
  for (let i = 0; i < tenants.length; i += TENANTS_AT_ONCE) {
    const counts = await Promise.all(
      tenants
        .slice(i, i + TENANTS_AT_ONCE)
        .map((tenant) => sweepTenant(tenant, tables, armOptions, runId, changed)),
    );
    items += counts.reduce((a, b) => a + b, 0);
  }
  return items;
}

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tenants: { type: 'string', default: '40' },
      subscriptions: { type: 'string', default: '2' },
      resources: { type: 'string', default: '300' },
      iterations: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      profile: { type: 'string' },
    },
  });
  const shape = {
    tenants: Number(values.tenants),
    subscriptions: Number(values.subscriptions),
    resources: Number(values.resources),
  };
  const iterations = Number(values.iterations);
  const firstPass = preparePages(shape, 1);
  const repeatPass = preparePages(shape, 2);
  const resources = firstPass.reduce((sum, tenant) => sum + tenant.resources, 0);
  let current = firstPass;
  const armPages = new Map<string, string>();
  const armOptions: ArmOptions = {
    cloud: { ...AZURE_CLOUDS.AzurePublicCloud, armEndpoint: ARM },
    maxRetries: 3,
    httpClient: armHttpClient(() => armPages),
    pacer: new ArmPacer(),
  };
  const usePass = (pass: TenantPages[]): void => {
    current = pass;
    armPages.clear();
    for (const tenant of current) for (const [url, text] of tenant.pages) armPages.set(url, text);
  };
  const figures: Record<string, number[]> = { first: [], repeat: [] };
  // --profile <dir>: a V8 CPU profile of each reported case (only the sweep, not the preparation).
  const session = values.profile ? new Session() : undefined;
  if (session) {
    mkdirSync(values.profile!, { recursive: true });
    session.connect();
    await session.post('Profiler.enable');
  }
  const profiled = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    if (!session) return run();
    await session.post('Profiler.start');
    try {
      return await run();
    } finally {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(join(values.profile!, `${name}.cpuprofile`), JSON.stringify(profile));
    }
  };
  for (let iteration = 0; iteration <= iterations; iteration++) {
    // Iteration 0 warms the code up and is not reported.
    const tables = new MemoryTables();
    usePass(firstPass);
    global.gc?.();
    let start = cpuUs();
    const firstItems = await profiled(`first-${iteration}`, () =>
      sweep(current, tables, armOptions, `run-first-${iteration}`, true),
    );
    const first = (cpuUs() - start) / firstItems;
    usePass(repeatPass);
    global.gc?.();
    start = cpuUs();
    sameListings = 0;
    const repeatItems = await profiled(`repeat-${iteration}`, () =>
      sweep(current, tables, armOptions, `run-repeat-${iteration}`, false),
    );
    const repeat = (cpuUs() - start) / repeatItems;
    if (firstItems !== resources || repeatItems !== resources)
      throw new Error(`swept ${firstItems} / ${repeatItems} items of ${resources}`);
    if (iteration === 0) continue;
    figures.first!.push(first);
    figures.repeat!.push(repeat);
    if (!values.json)
      console.log(
        `iteration ${iteration}: first sweep ${first.toFixed(1)} us/resource, repeat sweep ${repeat.toFixed(1)} us/resource` +
          ` (${resources} resources, ${tables.transactions} transactions, ${sameListings} subscriptions listed as stored)`,
      );
  }
  const median = (list: number[]): number => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
  const summary = {
    resources,
    firstUsPerResource: figures.first!.map((v) => Number(v.toFixed(1))),
    repeatUsPerResource: figures.repeat!.map((v) => Number(v.toFixed(1))),
    firstMedian: Number(median(figures.first!).toFixed(1)),
    repeatMedian: Number(median(figures.repeat!).toFixed(1)),
  };
  console.log(
    values.json
      ? JSON.stringify(summary)
      : `median: first ${summary.firstMedian} / repeat ${summary.repeatMedian} us per resource`,
  );
}

await main();

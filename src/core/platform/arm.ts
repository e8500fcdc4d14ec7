/**
 * ARM access for one customer tenant through the real SDK clients. Everything streams: subscriptions,
 * resource groups and resources arrive page by page (following `nextLink`), so memory does not grow
 * with the size of a tenant. Retries (including 429 with Retry-After) are the SDK's own policy; the
 * pacing policy (arm-pacing.ts) slows a subscription's reads before ARM throttles them and gives a 429
 * without Retry-After a backoff the SDK's policy then honours.
 */
import type { TokenCredential } from '@azure/core-auth';
import {
  createHttpHeaders,
  createPipelineRequest,
  RestError,
  type HttpClient,
} from '@azure/core-rest-pipeline';
import { ResourceManagementClient } from '@azure/arm-resources';
import { SubscriptionClient } from '@azure/arm-resources-subscriptions';
import { resourceGroupOf } from './arm-casing.js';
import { armPacingPolicy, sharedArmPacer, type ArmPacer } from './arm-pacing.js';
import { sharedPipelineOptionsFor, type CloudProfile } from './cloud.js';

export interface ArmOptions {
  cloud: CloudProfile;
  maxRetries: number;
  /** Tests inject an HttpClient here (never in integration tests). */
  httpClient?: HttpClient;
  /** Paces reads per subscription (default: the process's shared pacer). */
  pacer?: ArmPacer;
}

/** What the inventory keeps of a resource or resource group (the fields change detection compares). */
export interface InventoryItem {
  id: string;
  name: string;
  type: string;
  location: string;
  resourceGroup: string;
  subscriptionId: string;
  tags: Record<string, string>;
  sku?: Record<string, unknown>;
  kind?: string;
  managedBy?: string;
  /** When ARM last saw the resource change (`$expand=changedTime`); informational, never compared. */
  changedTime?: string;
}

export interface VisibleSubscription {
  subscriptionId: string;
  displayName: string;
  state: string;
  tenantId: string;
}

function clientOptions(options: ArmOptions) {
  const shared = sharedPipelineOptionsFor(options.cloud);
  return {
    endpoint: options.cloud.armEndpoint,
    // The SDK derives its scope from the endpoint; pin it so the sandbox gets the ARM audience.
    credentials: { scopes: [options.cloud.armScope] },
    retryOptions: { maxRetries: options.maxRetries },
    additionalPolicies: [
      { policy: armPacingPolicy(options.pacer ?? sharedArmPacer), position: 'perRetry' as const },
    ],
    ...shared,
    httpClient: options.httpClient ?? shared.httpClient,
  };
}

/** What listInventoryItems needs of a client it did not build: ARM's endpoint and the HTTP client. */
const readers = new WeakMap<ResourceManagementClient, { endpoint: string; httpClient: HttpClient }>();

export function subscriptionClient(credential: TokenCredential, options: ArmOptions): SubscriptionClient {
  return new SubscriptionClient(credential, clientOptions(options));
}

/**
 * The ARM client of one customer tenant (its credential), used for its pipeline only: every read names
 * its subscription in its URL (listPages), so one client serves all of a tenant's subscriptions with one
 * token. The SDK requires a subscription id for its generated operations, which the product never
 * calls: it gets the nil GUID.
 */
export function resourceClient(credential: TokenCredential, options: ArmOptions): ResourceManagementClient {
  const built = clientOptions(options);
  const client = new ResourceManagementClient(credential, NIL_SUBSCRIPTION, built);
  readers.set(client, { endpoint: built.endpoint.replace(/\/+$/, ''), httpClient: built.httpClient });
  return client;
}

const NIL_SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';

/** The api-version of the subscription list (@azure/arm-resources-subscriptions 3 uses it too). */
export const SUBSCRIPTIONS_API_VERSION = '2022-12-01';

/**
 * The subscriptions the tenant's identity sees, in every state, read through the tenant's client
 * (one pipeline and one token for the list and the inventory; listPages).
 */
export async function* listVisibleSubscriptions(
  client: ResourceManagementClient,
): AsyncGenerator<VisibleSubscription> {
  const reader = readerOf(client);
  const url = `${reader.endpoint}/subscriptions?api-version=${SUBSCRIPTIONS_API_VERSION}`;
  for await (const page of listPages(client, reader, url, SUBSCRIPTIONS_API_VERSION)) {
    for (const subscription of page as RawSubscription[]) {
      const subscriptionId = text(subscription.subscriptionId);
      if (!subscriptionId) continue;
      yield {
        subscriptionId: subscriptionId.toLowerCase(),
        displayName: text(subscription.displayName) ?? subscriptionId,
        state: text(subscription.state) ?? 'Enabled',
        tenantId: (text(subscription.tenantId) ?? '').toLowerCase(),
      };
    }
  }
}

/** A subscription as GET /subscriptions lists it: only the fields the sweep reads. */
interface RawSubscription {
  subscriptionId?: unknown;
  displayName?: unknown;
  state?: unknown;
  tenantId?: unknown;
}

/** What listPages needs of a client made by resourceClient. */
function readerOf(client: ResourceManagementClient): { endpoint: string; httpClient: HttpClient } {
  const reader = readers.get(client);
  if (!reader) throw new Error('ARM lists need a client made by resourceClient');
  return reader;
}

const noop = (): void => undefined;

/**
 * The pages of a list, each one requested as soon as the previous one has arrived, so the next ARM
 * round trip overlaps the caller's work on the current page (no request more than without it).
 * A failure of a page read ahead surfaces when the caller gets to it.
 */
async function* readAhead<T>(
  pages: AsyncIterator<T[]>,
  first: Promise<IteratorResult<T[]>> = pages.next(),
): AsyncGenerator<T[]> {
  let next = first;
  for (;;) {
    const page = await next;
    if (page.done) return;
    next = pages.next();
    next.catch(noop);
    yield page.value;
  }
}

/** The api-version the SDK's resource and resource group lists use (@azure/arm-resources 8). */
export const RESOURCES_API_VERSION = '2025-04-01';

/** A list page as ARM sends it. */
interface ListPage {
  value?: unknown;
  nextLink?: unknown;
}

/** A list item as ARM sends it: only the fields the inventory keeps are read. */
interface RawItem {
  id?: unknown;
  name?: unknown;
  type?: unknown;
  location?: unknown;
  tags?: unknown;
  sku?: Record<string, unknown> | null;
  kind?: unknown;
  managedBy?: unknown;
  changedTime?: unknown;
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** The SKU as the SDK's model has it (its six fields, in its order), so content hashes stay as they were. */
function skuOf(sku: Record<string, unknown>): Record<string, unknown> {
  return {
    name: sku.name,
    tier: sku.tier,
    size: sku.size,
    family: sku.family,
    model: sku.model,
    capacity: sku.capacity,
  };
}

/**
 * The pages of an ARM list, read through the client's own pipeline (its bearer authentication, retry
 * and throttling policies and the pacing policy, as the SDK's pager sends them), each page's JSON parsed
 * once and used as it is. The SDK's pager maps every item of a page into a model object first, the
 * largest part of a list's CPU after the HTTP stack (docs/performance.md). `nextLink` is followed as
 * ARM gives it (the api-version added if it lacks one, as the SDK does).
 */
async function* listPages(
  client: ResourceManagementClient,
  reader: { httpClient: HttpClient },
  firstUrl: string,
  apiVersion: string = RESOURCES_API_VERSION,
): AsyncGenerator<RawItem[]> {
  let url: string | undefined = firstUrl;
  while (url) {
    const request = createPipelineRequest({
      url,
      method: 'GET',
      headers: createHttpHeaders({ accept: 'application/json' }),
    });
    const response = await client.pipeline.sendRequest(reader.httpClient, request);
    let body: ListPage | undefined;
    try {
      body = response.bodyAsText ? (JSON.parse(response.bodyAsText) as ListPage) : undefined;
    } catch {
      body = undefined;
    }
    if (response.status !== 200) {
      // As the SDK's pager throws it: its message, ARM's error code, the status, request and response.
      const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
      throw new RestError(`Pagination failed with unexpected statusCode ${response.status}`, {
        statusCode: response.status,
        request,
        response,
        ...(typeof code === 'string' ? { code } : {}),
      });
    }
    if (!body || !Array.isArray(body.value))
      throw new RestError(
        "Couldn't paginate response\n Body doesn't contain an array property with name: value",
        {
          statusCode: response.status,
          request,
          response,
        },
      );
    yield body.value as RawItem[];
    const next = typeof body.nextLink === 'string' && body.nextLink !== '' ? body.nextLink : undefined;
    url =
      next && !/[?&]api-version=/i.test(next)
        ? `${next}${next.includes('?') ? '&' : '?'}api-version=${apiVersion}`
        : next;
  }
}

/**
 * Resource groups first, then resources: one stream of inventory items for a subscription. The two
 * lists are independent, so the first page of resources is requested together with the groups: a
 * subscription's critical path is its longer list, not the sum of both. Any client made by
 * `resourceClient` reads any subscription (the URL names it); a tenant's sweep uses one for all.
 */
export async function* listInventoryItems(
  client: ResourceManagementClient,
  subscriptionId: string,
): AsyncGenerator<InventoryItem> {
  for await (const page of listInventoryPages(client, subscriptionId)) yield* page;
}

/**
 * listInventoryItems a page at a time (ARM's pages of up to 100 or 1,000): what the sweep reads, as
 * each step of an async generator costs a few promises and microtask turns, and a page is one step
 * instead of one per resource (docs/performance.md).
 */
export async function* listInventoryPages(
  client: ResourceManagementClient,
  subscriptionId: string,
): AsyncGenerator<InventoryItem[]> {
  const reader = readerOf(client);
  const base = `${reader.endpoint}/subscriptions/${encodeURIComponent(subscriptionId)}`;
  const groupPages = listPages(client, reader, `${base}/resourcegroups?api-version=${RESOURCES_API_VERSION}`);
  // changedTime says when a resource last changed in Azure; the row keeps it (not compared).
  const resourcePages = listPages(
    client,
    reader,
    `${base}/resources?api-version=${RESOURCES_API_VERSION}&%24expand=changedTime`,
  );
  const firstResources = resourcePages.next();
  firstResources.catch(noop);
  // ARM upper-cases the group in some resources' ids (VMs, disks): rows name a group as it is named.
  const groupNames = new Map<string, string>();
  for await (const page of readAhead(groupPages)) {
    const items: InventoryItem[] = [];
    for (const group of page) {
      const id = text(group.id);
      const name = text(group.name);
      if (!id || !name) continue;
      groupNames.set(name.toLowerCase(), name);
      const managedBy = text(group.managedBy);
      items.push({
        id,
        name,
        type: text(group.type) ?? 'Microsoft.Resources/resourceGroups',
        location: text(group.location) ?? '',
        resourceGroup: name,
        subscriptionId,
        tags: (group.tags as Record<string, string> | undefined) ?? {},
        ...(managedBy ? { managedBy } : {}),
      });
    }
    yield items;
  }
  for await (const page of readAhead(resourcePages, firstResources)) {
    const items: InventoryItem[] = [];
    for (const resource of page) {
      const id = text(resource.id);
      const name = text(resource.name);
      const type = text(resource.type);
      if (!id || !name || !type) continue;
      const item: InventoryItem = {
        id,
        name,
        type,
        location: text(resource.location) ?? '',
        resourceGroup: resourceGroupOf(id, groupNames),
        subscriptionId,
        tags: (resource.tags as Record<string, string> | undefined) ?? {},
      };
      if (resource.sku && typeof resource.sku === 'object') item.sku = skuOf(resource.sku);
      const kind = text(resource.kind);
      if (kind) item.kind = kind;
      const managedBy = text(resource.managedBy);
      if (managedBy) item.managedBy = managedBy;
      if (resource.changedTime) item.changedTime = isoTime(resource.changedTime as string);
      items.push(item);
    }
    yield items;
  }
}

/** ARM's UTC time with an optional fraction (it sends 7 digits). */
const ARM_UTC_TIME =
  /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?Z$/;

/** Days in a month of the proleptic Gregorian calendar (Date's). */
function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

/**
 * A time as `new Date(value).toISOString()` gives it (milliseconds, the fraction cut after three
 * digits), cut from the text when ARM sends it in its usual form on a day its month has: parsing a date
 * costs more than the rest of a resource's reading (about 1.2 us, every resource of a sweep), and so do a
 * regular expression's groups (0.19 us against 0.06 for a test and a slice). Anything else, an impossible
 * date included (it rolls over into the next month), takes Date's own way.
 */
export function isoTime(value: string): string {
  if (!ARM_UTC_TIME.test(value)) return new Date(value).toISOString();
  const digit = (at: number): number => value.charCodeAt(at) - 48;
  const day = digit(8) * 10 + digit(9);
  if (day > 28) {
    const year = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3);
    if (day > daysInMonth(year, digit(5) * 10 + digit(6))) return new Date(value).toISOString();
  }
  // `YYYY-MM-DDTHH:MM:SS` is 19 characters, and milliseconds 4 more (`.fff`).
  if (value.length === 20) return `${value.slice(0, 19)}.000Z`;
  if (value.length >= 24) return `${value.slice(0, 23)}Z`;
  return `${value.slice(0, value.length - 1).padEnd(23, '0')}Z`;
}

export const STORAGE_ACCOUNT_TYPE = 'microsoft.storage/storageaccounts';

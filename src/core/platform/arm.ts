/**
 * ARM access for one customer tenant through the real SDK clients. Everything streams: subscriptions,
 * resource groups and resources arrive page by page (following `nextLink`), so memory does not grow
 * with the size of a tenant. Retries (including 429 with Retry-After) are the SDK's own policy; the
 * pacing policy (arm-pacing.ts) slows a subscription's reads before ARM throttles them and gives a 429
 * without Retry-After a backoff the SDK's policy then honours.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { HttpClient } from '@azure/core-rest-pipeline';
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
  return {
    endpoint: options.cloud.armEndpoint,
    // The SDK derives its scope from the endpoint; pin it so the sandbox gets the ARM audience.
    credentials: { scopes: [options.cloud.armScope] },
    retryOptions: { maxRetries: options.maxRetries },
    additionalPolicies: [
      { policy: armPacingPolicy(options.pacer ?? sharedArmPacer), position: 'perRetry' as const },
    ],
    ...sharedPipelineOptionsFor(options.cloud),
    ...(options.httpClient ? { httpClient: options.httpClient } : {}),
  };
}

export function subscriptionClient(credential: TokenCredential, options: ArmOptions): SubscriptionClient {
  return new SubscriptionClient(credential, clientOptions(options));
}

export function resourceClient(
  credential: TokenCredential,
  subscriptionId: string,
  options: ArmOptions,
): ResourceManagementClient {
  return new ResourceManagementClient(credential, subscriptionId, clientOptions(options));
}

export async function* listVisibleSubscriptions(
  client: SubscriptionClient,
): AsyncGenerator<VisibleSubscription> {
  for await (const subscription of client.subscriptions.list()) {
    if (!subscription.subscriptionId) continue;
    yield {
      subscriptionId: subscription.subscriptionId.toLowerCase(),
      displayName: subscription.displayName ?? subscription.subscriptionId,
      state: subscription.state ?? 'Enabled',
      tenantId: (subscription.tenantId ?? '').toLowerCase(),
    };
  }
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

/**
 * Resource groups first, then resources: one stream of inventory items for a subscription. The two
 * lists are independent, so the first page of resources is requested together with the groups: a
 * subscription's critical path is its longer list, not the sum of both.
 */
export async function* listInventoryItems(
  client: ResourceManagementClient,
  subscriptionId: string,
): AsyncGenerator<InventoryItem> {
  const groupPages = client.resourceGroups.list().byPage();
  // changedTime says when a resource last changed in Azure; the row keeps it (not compared).
  const resourcePages = client.resources.list({ expand: 'changedTime' }).byPage();
  const firstResources = resourcePages.next();
  firstResources.catch(noop);
  // ARM upper-cases the group in some resources' ids (VMs, disks): rows name a group as it is named.
  const groupNames = new Map<string, string>();
  for await (const page of readAhead(groupPages)) {
    for (const group of page) {
      if (!group.id || !group.name) continue;
      groupNames.set(group.name.toLowerCase(), group.name);
      yield {
        id: group.id,
        name: group.name,
        type: group.type ?? 'Microsoft.Resources/resourceGroups',
        location: group.location ?? '',
        resourceGroup: group.name,
        subscriptionId,
        tags: group.tags ?? {},
        ...(group.managedBy ? { managedBy: group.managedBy } : {}),
      };
    }
  }
  for await (const page of readAhead(resourcePages, firstResources)) {
    for (const resource of page) {
      if (!resource.id || !resource.name || !resource.type) continue;
      const item: InventoryItem = {
        id: resource.id,
        name: resource.name,
        type: resource.type,
        location: resource.location ?? '',
        resourceGroup: resourceGroupOf(resource.id, groupNames),
        subscriptionId,
        tags: resource.tags ?? {},
      };
      if (resource.sku) item.sku = { ...resource.sku };
      if (resource.kind) item.kind = resource.kind;
      if (resource.managedBy) item.managedBy = resource.managedBy;
      if (resource.changedTime) item.changedTime = new Date(resource.changedTime).toISOString();
      yield item;
    }
  }
}

export const STORAGE_ACCOUNT_TYPE = 'microsoft.storage/storageaccounts';

/**
 * The ideal bound of a sweep: the shortest time any reader of this world could take, given the
 * sandbox ARM's settings and the deployment's concurrency limits. It counts only what cannot be
 * avoided on ARM:
 *
 * - pages of one list are sequential (each nextLink comes with the previous page), each page costs
 *   the ARM latency; a subscription's two lists (resource groups, resources) are independent, so the
 *   longer of the two chains is the subscription's critical path;
 * - a tenant lists its subscriptions first (sequential pages), then reads at most
 *   `subscriptionConcurrency` subscriptions at once;
 * - ARM's token bucket per subscription x principal serves `burst` requests at once and then
 *   `refillPerSecond`: n requests take at least (n - burst) / refill seconds (the throttling floor);
 * - one instance runs `workers` tenants at once (host.json's batchSize + newBatchThreshold), so the
 *   tenants go in waves.
 *
 * Token requests, storage writes and CPU are taken as free: the bound is what ARM alone imposes.
 */

export interface IdealInput {
  tenants: number;
  subscriptionsPerTenant: number;
  resourcesPerSubscription: number;
  resourceGroupsPerSubscription: number;
  latencyMs: number;
  pageSize: number;
  throttle: { enabled: boolean; burst: number; refillPerSecond: number };
  /** Tenants in flight on one instance (host.json's batchSize + newBatchThreshold). */
  workers: number;
  /** Subscriptions of one tenant in flight (TENANT_FLEET_SUBSCRIPTION_CONCURRENCY). */
  subscriptionConcurrency: number;
}

export interface IdealBound {
  /** The bound for the whole sweep, in milliseconds. */
  ms: number;
  /** One tenant's critical path. */
  tenantMs: number;
  /** One subscription's critical path (latency chain or throttling floor, whichever is longer). */
  subscriptionMs: number;
  /** The throttling floor of one subscription (0 when its requests fit in the burst). */
  subscriptionThrottleFloorMs: number;
  /** Rounds of `workers` tenants. */
  waves: number;
  /** ARM requests a sweep needs at least. */
  armRequests: number;
}

/** Pages needed for `items` (an empty list still costs one request). */
export function pages(items: number, pageSize: number): number {
  return Math.max(1, Math.ceil(items / pageSize));
}

/** Milliseconds the token bucket needs at least to serve `requests` (0 when throttling is off). */
export function throttleFloorMs(requests: number, throttle: IdealInput['throttle']): number {
  if (!throttle.enabled || requests <= throttle.burst) return 0;
  if (throttle.refillPerSecond <= 0) return Number.POSITIVE_INFINITY;
  return ((requests - throttle.burst) / throttle.refillPerSecond) * 1000;
}

export function idealBound(input: IdealInput): IdealBound {
  const latency = input.latencyMs;
  const subscriptionListPages = pages(input.subscriptionsPerTenant, input.pageSize);
  const groupPages = pages(input.resourceGroupsPerSubscription, input.pageSize);
  const resourcePages = pages(input.resourcesPerSubscription, input.pageSize);
  const subscriptionRequests = groupPages + resourcePages;
  const subscriptionThrottleFloorMs = throttleFloorMs(subscriptionRequests, input.throttle);
  const subscriptionMs = Math.max(Math.max(groupPages, resourcePages) * latency, subscriptionThrottleFloorMs);
  const subscriptionListMs = Math.max(
    subscriptionListPages * latency,
    throttleFloorMs(subscriptionListPages, input.throttle),
  );
  const rounds = Math.ceil(input.subscriptionsPerTenant / Math.max(1, input.subscriptionConcurrency));
  const tenantMs = subscriptionListMs + rounds * subscriptionMs;
  const waves = Math.ceil(input.tenants / Math.max(1, input.workers));
  return {
    ms: waves * tenantMs,
    tenantMs,
    subscriptionMs,
    subscriptionThrottleFloorMs,
    waves,
    armRequests:
      input.tenants * (subscriptionListPages + input.subscriptionsPerTenant * subscriptionRequests),
  };
}

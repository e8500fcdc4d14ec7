/** GET /subscriptions/{id}/resourcegroups (with `$filter` on tags) and GET …/resourcegroups/{rg}. */
import { compileResourceGroupFilter } from '../arm-filter.js';
import { accessIn, hasAnyAccess } from './access.js';
import type { ArmCall } from './context.js';
import { ArmError, authorizationFailed } from './errors.js';
import { resourceGroupJson } from './json.js';
import { pageOf } from './paging.js';
import { compileQueryFilter } from './query-filter.js';
import { requireSubscription } from './subscriptions.js';

export function listResourceGroups(call: ArmCall, subscriptionId: string): unknown {
  const { ctx, claims, oid, url, settings } = call;
  const subscription = requireSubscription(ctx, subscriptionId, claims);
  const access = accessIn(ctx.store, oid, subscription.subscriptionId);
  if (!hasAnyAccess(access)) {
    throw authorizationFailed(
      oid,
      'Microsoft.Resources/subscriptions/resourceGroups/read',
      `/subscriptions/${subscription.subscriptionId}`,
    );
  }
  const filter = compileQueryFilter(compileResourceGroupFilter, url);
  const groups = ctx.store
    .resourceGroups(subscription.subscriptionId)
    .filter((g) => access.subscription || access.groups.has(g.name.toLowerCase()))
    .filter((g) => !filter || filter(g))
    .map((g) => resourceGroupJson(g, settings.realism));
  return pageOf(ctx, groups, url, settings);
}

export function getResourceGroup(
  { ctx, claims, oid, settings }: ArmCall,
  subscriptionId: string,
  resourceGroup: string,
): unknown {
  const subscription = requireSubscription(ctx, subscriptionId, claims);
  const access = accessIn(ctx.store, oid, subscription.subscriptionId);
  if (!access.subscription && !access.groups.has(resourceGroup.toLowerCase())) {
    throw authorizationFailed(
      oid,
      'Microsoft.Resources/subscriptions/resourceGroups/read',
      `/subscriptions/${subscription.subscriptionId}/resourceGroups/${resourceGroup}`,
    );
  }
  const group = ctx.store.resourceGroup(subscription.subscriptionId, resourceGroup);
  if (!group) {
    throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${resourceGroup}' could not be found.`);
  }
  return resourceGroupJson(group, settings.realism);
}

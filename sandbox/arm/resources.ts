/** GET /subscriptions/{id}/resources and GET …/resourcegroups/{rg}/resources (paged, `$filter`ed). */
import { compileResourceFilter } from '../arm-filter.js';
import { scopeContains } from '../rbac.js';
import { accessIn, canReadResource, hasAnyAccess } from './access.js';
import type { ArmCall } from './context.js';
import { ArmError, authorizationFailed } from './errors.js';
import { resourceJson } from './json.js';
import { nextLink, pageParameters } from './paging.js';
import { compileQueryFilter } from './query-filter.js';
import { requireSubscription } from './subscriptions.js';

/** Lists the resources of a subscription, or of one of its groups when `group` is given. */
export function listResources(call: ArmCall, subscriptionId: string, group?: string): unknown {
  const { ctx, claims, oid, url, settings } = call;
  const subscription = requireSubscription(ctx, subscriptionId, claims);
  const access = accessIn(ctx.store, oid, subscription.subscriptionId);
  const groupScope = group
    ? `/subscriptions/${subscription.subscriptionId}/resourceGroups/${group}`
    : undefined;
  const allowed = groupScope
    ? access.subscription ||
      access.groups.has(group!.toLowerCase()) ||
      access.resources.some((scope) => scopeContains(groupScope, scope))
    : hasAnyAccess(access);
  if (!allowed) {
    throw groupScope
      ? authorizationFailed(
          oid,
          'Microsoft.Resources/subscriptions/resourceGroups/resources/read',
          groupScope,
        )
      : authorizationFailed(
          oid,
          'Microsoft.Resources/subscriptions/resources/read',
          `/subscriptions/${subscription.subscriptionId}`,
        );
  }
  if (group && !ctx.store.resourceGroup(subscription.subscriptionId, group)) {
    throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${group}' could not be found.`);
  }
  const filter = compileQueryFilter(compileResourceFilter, url);
  const { cursor, limit } = pageParameters(url, settings);
  const scan = ctx.store.scanResources(subscription.subscriptionId, {
    cursor,
    limit,
    include: (r) =>
      (!group || r.resourceGroup.toLowerCase() === group.toLowerCase()) &&
      canReadResource(access, r) &&
      (!filter || filter(r)),
  });
  const pass = call.casing.pass(subscription.subscriptionId, cursor === 0);
  const value = scan.items.map((r) => resourceJson(r, call.casing.spell(r, settings.realism, pass)));
  return scan.next !== undefined ? { value, nextLink: nextLink(ctx, url, scan.next) } : { value };
}

/** GET /subscriptions/{id}/resources and GET …/resourcegroups/{rg}/resources (paged, `$filter`ed). */
import { compileResourceFilter } from '../arm-filter.js';
import { scopeContains } from '../rbac.js';
import { accessIn, canReadResource, hasAnyAccess } from './access.js';
import type { ArmCall } from './context.js';
import { ArmError, authorizationFailed } from './errors.js';
import { resourceJson } from './json.js';
import { nextLink, pageParameters } from './paging.js';
import { compileQueryFilter } from './query-filter.js';
import { expandedProperties } from './change-times.js';
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
  // ARM documents that resources found by tag come back without their tags, and that $expand "may
  // not be compatible" with a tag filter: neither is answered then.
  const byTag = filter?.byTag === true;
  const expand = byTag ? new Set<never>() : expandedProperties(url);
  const value = scan.items.map((r) => {
    const json = resourceJson(r, call.casing.spell(r, settings.realism, pass));
    if (byTag) delete json.tags;
    return { ...json, ...call.changeTimes.expand(r, expand) };
  });
  return scan.next !== undefined ? { value, nextLink: nextLink(ctx, url, scan.next) } : { value };
}

/**
 * GET of one resource by id (Resources - Get By Id, https://learn.microsoft.com/rest/api/resources/resources/get-by-id):
 * the generic view with `properties.provisioningState`, 404 ResourceNotFound when absent.
 */
export function getResource(
  call: ArmCall,
  subscriptionId: string,
  resourceGroup: string,
  id: string,
): unknown {
  const { ctx, claims, oid, url, settings } = call;
  const subscription = requireSubscription(ctx, subscriptionId, claims);
  const access = accessIn(ctx.store, oid, subscription.subscriptionId);
  const resource = ctx.store.findResource(id);
  const readable = resource
    ? canReadResource(access, resource)
    : access.subscription || access.groups.has(resourceGroup.toLowerCase());
  if (!readable) {
    const [, , , , , namespace, ...rest] = id.split('/');
    const types = rest.filter((_, i) => i % 2 === 0).join('/');
    throw authorizationFailed(oid, `${namespace!}/${types}/read`, id);
  }
  if (!resource) {
    const [, , , , , namespace, type, name] = id.split('/');
    throw new ArmError(
      404,
      'ResourceNotFound',
      `The Resource '${namespace!}/${type!}/${name!}' under resource group '${resourceGroup}' was not found. ` +
        'For more details please go to https://aka.ms/ARMResourceNotFoundFix',
    );
  }
  const pass = call.casing.pass(subscription.subscriptionId, false);
  return {
    ...resourceJson(resource, call.casing.spell(resource, settings.realism, pass)),
    ...call.changeTimes.expand(resource, expandedProperties(url)),
    properties: { provisioningState: 'Succeeded' },
  };
}

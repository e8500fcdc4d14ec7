/**
 * RBAC on ARM reads (documented choice, matching ARM's behaviour for collection GETs): a caller with a
 * read role (Reader, Contributor, Owner) on the subscription sees everything; a caller whose roles sit
 * only on some resource groups or resources sees just those in the subscription-level lists (and the
 * subscription itself in GET /subscriptions); a caller with no read role anywhere in the subscription
 * gets 403 AuthorizationFailed.
 */
import { CONTROL_PLANE_READ_ROLES, scopeContains } from '../rbac.js';
import { resourceId, type WorldStore } from '../state.js';
import type { Resource } from '../world.js';

/** Where the caller may read inside one subscription (from its control-plane read roles). */
export interface Access {
  subscription: boolean;
  groups: Set<string>;
  resources: string[];
}

export function accessIn(store: WorldStore, principalId: string, subscriptionId: string): Access {
  const access: Access = { subscription: false, groups: new Set(), resources: [] };
  const subscriptionScope = `/subscriptions/${subscriptionId.toLowerCase()}`;
  for (const assignment of store.world.roleAssignments) {
    if (assignment.principalId !== principalId.toLowerCase()) continue;
    if (!CONTROL_PLANE_READ_ROLES.includes(assignment.roleDefinitionName)) continue;
    const scope = assignment.scope.toLowerCase().replace(/\/+$/, '');
    if (!scopeContains(subscriptionScope, scope)) continue;
    const rest = scope.slice(subscriptionScope.length).split('/').filter(Boolean);
    if (rest.length === 0) access.subscription = true;
    else if (rest.length === 2 && rest[0] === 'resourcegroups') access.groups.add(rest[1]!);
    else if (rest[0] === 'resourcegroups') access.resources.push(scope);
  }
  return access;
}

export const hasAnyAccess = (access: Access): boolean =>
  access.subscription || access.groups.size > 0 || access.resources.length > 0;

export function canReadResource(access: Access, resource: Resource): boolean {
  if (access.subscription || access.groups.has(resource.resourceGroup.toLowerCase())) return true;
  if (access.resources.length === 0) return false;
  const id = resourceId(resource);
  return access.resources.some((scope) => scopeContains(scope, id));
}

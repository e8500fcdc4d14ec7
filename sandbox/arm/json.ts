/** The JSON shapes ARM answers with for subscriptions, resource groups and generic resources. */
import { resourceId } from '../state.js';
import type { Resource, ResourceGroup, Subscription } from '../world.js';

/** The JSON of a subscription as GET /subscriptions returns it (api-version 2022-12-01). */
export function subscriptionJson(subscription: Subscription): Record<string, unknown> {
  return {
    id: `/subscriptions/${subscription.subscriptionId}`,
    authorizationSource: 'RoleBased',
    managedByTenants: [],
    subscriptionId: subscription.subscriptionId,
    tenantId: subscription.tenantId,
    displayName: subscription.displayName,
    state: subscription.state,
    subscriptionPolicies: {
      locationPlacementId: 'Public_2014-09-01',
      quotaId: 'PayAsYouGo_2014-09-01',
      spendingLimit: 'Off',
    },
  };
}

export function resourceGroupJson(group: ResourceGroup): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: `/subscriptions/${group.subscriptionId}/resourceGroups/${group.name}`,
    name: group.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: group.location,
  };
  if (Object.keys(group.tags).length) json.tags = group.tags;
  json.properties = { provisioningState: 'Succeeded' };
  return json;
}

/** A generic resource as the Resources - List operation returns it (tags only when there are some). */
export function resourceJson(resource: Resource): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: resourceId(resource),
    name: resource.name,
    type: resource.type,
  };
  if (resource.sku) json.sku = resource.sku;
  if (resource.kind) json.kind = resource.kind;
  json.location = resource.location;
  if (Object.keys(resource.tags).length) json.tags = resource.tags;
  return json;
}

/** The JSON shapes ARM answers with for subscriptions, resource groups and generic resources. */
import { normaliseLocation, type ResourceSpelling, type RealismSettings } from './realism.js';
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

export function resourceGroupJson(group: ResourceGroup, realism: RealismSettings): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: `/subscriptions/${group.subscriptionId}/resourceGroups/${group.name}`,
    name: group.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: realism.casing ? normaliseLocation(group.location) : group.location,
  };
  if (Object.keys(group.tags).length) json.tags = group.tags;
  json.properties = { provisioningState: 'Succeeded' };
  return json;
}

/**
 * A generic resource as the Resources - List operation returns it (tags only when there are some),
 * its id, type and location spelled as this pass of ARM spells them (realism.ts).
 */
export function resourceJson(resource: Resource, spelling: ResourceSpelling): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: spelling.id,
    name: resource.name,
    type: spelling.type,
  };
  if (resource.sku) json.sku = resource.sku;
  if (resource.kind) json.kind = resource.kind;
  json.location = spelling.location;
  if (Object.keys(resource.tags).length) json.tags = resource.tags;
  return json;
}

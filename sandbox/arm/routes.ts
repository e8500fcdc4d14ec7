/** Which ARM operation a request path names, and the api-versions each operation family accepts. */
import { ArmError } from './errors.js';
import { ARM_API_VERSIONS } from './settings.js';

export type Operation =
  | { kind: 'listSubscriptions' }
  | { kind: 'listTenants' }
  | { kind: 'getSubscription'; subscriptionId: string }
  | { kind: 'listResourceGroups'; subscriptionId: string }
  | { kind: 'getResourceGroup'; subscriptionId: string; resourceGroup: string }
  | { kind: 'listResources'; subscriptionId: string }
  | { kind: 'listGroupResources'; subscriptionId: string; resourceGroup: string }
  | { kind: 'getResource'; subscriptionId: string; resourceGroup: string; id: string };

export const SERVED =
  'GET /subscriptions, /tenants, /subscriptions/{id}, /subscriptions/{id}/resourcegroups[/{rg}[/resources]], /subscriptions/{id}/resources, /subscriptions/{id}/resourcegroups/{rg}/providers/{namespace}/{type}/{name}';

/** Matches a path (case-insensitively) to an operation; undefined for paths this ARM does not serve. */
export function route(segments: string[]): Operation | undefined {
  const lower = segments.map((s) => s.toLowerCase());
  if (lower.length === 1 && lower[0] === 'subscriptions') return { kind: 'listSubscriptions' };
  if (lower.length === 1 && lower[0] === 'tenants') return { kind: 'listTenants' };
  if (lower[0] !== 'subscriptions' || lower.length < 2) return undefined;
  const subscriptionId = segments[1]!;
  if (lower.length === 2) return { kind: 'getSubscription', subscriptionId };
  if (lower.length === 3 && lower[2] === 'resources') return { kind: 'listResources', subscriptionId };
  if (lower[2] !== 'resourcegroups') return undefined;
  if (lower.length === 3) return { kind: 'listResourceGroups', subscriptionId };
  const resourceGroup = segments[3]!;
  if (lower.length === 4) return { kind: 'getResourceGroup', subscriptionId, resourceGroup };
  if (lower.length === 5 && lower[4] === 'resources')
    return { kind: 'listGroupResources', subscriptionId, resourceGroup };
  // A resource by id: providers/{namespace}, then type/name pairs (child resources add pairs).
  if (lower[4] === 'providers' && lower.length >= 8 && lower.length % 2 === 0) {
    return { kind: 'getResource', subscriptionId, resourceGroup, id: `/${segments.join('/')}` };
  }
  return undefined;
}

export function checkApiVersion(url: URL, operation: Operation): void {
  const version = url.searchParams.get('api-version');
  if (version === null || version === '') {
    throw new ArmError(
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    );
  }
  // A resource GET takes its provider's own api-versions (e.g. 2024-07-01 for Microsoft.Compute):
  // this ARM knows no provider's list, so any dated version is served.
  if (operation.kind === 'getResource') {
    if (/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(version)) return;
    throw new ArmError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${version}' is invalid. It must be a date such as '2024-07-01', optionally with '-preview'.`,
    );
  }
  const family =
    operation.kind === 'listSubscriptions' ||
    operation.kind === 'getSubscription' ||
    operation.kind === 'listTenants'
      ? ARM_API_VERSIONS.subscriptions
      : ARM_API_VERSIONS.resources;
  if (!(family as readonly string[]).includes(version)) {
    throw new ArmError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${version}' is invalid. The supported versions are '${family.join(',')}'.`,
    );
  }
}

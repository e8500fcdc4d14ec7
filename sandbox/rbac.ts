/**
 * Role-based access checks of the sandbox cloud, shared by ARM (control plane: Reader and above) and
 * the storage front (data plane: Storage Blob Data roles). An assignment applies to its scope and
 * everything below it, as in Azure.
 */
import type { BuiltInRoleName, World } from './world.js';

/** Roles that allow reading ARM resources (Microsoft.Resources/.../read). */
export const CONTROL_PLANE_READ_ROLES: readonly BuiltInRoleName[] = ['Reader', 'Contributor', 'Owner'];
/** Roles that allow reading blobs (Microsoft.Storage/.../blobs/read data action). */
export const BLOB_READ_ROLES: readonly BuiltInRoleName[] = [
  'Storage Blob Data Reader',
  'Storage Blob Data Contributor',
  'Storage Blob Data Owner',
];
/** Roles that allow writing blobs. */
export const BLOB_WRITE_ROLES: readonly BuiltInRoleName[] = [
  'Storage Blob Data Contributor',
  'Storage Blob Data Owner',
];

/** True when `ancestor` is `scope` or one of its parents (case-insensitive, on path-segment boundaries). */
export function scopeContains(ancestor: string, scope: string): boolean {
  const a = ancestor.toLowerCase().replace(/\/+$/, '');
  const s = scope.toLowerCase().replace(/\/+$/, '');
  return s === a || s.startsWith(`${a}/`);
}

/** True when one of the principal's assignments of `roles` satisfies `applies(assignmentScope)`. */
function anyAssignment(
  world: World,
  principalId: string,
  roles: readonly BuiltInRoleName[],
  applies: (assignmentScope: string) => boolean,
): boolean {
  const principal = principalId.toLowerCase();
  return world.roleAssignments.some(
    (assignment) =>
      assignment.principalId === principal &&
      roles.includes(assignment.roleDefinitionName) &&
      applies(assignment.scope),
  );
}

/** True when the principal holds one of `roles` at `scope` or above. */
export function hasRole(
  world: World,
  principalId: string,
  scope: string,
  roles: readonly BuiltInRoleName[],
): boolean {
  return anyAssignment(world, principalId, roles, (assigned) => scopeContains(assigned, scope));
}

/** True when the principal holds one of `roles` anywhere inside `scope` (at it, above it or below it). */
export function hasRoleWithin(
  world: World,
  principalId: string,
  scope: string,
  roles: readonly BuiltInRoleName[],
): boolean {
  return anyAssignment(
    world,
    principalId,
    roles,
    (assigned) => scopeContains(assigned, scope) || scopeContains(scope, assigned),
  );
}

export function storageAccountId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Storage/storageAccounts/${name}`;
}

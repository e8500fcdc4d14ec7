/**
 * Drift for the demo world between two `npm start` runs, so the second sweep has changes to show:
 * deterministic for a given sweep number, applied through the sandbox's own admin operations.
 */
import type { WorldStore } from '../sandbox/state.js';
import { resourceId } from '../sandbox/state.js';
import { worldFacts } from '../sandbox/generator.js';

/** Applies drift step `step` (1, 2, ...) and says what changed. */
export function applyDemoDrift(store: WorldStore, step: number): string {
  const world = store.world;
  const facts = worldFacts(world);
  const readable = new Set(
    Object.entries(facts.servicePrincipalObjectIds)
      .filter(([, objectId]) =>
        world.roleAssignments.some(
          (assignment) => assignment.principalId === objectId && assignment.roleDefinitionName === 'Reader',
        ),
      )
      .map(([tenantId]) => tenantId),
  );
  const subscriptions = new Set(
    world.subscriptions.filter((s) => readable.has(s.tenantId)).map((s) => s.subscriptionId),
  );
  const candidates = world.resources.filter(
    (r) =>
      subscriptions.has(r.subscriptionId) && r.type !== 'Microsoft.ManagedIdentity/userAssignedIdentities',
  );
  if (candidates.length < 5) return 'nothing (the world has too few resources to drift)';
  const pick = (offset: number) => candidates[(step * 7 + offset * 13) % candidates.length]!;

  const tagged = pick(0);
  store.upsertResource({ ...tagged, tags: { ...tagged.tags, reviewed: `sweep-${step}` } });
  const moved = pick(1);
  store.upsertResource({
    ...moved,
    location: moved.location === 'westeurope' ? 'northeurope' : 'westeurope',
  });
  const removed = pick(2);
  store.deleteResource(resourceId(removed));
  const anchor = pick(3);
  const added = store.upsertResource({
    subscriptionId: anchor.subscriptionId,
    resourceGroup: anchor.resourceGroup,
    name: `pip-drift-${step}`,
    type: 'Microsoft.Network/publicIPAddresses',
    location: anchor.location,
    tags: { env: 'dev', createdBy: 'drift' },
    sku: { name: 'Standard', tier: 'Regional' },
  });
  // Casing only (as real ARM varies it): the group upper-cased, the namespace lower-cased and the
  // location as a display name. The inventory must report no change for it.
  const touched = new Set([tagged, moved, removed, anchor].map((r) => resourceId(r).toLowerCase()));
  let offset = 4;
  while (touched.has(resourceId(pick(offset)).toLowerCase()) && offset < 4 + candidates.length) offset++;
  const respelled = pick(offset);
  store.upsertResource({
    ...respelled,
    resourceGroup: respelled.resourceGroup.toUpperCase(),
    type: respelled.type.toLowerCase(),
    location: displayLocation(respelled.location),
  });
  return (
    `tags changed on ${tagged.name}, ${moved.name} moved region, ${removed.name} removed, ${added.name} added, ` +
    `${respelled.name} respelled (casing only: no change)`
  );
}

/** A location's display name (`westeurope` → `West Europe`), as requests may give it. */
function displayLocation(location: string): string {
  const known: Record<string, string> = { westeurope: 'West Europe', northeurope: 'North Europe' };
  return known[location.toLowerCase()] ?? location;
}

/**
 * ARM spells the same resource in more than one way: ids and provider namespaces vary in case between
 * calls (a VM's id carries its resource group upper-cased; `Microsoft.Compute` or `microsoft.compute`),
 * and a location may be a display name (`West Europe`) or the normalised name (`westeurope`). Where
 * rows are keyed and compared, these helpers give the one spelling, so a resource whose only difference
 * is casing is unchanged (row keys are lower-cased already: storage/table-keys.ts).
 */

/**
 * A fleet holds a few dozen types and regions: each spelling is worked out once and then looked up
 * (a sweep asks for every resource's; a lookup allocates nothing). Bounded, as the spellings come
 * from ARM.
 */
function spellingCache(spell: (value: string) => string): (value: string) => string {
  const known = new Map<string, string>();
  return (value) => {
    let spelled = known.get(value);
    if (spelled === undefined) {
      spelled = spell(value);
      if (known.size >= 4096) known.clear();
      known.set(value, spelled);
    }
    return spelled;
  };
}

/** A resource type as compared: ARM types are case-insensitive. */
export const canonicalType: (type: string) => string = spellingCache((type) => type.toLowerCase());

/** A location as compared: lower-cased without spaces (`West Europe` and `westeurope` are one region). */
export const canonicalLocation: (location: string) => string = spellingCache((location) =>
  location.toLowerCase().replace(/\s+/g, ''),
);

/**
 * The resource group a resource id names, spelled as the group itself is (`groups` maps lower-cased
 * names to the listed names); the id's own spelling when the group was not listed.
 */
export function resourceGroupOf(id: string, groups: ReadonlyMap<string, string>): string {
  const fromId = /\/resourcegroups\/([^/]+)/i.exec(id)?.[1] ?? '';
  return groups.get(fromId.toLowerCase()) ?? fromId;
}

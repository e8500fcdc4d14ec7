/**
 * `$expand=createdTime,changedTime,provisioningState` on resource lists and GETs
 * (https://learn.microsoft.com/rest/api/resources/resources/list: "Valid values include createdTime,
 * changedTime and provisioningState"). The world keeps no timestamps, so this ARM remembers each
 * resource's content when it first serves it: createdTime is then, and changedTime moves whenever the
 * content it serves differs from the last it served (a change is stamped when next seen, not when made).
 */
import { hash } from 'node:crypto';
import { resourceId } from '../state.js';
import type { Resource } from '../world.js';
import { normaliseLocation } from './realism.js';

const EXPANDABLE = ['createdTime', 'changedTime', 'provisioningState'] as const;
type Expandable = (typeof EXPANDABLE)[number];

/** The valid `$expand` properties a request asks for (unknown names are ignored). */
export function expandedProperties(url: URL): Set<Expandable> {
  const asked = (url.searchParams.get('$expand') ?? '').split(',').map((value) => value.trim().toLowerCase());
  return new Set(EXPANDABLE.filter((name) => asked.includes(name.toLowerCase())));
}

export class ChangeTimes {
  private readonly seen = new Map<string, { digest: string; created: string; changed: string }>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Records `resource` as served now; answers its created and changed times. */
  touch(resource: Resource): { createdTime: string; changedTime: string } {
    const key = resourceId(resource).toLowerCase();
    const digest = hash(
      'sha256',
      JSON.stringify([
        resource.type.toLowerCase(),
        normaliseLocation(resource.location),
        Object.entries(resource.tags).sort(([a], [b]) => a.localeCompare(b)),
        resource.sku ?? null,
        resource.kind ?? null,
      ]),
      'base64url',
    );
    const known = this.seen.get(key);
    if (known && known.digest === digest) return { createdTime: known.created, changedTime: known.changed };
    const at = this.now().toISOString();
    const entry = { digest, created: known?.created ?? at, changed: at };
    this.seen.set(key, entry);
    return { createdTime: entry.created, changedTime: entry.changed };
  }

  /** The expanded properties of `resource` for a request asking `expand`. */
  expand(resource: Resource, expand: Set<Expandable>): Record<string, string> {
    if (expand.size === 0) return {};
    const times = this.touch(resource);
    const out: Record<string, string> = {};
    if (expand.has('createdTime')) out.createdTime = times.createdTime;
    if (expand.has('changedTime')) out.changedTime = times.changedTime;
    if (expand.has('provisioningState')) out.provisioningState = 'Succeeded';
    return out;
  }
}

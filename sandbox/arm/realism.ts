/**
 * Real ARM's casing quirks, on by default (seeded, so a run can be replayed):
 * - ids of Microsoft.Compute resources (VMs, disks, ...) carry the resource group segment upper-cased,
 *   whatever the group's own name (MicrosoftDocs/azure-docs#36222, Azure/azure-powershell#13516,
 *   Azure/azure-sdk-for-java#2014, Azure/azure-rest-api-specs#14192: "by design ... RGs are not case
 *   sensitive");
 * - other resources vary from one listing to the next: the resource group segment upper-cased, and the
 *   provider namespace lower-cased in the id and the type (`microsoft.network/...`), as ARM ids are
 *   case-insensitive (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules:
 *   "Resource names are case-insensitive unless noted"; Azure/azure-sdk-for-java#1508: "casing of names
 *   in azure returned resource id is not consistent");
 * - locations come back normalised (`West Europe` is answered as `westeurope`).
 * A listing is a "pass": it starts with a list request without `$skiptoken`; its pages share one casing.
 */
import { hash } from 'node:crypto';
import { resourceId } from '../state.js';
import type { Resource } from '../world.js';

export interface RealismSettings {
  /** Casing varies (seeded) and locations are normalised; off answers ids exactly as the world has them. */
  casing: boolean;
  /** Seed of the casing variation. */
  seed: number;
  /**
   * Service principals provisioned and roles granted through the admin API take effect after this
   * many milliseconds (Entra and RBAC are eventually consistent; 0: at once). See sandbox/propagation.ts.
   */
  propagationDelayMs: number;
}

export const DEFAULT_REALISM: RealismSettings = { casing: true, seed: 1, propagationDelayMs: 2_000 };

/** ARM's normalised location name: `West Europe` → `westeurope`. */
export function normaliseLocation(location: string): string {
  return location.toLowerCase().replace(/\s+/g, '');
}

/** The id and type of a resource as one pass of ARM spells them. */
export interface ResourceSpelling {
  id: string;
  type: string;
  location: string;
}

/** Per-subscription listing passes, so each new listing may spell a resource differently. */
export class CasingVariation {
  private readonly passes = new Map<string, number>();

  /** A list request without `$skiptoken` starts a new pass over the subscription. */
  pass(subscriptionId: string, startsNewPass: boolean): number {
    const key = subscriptionId.toLowerCase();
    const current = this.passes.get(key) ?? 0;
    const pass = startsNewPass ? current + 1 : current;
    this.passes.set(key, pass);
    return pass;
  }

  /** How `resource` is spelled in pass `pass` (as the world has it when casing is off). */
  spell(resource: Resource, settings: RealismSettings, pass: number): ResourceSpelling {
    const id = resourceId(resource);
    if (!settings.casing) return { id, type: resource.type, location: resource.location };
    const digest = hash('sha256', `${settings.seed}:${pass}:${id.toLowerCase()}`, 'buffer');
    const [namespace = '', ...rest] = resource.type.split('/');
    const compute = namespace.toLowerCase() === 'microsoft.compute';
    const upperGroup = compute || (digest[0]! & 1) === 1;
    const lowerNamespace = !compute && (digest[0]! & 2) === 2;
    let spelled = id;
    if (upperGroup) {
      spelled = spelled.replace(
        /\/resourceGroups\/([^/]+)\//,
        (_, group: string) => `/resourceGroups/${group.toUpperCase()}/`,
      );
    }
    let type = resource.type;
    if (lowerNamespace) {
      type = [namespace.toLowerCase(), ...rest].join('/');
      spelled = spelled.replace(`/providers/${namespace}/`, `/providers/${namespace.toLowerCase()}/`);
    }
    return { id: spelled, type, location: normaliseLocation(resource.location) };
  }
}

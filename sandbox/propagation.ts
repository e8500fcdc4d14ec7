/**
 * Entra and Azure RBAC are eventually consistent: a service principal provisioned a moment ago is not
 * found yet (AADSTS700016 "Application ... was not found in the directory" right after onboarding),
 * and a role granted a moment ago is not honoured yet ("Role assignment changes can take up to 10
 * minutes to take effect": https://learn.microsoft.com/azure/role-based-access-control/troubleshooting).
 * The admin API's provisioning and grants therefore take effect after the configured delay
 * (ArmSettings.realism.propagationDelayMs); removals and revocations apply at once.
 */
import type { WorldStore } from './state.js';
import type { RoleAssignment, ServicePrincipal } from './world.js';

export class Propagation {
  private readonly timers = new Set<NodeJS.Timeout>();

  /** Runs `apply` after `delayMs` (at once when 0); answers when it takes effect. */
  defer(delayMs: number, apply: () => void): string {
    const at = new Date(Date.now() + delayMs).toISOString();
    if (delayMs <= 0) {
      apply();
      return at;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      apply();
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
    return at;
  }

  /**
   * Provisions a service principal (validated now, with its object id) that Entra finds only after
   * `delayMs`. An existing one is answered at once.
   */
  provisionServicePrincipal(
    store: WorldStore,
    appId: string,
    tenantId: string,
    delayMs: number,
  ): { objectId: string; effectiveAt: string } {
    const existed = store.world.servicePrincipals.some(
      (sp) => sp.appId === appId.toLowerCase() && sp.tenantId === tenantId.toLowerCase(),
    );
    const objectId = store.provisionServicePrincipal(appId, tenantId);
    if (existed || delayMs <= 0) return { objectId, effectiveAt: new Date().toISOString() };
    const principal = this.take(store.world.servicePrincipals, (sp) => sp.objectId === objectId)!;
    const effectiveAt = this.defer(delayMs, () => {
      if (!store.world.servicePrincipals.some((sp) => sp.objectId === objectId))
        store.world.servicePrincipals.push(principal);
    });
    return { objectId, effectiveAt };
  }

  /** Grants a role (validated now) that ARM and Storage honour only after `delayMs`. */
  grantRole(
    store: WorldStore,
    principalId: string,
    roleDefinitionName: string,
    scope: string,
    delayMs: number,
  ): RoleAssignment & { effectiveAt: string } {
    const before = store.world.roleAssignments.length;
    const assignment = store.grantRole(principalId, roleDefinitionName, scope);
    if (store.world.roleAssignments.length === before || delayMs <= 0)
      return { ...assignment, effectiveAt: new Date().toISOString() };
    this.take(store.world.roleAssignments, (a) => a === assignment);
    const effectiveAt = this.defer(delayMs, () => {
      if (!store.world.roleAssignments.includes(assignment)) store.world.roleAssignments.push(assignment);
    });
    return { ...assignment, effectiveAt };
  }

  /** Cancels what is still pending (the sandbox is closing). */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private take<T extends ServicePrincipal | RoleAssignment>(
    list: T[],
    match: (item: T) => boolean,
  ): T | undefined {
    const index = list.findIndex(match);
    return index < 0 ? undefined : list.splice(index, 1)[0];
  }
}

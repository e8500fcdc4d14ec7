/**
 * Propagation: a service principal provisioned and a role granted through the sandbox's admin API
 * take effect after the configured delay (ArmSettings.realism.propagationDelayMs), as Entra and RBAC
 * are eventually consistent: AADSTS700016 right after provisioning, AuthorizationFailed right after a
 * grant. Source: https://learn.microsoft.com/azure/role-based-access-control/troubleshooting ("Role
 * assignment changes can take up to 10 minutes to take effect"); AADSTS700016 right after onboarding:
 * https://learn.microsoft.com/entra/identity-platform/reference-error-codes (700016 UnauthorizedClient_DoesNotMatchRequest).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ARM_SETTINGS } from '../../sandbox/arm.js';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { seed003World, type Seed003Ids } from '../support/sandbox-world.js';

let sandbox: Sandbox;
let ids: Seed003Ids;

async function admin(method: string, path: string, body: unknown) {
  const response = await fetch(`${sandbox.endpoints.adminEndpoint}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  const built = seed003World();
  ids = built.ids;
  sandbox = await startSandbox({ world: built.world, arm: { realism: { propagationDelayMs: 400 } } });
  sandbox.store.removeServicePrincipal(ids.appId, ids.customerTenantId);
});
afterAll(async () => {
  await sandbox?.close();
});

describe('sandbox propagation of admin changes', () => {
  it('has a short delay by default', () => {
    expect(DEFAULT_ARM_SETTINGS.realism.propagationDelayMs).toBeGreaterThan(0);
    expect(DEFAULT_ARM_SETTINGS.realism.propagationDelayMs).toBeLessThanOrEqual(5_000);
  });

  it('makes a provisioned service principal and a granted role visible only after the delay', async () => {
    const provisioned = await admin('POST', '/admin/service-principals', {
      appId: ids.appId,
      tenantId: ids.customerTenantId,
    });
    expect(provisioned.status).toBe(200);
    const objectId = provisioned.json.objectId as string;
    expect(Date.parse(provisioned.json.effectiveAt as string)).toBeGreaterThan(Date.now());
    const visible = () => sandbox.store.world.servicePrincipals.some((sp) => sp.objectId === objectId);
    expect(visible()).toBe(false);
    const scope = `/subscriptions/${ids.customerSubscriptionId}`;
    const granted = await admin('POST', '/admin/role-assignments', {
      principalId: objectId,
      roleDefinitionName: 'Reader',
      scope,
    });
    expect(granted.status).toBe(200);
    const honoured = () => sandbox.store.world.roleAssignments.some((a) => a.principalId === objectId);
    expect(honoured()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(visible()).toBe(true);
    expect(honoured()).toBe(true);
  });
});

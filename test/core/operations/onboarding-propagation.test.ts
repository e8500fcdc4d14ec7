/**
 * Right after onboarding, Entra and RBAC have not caught up (the sandbox delays the admin API's
 * provisioning and grants, as Azure does): onboarding's verify says the failure is likely propagation
 * and retries on a schedule until the chain works; a newly registered tenant's propagation-like
 * failures do not open its circuit breaker, while the same failures after the grace period do.
 * Full sandbox, real SDK clients, Azurite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../../sandbox/index.js';
import { sandboxFleetConfig } from '../../../dev/sandbox-fleet.js';
import { diagnoseTenant } from '../../../src/core/operations/onboarding.js';
import { diagnosisFor } from '../../../src/core/platform/diagnosis.js';
import type { FleetConfig } from '../../../src/core/platform/config.js';
import { createRuntime, type FleetRuntime } from '../../../src/core/runtime.js';
import { TenantRegistry } from '../../../src/core/sweep/registry.js';
import { providerConnectionString, uniquePrefix } from '../../support/provider.js';
import { seed003World, type Seed003Ids } from '../../support/sandbox-world.js';

let sandbox: Sandbox;
let ids: Seed003Ids;
let config: FleetConfig;
let runtime: FleetRuntime;

async function admin(path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${sandbox.endpoints.adminEndpoint}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  const built = seed003World();
  ids = built.ids;
  sandbox = await startSandbox({ world: built.world, arm: { realism: { propagationDelayMs: 1_500 } } });
  // Not onboarded yet: no service principal in Litware.
  sandbox.store.removeServicePrincipal(ids.appId, ids.customerTenantId);
  config = sandboxFleetConfig(sandbox, {
    providerConnectionString: providerConnectionString(),
    prefix: uniquePrefix(),
  });
  runtime = createRuntime(config, { log: () => undefined });
  await runtime.storage.ensureResources();
  await runtime.registry.add({ tenantId: ids.customerTenantId, displayName: 'Litware' }, 'propagation test');
});
afterAll(async () => {
  await sandbox?.close();
});

describe('onboarding right after the customer granted access', () => {
  it('retries on its schedule while the failure is likely propagation, and verifies once it has propagated', async () => {
    const { objectId } = await admin('/admin/service-principals', {
      appId: ids.appId,
      tenantId: ids.customerTenantId,
    });
    await admin('/admin/role-assignments', {
      principalId: objectId,
      roleDefinitionName: 'Reader',
      scope: `/subscriptions/${ids.customerSubscriptionId}`,
    });
    const waits: number[] = [];
    const report = await diagnoseTenant(runtime, ids.customerTenantId, {
      retryDelaysMs: [500, 500, 500, 500, 500, 500],
      sleep: (ms) => {
        waits.push(ms);
        return new Promise((resolve) => setTimeout(resolve, ms));
      },
    });
    expect(waits.length).toBeGreaterThan(0); // the first walk met the propagation
    expect(report.verified).toBe(true);
    expect(report.propagation).toBeUndefined();
    expect((await runtime.registry.get(ids.customerTenantId)).onboardingState).toBe('verified');
  });
});

describe("a newly registered tenant's circuit breaker", () => {
  it('does not count propagation-like failures within the grace period, and counts them after it', async () => {
    const tenantId = '10000000-0000-4000-8000-0000000000f1';
    await runtime.registry.add({ tenantId, displayName: 'Fresh' }, 'propagation test');
    const context = { cloud: config.cloud, appClientId: config.appClientId, tenantId };
    const notProvisioned = { ...diagnosisFor('NoVisibleSubscriptions', context), code: 'AADSTS700016' };
    for (let run = 1; run <= config.sweep.circuitBreakerThreshold + 1; run++)
      await runtime.registry.recordSweepOutcome(tenantId, `run-grace-${run}`, 'failed', notProvisioned);
    const fresh = await runtime.registry.get(tenantId);
    expect(fresh.consecutiveFailures).toBe(0);
    expect(runtime.registry.isCircuitOpen(fresh)).toBe(false);
    expect(fresh.lastError?.code).toBe('AADSTS700016');

    // The same failures 31 minutes after registration count: the breaker opens.
    const later = new TenantRegistry(runtime.storage.table(config.names.tenantsTable), {
      circuitBreakerThreshold: config.sweep.circuitBreakerThreshold,
      defaultCloud: config.cloud.name,
      onboardingGraceMinutes: config.sweep.onboardingGraceMinutes,
      now: () => new Date(Date.parse(fresh.createdAt) + 31 * 60_000),
    });
    for (let run = 1; run <= config.sweep.circuitBreakerThreshold; run++)
      await later.recordSweepOutcome(tenantId, `run-late-${run}`, 'failed', notProvisioned);
    expect(later.isCircuitOpen(await later.get(tenantId))).toBe(true);
  });
});

describe('the onboarding grace setting', () => {
  it('is the one diagnose uses: with TENANT_FLEET_ONBOARDING_GRACE_MINUTES=0 a fresh failure is reported at once', async () => {
    // Litware freshly registered, its service principal gone again: AADSTS700016, propagation-like.
    sandbox.store.removeServicePrincipal(ids.appId, ids.customerTenantId);
    const waits: number[] = [];
    const options = {
      retryDelaysMs: [1],
      sleep: (ms: number) => {
        waits.push(ms);
        return Promise.resolve();
      },
    };

    // Runtimes of their own: the one above keeps Litware's token from before the removal.
    const runtimeWith = (onboardingGraceMinutes: number) =>
      createRuntime(
        { ...config, sweep: { ...config.sweep, onboardingGraceMinutes } },
        { log: () => undefined },
      );
    const withGrace = await diagnoseTenant(runtimeWith(30), ids.customerTenantId, options);
    expect(withGrace.propagation).toMatchObject({ likely: true, attempts: 2 });
    expect(waits).toEqual([1]);

    waits.length = 0;
    const report = await diagnoseTenant(runtimeWith(0), ids.customerTenantId, options);
    expect(waits).toEqual([]);
    expect(report.propagation).toBeUndefined();
    expect(report.steps.at(-1)).toMatchObject({ name: 'tokenExchange', ok: false });
    expect(report.steps.at(-1)!.diagnosis!.code).toBe('AADSTS700016');
  });
});

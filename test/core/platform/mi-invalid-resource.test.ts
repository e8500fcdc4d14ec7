/**
 * A FIC audience the managed identity endpoint refuses (the sandbox answers as the real endpoint does:
 * 400 carrying Entra's AADSTS500011) is diagnosed at the managed identity step of onboarding, as the
 * provider's configuration (ManagedIdentityInvalidResource), not as a resource missing in the
 * customer's tenant. Full sandbox, real @azure/identity clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../../sandbox/index.js';
import { sandboxFleetConfig } from '../../../dev/sandbox-fleet.js';
import { diagnoseTenant } from '../../../src/core/operations/onboarding.js';
import { createRuntime } from '../../../src/core/runtime.js';
import { providerConnectionString, uniquePrefix } from '../../support/provider.js';
import { seed003World, type Seed003Ids } from '../../support/sandbox-world.js';

let sandbox: Sandbox;
let ids: Seed003Ids;

beforeAll(async () => {
  const built = seed003World();
  ids = built.ids;
  sandbox = await startSandbox({ world: built.world });
});
afterAll(async () => {
  await sandbox?.close();
});

describe('a FIC audience the managed identity endpoint refuses', () => {
  it('fails onboarding at the managedIdentity step with ManagedIdentityInvalidResource, owned by the provider', async () => {
    const config = sandboxFleetConfig(sandbox, {
      providerConnectionString: providerConnectionString(),
      prefix: uniquePrefix(),
    });
    const misconfigured = {
      ...config,
      cloud: { ...config.cloud, ficAudience: 'api://contoso-fleet-exchange' },
    };
    const runtime = createRuntime(misconfigured, { log: () => undefined });
    const report = await diagnoseTenant(runtime, ids.customerTenantId);
    expect(report.verified).toBe(false);
    expect(report.steps).toHaveLength(1);
    expect(report.steps[0]).toMatchObject({
      name: 'managedIdentity',
      ok: false,
      diagnosis: { code: 'ManagedIdentityInvalidResource', owner: 'provider', category: 'configuration' },
    });
    expect(report.steps[0]!.diagnosis!.detail).toContain('AADSTS500011');
  });
});

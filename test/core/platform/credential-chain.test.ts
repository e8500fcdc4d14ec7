/**
 * The product's CredentialChain: one managed identity token request shared by every caller that needs
 * it while it is in flight, and a tenant's credential pinned to its tenant (a challenge naming another
 * tenant must not lead it there, nor make it hang). The pinning is checked against the sandbox's Entra
 * with real credentials; the sharing with a counting MI credential of the test's own.
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorld, worldFacts, startSandbox, type Sandbox } from '../../../sandbox/index.js';
import type { WorldFacts } from '../../../sandbox/generator.js';
import { sandboxFleetConfig } from '../../../dev/sandbox-fleet.js';
import { AZURE_CLOUDS } from '../../../src/core/platform/cloud.js';
import type { FleetConfig } from '../../../src/core/platform/config.js';
import { CredentialChain } from '../../../src/core/platform/credentials.js';
import { providerConnectionString, uniquePrefix } from '../../support/provider.js';

/** An MI credential that answers only when the test says so, counting the requests it gets. */
function heldManagedIdentity() {
  const waiting: Array<(token: AccessToken | null) => void> = [];
  const credential: TokenCredential & { requests: number } = {
    requests: 0,
    getToken() {
      credential.requests++;
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
  const answer = (token: AccessToken | null) => {
    for (const resolve of waiting.splice(0)) resolve(token);
  };
  return { credential, answer };
}

function chainWith(credential: TokenCredential): CredentialChain {
  return new CredentialChain({
    cloud: AZURE_CLOUDS.AzurePublicCloud,
    managedIdentityClientId: '00000000-0000-4000-8000-000000000001',
    appClientId: '00000000-0000-4000-8000-000000000002',
    managedIdentityCredential: credential,
  });
}

describe('the managed identity token behind the client assertions', () => {
  it('is requested once for 16 callers that arrive while the request is in flight', async () => {
    const { credential, answer } = heldManagedIdentity();
    const chain = chainWith(credential);
    const callers = Array.from({ length: 16 }, () => chain.assertion());
    await Promise.resolve();
    expect(credential.requests).toBe(1);
    answer({ token: 'mi-token-1', expiresOnTimestamp: Date.now() + 3_600_000 });
    expect(await Promise.all(callers)).toEqual(Array.from({ length: 16 }, () => 'mi-token-1'));
    expect(credential.requests).toBe(1);
  });

  it('asks again once the shared request has settled (the MI credential caches, not the chain)', async () => {
    const { credential, answer } = heldManagedIdentity();
    const chain = chainWith(credential);
    const first = chain.assertion();
    answer({ token: 'mi-token-1', expiresOnTimestamp: Date.now() + 3_600_000 });
    expect(await first).toBe('mi-token-1');
    const second = chain.assertion();
    await Promise.resolve();
    expect(credential.requests).toBe(2);
    answer({ token: 'mi-token-2', expiresOnTimestamp: Date.now() + 3_600_000 });
    expect(await second).toBe('mi-token-2');
  });

  it('fails every waiting caller with a clear message when the MI endpoint returns no token, then asks again', async () => {
    const { credential, answer } = heldManagedIdentity();
    const chain = chainWith(credential);
    const callers = [chain.assertion(), chain.assertion()];
    answer(null);
    for (const caller of callers)
      await expect(caller).rejects.toThrow(
        'The managed identity endpoint returned no token for the FIC audience.',
      );
    expect(credential.requests).toBe(1);
    const again = chain.assertion();
    answer({ token: 'mi-token-2', expiresOnTimestamp: Date.now() + 3_600_000 });
    expect(await again).toBe('mi-token-2');
    expect(credential.requests).toBe(2);
  });
});

describe("a tenant's credential against the sandbox's Entra", () => {
  let sandbox: Sandbox;
  let facts: WorldFacts;
  let config: FleetConfig;

  beforeAll(async () => {
    const world = generateWorld({
      seed: 17,
      tenants: 2,
      subscriptionsPerTenant: 1,
      resourcesPerSubscription: 0,
    });
    facts = worldFacts(world);
    sandbox = await startSandbox({ world });
    config = sandboxFleetConfig(sandbox, {
      providerConnectionString: providerConnectionString(),
      prefix: uniquePrefix(),
    });
  });

  afterAll(async () => {
    await sandbox?.close();
  });

  it("stays in its own tenant when asked for another's (a challenge naming that tenant)", async () => {
    const [own, other] = facts.customerTenantIds as [string, string];
    const chain = new CredentialChain({
      cloud: config.cloud,
      managedIdentityClientId: config.managedIdentityClientId,
      appClientId: config.appClientId,
    });
    sandbox.counters.reset();
    const token = await chain
      .forTenant(own)
      .getToken(config.cloud.armScope, { tenantId: other.toUpperCase() });
    expect(decodeJwt(token!.token)).toMatchObject({ tid: own, appid: facts.appId });
    // Asking with its own tenant id (any case) is the same credential: its token comes from the cache.
    const again = await chain.forTenant(own.toUpperCase()).getToken(config.cloud.armScope, { tenantId: own });
    expect(again!.token).toBe(token!.token);
    expect(sandbox.counters.tokenByTenant.get(other) ?? 0).toBe(0);
    expect(sandbox.counters.tokenByTenant.get(own)).toBe(1);
    expect(chain.tenantCount).toBe(1);
  });

  it('takes its own tenant id in any case for its own (a challenge may spell it upper-cased)', async () => {
    const [own] = facts.customerTenantIds as [string];
    expect(own).not.toBe(own.toUpperCase());
    const chain = new CredentialChain({
      cloud: config.cloud,
      managedIdentityClientId: config.managedIdentityClientId,
      appClientId: config.appClientId,
    });
    const token = await chain.forTenant(own).getToken(config.cloud.armScope, { tenantId: own.toUpperCase() });
    expect(decodeJwt(token!.token)).toMatchObject({ tid: own, appid: facts.appId });
  });
});

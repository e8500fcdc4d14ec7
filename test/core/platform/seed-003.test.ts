/**
 * Seed 003 end to end through the PRODUCT's code (issue 2, "Done when"): Contoso's user-assigned MI
 * is the federated credential of Contoso's multitenant app; Contoso acts in Litware's tenant with no
 * secret. Against the full sandbox (MI endpoint, Entra, ARM, customer storage over Azurite) with the
 * real SDK clients: the MI token's claims, a token at home, the seed's wrong first attempt
 * (AADSTS700236), the unprovisioned app (AADSTS700016), provisioning, ARM with and without Reader,
 * blobs with and without a Storage Blob Data role, and the onboarding diagnostics at each stage.
 * One sandbox for the file: @azure/identity reads IDENTITY_ENDPOINT once per process.
 */
import { isRestError } from '@azure/core-rest-pipeline';
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../../sandbox/index.js';
import { entraV1Issuer, entraV2Issuer } from '../../../sandbox/identity-context.js';
import { storageAccountId } from '../../../sandbox/rbac.js';
import { TOKEN_EXCHANGE_APP_ID } from '../../../sandbox/world.js';
import { sandboxFleetConfig } from '../../../dev/sandbox-fleet.js';
import {
  listInventoryItems,
  listVisibleSubscriptions,
  resourceClient,
} from '../../../src/core/platform/arm.js';
import type { FleetConfig } from '../../../src/core/platform/config.js';
import { CredentialChain } from '../../../src/core/platform/credentials.js';
import { diagnose, type Diagnosis } from '../../../src/core/platform/diagnosis.js';
import { diagnoseTenant } from '../../../src/core/operations/onboarding.js';
import { createRuntime, type FleetRuntime } from '../../../src/core/runtime.js';
import {
  customerBlobService,
  inventoryStorageAccount,
} from '../../../src/core/inventory/storage-inventory.js';
import { providerConnectionString, uniquePrefix } from '../../support/provider.js';
import { failureOf, grantsRestorer, seed003World, type Seed003Ids } from '../../support/sandbox-world.js';

let sandbox: Sandbox;
let ids: Seed003Ids;
let config: FleetConfig;
/**
 * The product's chain, a fresh one for each test (as a Function App starting anew has): a chain kept
 * across tests would answer one test from the tokens another cached (a cached MI token; a customer
 * token from after the service principal was provisioned).
 */
let chain: CredentialChain;
/** Puts the seed's service principals and role assignments back: tests provision and grant. */
let restoreGrants: () => void;
/** The process's first MI token, as the product's chain got it, and the MI requests that cost. */
let firstAssertion: { assertion: string; miRequests: number };

const productChain = (): CredentialChain =>
  new CredentialChain({
    cloud: config.cloud,
    managedIdentityClientId: config.managedIdentityClientId,
    appClientId: config.appClientId,
  });

beforeAll(async () => {
  const built = seed003World();
  ids = built.ids;
  sandbox = await startSandbox({ world: built.world });
  restoreGrants = grantsRestorer(sandbox.store.world);
  config = sandboxFleetConfig(sandbox, {
    providerConnectionString: providerConnectionString(),
    prefix: uniquePrefix(),
  });
  // MSAL caches MI tokens for the whole process, whatever the credential: the first one is taken here,
  // before any test can have cached one, with the MI endpoint's request count around it.
  const before = sandbox.counters.managedIdentity;
  const assertion = await productChain().assertion();
  firstAssertion = { assertion, miRequests: sandbox.counters.managedIdentity - before };
});

beforeEach(() => {
  chain = productChain();
});

// Every test starts from the seed: the app without a service principal in Litware, no grants there.
afterEach(() => {
  restoreGrants();
});

afterAll(async () => {
  await sandbox?.close();
});

const subscriptionScope = (): string => `/subscriptions/${ids.customerSubscriptionId}`;
const accountScope = (): string =>
  storageAccountId(ids.customerSubscriptionId, ids.resourceGroup, ids.storageAccount);
const diagnosisOf = (error: unknown, appClientId = ids.appId): Diagnosis =>
  diagnose(error, { cloud: config.cloud, appClientId, tenantId: ids.customerTenantId });
const armOptions = () => ({ cloud: config.cloud, maxRetries: 0 });

async function resourceGroupNames(): Promise<string[]> {
  const client = resourceClient(chain.forTenant(ids.customerTenantId), armOptions());
  const names: string[] = [];
  for await (const item of listInventoryItems(client, ids.customerSubscriptionId))
    if (item.type.toLowerCase() === 'microsoft.resources/resourcegroups') names.push(item.name);
  return names;
}

async function blobNames(): Promise<string[]> {
  const service = customerBlobService(
    config.cloud,
    ids.storageAccount,
    chain.forTenant(ids.customerTenantId),
  );
  const names: string[] = [];
  for await (const blob of service.getContainerClient(ids.container).listBlobsFlat()) names.push(blob.name);
  return names;
}

describe('seed 003 through the product chain', () => {
  it("the MI token is the seed's: issuer = home v2.0, sub = oid = MI principal, aud = token exchange app", async () => {
    const { assertion, miRequests } = firstAssertion;
    expect(miRequests).toBe(1);
    const claims = decodeJwt(assertion);
    expect(claims).toMatchObject({
      iss: entraV2Issuer(ids.homeTenantId),
      sub: ids.miPrincipalId,
      oid: ids.miPrincipalId,
      aud: TOKEN_EXCHANGE_APP_ID,
      azp: ids.miClientId,
      tid: ids.homeTenantId,
      idtyp: 'app',
    });
    // Signed by Contoso's published key: what Entra verifies when the FIC is matched.
    await expect(sandbox.keys.verify(assertion, { tenantId: ids.homeTenantId })).resolves.toMatchObject({
      sub: ids.miPrincipalId,
    });
  });

  it('gets a token in the home tenant (no service principal at home: no oid, as in the seed)', async () => {
    const token = await chain.forTenant(ids.homeTenantId).getToken(config.cloud.storageScope);
    const claims = decodeJwt(token!.token);
    expect(claims).toMatchObject({
      aud: 'https://storage.azure.com',
      iss: entraV1Issuer(ids.homeTenantId),
      appid: ids.appId,
      appidacr: '2',
      idtyp: 'app',
      tid: ids.homeTenantId,
    });
    expect(claims.oid).toBeUndefined();
  });

  it('AADSTS700236: an app registered in Litware with an FIC trusting Contoso cannot be used', async () => {
    const wrongApp = new CredentialChain({
      cloud: config.cloud,
      managedIdentityClientId: config.managedIdentityClientId,
      appClientId: ids.customerRegisteredAppId,
    });
    const error = await failureOf(
      wrongApp.forTenant(ids.customerTenantId).getToken(config.cloud.storageScope),
    );
    expect(error.cause).toMatchObject({ errorNo: 700236, errorCode: 'invalid_client', status: 401 });
    expect(error.message).toContain(`tokens issued by issuer '${entraV2Issuer(ids.homeTenantId)}'`);
    expect(diagnosisOf(error, ids.customerRegisteredAppId)).toMatchObject({
      code: 'AADSTS700236',
      category: 'configuration',
      owner: 'provider',
      retryable: false,
    });
  });

  it('AADSTS700016 while the multitenant app has no service principal in Litware', async () => {
    const error = await failureOf(chain.armToken(ids.customerTenantId));
    expect(error.cause).toMatchObject({ errorNo: 700016, errorCode: 'unauthorized_client', status: 400 });
    const diagnosis = diagnosisOf(error);
    expect(diagnosis).toMatchObject({ code: 'AADSTS700016', category: 'onboarding', owner: 'customer' });
    expect(diagnosis.fix).toContain(
      `https://login.microsoftonline.com/${ids.customerTenantId}/adminconsent?client_id=${ids.appId}`,
    );
    expect(diagnosis.fix).toContain(`az ad sp create --id ${ids.appId}`);
  });

  it('after provisioning (New-AzADServicePrincipal) the same chain gets v1 tokens of the customer SP', async () => {
    const objectId = sandbox.store.provisionServicePrincipal(ids.appId, ids.customerTenantId);
    for (const [scope, audience] of [
      [config.cloud.armScope, 'https://management.azure.com'],
      [config.cloud.storageScope, 'https://storage.azure.com'],
    ] as const) {
      const token = await chain.forTenant(ids.customerTenantId).getToken(scope);
      expect(decodeJwt(token!.token)).toMatchObject({
        aud: audience,
        iss: entraV1Issuer(ids.customerTenantId),
        idp: entraV1Issuer(ids.customerTenantId),
        appid: ids.appId,
        appidacr: '2',
        idtyp: 'app',
        oid: objectId,
        sub: objectId,
        tid: ids.customerTenantId,
        ver: '1.0',
      });
    }
  });

  it("ARM lists Litware's resource groups with Reader, and refuses (AuthorizationFailed) without it", async () => {
    const objectId = sandbox.store.provisionServicePrincipal(ids.appId, ids.customerTenantId);
    const before = await failureOf(resourceGroupNames());
    expect(isRestError(before) && before.statusCode).toBe(403);

    sandbox.store.grantRole(objectId, 'Reader', subscriptionScope());
    expect(await resourceGroupNames()).toEqual([ids.resourceGroup]);
    const visible = [];
    for await (const subscription of listVisibleSubscriptions(
      resourceClient(chain.forTenant(ids.customerTenantId), armOptions()),
    ))
      visible.push(subscription.subscriptionId);
    expect(visible).toEqual([ids.customerSubscriptionId]);
    const items = [];
    for await (const item of listInventoryItems(
      resourceClient(chain.forTenant(ids.customerTenantId), armOptions()),
      ids.customerSubscriptionId,
    ))
      // ARM's namespace casing varies between calls (sandbox realism): types compare case-insensitively.
      items.push(`${item.type.toLowerCase()}/${item.name}`);
    expect(items).toEqual([
      `microsoft.resources/resourcegroups/${ids.resourceGroup}`,
      `microsoft.storage/storageaccounts/${ids.storageAccount}`,
    ]);

    // Revoked: the cached token is still valid, RBAC is checked per request.
    expect(sandbox.store.revokeRole(objectId, 'Reader', subscriptionScope())).toBe(true);
    const error = await failureOf(resourceGroupNames());
    expect(isRestError(error)).toBe(true);
    expect(error).toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
    const diagnosis = diagnosisOf(error);
    expect(diagnosis).toMatchObject({
      code: 'AuthorizationFailed',
      category: 'permission',
      owner: 'customer',
    });
    expect(diagnosis.fix).toContain(`Reader to the service principal of app ${ids.appId}`);
  });

  it("lists blobs in Litware's account with Storage Blob Data Reader; AuthorizationPermissionMismatch without", async () => {
    const objectId = sandbox.store.provisionServicePrincipal(ids.appId, ids.customerTenantId);
    const cloud = config.cloud;
    const credential = chain.forTenant(ids.customerTenantId);
    const account = {
      name: ids.storageAccount,
      subscriptionId: ids.customerSubscriptionId,
      resourceGroup: ids.resourceGroup,
    };
    const context = { appClientId: ids.appId, tenantId: ids.customerTenantId };

    sandbox.store.grantRole(objectId, 'Storage Blob Data Reader', accountScope());
    expect((await blobNames()).sort()).toEqual([...ids.blobNames].sort());
    const reachable = await inventoryStorageAccount(cloud, credential, account, context);
    expect(reachable).toMatchObject({ reachable: true, blobCount: ids.blobNames.length });
    expect(reachable.containers.map((c) => c.name)).toEqual([ids.container]);
    expect(reachable.diagnosis).toBeUndefined();

    expect(sandbox.store.revokeRole(objectId, 'Storage Blob Data Reader', accountScope())).toBe(true);
    const error = await failureOf(blobNames());
    expect(error).toMatchObject({ statusCode: 403, code: 'AuthorizationPermissionMismatch' });
    const diagnosis = diagnosisOf(error);
    expect(diagnosis).toMatchObject({
      code: 'AuthorizationPermissionMismatch',
      category: 'permission',
      owner: 'customer',
      retryable: false,
    });
    expect(diagnosis.fix).toContain('Storage Blob Data Reader');
    const refused = await inventoryStorageAccount(cloud, credential, account, context);
    expect(refused).toMatchObject({ reachable: false, blobCount: 0, containers: [] });
    expect(refused.diagnosis?.code).toBe('AuthorizationPermissionMismatch');
  });
});

describe('onboarding diagnostics (diagnoseTenant) at each stage', () => {
  let runtime: FleetRuntime;

  beforeAll(async () => {
    const installing = createRuntime(config, { log: () => undefined });
    await installing.storage.ensureResources();
    await installing.registry.add(
      { tenantId: ids.customerTenantId, displayName: 'Litware' },
      'seed-003 test',
    );
  });

  // A fresh runtime for each stage: its own chain, so no token cached at another stage hides this one.
  // Each stage sets up its own grants on the seed (restored after every test, above).
  beforeEach(() => {
    runtime = createRuntime(config, { log: () => undefined });
  });

  it('not provisioned: the tokenExchange step fails with AADSTS700016 and the registry records it', async () => {
    // Registered a moment ago: the report says the failure is likely propagation (no retries here).
    const report = await diagnoseTenant(runtime, ids.customerTenantId, { retryDelaysMs: [] });
    expect(report.propagation).toMatchObject({ likely: true, attempts: 1 });
    expect(report).toMatchObject({ tenantId: ids.customerTenantId, verified: false, registered: true });
    // Written out from the documented format, not built by the product's own function.
    expect(report.adminConsentUrl).toBe(
      `https://login.microsoftonline.com/${ids.customerTenantId}/adminconsent?client_id=${ids.appId}`,
    );
    expect(report.steps.map((s) => [s.name, s.ok])).toEqual([
      ['managedIdentity', true],
      ['tokenExchange', false],
    ]);
    expect(report.steps[1]!.diagnosis).toMatchObject({ code: 'AADSTS700016', owner: 'customer' });
    expect(report.servicePrincipalObjectId).toBeUndefined();
    const record = await runtime.registry.get(ids.customerTenantId);
    expect(record.onboardingState).toBe('failed');
    expect(record.lastError?.code).toBe('AADSTS700016');
  });

  it('provisioned without a role: the subscriptions step fails with NoVisibleSubscriptions', async () => {
    const objectId = sandbox.store.provisionServicePrincipal(ids.appId, ids.customerTenantId);
    const report = await diagnoseTenant(runtime, ids.customerTenantId, { retryDelaysMs: [] });
    expect(report.verified).toBe(false);
    expect(report.steps.map((s) => [s.name, s.ok])).toEqual([
      ['managedIdentity', true],
      ['tokenExchange', true],
      ['subscriptions', false],
    ]);
    expect(report.steps[2]!.diagnosis).toMatchObject({
      code: 'NoVisibleSubscriptions',
      category: 'permission',
      owner: 'customer',
    });
    expect(report.servicePrincipalObjectId).toBe(objectId);
    expect(report.visibleSubscriptions).toBe(0);
    expect((await runtime.registry.get(ids.customerTenantId)).lastError?.code).toBe('NoVisibleSubscriptions');
  });

  it('all granted: verified, with the service principal object id the role template takes', async () => {
    const objectId = sandbox.store.provisionServicePrincipal(ids.appId, ids.customerTenantId);
    sandbox.store.grantRole(objectId, 'Reader', subscriptionScope());
    const report = await diagnoseTenant(runtime, ids.customerTenantId);
    expect(report).toMatchObject({
      verified: true,
      registered: true,
      servicePrincipalObjectId: objectId,
      visibleSubscriptions: 1,
    });
    expect(report.steps.map((s) => [s.name, s.ok])).toEqual([
      ['managedIdentity', true],
      ['tokenExchange', true],
      ['subscriptions', true],
      ['storageToken', true],
    ]);
    expect(report.steps.every((s) => s.diagnosis === undefined)).toBe(true);
    // The report carries facts, never a token.
    expect(JSON.stringify(report)).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect((await runtime.registry.get(ids.customerTenantId)).onboardingState).toBe('verified');
  });
});

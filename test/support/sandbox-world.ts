/**
 * Small worlds for the end-to-end tests of the product's credential chain against the full sandbox
 * (`startSandbox`). Each builder returns the world in JSON input form and the ids the tests drive.
 * The provider's multitenant app always comes first among the applications, so that `worldFacts`
 * (and with it `sandboxFleetConfig`) picks it, whatever else the world holds.
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { entraV2Issuer } from '../../sandbox/identity-context.js';
import type { World, WorldInput } from '../../sandbox/world.js';
import { testGuid } from './identity-world.js';

export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

/** The provider side every world here shares: Contoso, its user-assigned MI and the multitenant app. */
export interface ProviderIds {
  homeTenantId: string;
  miClientId: string;
  miPrincipalId: string;
  miResourceId: string;
  /** The provider's multitenant app (home tenant) with the MI as its federated credential. */
  appId: string;
}

function providerIds(): ProviderIds {
  const homeTenantId = testGuid(1, 0);
  return {
    homeTenantId,
    miClientId: testGuid(3, 1),
    miPrincipalId: testGuid(4, 1),
    miResourceId: `/subscriptions/${testGuid(2, 0)}/resourceGroups/rg-fleet/providers/Microsoft.ManagedIdentity/userAssignedIdentities/umi-fleet`,
    appId: testGuid(5, 1),
  };
}

/** The FIC of seed 003: issuer = the home tenant's v2.0 issuer, subject = the MI's principal id. */
function homeFic(ids: ProviderIds, name = 'umi-fleet') {
  return {
    name,
    issuer: entraV2Issuer(ids.homeTenantId),
    subject: ids.miPrincipalId,
    audiences: [TOKEN_EXCHANGE_AUDIENCE],
  };
}

function providerWorld(ids: ProviderIds) {
  return {
    tenants: [{ id: ids.homeTenantId, displayName: 'Contoso', domain: 'contoso.onmicrosoft.com' }],
    managedIdentities: [
      {
        name: 'umi-fleet',
        tenantId: ids.homeTenantId,
        clientId: ids.miClientId,
        principalId: ids.miPrincipalId,
        resourceId: ids.miResourceId,
      },
    ],
    subscriptions: [{ subscriptionId: testGuid(2, 0), tenantId: ids.homeTenantId, displayName: 'Contoso' }],
    applications: [
      {
        appId: ids.appId,
        displayName: 'Tenant Fleet',
        homeTenantId: ids.homeTenantId,
        signInAudience: 'AzureADMultipleOrgs' as const,
        federatedIdentityCredentials: [homeFic(ids)],
      },
    ],
  };
}

export interface Seed003Ids extends ProviderIds {
  /** Litware, the customer. */
  customerTenantId: string;
  customerSubscriptionId: string;
  resourceGroup: string;
  storageAccount: string;
  container: string;
  blobNames: string[];
  /**
   * The seed's wrong first attempt: an app Litware registered in its own tenant with an FIC trusting
   * Contoso's issuer and MI (AADSTS700236).
   */
  customerRegisteredAppId: string;
}

/**
 * Seed 003 as a world: Contoso (MI + multitenant app with the FIC, no service principal at home) and
 * Litware with one subscription, the `NetworkWatcherRG` group and one storage account. The provider's
 * app is NOT provisioned in Litware and holds no role there: the tests walk the onboarding.
 */
export function seed003World(): { world: WorldInput; ids: Seed003Ids } {
  const provider = providerIds();
  const ids: Seed003Ids = {
    ...provider,
    customerTenantId: testGuid(1, 1),
    customerSubscriptionId: testGuid(2, 1),
    resourceGroup: 'NetworkWatcherRG',
    storageAccount: 'stlitwareseed003',
    container: 'reports',
    blobNames: ['2024/q4.json', '2025/q1.json'],
    customerRegisteredAppId: testGuid(5, 2),
  };
  const base = providerWorld(ids);
  const world: WorldInput = {
    description: 'Seed 003: Contoso (provider) and Litware (customer), before onboarding.',
    ...base,
    tenants: [
      ...base.tenants,
      { id: ids.customerTenantId, displayName: 'Litware', domain: 'litware.onmicrosoft.com' },
    ],
    applications: [
      ...base.applications,
      {
        appId: ids.customerRegisteredAppId,
        displayName: 'Multi-Tenant Example App (registered by Litware)',
        homeTenantId: ids.customerTenantId,
        signInAudience: 'AzureADMyOrg',
        federatedIdentityCredentials: [homeFic(ids, 'contoso-umi')],
      },
    ],
    servicePrincipals: [
      // The customer-registered app has its SP at home (Litware); the provider's app has none there yet.
      { appId: ids.customerRegisteredAppId, tenantId: ids.customerTenantId, objectId: testGuid(6, 100) },
    ],
    subscriptions: [
      ...base.subscriptions,
      { subscriptionId: ids.customerSubscriptionId, tenantId: ids.customerTenantId, displayName: 'Litware' },
    ],
    resourceGroups: [
      { subscriptionId: ids.customerSubscriptionId, name: ids.resourceGroup, location: 'northeurope' },
    ],
    storageAccounts: [
      {
        subscriptionId: ids.customerSubscriptionId,
        resourceGroup: ids.resourceGroup,
        name: ids.storageAccount,
        location: 'northeurope',
        containers: [
          {
            name: ids.container,
            blobs: ids.blobNames.map((name, i) => ({ name, content: JSON.stringify({ item: i }) })),
          },
        ],
      },
    ],
  };
  return { world, ids };
}

export interface FailureWorldIds extends ProviderIds {
  /** A customer where every app below is provisioned (so failures are about the credential). */
  customerTenantId: string;
  /** A customer where the provider's app was never provisioned (AADSTS700016). */
  unprovisionedTenantId: string;
  /** A second user-assigned MI of Contoso, assigned to the function app but in no FIC (AADSTS700213). */
  otherMiClientId: string;
  otherMiPrincipalId: string;
  /** Multitenant apps of Contoso, provisioned in the customer tenant, each with one thing wrong. */
  noFicAppId: string;
  otherIssuerAppId: string;
  otherAudienceAppId: string;
  /** An app registered in the customer tenant, with an FIC trusting Contoso (AADSTS700236). */
  customerRegisteredAppId: string;
  /** The FIC issuer of `otherIssuerAppId` (a tenant that is not Contoso). */
  otherIssuer: string;
  /** The FIC audience of `otherAudienceAppId`. */
  otherAudience: string;
}

/**
 * One world in which every credential failure of the chain can be provoked: the provider's app
 * (correct), apps whose FIC is missing or differs in issuer or audience, an app registered in the
 * customer tenant, a second MI in no FIC, and a customer that never provisioned the provider's app.
 * No storage accounts: the customer storage front (Azurite) is not started.
 */
export function failureWorld(): { world: WorldInput; ids: FailureWorldIds } {
  const provider = providerIds();
  const otherTenantId = testGuid(1, 9);
  const ids: FailureWorldIds = {
    ...provider,
    customerTenantId: testGuid(1, 1),
    unprovisionedTenantId: testGuid(1, 2),
    otherMiClientId: testGuid(3, 2),
    otherMiPrincipalId: testGuid(4, 2),
    noFicAppId: testGuid(5, 10),
    otherIssuerAppId: testGuid(5, 11),
    otherAudienceAppId: testGuid(5, 12),
    customerRegisteredAppId: testGuid(5, 13),
    otherIssuer: entraV2Issuer(otherTenantId),
    otherAudience: 'api://SomeOtherExchange',
  };
  const base = providerWorld(ids);
  const multitenant = (appId: string, displayName: string, fics: ReturnType<typeof homeFic>[]) => ({
    appId,
    displayName,
    homeTenantId: ids.homeTenantId,
    signInAudience: 'AzureADMultipleOrgs' as const,
    federatedIdentityCredentials: fics,
  });
  const provisionedApps = [ids.appId, ids.noFicAppId, ids.otherIssuerAppId, ids.otherAudienceAppId];
  const world: WorldInput = {
    description: 'Credential failures: one thing wrong per app or identity.',
    ...base,
    tenants: [
      ...base.tenants,
      { id: ids.customerTenantId, displayName: 'Litware', domain: 'litware.onmicrosoft.com' },
      {
        id: ids.unprovisionedTenantId,
        displayName: 'AdventureWorks',
        domain: 'adventureworks.onmicrosoft.com',
      },
      { id: otherTenantId, displayName: 'Tailspin', domain: 'tailspin.onmicrosoft.com' },
    ],
    managedIdentities: [
      ...base.managedIdentities,
      {
        name: 'umi-other',
        tenantId: ids.homeTenantId,
        clientId: ids.otherMiClientId,
        principalId: ids.otherMiPrincipalId,
        resourceId: ids.miResourceId.replace(/umi-fleet$/, 'umi-other'),
      },
    ],
    applications: [
      ...base.applications,
      multitenant(ids.noFicAppId, 'No FIC', []),
      multitenant(ids.otherIssuerAppId, 'FIC with another issuer', [
        { ...homeFic(ids), issuer: ids.otherIssuer },
      ]),
      multitenant(ids.otherAudienceAppId, 'FIC with another audience', [
        { ...homeFic(ids), audiences: [ids.otherAudience] },
      ]),
      {
        appId: ids.customerRegisteredAppId,
        displayName: 'Registered by the customer',
        homeTenantId: ids.customerTenantId,
        signInAudience: 'AzureADMyOrg',
        federatedIdentityCredentials: [homeFic(ids, 'contoso-umi')],
      },
    ],
    servicePrincipals: [
      ...provisionedApps.map((appId, i) => ({
        appId,
        tenantId: ids.customerTenantId,
        objectId: testGuid(6, i + 1),
      })),
      { appId: ids.customerRegisteredAppId, tenantId: ids.customerTenantId, objectId: testGuid(6, 100) },
    ],
  };
  return { world, ids };
}

/**
 * A managed identity credential that hands out one crafted assertion (expired, malformed, signed by
 * the wrong key): injected as `managedIdentityCredential` so the product's chain presents it to Entra.
 */
export function fixedAssertion(assertion: string): TokenCredential {
  return {
    getToken: (): Promise<AccessToken> =>
      Promise.resolve({ token: assertion, expiresOnTimestamp: Date.now() + 3600_000 }),
  };
}

/** The error a promise rejects with; fails the test when it resolves instead. */
export async function failureOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a failure, but the call succeeded');
}

/**
 * Keeps a live world's service principals and role assignments as they are now; the returned
 * function puts them back in place (the servers hold the world's arrays, so they are refilled, not
 * replaced). For tests that provision and grant in a shared sandbox and must leave it as they found it.
 */
export function grantsRestorer(world: Pick<World, 'servicePrincipals' | 'roleAssignments'>): () => void {
  const saved = structuredClone({
    servicePrincipals: world.servicePrincipals,
    roleAssignments: world.roleAssignments,
  });
  return () => {
    world.servicePrincipals.splice(
      0,
      world.servicePrincipals.length,
      ...structuredClone(saved.servicePrincipals),
    );
    world.roleAssignments.splice(0, world.roleAssignments.length, ...structuredClone(saved.roleAssignments));
  };
}

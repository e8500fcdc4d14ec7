/**
 * Generates sandbox worlds shaped like the Tenant Fleet story (seed 003): a provider tenant
 * ("Contoso") holding the user-assigned managed identity and the multitenant app whose federated
 * identity credential trusts it, and N customer tenants that provisioned the app's service principal
 * and granted it Reader on their subscriptions (and Storage Blob Data Reader on their storage
 * accounts). Deterministic: the same options give the same world, GUIDs included.
 */
import { seededRandom } from './generated.js';
import { storageAccountId } from './rbac.js';
import { parseWorld, type World, type WorldInput } from './world.js';

export interface GenerateWorldOptions {
  seed: number;
  /** Customer tenants (the provider's home tenant comes on top). */
  tenants: number;
  subscriptionsPerTenant: number;
  /** Size of the generated (never materialised) resource block of each customer subscription. */
  resourcesPerSubscription: number;
  storageAccountsPerTenant?: number;
  containersPerAccount?: number;
  blobsPerContainer?: number;
}

/** The names generated worlds use for the provider side. */
export const PROVIDER = {
  tenantName: 'Contoso',
  domain: 'contoso.onmicrosoft.com',
  managedIdentityName: 'id-tenantfleet',
  resourceGroup: 'rg-tenantfleet',
  appName: 'Tenant Fleet',
  ficName: 'id-tenantfleet-fic',
} as const;

const CUSTOMER_NAMES = [
  'Litware',
  'Fabrikam',
  'Northwind Traders',
  'Adventure Works',
  'Tailspin Toys',
  'Wingtip Toys',
  'Woodgrove Bank',
  'Alpine Ski House',
  'Proseware',
  'Relecloud',
  'Fourth Coffee',
  'Lamna Healthcare',
  'Trey Research',
  'Coho Winery',
  'Margie Travel',
  'Humongous Insurance',
  'Wide World Importers',
  'Blue Yonder Airlines',
  'Graphic Design Institute',
  'VanArsdel',
];
const SUBSCRIPTION_SUFFIXES = [
  'Production',
  'Development',
  'Test',
  'Shared Services',
  'Data Platform',
  'Sandbox',
];
const LOCATIONS = [
  'westeurope',
  'northeurope',
  'eastus',
  'eastus2',
  'westus2',
  'uksouth',
  'swedencentral',
  'francecentral',
];
const CONTAINER_NAMES = ['reports', 'invoices', 'telemetry', 'backups', 'exports', 'audit-logs'];

const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

function guidFactory(seed: number): () => string {
  const random = seededRandom(seed);
  const hex = (digits: number): string =>
    Array.from({ length: digits }, () => Math.floor(random() * 16).toString(16)).join('');
  // RFC 4122 version-4 layout, so the ids look like Entra's.
  return () => `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(random() * 4)]!}${hex(3)}-${hex(12)}`;
}

const slug = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, '');

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${name} must be a non-negative integer (got ${value}).`);
  return value;
}

/** Builds a world (JSON input form, ready for `parseWorld` or a file). */
export function generateWorld(options: GenerateWorldOptions): WorldInput {
  const tenantCount = nonNegativeInteger('tenants', options.tenants);
  const subscriptionsPerTenant = nonNegativeInteger('subscriptionsPerTenant', options.subscriptionsPerTenant);
  const resourcesPerSubscription = nonNegativeInteger(
    'resourcesPerSubscription',
    options.resourcesPerSubscription,
  );
  const storageAccountsPerTenant = nonNegativeInteger(
    'storageAccountsPerTenant',
    options.storageAccountsPerTenant ?? 0,
  );
  const containersPerAccount = nonNegativeInteger('containersPerAccount', options.containersPerAccount ?? 2);
  const blobsPerContainer = nonNegativeInteger('blobsPerContainer', options.blobsPerContainer ?? 3);
  if (!Number.isSafeInteger(options.seed))
    throw new RangeError(`seed must be an integer (got ${options.seed}).`);
  const guid = guidFactory(options.seed);

  const homeTenantId = guid();
  const homeSubscriptionId = guid();
  const miClientId = guid();
  const miPrincipalId = guid();
  const appId = guid();
  const miResourceId =
    `/subscriptions/${homeSubscriptionId}/resourceGroups/${PROVIDER.resourceGroup}` +
    `/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${PROVIDER.managedIdentityName}`;

  const world: Required<Omit<WorldInput, 'description'>> & { description: string } = {
    description:
      `Generated (seed ${options.seed}): ${tenantCount} customer tenants x ${subscriptionsPerTenant} subscriptions x ` +
      `${resourcesPerSubscription} resources, ${storageAccountsPerTenant} storage accounts per tenant.`,
    tenants: [{ id: homeTenantId, displayName: PROVIDER.tenantName, domain: PROVIDER.domain }],
    managedIdentities: [
      {
        name: PROVIDER.managedIdentityName,
        tenantId: homeTenantId,
        clientId: miClientId,
        principalId: miPrincipalId,
        resourceId: miResourceId,
      },
    ],
    applications: [
      {
        appId,
        displayName: PROVIDER.appName,
        homeTenantId,
        signInAudience: 'AzureADMultipleOrgs',
        federatedIdentityCredentials: [
          {
            name: PROVIDER.ficName,
            issuer: `https://login.microsoftonline.com/${homeTenantId}/v2.0`,
            subject: miPrincipalId,
            audiences: [TOKEN_EXCHANGE_AUDIENCE],
          },
        ],
      },
    ],
    servicePrincipals: [],
    roleAssignments: [],
    subscriptions: [
      {
        subscriptionId: homeSubscriptionId,
        tenantId: homeTenantId,
        displayName: 'Contoso Platform',
        state: 'Enabled',
      },
    ],
    resourceGroups: [
      { subscriptionId: homeSubscriptionId, name: PROVIDER.resourceGroup, location: 'westeurope', tags: {} },
    ],
    resources: [
      {
        subscriptionId: homeSubscriptionId,
        resourceGroup: PROVIDER.resourceGroup,
        name: PROVIDER.managedIdentityName,
        type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
        location: 'westeurope',
        tags: { workload: 'tenant-fleet' },
      },
    ],
    generatedResources: [],
    storageAccounts: [],
  };

  for (let t = 0; t < tenantCount; t++) {
    const baseName = CUSTOMER_NAMES[t % CUSTOMER_NAMES.length]!;
    const round = Math.floor(t / CUSTOMER_NAMES.length);
    const displayName = round === 0 ? baseName : `${baseName} ${round + 1}`;
    const tenantSlug = `${slug(baseName)}${round === 0 ? '' : round + 1}`;
    const tenantId = guid();
    const spObjectId = guid();
    world.tenants.push({ id: tenantId, displayName, domain: `${tenantSlug}.onmicrosoft.com` });
    world.servicePrincipals.push({ appId, tenantId, objectId: spObjectId });
    const location = LOCATIONS[t % LOCATIONS.length]!;
    const subscriptionIds: string[] = [];
    for (let s = 0; s < subscriptionsPerTenant; s++) {
      const subscriptionId = guid();
      subscriptionIds.push(subscriptionId);
      const suffix = SUBSCRIPTION_SUFFIXES[s % SUBSCRIPTION_SUFFIXES.length]!;
      const round2 = Math.floor(s / SUBSCRIPTION_SUFFIXES.length);
      world.subscriptions.push({
        subscriptionId,
        tenantId,
        displayName: `${displayName} ${suffix}${round2 ? ` ${round2 + 1}` : ''}`,
        state: 'Enabled',
      });
      world.roleAssignments.push({
        principalId: spObjectId,
        roleDefinitionName: 'Reader',
        scope: `/subscriptions/${subscriptionId}`,
      });
      if (resourcesPerSubscription > 0) {
        world.generatedResources.push({
          subscriptionId,
          resourceGroupCount: 4,
          count: resourcesPerSubscription,
          seed: options.seed * 1000 + t * 10 + s,
          location,
        });
      }
    }
    const storageSubscription = subscriptionIds[0];
    if (storageAccountsPerTenant > 0 && !storageSubscription) {
      throw new RangeError('storageAccountsPerTenant needs at least one subscription per tenant.');
    }
    for (let a = 0; a < storageAccountsPerTenant; a++) {
      const name = `st${tenantSlug.slice(0, 12)}${a}${guid().slice(0, 4)}`.slice(0, 24);
      if (a === 0) {
        world.resourceGroups.push({
          subscriptionId: storageSubscription!,
          name: 'rg-storage',
          location,
          tags: {},
        });
      }
      world.storageAccounts.push({
        subscriptionId: storageSubscription!,
        resourceGroup: 'rg-storage',
        name,
        location,
        tags: { workload: 'data' },
        containers: Array.from({ length: containersPerAccount }, (_, c) => {
          const base = CONTAINER_NAMES[c % CONTAINER_NAMES.length]!;
          const containerName =
            c < CONTAINER_NAMES.length ? base : `${base}-${Math.floor(c / CONTAINER_NAMES.length) + 1}`;
          return {
            name: containerName,
            blobs: Array.from({ length: blobsPerContainer }, (_, b) => ({
              name: `2025/${containerName}-${String(b).padStart(3, '0')}.json`,
              content: JSON.stringify({
                tenant: displayName,
                account: name,
                container: containerName,
                item: b,
              }),
            })),
          };
        }),
      });
      world.roleAssignments.push({
        principalId: spObjectId,
        roleDefinitionName: 'Storage Blob Data Reader',
        scope: storageAccountId(storageSubscription!, 'rg-storage', name),
      });
    }
  }
  return world;
}

/** The ids a test or the CLI needs to drive a world. */
export interface WorldFacts {
  homeTenantId: string;
  miClientId: string;
  miPrincipalId: string;
  miResourceId: string;
  appId: string;
  /** Tenants (other than home) where the app has a service principal, in world order. */
  customerTenantIds: string[];
  /** Object id of the app's service principal per tenant id. */
  servicePrincipalObjectIds: Record<string, string>;
}

/**
 * Finds the provider side of a world: the multitenant app carrying a FIC whose subject is a
 * user-assigned MI of the app's home tenant. Throws when the world has no such pair.
 */
export function worldFacts(input: World | WorldInput): WorldFacts {
  const world = parseWorld(input);
  for (const app of world.applications) {
    if (app.signInAudience !== 'AzureADMultipleOrgs') continue;
    for (const fic of app.federatedIdentityCredentials) {
      const mi = world.managedIdentities.find(
        (m) => m.principalId === fic.subject.toLowerCase() && m.tenantId === app.homeTenantId,
      );
      if (!mi) continue;
      const servicePrincipalObjectIds: Record<string, string> = {};
      for (const sp of world.servicePrincipals)
        if (sp.appId === app.appId) servicePrincipalObjectIds[sp.tenantId] = sp.objectId;
      return {
        homeTenantId: app.homeTenantId,
        miClientId: mi.clientId,
        miPrincipalId: mi.principalId,
        miResourceId: mi.resourceId,
        appId: app.appId,
        customerTenantIds: world.tenants
          .map((t) => t.id)
          .filter((id) => id !== app.homeTenantId && servicePrincipalObjectIds[id]),
        servicePrincipalObjectIds,
      };
    }
  }
  throw new Error(
    'The world has no multitenant application with a federated credential for a managed identity of its home tenant.',
  );
}

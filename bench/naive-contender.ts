/**
 * Contender (b): the naive loop of the seed samples, with the real SDKs. Tenants one after another,
 * for each a new ManagedIdentityCredential and a new ClientAssertionCredential (seed 004's code), its
 * subscriptions one after another, resources via ResourceManagementClient.resources.list(), and one
 * TableClient.upsertEntity per resource into its own table. No change detection, no concurrency.
 */
import { ClientAssertionCredential, ManagedIdentityCredential } from '@azure/identity';
import { ResourceManagementClient } from '@azure/arm-resources';
import { SubscriptionClient } from '@azure/arm-resources-subscriptions';
import { TableClient } from '@azure/data-tables';
import { readFileSync } from 'node:fs';
import type { SandboxEndpoints } from '../sandbox/index.js';
import { generateWorld, worldFacts } from '../sandbox/generator.js';
import { resourceRowKey } from '../src/core/storage/table-keys.js';
import { contenderInput, measurePhase, serveContender, type PhaseFigures } from './contender-ipc.js';
import type { WorldShape } from './options.js';

export interface NaiveInput {
  endpoints: SandboxEndpoints;
  world: WorldShape;
  connectionString: string;
  table: string;
}

export interface NaiveInfo {
  tenants: number;
}

export interface NaivePhaseResult extends PhaseFigures {
  subscriptions: number;
  resources: number;
}

const ARM_SCOPE = 'https://management.azure.com/.default';
const FIC_SCOPE = 'api://AzureADTokenExchange/.default';

async function main(): Promise<void> {
  const input = contenderInput<NaiveInput>();
  const world = generateWorld({
    seed: input.world.seed,
    tenants: input.world.tenants,
    subscriptionsPerTenant: input.world.subscriptionsPerTenant,
    resourcesPerSubscription: input.world.resourcesPerSubscription,
  });
  const facts = worldFacts(world);
  const { endpoints } = input;
  // What the Functions platform sets for the app's user-assigned MI.
  process.env.IDENTITY_ENDPOINT = endpoints.identityEndpoint;
  process.env.IDENTITY_HEADER = endpoints.identityHeader;
  const tls = { tlsOptions: { ca: readFileSync(endpoints.caCertPath, 'utf8') } };
  const table = TableClient.fromConnectionString(input.connectionString, input.table, {
    allowInsecureConnection: true,
  });
  await table.createTable();

  const loop = async (): Promise<{ subscriptions: number; resources: number }> => {
    let subscriptions = 0;
    let resources = 0;
    for (const tenantId of facts.customerTenantIds) {
      const managedIdentity = new ManagedIdentityCredential({ clientId: facts.miClientId });
      const credential = new ClientAssertionCredential(
        tenantId,
        facts.appId,
        async () => (await managedIdentity.getToken(FIC_SCOPE)).token,
        { authorityHost: endpoints.authorityHost, disableInstanceDiscovery: true, ...tls },
      );
      const armOptions = { endpoint: endpoints.armEndpoint, credentials: { scopes: [ARM_SCOPE] }, ...tls };
      const subscriptionClient = new SubscriptionClient(credential, armOptions);
      for await (const subscription of subscriptionClient.subscriptions.list()) {
        if (!subscription.subscriptionId) continue;
        subscriptions++;
        const client = new ResourceManagementClient(credential, subscription.subscriptionId, armOptions);
        for await (const resource of client.resources.list()) {
          if (!resource.id) continue;
          resources++;
          await table.upsertEntity({
            partitionKey: tenantId,
            rowKey: resourceRowKey(resource.id),
            resourceId: resource.id,
            name: resource.name ?? '',
            type: resource.type ?? '',
            location: resource.location ?? '',
            subscriptionId: subscription.subscriptionId,
            tags: JSON.stringify(resource.tags ?? {}),
            sku: resource.sku ? JSON.stringify(resource.sku) : '',
            kind: resource.kind ?? '',
          });
        }
      }
    }
    return { subscriptions, resources };
  };

  serveContender<NaiveInfo>(
    { tenants: facts.customerTenantIds.length },
    {
      loop: async (): Promise<NaivePhaseResult> => {
        const { figures, value } = await measurePhase(loop, 'loop');
        return { ...figures, ...value };
      },
    },
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`naive contender: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

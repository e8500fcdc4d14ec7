/**
 * The demo world (`sandbox/worlds/demo.json`) that `npm start` sweeps on a fresh clone: it parses, and
 * the story it tells holds (healthy customers, one refused and one firewalled storage account,
 * AdventureWorks without the app, Woodgrove without a role). The last test serves its storage through
 * the real storage front and checks each account answers as the story says.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TlsSettings } from '@azure/core-rest-pipeline';
import { BlobServiceClient, isRestError, type StoragePipelineOptions } from '@azure/storage-blob';
import { RequestCounters } from '../../sandbox/counters.js';
import { KeyStore } from '../../sandbox/keys.js';
import { BLOB_READ_ROLES, CONTROL_PLANE_READ_ROLES, hasRole, storageAccountId } from '../../sandbox/rbac.js';
import { startCustomerStorage } from '../../sandbox/storage-front.js';
import { createSandboxTls } from '../../sandbox/tls.js';
import { parseWorld, type World } from '../../sandbox/world.js';

const world: World = parseWorld(
  JSON.parse(await readFile(new URL('../../sandbox/worlds/demo.json', import.meta.url), 'utf8')),
);

function tenantNamed(displayName: string): string {
  const tenant = world.tenants.find((candidate) => candidate.displayName === displayName);
  if (!tenant) throw new Error(`demo world has no tenant '${displayName}'`);
  return tenant.id;
}

const HOME = tenantNamed('Contoso');
const HEALTHY = ['Litware', 'Fabrikam', 'Northwind Traders'];
const app = world.applications.find((candidate) => candidate.displayName === 'Tenant Fleet')!;

function servicePrincipalIn(tenantId: string): string | undefined {
  return world.servicePrincipals.find((sp) => sp.appId === app.appId && sp.tenantId === tenantId)?.objectId;
}
function subscriptionsOf(tenantId: string) {
  return world.subscriptions.filter((subscription) => subscription.tenantId === tenantId);
}
function accountsOf(tenantId: string) {
  const ids = new Set(subscriptionsOf(tenantId).map((subscription) => subscription.subscriptionId));
  return world.storageAccounts.filter((account) => ids.has(account.subscriptionId));
}
function accountScope(account: World['storageAccounts'][number]): string {
  return storageAccountId(account.subscriptionId, account.resourceGroup, account.name);
}

describe('demo world', () => {
  it('has the provider side: Contoso, its user-assigned MI and the multitenant app with the FIC', () => {
    const mi = world.managedIdentities.find((candidate) => candidate.name === 'id-tenantfleet');
    expect(mi?.tenantId).toBe(HOME);
    expect(app.homeTenantId).toBe(HOME);
    expect(app.signInAudience).toBe('AzureADMultipleOrgs');
    expect(app.federatedIdentityCredentials).toEqual([
      {
        name: 'id-tenantfleet',
        issuer: `https://login.microsoftonline.com/${HOME}/v2.0`,
        subject: mi!.principalId,
        audiences: ['api://AzureADTokenExchange'],
      },
    ]);
    expect(mi!.resourceId).toMatch(
      /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/rg-tenantfleet\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/id-tenantfleet$/,
    );
  });

  it('gives each healthy customer an SP, Reader on every subscription and a data role on its storage', () => {
    for (const name of HEALTHY) {
      const tenantId = tenantNamed(name);
      const sp = servicePrincipalIn(tenantId);
      expect(sp, name).toBeDefined();
      const subscriptions = subscriptionsOf(tenantId);
      expect(subscriptions.length, name).toBeGreaterThanOrEqual(1);
      expect(subscriptions.length, name).toBeLessThanOrEqual(3);
      for (const subscription of subscriptions) {
        expect(
          hasRole(world, sp!, `/subscriptions/${subscription.subscriptionId}`, ['Reader']),
          subscription.displayName,
        ).toBe(true);
        const groups = world.resourceGroups.filter(
          (group) => group.subscriptionId === subscription.subscriptionId,
        );
        expect(groups.length, subscription.displayName).toBeGreaterThanOrEqual(2);
      }
      expect(accountsOf(tenantId).length, name).toBeGreaterThanOrEqual(1);
    }
  });

  it('has exactly one healthy-tenant storage account without a data role and one behind a firewall', () => {
    const healthyAccounts = HEALTHY.flatMap((name) => {
      const tenantId = tenantNamed(name);
      return accountsOf(tenantId).map((account) => ({ account, sp: servicePrincipalIn(tenantId)! }));
    });
    const withoutRole = healthyAccounts.filter(
      ({ account, sp }) => !hasRole(world, sp, accountScope(account), BLOB_READ_ROLES),
    );
    expect(withoutRole.map(({ account }) => account.name)).toEqual(['stlitwareaudit01']);
    const firewalled = healthyAccounts.filter(({ account }) => account.networkDefaultAction === 'Deny');
    expect(firewalled.map(({ account }) => account.name)).toEqual(['stlitwarevault01']);
    // The firewalled account does grant the role: its refusal must come from the network rule alone.
    expect(hasRole(world, firewalled[0]!.sp, accountScope(firewalled[0]!.account), BLOB_READ_ROLES)).toBe(
      true,
    );
  });

  it('has AdventureWorks without the app and Woodgrove with the app but no role', () => {
    const adventureWorks = tenantNamed('AdventureWorks');
    expect(servicePrincipalIn(adventureWorks)).toBeUndefined();
    expect(subscriptionsOf(adventureWorks).length).toBeGreaterThanOrEqual(1);

    const woodgrove = tenantNamed('Woodgrove Bank');
    const sp = servicePrincipalIn(woodgrove);
    expect(sp).toBeDefined();
    expect(world.roleAssignments.filter((assignment) => assignment.principalId === sp)).toEqual([]);
    for (const subscription of subscriptionsOf(woodgrove)) {
      expect(
        hasRole(world, sp!, `/subscriptions/${subscription.subscriptionId}`, CONTROL_PLANE_READ_ROLES),
      ).toBe(false);
    }
  });

  it('lists a few hundred explicit, realistic resources that all sit in known resource groups', () => {
    expect(world.generatedResources).toEqual([]);
    const total = world.resources.length;
    expect(total).toBeGreaterThanOrEqual(250);
    expect(total).toBeLessThanOrEqual(500);
    const healthySubscriptions = new Set(
      HEALTHY.flatMap((name) =>
        subscriptionsOf(tenantNamed(name)).map((subscription) => subscription.subscriptionId),
      ),
    );
    const healthy = world.resources.filter((resource) =>
      healthySubscriptions.has(resource.subscriptionId),
    ).length;
    expect(healthy).toBeGreaterThanOrEqual(150);

    const groups = new Set(
      world.resourceGroups.map((group) => `${group.subscriptionId}/${group.name}`.toLowerCase()),
    );
    expect(groups.size).toBe(world.resourceGroups.length);
    const ids = new Set<string>();
    for (const resource of world.resources) {
      expect(
        groups.has(`${resource.subscriptionId}/${resource.resourceGroup}`.toLowerCase()),
        resource.name,
      ).toBe(true);
      ids.add(
        `${resource.subscriptionId}/${resource.resourceGroup}/${resource.type}/${resource.name}`.toLowerCase(),
      );
    }
    expect(ids.size).toBe(total);
    for (const account of world.storageAccounts) {
      expect(
        groups.has(`${account.subscriptionId}/${account.resourceGroup}`.toLowerCase()),
        account.name,
      ).toBe(true);
    }
    const subscriptionIds = new Set(world.subscriptions.map((subscription) => subscription.subscriptionId));
    for (const assignment of world.roleAssignments) {
      expect(subscriptionIds.has(assignment.scope.split('/')[2]!), assignment.scope).toBe(true);
    }

    const types = new Set(world.resources.map((resource) => resource.type));
    expect(types.size).toBeGreaterThanOrEqual(15);
    expect(
      world.resources.filter((resource) => Object.keys(resource.tags).length > 0).length / total,
    ).toBeGreaterThan(0.5);
    expect(world.resources.filter((resource) => resource.sku).length).toBeGreaterThan(30);
    expect(world.resources.filter((resource) => resource.kind).length).toBeGreaterThan(20);
  });

  it('has storage accounts of 1-3 containers with a handful of blobs of various sizes, one public blob container', () => {
    const names = world.storageAccounts.map((account) => account.name);
    expect(new Set(names).size).toBe(names.length);
    const sizes = new Set<number>();
    for (const account of world.storageAccounts) {
      expect(account.containers.length, account.name).toBeGreaterThanOrEqual(1);
      expect(account.containers.length, account.name).toBeLessThanOrEqual(3);
      for (const container of account.containers) {
        expect(container.blobs.length, `${account.name}/${container.name}`).toBeGreaterThanOrEqual(1);
        expect(container.blobs.length, `${account.name}/${container.name}`).toBeLessThanOrEqual(6);
        for (const blob of container.blobs)
          sizes.add(blob.content !== undefined ? Buffer.byteLength(blob.content) : blob.size);
      }
    }
    expect(sizes.size).toBeGreaterThan(20);
    const publicLevels = world.storageAccounts.flatMap((account) =>
      account.containers.map((container) => container.publicAccess),
    );
    expect(publicLevels).toContain('blob');
  });
});

describe('demo world storage through the front', () => {
  it('answers each Litware account as the story says', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'tf-demo-storage-'));
    const tls = await createSandboxTls(directory);
    const keys = new KeyStore();
    const started = Date.now();
    const storage = await startCustomerStorage({ world, keys, counters: new RequestCounters() }, { tls });
    console.log(
      `demo storage: ${world.storageAccounts.length} accounts seeded and served in ${Date.now() - started} ms`,
    );
    try {
      const litware = tenantNamed('Litware');
      const sp = servicePrincipalIn(litware)!;
      const token = await keys.sign(litware, {
        aud: 'https://storage.azure.com',
        iss: `https://sts.windows.net/${litware}/`,
        tid: litware,
        oid: sp,
        sub: sp,
        appid: app.appId,
        idtyp: 'app',
      });
      const credential = {
        getToken: () => Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
      };
      const options: StoragePipelineOptions & { tlsOptions: TlsSettings } = {
        tlsOptions: { ca: tls.certPem },
        retryOptions: { maxTries: 1 },
      };
      const outcome = async (account: string): Promise<string> => {
        const service = new BlobServiceClient(`${storage.endpoint}/${account}`, credential, options);
        try {
          const containers: string[] = [];
          for await (const container of service.listContainers()) {
            containers.push(`${container.name}:${container.properties.publicAccess ?? 'none'}`);
          }
          return containers.join(',');
        } catch (error) {
          if (isRestError(error)) return `${error.statusCode} ${error.code}`;
          throw error;
        }
      };
      expect(await outcome('stlitwareprod01')).toBe('exports:none,invoices:none,public-assets:blob');
      expect(await outcome('stlitwareaudit01')).toBe('403 AuthorizationPermissionMismatch');
      expect(await outcome('stlitwarevault01')).toBe('403 AuthorizationFailure');
      expect(await outcome('stfabrikamdata01')).toBe('401 InvalidAuthenticationInfo');
    } finally {
      await storage.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});

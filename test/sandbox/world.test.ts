/**
 * The world side of the sandbox: the generator, the live store and its drift overlay, the admin
 * HTTP API, and the composed sandbox (every endpoint up on 127.0.0.1, ARM listing what the admin
 * API and programmatic drift changed).
 */
import { request as httpsRequest } from 'node:https';
import { ResourceManagementClient } from '@azure/arm-resources';
import { SubscriptionClient } from '@azure/arm-resources-subscriptions';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateWorld, worldFacts, type WorldFacts } from '../../sandbox/generator.js';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { resourceId, WorldStore, WorldStoreError } from '../../sandbox/state.js';
import { parseWorld } from '../../sandbox/world.js';
import { MintingCredential } from './arm.fixture.js';

/** The fields of admin answers these tests read (each operation fills some). */
interface AdminAnswer {
  objectId?: string;
  id?: string;
  removed?: boolean | string[];
  added?: string[];
  arm?: number;
  armBySubscription?: Record<string, number>;
  generatedDrift?: Array<{ subscriptionId: string }>;
  error?: { code: string; field?: string; message: string };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe('world generator', () => {
  it('is deterministic and builds the provider / customer story', () => {
    const options = {
      seed: 42,
      tenants: 3,
      subscriptionsPerTenant: 2,
      resourcesPerSubscription: 100,
      storageAccountsPerTenant: 1,
    };
    const world = generateWorld(options);
    expect(generateWorld(options)).toEqual(world);
    expect(generateWorld({ ...options, seed: 43 }).tenants[0]!.id).not.toBe(world.tenants[0]!.id);

    const parsed = parseWorld(world);
    const facts = worldFacts(world);
    expect(parsed.tenants).toHaveLength(4);
    expect(parsed.tenants[0]!.displayName).toBe('Contoso');
    expect(facts.customerTenantIds).toHaveLength(3);
    const app = parsed.applications[0]!;
    expect(app).toMatchObject({
      displayName: 'Tenant Fleet',
      signInAudience: 'AzureADMultipleOrgs',
      homeTenantId: facts.homeTenantId,
    });
    expect(app.federatedIdentityCredentials[0]).toEqual({
      name: 'id-tenantfleet-fic',
      issuer: `https://login.microsoftonline.com/${facts.homeTenantId}/v2.0`,
      subject: facts.miPrincipalId,
      audiences: ['api://AzureADTokenExchange'],
    });
    expect(parsed.managedIdentities[0]).toMatchObject({
      name: 'id-tenantfleet',
      tenantId: facts.homeTenantId,
    });
    for (const tenantId of facts.customerTenantIds) {
      const sp = facts.servicePrincipalObjectIds[tenantId]!;
      const subscriptions = parsed.subscriptions.filter((s) => s.tenantId === tenantId);
      expect(subscriptions).toHaveLength(2);
      for (const s of subscriptions) {
        expect(parsed.roleAssignments).toContainEqual({
          principalId: sp,
          roleDefinitionName: 'Reader',
          scope: `/subscriptions/${s.subscriptionId}`,
        });
        expect(parsed.generatedResources.find((b) => b.subscriptionId === s.subscriptionId)?.count).toBe(100);
      }
      const account = parsed.storageAccounts.find((a) =>
        subscriptions.some((s) => s.subscriptionId === a.subscriptionId),
      )!;
      expect(account.containers).toHaveLength(2);
      expect(account.containers[0]!.blobs).toHaveLength(3);
      expect(
        parsed.roleAssignments.some(
          (r) =>
            r.principalId === sp &&
            r.roleDefinitionName === 'Storage Blob Data Reader' &&
            r.scope.endsWith(`/storageAccounts/${account.name}`),
        ),
      ).toBe(true);
    }
  });
});

describe('world store', () => {
  const world = generateWorld({
    seed: 3,
    tenants: 1,
    subscriptionsPerTenant: 1,
    resourcesPerSubscription: 500,
  });
  const subscriptionOf = (store: WorldStore): string => store.world.generatedResources[0]!.subscriptionId;
  const allIds = (store: WorldStore): string[] =>
    store.scanResources(subscriptionOf(store), { cursor: 0, limit: 10_000 }).items.map(resourceId);

  it('drifts generated resources deterministically and persists the drift in snapshots', () => {
    const a = new WorldStore(world);
    const b = new WorldStore(world);
    const sub = subscriptionOf(a);
    const resultA = a.driftGenerated(sub, { seed: 7, add: 5, modify: 10, remove: 20 });
    const resultB = b.driftGenerated(sub, { seed: 7, add: 5, modify: 10, remove: 20 });
    expect(resultA).toEqual(resultB);
    expect(new Set([...resultA.removed, ...resultA.modified]).size).toBe(30);
    const ids = allIds(a);
    expect(ids).toHaveLength(500 - 20 + 5);
    for (const id of resultA.removed) expect(ids).not.toContain(id);
    for (const id of resultA.added) expect(ids).toContain(id);
    for (const id of resultA.modified) expect(a.findResource(id)?.tags.modifiedBy).toBe('drift');
    expect(a.driftGenerated(sub, { seed: 8, remove: 1 }).removed[0]).not.toBe(undefined);

    const snapshot = JSON.parse(JSON.stringify(a.snapshot())) as ReturnType<WorldStore['snapshot']>;
    expect(snapshot.generatedDrift?.[0]?.removed).toHaveLength(21);
    const restored = new WorldStore(snapshot);
    expect(allIds(restored)).toEqual(allIds(a));
    expect(restored.findResource(resultA.modified[0]!)).toEqual(a.findResource(resultA.modified[0]!));
  });

  it('deletes and modifies single generated resources through the overlay', () => {
    const store = new WorldStore(world);
    const [first, second] = store.scanResources(subscriptionOf(store), { cursor: 0, limit: 2 }).items;
    expect(store.deleteResource(resourceId(first!))).toBe(true);
    expect(store.deleteResource(resourceId(first!))).toBe(false);
    expect(store.findResource(resourceId(first!))).toBeUndefined();
    store.upsertResource({ ...second!, tags: { owner: 'drift-test' } });
    expect(store.findResource(resourceId(second!))?.tags).toEqual({ owner: 'drift-test' });
    expect(allIds(store)).toHaveLength(499);
  });

  it('validates admin operations and names the bad field', () => {
    const store = new WorldStore(world);
    const facts = worldFacts(world);
    const sub = subscriptionOf(store);
    const refuse = (fn: () => unknown): WorldStoreError => {
      try {
        fn();
      } catch (error) {
        if (error instanceof WorldStoreError) return error;
        throw error;
      }
      throw new Error('expected a WorldStoreError');
    };
    expect(refuse(() => store.grantRole(facts.miPrincipalId, 'Janitor', `/subscriptions/${sub}`)).field).toBe(
      'roleDefinitionName',
    );
    expect(refuse(() => store.grantRole(facts.miPrincipalId, 'Reader', '/nope')).field).toBe('scope');
    expect(refuse(() => store.grantRole('not-a-guid', 'Reader', `/subscriptions/${sub}`)).field).toBe(
      'principalId',
    );
    expect(
      refuse(() => store.provisionServicePrincipal(facts.appId, '00000000-0000-0000-0000-000000000000')).kind,
    ).toBe('not-found');
    expect(refuse(() => store.driftGenerated(sub, { seed: 1, remove: 501 })).field).toBe('remove');
    expect(
      refuse(
        () =>
          new WorldStore({
            ...world,
            subscriptions: [
              { subscriptionId: sub, tenantId: '11111111-1111-1111-1111-111111111111', displayName: 'x' },
            ],
          }),
      ).field,
    ).toBe('subscriptions[0].tenantId');
    // Idempotent provisioning and grants.
    const objectId = store.provisionServicePrincipal(facts.appId, facts.homeTenantId);
    expect(store.provisionServicePrincipal(facts.appId, facts.homeTenantId)).toBe(objectId);
    const before = store.world.roleAssignments.length;
    store.grantRole(objectId, 'Reader', `/subscriptions/${sub}`);
    store.grantRole(objectId, 'Reader', `/subscriptions/${sub}`);
    expect(store.world.roleAssignments.length).toBe(before + 1);
  });
});

describe('composed sandbox and admin API', () => {
  let sandbox: Sandbox;
  let facts: WorldFacts;
  let tenantId: string;
  let subscriptionId: string;
  let credential: MintingCredential;
  const world = generateWorld({
    seed: 21,
    tenants: 2,
    subscriptionsPerTenant: 1,
    resourcesPerSubscription: 120,
    storageAccountsPerTenant: 1,
  });

  const admin = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: AdminAnswer }> => {
    const response = await fetch(`${sandbox.endpoints.adminEndpoint}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : {
            body: typeof body === 'string' ? body : JSON.stringify(body),
            headers: { 'content-type': 'application/json' },
          }),
    });
    return { status: response.status, json: (await response.json()) as AdminAnswer };
  };
  const armClient = (): ResourceManagementClient =>
    new ResourceManagementClient(credential, subscriptionId, {
      endpoint: sandbox.endpoints.armEndpoint,
      tlsOptions: { ca: sandbox.caCertPem },
    });
  // ARM's id casing varies between listings (sandbox/arm/realism.ts): ids compare lower-cased.
  const listedIds = async (): Promise<string[]> =>
    (await collect(armClient().resources.list())).map((r) => r.id!.toLowerCase());

  /** Makes `sandbox` (and the credential minted by its keys) the one the helpers above talk to. */
  const use = (target: Sandbox): void => {
    sandbox = target;
    credential = new MintingCredential(target.keys, {
      tenantId,
      objectId: facts.servicePrincipalObjectIds[tenantId]!,
      appId: facts.appId,
    });
  };
  /** A sandbox on the generated world: counters at zero, ARM's settings as given here. */
  const start = (): Promise<Sandbox> =>
    // The admin API's grants take effect at once here (propagation is tested in propagation.test.ts).
    startSandbox({ world, arm: { pageSize: 50, realism: { propagationDelayMs: 0 } } });
  let shared: Sandbox | undefined;

  // The tests that only read share one sandbox; those that change the world, the counters or ARM's
  // settings each start their own (below), so no test sees what another did before it.
  beforeAll(async () => {
    facts = worldFacts(world);
    tenantId = facts.customerTenantIds[0]!;
    shared = await start();
    subscriptionId = shared.store.subscriptionsOfTenant(tenantId)[0]!.subscriptionId;
    use(shared);
  });
  afterAll(async () => {
    await shared?.close();
  });

  it('serves every endpoint on 127.0.0.1', async () => {
    const { endpoints } = sandbox;
    for (const url of [
      endpoints.identityEndpoint,
      endpoints.authorityHost,
      endpoints.armEndpoint,
      endpoints.adminEndpoint,
      endpoints.storageEndpoint!,
    ]) {
      expect(new URL(url).hostname).toBe('127.0.0.1');
    }
    // Counted from this test's own baseline: the sandbox is shared with the other reading tests.
    const counted = { managedIdentity: sandbox.counters.managedIdentity, storage: sandbox.counters.storage };
    // The MI endpoint refuses a request without the identity header.
    const mi = await fetch(
      `${endpoints.identityEndpoint}?api-version=2019-08-01&resource=api://AzureADTokenExchange`,
    );
    expect(mi.status).toBe(403);
    expect(sandbox.counters.managedIdentity).toBe(counted.managedIdentity + 1);
    // Entra's discovery document names this authority.
    const discovery = await getJson(
      `${endpoints.authorityHost}/${tenantId}/v2.0/.well-known/openid-configuration`,
    );
    expect(discovery.status).toBe(200);
    expect(String(discovery.json.token_endpoint)).toContain(endpoints.authorityHost);
    // The storage front answers (and refuses an anonymous call).
    const storage = await getJson(
      `${endpoints.storageEndpoint!}/${world.storageAccounts![0]!.name}?comp=list`,
    );
    expect(storage.status).toBe(401);
    expect(sandbox.counters.storage).toBeGreaterThan(counted.storage);
    // ARM lists the storage account as a resource too.
    const ids = await listedIds();
    expect(ids).toHaveLength(121);
    expect(ids.some((id) => id.includes('/providers/microsoft.storage/storageaccounts/st'))).toBe(true);
  });

  it('answers bad admin input with 400 naming the field (never 500)', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/admin/service-principals', { appId: 'x', tenantId: facts.homeTenantId }, 'appId'],
      [
        'POST',
        '/admin/role-assignments',
        {
          principalId: facts.miPrincipalId,
          roleDefinitionName: 'Janitor',
          scope: `/subscriptions/${subscriptionId}`,
        },
        'roleDefinitionName',
      ],
      [
        'PUT',
        '/admin/resources',
        { subscriptionId, resourceGroup: 'rg', name: 'n', type: 'bad type', location: 'x' },
        'type',
      ],
      ['PUT', '/admin/arm-settings', { pageSize: 0 }, 'pageSize'],
      ['PUT', '/admin/arm-settings', { faults: [{ kind: '418' }] }, 'faults[0].kind'],
      ['POST', `/admin/subscriptions/${subscriptionId}/drift`, { seed: 1.5 }, 'seed'],
    ];
    for (const [method, path, body, field] of cases) {
      const answer = await admin(method, path, body);
      expect({ path, status: answer.status, field: answer.json.error?.field }).toEqual({
        path,
        status: 400,
        field,
      });
      expect(answer.json.error?.message).toContain(field);
    }
    expect((await admin('PUT', '/admin/arm-settings', '{not json')).json.error?.code).toBe('InvalidJson');
    expect(
      (
        await admin('POST', '/admin/service-principals', {
          appId: facts.appId,
          tenantId: '00000000-0000-0000-0000-000000000000',
        })
      ).status,
    ).toBe(404);
    expect((await admin('GET', '/admin/nope')).status).toBe(404);
  });

  it('lists the subscriptions the SP can see through SubscriptionClient', async () => {
    const client = new SubscriptionClient(credential, {
      endpoint: sandbox.endpoints.armEndpoint,
      tlsOptions: { ca: sandbox.caCertPem },
    });
    expect((await collect(client.subscriptions.list())).map((s) => s.subscriptionId)).toEqual([
      subscriptionId,
    ]);
  });

  function getJson(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      httpsRequest(url, { ca: sandbox.caCertPem }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = { text };
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // storage answers XML
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      })
        .on('error', reject)
        .end();
    });
  }
  describe('changing the world, the counters or ARM settings (a sandbox of its own each)', () => {
    beforeEach(async () => {
      use(await start());
    });
    afterEach(async () => {
      await sandbox.close();
      use(shared!);
    });

    it('changes what ARM lists through the admin API', async () => {
      const before = await listedIds();
      const drift = await admin('POST', `/admin/subscriptions/${subscriptionId}/drift`, {
        seed: 5,
        add: 3,
        remove: 4,
        modify: 2,
      });
      expect(drift.status).toBe(200);
      const after = await listedIds();
      expect(after).toHaveLength(before.length - 4 + 3);
      for (const id of drift.json.removed as string[]) expect(after).not.toContain(id.toLowerCase());
      for (const id of drift.json.added as string[]) expect(after).toContain(id.toLowerCase());

      const resource = {
        subscriptionId,
        resourceGroup: 'rg-000',
        name: 'vm-admin-added',
        type: 'Microsoft.Compute/virtualMachines',
        location: 'westeurope',
      };
      const put = await admin('PUT', '/admin/resources', resource);
      expect(put.status).toBe(200);
      expect(await listedIds()).toContain((put.json.id as string).toLowerCase());
      const del = await admin('DELETE', `/admin/resources?id=${encodeURIComponent(put.json.id as string)}`);
      expect(del.json).toEqual({ removed: true });
      expect(await listedIds()).not.toContain((put.json.id as string).toLowerCase());

      // Revoking the Reader role is visible at once: 403; granting it back restores the list.
      const role = {
        principalId: facts.servicePrincipalObjectIds[tenantId],
        roleDefinitionName: 'Reader',
        scope: `/subscriptions/${subscriptionId}`,
      };
      expect((await admin('DELETE', '/admin/role-assignments', role)).json).toEqual({ removed: true });
      await expect(collect(armClient().resources.list())).rejects.toMatchObject({
        statusCode: 403,
        code: 'AuthorizationFailed',
      });
      expect((await admin('POST', '/admin/role-assignments', role)).status).toBe(200);
      expect(await listedIds()).toHaveLength(after.length);

      const snapshot = await admin('GET', '/admin/world');
      expect(snapshot.json.generatedDrift?.[0]?.subscriptionId).toBe(subscriptionId);
    });

    it('lists what programmatic drift changed, on the next request', async () => {
      const before = await listedIds();
      const result = sandbox.store.driftGenerated(subscriptionId, { seed: 99, remove: 2, add: 1, modify: 1 });
      const after = await listedIds();
      expect(after).toHaveLength(before.length - 2 + 1);
      expect(after).toEqual(
        expect.arrayContaining([...result.added, ...result.modified].map((id) => id.toLowerCase())),
      );
      for (const id of result.removed) expect(after).not.toContain(id.toLowerCase());
      const modified = (await collect(armClient().resources.list())).find(
        (r) => r.id!.toLowerCase() === result.modified[0]!.toLowerCase(),
      );
      expect(modified?.tags).toMatchObject({ modifiedBy: 'drift', driftSeed: '99' });
    });

    it('provisions and removes service principals, and reads / resets counters and ARM settings', async () => {
      const home = facts.homeTenantId;
      const provisioned = await admin('POST', '/admin/service-principals', {
        appId: facts.appId,
        tenantId: home,
      });
      expect(provisioned.json.objectId).toMatch(/^[0-9a-f-]{36}$/);
      expect(
        sandbox.store.world.servicePrincipals.some((sp) => sp.objectId === provisioned.json.objectId),
      ).toBe(true);
      const patch = { appId: facts.appId, tenantId: home, accountEnabled: false };
      expect((await admin('PATCH', '/admin/service-principals', patch)).json).toEqual({ updated: true });
      expect(
        sandbox.store.world.servicePrincipals.find((sp) => sp.objectId === provisioned.json.objectId)
          ?.accountEnabled,
      ).toBe(false);
      expect(
        (await admin('DELETE', '/admin/service-principals', { appId: facts.appId, tenantId: home })).json,
      ).toEqual({ removed: true });
      expect((await admin('PATCH', '/admin/service-principals', patch)).json).toEqual({ updated: false });

      // Counted from zero here, so the test does not lean on the requests it made above.
      sandbox.counters.reset();
      const listedPages = (await collect(armClient().resourceGroups.list().byPage())).length;
      expect(listedPages).toBe(1);
      const counters = await admin('GET', '/admin/counters');
      expect(counters.json.arm).toBe(listedPages);
      expect(counters.json.armBySubscription?.[subscriptionId]).toBe(listedPages);
      expect((await admin('POST', '/admin/counters/reset')).json.arm).toBe(0);

      const settings = await admin('PUT', '/admin/arm-settings', { pageSize: 7, throttle: false });
      expect(settings.json).toMatchObject({ pageSize: 7, throttle: { enabled: false } });
      expect(sandbox.armSettings().pageSize).toBe(7);
      const pages = await collect(armClient().resourceGroups.list().byPage());
      expect(pages[0]).toHaveLength(5); // rg-storage + rg-000..003 fit one page of 7
      sandbox.setArmSettings({ pageSize: 2 });
      expect((await collect(armClient().resourceGroups.list().byPage())).map((p) => p.length)).toEqual([
        2, 2, 1,
      ]);
    });
  });
});

/**
 * The sandbox ARM against the REAL SDK clients (@azure/arm-resources-subscriptions 3,
 * @azure/arm-resources 8): shapes, paging, $filter, RBAC, auth errors, api-versions, throttling,
 * latency and every fault kind. Tokens are minted with the sandbox keys (no identity side needed).
 */
import { randomUUID } from 'node:crypto';
import { ResourceManagementClient } from '@azure/arm-resources';
import { SubscriptionClient } from '@azure/arm-resources-subscriptions';
import type { RestError } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { blockContext, generatedResource } from '../../sandbox/generated.js';
import { generateWorld, worldFacts, type WorldFacts } from '../../sandbox/generator.js';
import { resourceId } from '../../sandbox/state.js';
import type { Resource } from '../../sandbox/world.js';
import {
  armClaims,
  MintingCredential,
  rawGet,
  startArm,
  statusRecorder,
  type ArmFixture,
} from './arm.fixture.js';

const RESOURCES_PER_SUBSCRIPTION = 250;
const world = generateWorld({
  seed: 11,
  tenants: 2,
  subscriptionsPerTenant: 2,
  resourcesPerSubscription: RESOURCES_PER_SUBSCRIPTION,
});

let arm: ArmFixture;
let facts: WorldFacts;
let tenantA: string;
let tenantB: string;
let spA: string;
let subA1: string;
let subA2: string;
let subB1: string;

const lowerId = (resource: Resource): string => resourceId(resource).toLowerCase();

/** What the generated block of a subscription holds, computed directly (independent of ARM paging). */
function expectedResources(subscriptionId: string): Resource[] {
  const block = arm.store.world.generatedResources.find((b) => b.subscriptionId === subscriptionId)!;
  const context = blockContext(block, 0);
  return Array.from({ length: block.count }, (_, i) => generatedResource(context, i));
}

function credentialFor(
  tenantId: string,
  objectId: string,
  extra: { audience?: string; lifetimeSeconds?: number } = {},
) {
  return new MintingCredential(arm.keys, { tenantId, objectId, appId: facts.appId, ...extra });
}

function clients(
  credential: MintingCredential,
  subscriptionId: string,
  options: { apiVersion?: string } = {},
) {
  const recorder = statusRecorder();
  const common = { endpoint: arm.endpoint, tlsOptions: { ca: arm.caCertPem }, ...options };
  const resources = new ResourceManagementClient(credential, subscriptionId, common);
  const subscriptions = new SubscriptionClient(credential, common);
  resources.pipeline.addPolicy(recorder.policy, { afterPhase: 'Retry' });
  subscriptions.pipeline.addPolicy(recorder.policy, { afterPhase: 'Retry' });
  return { resources, subscriptions, recorder };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function restError(promise: Promise<unknown>): Promise<RestError & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as RestError & { code?: string };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  arm = await startArm(world);
  facts = worldFacts(world);
  [tenantA, tenantB] = facts.customerTenantIds as [string, string];
  spA = facts.servicePrincipalObjectIds[tenantA]!;
  [subA1, subA2] = arm.store.subscriptionsOfTenant(tenantA).map((s) => s.subscriptionId) as [string, string];
  subB1 = arm.store.subscriptionsOfTenant(tenantB)[0]!.subscriptionId;
});

afterAll(async () => {
  await arm?.close();
});

beforeEach(() => {
  arm.setSettings({
    pageSize: 100,
    latencyMs: 0,
    throttle: { enabled: true, burst: 250, refillPerSecond: 25 },
    faults: [],
  });
});

describe('sandbox ARM with the real SDK clients', () => {
  it('lists the subscriptions of the token tenant with the real shape, asking for the ARM scope', async () => {
    const credential = credentialFor(tenantA, spA);
    const { subscriptions } = clients(credential, subA1);
    const listed = await collect(subscriptions.subscriptions.list());
    expect(listed.map((s) => s.subscriptionId).sort()).toEqual([subA1, subA2].sort());
    const first = listed.find((s) => s.subscriptionId === subA1)!;
    expect(first).toMatchObject({
      id: `/subscriptions/${subA1}`,
      tenantId: tenantA,
      state: 'Enabled',
      authorizationSource: 'RoleBased',
      subscriptionPolicies: { spendingLimit: 'Off' },
    });
    expect(first.displayName).toMatch(/^Litware /);
    // The SDK keeps asking for the public ARM scope even with a local endpoint.
    expect(credential.scopesRequested.length).toBeGreaterThan(0);
    for (const scopes of credential.scopesRequested)
      expect(scopes).toEqual(['https://management.azure.com/.default']);
  });

  it('pages resources with absolute nextLinks on this server and counts every request', async () => {
    const { resources } = clients(credentialFor(tenantA, spA), subA1);
    const before = arm.counters.armBySubscription.get(subA1) ?? 0;
    const pages: number[] = [];
    const ids: string[] = [];
    for await (const page of resources.resources.list().byPage()) {
      pages.push(page.length);
      // ARM's id casing varies (sandbox/arm/realism.ts): ids are compared case-insensitively.
      ids.push(...page.map((r) => r.id!.toLowerCase()));
    }
    expect(pages).toEqual([100, 100, 50]);
    expect(new Set(ids).size).toBe(RESOURCES_PER_SUBSCRIPTION);
    expect(ids.sort()).toEqual(expectedResources(subA1).map(lowerId).sort());
    expect((arm.counters.armBySubscription.get(subA1) ?? 0) - before).toBe(3);

    const raw = await rawGet(
      arm,
      `/subscriptions/${subA1}/resources?api-version=2025-04-01`,
      await token(tenantA, spA),
    );
    expect(raw.body.nextLink).toMatch(
      new RegExp(`^${arm.endpoint}/subscriptions/${subA1}/resources\\?.*%24skiptoken=`),
    );
    const item = raw.body.value![0] as Record<string, unknown>;
    expect(Object.keys(item)).toEqual(expect.arrayContaining(['id', 'name', 'type', 'location']));
  });

  it('resumes from a continuation token and honours $top as the page size', async () => {
    const { resources } = clients(credentialFor(tenantA, spA), subA1);
    const iterator = resources.resources.list({ top: 40 }).byPage();
    const first = await iterator.next();
    expect(first.value).toHaveLength(40);
    const token = (first.value as { continuationToken?: string }).continuationToken;
    expect(token).toContain('top=40');
    const resumed = await collect(resources.resources.list({ top: 40 }).byPage({ continuationToken: token }));
    expect(resumed.map((p) => p.length)).toEqual([40, 40, 40, 40, 40, 10]);
  });

  it('filters by resourceType (and rejects a filter it does not understand)', async () => {
    const { resources } = clients(credentialFor(tenantA, spA), subA1);
    const wanted = expectedResources(subA1).filter((r) => r.type === 'Microsoft.Compute/disks');
    expect(wanted.length).toBeGreaterThan(10);
    const disks = await collect(
      resources.resources.list({ filter: "resourceType eq 'microsoft.compute/DISKS'" }),
    );
    expect(disks.map((r) => r.id!.toLowerCase()).sort()).toEqual(wanted.map(lowerId).sort());
    expect(disks.every((d) => d.sku?.name)).toBe(true);

    const tagged = expectedResources(subA1).filter((r) => r.tags.environment === 'prod');
    const byTag = await collect(
      resources.resources.list({ filter: "tagName eq 'environment' and tagValue eq 'prod'" }),
    );
    expect(byTag).toHaveLength(tagged.length);

    const error = await restError(collect(resources.resources.list({ filter: "identity eq 'x'" })));
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('InvalidFilterInQueryString');
    // The SDK's pager keeps ARM's code but replaces the message; the raw answer carries ARM's text.
    expect(error.message).toBe('Pagination failed with unexpected statusCode 400');
    const raw = await rawGet(
      arm,
      `/subscriptions/${subA1}/resources?api-version=2025-04-01&$filter=identity eq 'x'`,
      await token(tenantA, spA),
    );
    expect(raw.body.error?.message).toBe("Invalid $filter 'identity eq 'x'' specified in the query string.");
  });

  it('lists resource groups and the resources of one group', async () => {
    const { resources } = clients(credentialFor(tenantA, spA), subA1);
    const groups = await collect(resources.resourceGroups.list());
    expect(groups.map((g) => g.name)).toEqual(['rg-000', 'rg-001', 'rg-002', 'rg-003']);
    expect(groups[0]).toMatchObject({
      type: 'Microsoft.Resources/resourceGroups',
      properties: { provisioningState: 'Succeeded' },
    });
    const inGroup = await collect(resources.resources.listByResourceGroup('RG-001'));
    const expected = expectedResources(subA1).filter((r) => r.resourceGroup === 'rg-001');
    expect(inGroup.map((r) => r.id!.toLowerCase()).sort()).toEqual(expected.map(lowerId).sort());
    const missing = await restError(collect(resources.resources.listByResourceGroup('rg-nope')));
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe('ResourceGroupNotFound');
  });

  it('refuses a principal without a role (403 AuthorizationFailed) and scopes a resource-group Reader to its group', async () => {
    const stranger = randomUUID();
    const { resources, subscriptions } = clients(credentialFor(tenantA, stranger), subA1);
    const denied = await restError(collect(resources.resources.list()));
    expect(denied.statusCode).toBe(403);
    expect(denied.code).toBe('AuthorizationFailed');
    const deniedRaw = await rawGet(
      arm,
      `/subscriptions/${subA1}/resources?api-version=2025-04-01`,
      await token(tenantA, stranger),
    );
    expect(deniedRaw.body.error?.message).toBe(
      `The client '${stranger}' with object id '${stranger}' does not have authorization to perform action ` +
        `'Microsoft.Resources/subscriptions/resources/read' over scope '/subscriptions/${subA1}' or the scope is invalid. ` +
        'If access was recently granted, please refresh your credentials.',
    );
    expect(await collect(subscriptions.subscriptions.list())).toEqual([]);

    arm.store.grantRole(stranger, 'Reader', `/subscriptions/${subA1}/resourceGroups/rg-002`);
    try {
      const expected = expectedResources(subA1)
        .filter((r) => r.resourceGroup === 'rg-002')
        .map(lowerId)
        .sort();
      expect(
        (await collect(resources.resources.listByResourceGroup('rg-002')))
          .map((r) => r.id!.toLowerCase())
          .sort(),
      ).toEqual(expected);
      // The subscription-wide list shows only what the caller may read.
      expect((await collect(resources.resources.list())).map((r) => r.id!.toLowerCase()).sort()).toEqual(
        expected,
      );
      expect((await collect(resources.resourceGroups.list())).map((g) => g.name)).toEqual(['rg-002']);
      expect((await collect(subscriptions.subscriptions.list())).map((s) => s.subscriptionId)).toEqual([
        subA1,
      ]);
      const otherGroup = await restError(collect(resources.resources.listByResourceGroup('rg-001')));
      expect(otherGroup.statusCode).toBe(403);
      const otherRaw = await rawGet(
        arm,
        `/subscriptions/${subA1}/resourceGroups/rg-001/resources?api-version=2025-04-01`,
        await token(tenantA, stranger),
      );
      expect(otherRaw.body.error?.message).toContain(
        `over scope '/subscriptions/${subA1}/resourceGroups/rg-001'`,
      );
    } finally {
      arm.store.revokeRole(stranger, 'Reader', `/subscriptions/${subA1}/resourceGroups/rg-002`);
    }
    expect((await restError(collect(resources.resources.list()))).statusCode).toBe(403);
  });

  it('answers a token of another tenant with 401 InvalidAuthenticationTokenTenant and a challenge', async () => {
    const { resources } = clients(credentialFor(tenantA, spA), subB1);
    const error = await restError(collect(resources.resources.list()));
    expect(error.statusCode).toBe(401);
    expect(error.code).toBe('InvalidAuthenticationTokenTenant');
    const raw = await rawGet(
      arm,
      `/subscriptions/${subB1}/resources?api-version=2025-04-01`,
      await token(tenantA, spA),
    );
    expect(raw.body.error?.message).toContain(
      `The access token is from the wrong issuer 'https://sts.windows.net/${tenantA}/'`,
    );
    expect(raw.body.error?.message).toContain(
      `It must match the tenant 'https://sts.windows.net/${tenantB}/'`,
    );
    expect(raw.headers['www-authenticate']).toMatch(
      new RegExp(`^Bearer authorization_uri=".*/${tenantB}", error="invalid_token"`),
    );
    expect(raw.headers['x-ms-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(raw.headers['x-ms-correlation-request-id']).toBeTruthy();
  });

  it('answers an unknown or malformed subscription with 404 SubscriptionNotFound / 400 InvalidSubscriptionId', async () => {
    const unknown = randomUUID();
    const { resources } = clients(credentialFor(tenantA, spA), unknown);
    const error = await restError(collect(resources.resources.list()));
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe('SubscriptionNotFound');
    const raw = await rawGet(
      arm,
      `/subscriptions/${unknown}/resources?api-version=2025-04-01`,
      await token(tenantA, spA),
    );
    expect(raw.body.error?.message).toBe(`The subscription '${unknown}' could not be found.`);
    const malformed = await rawGet(
      arm,
      '/subscriptions/not-a-guid/resources?api-version=2025-04-01',
      await token(tenantA, spA),
    );
    expect(malformed.status).toBe(400);
    expect(malformed.body.error?.code).toBe('InvalidSubscriptionId');
  });

  it('requires a supported api-version', async () => {
    const bearer = await token(tenantA, spA);
    const missing = await rawGet(arm, `/subscriptions/${subA1}/resources`, bearer);
    expect(missing.status).toBe(400);
    expect(missing.body.error).toEqual({
      code: 'MissingApiVersionParameter',
      message: 'The api-version query parameter (?api-version=) is required for all requests.',
    });
    const invalid = await rawGet(arm, `/subscriptions/${subA1}/resources?api-version=2099-01-01`, bearer);
    expect(invalid.status).toBe(400);
    expect(invalid.body.error?.code).toBe('InvalidApiVersionParameter');
    expect(invalid.body.error?.message).toMatch(
      /^The api-version '2099-01-01' is invalid\. The supported versions are '2025-04-01,/,
    );
    // The versions the SDKs send by default are accepted (the tests above), others are not.
    const { resources } = clients(credentialFor(tenantA, spA), subA1, { apiVersion: '2014-04-01' });
    const sdkError = await restError(collect(resources.resources.list()));
    expect(sdkError.code).toBe('InvalidApiVersionParameter');
    // The subscriptions family accepts 2022-12-01 but not the resources version.
    const wrongFamily = await rawGet(arm, '/subscriptions?api-version=2025-04-01', bearer);
    expect(wrongFamily.body.error?.code).toBe('InvalidApiVersionParameter');
  });

  it('maps token problems to ARM 401 codes without echoing the token', async () => {
    const path = `/subscriptions/${subA1}/resources?api-version=2025-04-01`;
    const none = await rawGet(arm, path);
    expect(none.status).toBe(401);
    expect(none.body.error?.code).toBe('AuthenticationFailed');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer authorization_uri=/);

    const garbage = await rawGet(arm, path, 'not.a.jwt');
    expect(garbage.body.error?.code).toBe('InvalidAuthenticationToken');

    const storageToken = await arm.keys.sign(
      tenantA,
      armClaims({ tenantId: tenantA, objectId: spA, audience: 'https://storage.azure.com' }),
    );
    const audience = await rawGet(arm, path, storageToken);
    expect(audience.status).toBe(401);
    expect(audience.body.error?.code).toBe('InvalidAuthenticationTokenAudience');
    expect(audience.body.error?.message).toContain("wrong audience or resource 'https://storage.azure.com'");
    expect(JSON.stringify(audience.body)).not.toContain(storageToken);

    const expiredToken = await arm.keys.sign(tenantA, armClaims({ tenantId: tenantA, objectId: spA }), -600);
    const expired = await rawGet(arm, path, expiredToken);
    expect(expired.status).toBe(401);
    expect(expired.body.error?.code).toBe('ExpiredAuthenticationToken');
    expect(expired.body.error?.message).toMatch(
      /^The access token expiry UTC time '.+' is earlier than current UTC time '.+'\.$/,
    );

    // A token signed by one tenant's key but claiming another tenant is refused.
    const forged = await arm.keys.sign(tenantB, armClaims({ tenantId: tenantA, objectId: spA }));
    expect((await rawGet(arm, path, forged)).body.error?.code).toBe('InvalidAuthenticationToken');
  });

  it('throttles per subscription and principal with 429 + Retry-After; the SDK retries and completes', async () => {
    arm.setSettings({ pageSize: 10, throttle: { enabled: true, burst: 5, refillPerSecond: 10 } });
    const { resources, recorder } = clients(credentialFor(tenantA, spA), subA2);
    const all = await collect(resources.resources.list());
    expect(all).toHaveLength(RESOURCES_PER_SUBSCRIPTION);
    expect(recorder.statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    expect(recorder.statuses.filter((s) => s === 200)).toHaveLength(RESOURCES_PER_SUBSCRIPTION / 10);

    arm.setSettings({ throttle: { burst: 2, refillPerSecond: 0.5 } });
    const bearer = await token(tenantA, spA);
    const path = `/subscriptions/${subA2}/resourcegroups?api-version=2025-04-01`;
    const first = await rawGet(arm, path, bearer);
    expect(first.headers['x-ms-ratelimit-remaining-subscription-reads']).toBe('1');
    await rawGet(arm, path, bearer);
    const throttled = await rawGet(arm, path, bearer);
    expect(throttled.status).toBe(429);
    expect(throttled.body.error?.code).toBe('SubscriptionRequestsThrottled');
    expect(throttled.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    // Another principal has its own bucket.
    const other = await rawGet(arm, path, await token(tenantA, spA.replace(/^./, 'f')));
    expect(other.status).not.toBe(429);

    arm.setSettings({ throttle: false });
    for (let i = 0; i < 5; i++) expect((await rawGet(arm, path, bearer)).status).toBe(200);
  });

  it('holds an answer for the latency configured when its request arrived', async () => {
    // Told by order, not by a clock: a request that arrives under a long latency is still unanswered
    // after one sent later, under none, was answered.
    const bearer = await token(tenantA, spA);
    const path = `/subscriptions/${subA1}/resourcegroups?api-version=2025-04-01`;
    arm.setSettings({ latencyMs: 5000, throttle: false });
    const before = arm.counters.arm;
    let slowAnswered = false;
    const slow = rawGet(arm, path, bearer).then((answer) => {
      slowAnswered = true;
      return answer;
    });
    await vi.waitFor(() => expect(arm.counters.arm).toBe(before + 1), { timeout: 4000, interval: 10 });
    arm.setSettings({ latencyMs: 0 });
    expect((await rawGet(arm, path, bearer)).status).toBe(200);
    expect(arm.counters.arm).toBe(before + 2);
    expect(slowAnswered).toBe(false);
    expect((await slow).status).toBe(200);
  });

  for (const kind of ['500', '503', '429', 'drop'] as const) {
    it(`injects a '${kind}' fault once; the SDK retries and completes`, async () => {
      arm.setSettings({
        faults: [{ kind, count: 1, match: { subscriptionId: subA1, pathIncludes: '/resourcegroups' } }],
      });
      const { resources, recorder } = clients(credentialFor(tenantA, spA), subA1);
      // A request the rule does not match is untouched.
      expect(await collect(resources.resources.list({ top: 1000 }))).toHaveLength(RESOURCES_PER_SUBSCRIPTION);
      expect(recorder.statuses).toEqual([200]);
      const groups = await collect(resources.resourceGroups.list());
      expect(groups).toHaveLength(4);
      if (kind === 'drop') {
        expect(recorder.errors).toHaveLength(1);
        expect(recorder.statuses).toEqual([200, 200]);
      } else {
        expect(recorder.statuses).toEqual([200, Number(kind), 200]);
      }
    });
  }

  it("injects a '403' as ARM's AuthorizationFailed, naming the caller and the scope; the SDK does not retry it", async () => {
    const rule = {
      kind: '403' as const,
      count: 1,
      match: { subscriptionId: subA1, pathIncludes: '/resources' },
    };
    arm.setSettings({ faults: [rule] });
    const { resources, recorder } = clients(credentialFor(tenantA, spA), subA1);
    const refused = await collect(resources.resources.list()).then(
      () => undefined,
      (error: unknown) => error as RestError,
    );
    expect(refused).toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
    expect(recorder.statuses).toEqual([403]);
    // Fired once: the next list is answered.
    expect(await collect(resources.resources.list({ top: 1000 }))).toHaveLength(RESOURCES_PER_SUBSCRIPTION);

    // ARM's own wording (the SDK's pager replaces the message with its own), the caller's object id from its token.
    arm.setSettings({ faults: [{ ...rule }] });
    const raw = await rawGet(
      arm,
      `/subscriptions/${subA1}/resources?api-version=2025-04-01`,
      await token(tenantA, spA),
    );
    expect(raw.status).toBe(403);
    expect(raw.headers['retry-after']).toBeUndefined();
    expect(raw.body.error).toEqual({
      code: 'AuthorizationFailed',
      message:
        `The client '${spA}' with object id '${spA}' does not have authorization to perform action ` +
        `'Microsoft.Resources/subscriptions/resources/read' over scope '/subscriptions/${subA1}' or the scope is ` +
        'invalid. If access was recently granted, please refresh your credentials.',
    });
  });

  it('never fires a fault of probability 0', async () => {
    arm.setSettings({ faults: [{ kind: '500', probability: 0 }] });
    const { resources, recorder } = clients(credentialFor(tenantA, spA), subA1);
    for (let i = 0; i < 5; i++) await collect(resources.resourceGroups.list());
    expect(recorder.statuses).toEqual([200, 200, 200, 200, 200]);
  });
});

async function token(tenantId: string, objectId: string): Promise<string> {
  return arm.keys.sign(tenantId, armClaims({ tenantId, objectId }));
}

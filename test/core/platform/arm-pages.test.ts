/**
 * The ARM page reader behind listInventoryItems (src/core/platform/arm.ts), with an HttpClient injected
 * through the SDK client options: the requests it sends (URLs, nextLink with or without api-version,
 * Accept, the client's token scope and retries), what it makes of each item, and how a page it cannot
 * use fails (as the SDK's pager fails). Also the defaults of listVisibleSubscriptions.
 */
import { ResourceManagementClient } from '@azure/arm-resources';
import { RestError } from '@azure/core-rest-pipeline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  listInventoryItems,
  listVisibleSubscriptions,
  resourceClient,
  type InventoryItem,
} from '../../../src/core/platform/arm.js';
import { AZURE_CLOUDS } from '../../../src/core/platform/cloud.js';
import { fakeArm, StaticCredential, type FakeArmAnswer } from '../../support/fake-arm.js';

const sub = '0b1f6471-1bf0-4dda-aec3-cb9272f09590';
const API = 'api-version=2025-04-01';
// A cloud whose ARM scope is not the SDK's default (the public cloud's), so the pinned scope shows.
const china = AZURE_CLOUDS.AzureChinaCloud;
const BASE = `${china.armEndpoint}/subscriptions/${sub}`;

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

/** The inventory of `sub` read through an ARM answering `answer`, with the requests it got. */
function inventoryFrom(
  answer: (url: URL, attempt: number) => FakeArmAnswer,
  options: { armEndpoint?: string; maxRetries?: number } = {},
) {
  const arm = fakeArm(answer);
  const credential = new StaticCredential();
  const cloud = { ...china, armEndpoint: options.armEndpoint ?? china.armEndpoint };
  const client = resourceClient(credential, {
    cloud,
    maxRetries: options.maxRetries ?? 0,
    httpClient: arm.client,
  });
  return { ...arm, credential, stream: listInventoryItems(client, sub) };
}

const pathAndQuery = (url: URL) => decodeURIComponent(`${url.pathname}${url.search}`);

describe('the requests of an inventory', () => {
  it("reads from the endpoint without its trailing slashes, asks for JSON with the cloud's ARM scope, and follows nextLink with api-version added where it lacks one", async () => {
    const { requests, credential, stream } = inventoryFrom(
      (url) => {
        const at = pathAndQuery(url);
        const pages: Record<string, FakeArmAnswer['body']> = {
          [`/subscriptions/${sub}/resourcegroups?${API}`]: {
            value: [{ id: `/subscriptions/${sub}/resourceGroups/g1`, name: 'g1' }],
            nextLink: `${BASE}/resourcegroups?$skiptoken=g2`,
          },
          [`/subscriptions/${sub}/resourcegroups?$skiptoken=g2&${API}`]: {
            value: [{ id: `/subscriptions/${sub}/resourceGroups/g2`, name: 'g2' }],
            nextLink: `${BASE}/resourcegroups/page3`,
          },
          [`/subscriptions/${sub}/resourcegroups/page3?${API}`]: {
            value: [{ id: `/subscriptions/${sub}/resourceGroups/g3`, name: 'g3' }],
            nextLink: '',
          },
          [`/subscriptions/${sub}/resources?${API}&$expand=changedTime`]: {
            value: [],
            nextLink: `${BASE}/resources?api-version=2022-09-01&$skiptoken=r2`,
          },
          [`/subscriptions/${sub}/resources?api-version=2022-09-01&$skiptoken=r2`]: {
            value: [
              {
                id: `/subscriptions/${sub}/resourceGroups/g1/providers/Microsoft.Web/sites/app`,
                name: 'app',
                type: 'Microsoft.Web/sites',
              },
            ],
          },
        };
        return at in pages
          ? { status: 200, body: pages[at] }
          : { status: 404, body: { error: { code: at } } };
      },
      { armEndpoint: `${china.armEndpoint}//` },
    );
    expect((await collect(stream)).map((item) => item.name)).toEqual(['g1', 'g2', 'g3', 'app']);
    expect(requests.map((request) => request.url).sort()).toEqual(
      [
        `${BASE}/resourcegroups?${API}`,
        `${BASE}/resourcegroups?$skiptoken=g2&${API}`,
        `${BASE}/resourcegroups/page3?${API}`,
        `${BASE}/resources?${API}&%24expand=changedTime`,
        `${BASE}/resources?api-version=2022-09-01&$skiptoken=r2`,
      ].sort(),
    );
    expect(requests.map((request) => request.headers.get('accept'))).toEqual(
      requests.map(() => 'application/json'),
    );
    expect(new Set(credential.scopes)).toEqual(new Set([china.armScope]));
  });

  it("retries a failing page as often as the client's maxRetries says", async () => {
    const { requests, stream } = inventoryFrom(() => ({ status: 503, headers: { 'retry-after-ms': '0' } }), {
      maxRetries: 1,
    });
    await expect(stream.next()).rejects.toMatchObject({ statusCode: 503 });
    const groupReads = requests.filter((request) => request.url === `${BASE}/resourcegroups?${API}`);
    expect(groupReads).toHaveLength(2);
  });

  it('refuses a client that resourceClient did not make', async () => {
    const client = new ResourceManagementClient(new StaticCredential(), sub);
    await expect(listInventoryItems(client, sub).next()).rejects.toThrow(
      'ARM lists need a client made by resourceClient',
    );
  });
});

describe('the items of an inventory', () => {
  it('keeps kind, managedBy, sku and changedTime only where ARM gives them, and names a group as it is named', async () => {
    const group = `/subscriptions/${sub}/resourceGroups/RG-Web`;
    const { stream } = inventoryFrom((url) =>
      url.pathname.endsWith('/resourcegroups')
        ? {
            status: 200,
            body: {
              value: [
                { id: group, name: 'RG-Web', type: '', managedBy: 'app-owner' },
                { id: `/subscriptions/${sub}/resourceGroups/plain`, name: 'plain', location: 'westeurope' },
              ],
            },
          }
        : {
            status: 200,
            body: {
              value: [
                {
                  // ARM upper-cases the group in some resources' ids.
                  id: `/subscriptions/${sub}/resourceGroups/RG-WEB/providers/Microsoft.Compute/virtualMachines/vm`,
                  name: 'vm',
                  type: 'Microsoft.Compute/virtualMachines',
                  sku: { name: 'Standard_B1s', tier: 'Standard' },
                  kind: 'linux',
                  managedBy: 'scale-set',
                  changedTime: '2026-01-02T03:04:05Z',
                },
                {
                  id: `${group}/providers/Microsoft.Web/sites/app`,
                  name: 'app',
                  type: 'Microsoft.Web/sites',
                  location: 'westeurope',
                  sku: 'not-an-object',
                  kind: '',
                  managedBy: '',
                },
              ],
            },
          },
    );
    const expected: InventoryItem[] = [
      {
        id: group,
        name: 'RG-Web',
        type: 'Microsoft.Resources/resourceGroups',
        location: '',
        resourceGroup: 'RG-Web',
        subscriptionId: sub,
        tags: {},
        managedBy: 'app-owner',
      },
      {
        id: `/subscriptions/${sub}/resourceGroups/plain`,
        name: 'plain',
        type: 'Microsoft.Resources/resourceGroups',
        location: 'westeurope',
        resourceGroup: 'plain',
        subscriptionId: sub,
        tags: {},
      },
      {
        id: `/subscriptions/${sub}/resourceGroups/RG-WEB/providers/Microsoft.Compute/virtualMachines/vm`,
        name: 'vm',
        type: 'Microsoft.Compute/virtualMachines',
        location: '',
        resourceGroup: 'RG-Web',
        subscriptionId: sub,
        tags: {},
        sku: {
          name: 'Standard_B1s',
          tier: 'Standard',
          size: undefined,
          family: undefined,
          model: undefined,
          capacity: undefined,
        },
        kind: 'linux',
        managedBy: 'scale-set',
        changedTime: '2026-01-02T03:04:05.000Z',
      },
      {
        id: `${group}/providers/Microsoft.Web/sites/app`,
        name: 'app',
        type: 'Microsoft.Web/sites',
        location: 'westeurope',
        resourceGroup: 'RG-Web',
        subscriptionId: sub,
        tags: {},
      },
    ];
    expect(await collect(stream)).toStrictEqual(expected);
  });
});

describe('a page that cannot be used', () => {
  it("fails with the SDK pager's message and the status when ARM does not answer 200", async () => {
    const { stream } = inventoryFrom(() => ({ status: 502, body: '<html>Bad gateway</html>' }));
    const error = await stream.next().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RestError);
    expect(error).toMatchObject({
      message: 'Pagination failed with unexpected statusCode 502',
      statusCode: 502,
      code: undefined,
    });
  });

  it.each([
    ['no body', undefined],
    ['a body that is not JSON', '{"value": ['],
    ['no value', { nextLink: `${BASE}/resourcegroups?$skiptoken=2` }],
    ['a value that is not an array', { value: { id: 'x' } }],
  ])("fails with the SDK pager's message for a 200 with %s", async (_, body) => {
    const { stream } = inventoryFrom(() => ({ status: 200, body }));
    await expect(stream.next()).rejects.toMatchObject({
      message: "Couldn't paginate response\n Body doesn't contain an array property with name: value",
      statusCode: 200,
    });
  });

  describe('read ahead', () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    beforeEach(() => {
      unhandled.length = 0;
      process.on('unhandledRejection', record);
    });
    afterEach(() => {
      process.off('unhandledRejection', record);
    });

    it('surfaces the failure of a page read ahead when the caller gets to it, and not before', async () => {
      const { requests, stream } = inventoryFrom((url) =>
        url.searchParams.has('$skiptoken')
          ? { status: 500, body: { error: { code: 'InternalServerError' } } }
          : {
              status: 200,
              body: {
                value: [{ id: `/subscriptions/${sub}/resourceGroups/g1`, name: 'g1' }],
                nextLink: url.pathname.endsWith('/resourcegroups')
                  ? `${BASE}/resourcegroups?$skiptoken=2`
                  : undefined,
              },
            },
      );
      expect((await stream.next()).value).toMatchObject({ name: 'g1' });
      // The caller works on the first page while the second one fails.
      while (!requests.some((request) => request.url.includes('skiptoken'))) await settle();
      for (let i = 0; i < 5; i++) await settle();
      await expect(stream.next()).rejects.toMatchObject({ statusCode: 500, code: 'InternalServerError' });
      expect(unhandled).toEqual([]);
    });
  });
});

/** One turn of the event loop (pending promise reactions and rejection tracking run first). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('listVisibleSubscriptions', () => {
  it("defaults a subscription's state to Enabled and its name to its id, lower-cases ids, and skips one without an id", async () => {
    const { client } = fakeArm(() => ({
      status: 200,
      body: {
        value: [
          { subscriptionId: sub.toUpperCase() },
          { displayName: 'no id' },
          { subscriptionId: sub, displayName: 'Prod', state: 'Disabled', tenantId: 'ABC' },
        ],
      },
    }));
    const subscriptions = await collect(
      listVisibleSubscriptions(
        resourceClient(new StaticCredential(), { cloud: china, maxRetries: 0, httpClient: client }),
      ),
    );
    expect(subscriptions).toEqual([
      { subscriptionId: sub, displayName: sub.toUpperCase(), state: 'Enabled', tenantId: '' },
      { subscriptionId: sub, displayName: 'Prod', state: 'Disabled', tenantId: 'abc' },
    ]);
  });
});

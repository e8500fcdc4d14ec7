/**
 * ARM streaming with an HttpClient injected through the client options (as azure-sdk-for-js tests do):
 * pages are followed through nextLink, items are normalised for the inventory, throttling is retried by
 * the SDK's own policy honouring Retry-After, and the token scope is ARM's.
 */
import { describe, expect, it } from 'vitest';
import {
  listInventoryItems,
  listVisibleSubscriptions,
  resourceClient,
} from '../../../src/core/platform/arm.js';
import { AZURE_CLOUDS } from '../../../src/core/platform/cloud.js';
import { fakeArm, StaticCredential } from '../../support/fake-arm.js';

const cloud = AZURE_CLOUDS.AzurePublicCloud;
const sub = '0b1f6471-1bf0-4dda-aec3-cb9272f09590';

const resource = (name: string, extra: Record<string, unknown> = {}) => ({
  id: `/subscriptions/${sub}/resourceGroups/RG-Web/providers/Microsoft.Web/sites/${name}`,
  name,
  type: 'Microsoft.Web/sites',
  location: 'westeurope',
  ...extra,
});

describe('ARM streaming (injected HttpClient)', () => {
  it('follows nextLink across pages and normalises groups and resources', async () => {
    const { client, requests } = fakeArm((url) => {
      if (url.pathname.endsWith('/resourcegroups')) {
        return {
          status: 200,
          body: {
            value: [
              {
                id: `/subscriptions/${sub}/resourceGroups/RG-Web`,
                name: 'RG-Web',
                location: 'westeurope',
                tags: { env: 'prod' },
              },
            ],
          },
        };
      }
      if (url.searchParams.get('$skiptoken') === '2')
        return { status: 200, body: { value: [resource('app-3')] } };
      return {
        status: 200,
        body: {
          value: [
            resource('app-1', { kind: 'app', sku: { name: 'P1v3' }, tags: { owner: 'web' } }),
            resource('app-2'),
          ],
          nextLink: `https://management.azure.com/subscriptions/${sub}/resources?api-version=2022-09-01&$skiptoken=2`,
        },
      };
    });
    const credential = new StaticCredential();
    const items = [];
    for await (const item of listInventoryItems(
      resourceClient(credential, { cloud, maxRetries: 0, httpClient: client }),
      sub,
    ))
      items.push(item);
    expect(items.map((item) => item.name)).toEqual(['RG-Web', 'app-1', 'app-2', 'app-3']);
    expect(items[0]).toMatchObject({
      type: 'Microsoft.Resources/resourceGroups',
      resourceGroup: 'RG-Web',
      tags: { env: 'prod' },
    });
    expect(items[1]).toMatchObject({
      resourceGroup: 'RG-Web',
      kind: 'app',
      sku: { name: 'P1v3' },
      tags: { owner: 'web' },
      subscriptionId: sub,
    });
    expect(requests).toHaveLength(3);
    expect(
      requests.every((request) => request.headers.get('authorization') === 'Bearer static-test-token'),
    ).toBe(true);
    expect(new Set(credential.scopes)).toEqual(new Set(['https://management.azure.com/.default']));
  });

  it('retries a throttled page after Retry-After (the SDK policy) and completes', async () => {
    const { client, requests } = fakeArm((url, attempt) => {
      if (url.pathname.endsWith('/subscriptions') && attempt === 1) {
        return {
          status: 429,
          body: { error: { code: 'SubscriptionRequestsThrottled', message: 'slow down' } },
          headers: { 'retry-after': '1' },
        };
      }
      return {
        status: 200,
        body: {
          value: [
            { subscriptionId: sub.toUpperCase(), displayName: 'Prod', state: 'Enabled', tenantId: 'T' },
          ],
        },
      };
    });
    const subscriptions = [];
    for await (const subscription of listVisibleSubscriptions(
      resourceClient(new StaticCredential(), { cloud, maxRetries: 3, httpClient: client }),
    )) {
      subscriptions.push(subscription);
    }
    expect(subscriptions).toEqual([
      { subscriptionId: sub, displayName: 'Prod', state: 'Enabled', tenantId: 't' },
    ]);
    expect(requests).toHaveLength(2);
  });

  it('surfaces a refusal with the service code for diagnosis', async () => {
    const { client } = fakeArm(() => ({
      status: 403,
      body: { error: { code: 'AuthorizationFailed', message: 'The client does not have authorization' } },
    }));
    const stream = listInventoryItems(
      resourceClient(new StaticCredential(), { cloud, maxRetries: 0, httpClient: client }),
      sub,
    );
    await expect(stream.next()).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
  });
});

/**
 * The results API's input and odd stored rows, called in core against Azurite (no sandbox, no sweep;
 * rows written with the product's row builders, inventoryRow and changeRow). `top` and `type` are
 * refused before any read; a continuation token is accepted only in the shape the Table SDK issues
 * (base64 JSON with a non-empty string nextPartitionKey and an optional string nextRowKey, at most 4096
 * characters), since the SDK would silently restart at page 1 on anything else, or fail in its
 * serializer (a lone surrogate in a key: a 400, not a 500). Stored tags or SKUs that are not JSON are
 * shown as written, empty or missing ones as none, and a change row without changed fields lists none.
 * Tests only read the rows beforeAll wrote: each runs alone and in any order.
 * test/functions/results-http.test.ts covers the same reads through HTTP after a sandbox sweep.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { InventoryItem } from '../../../src/core/platform/arm.js';
import {
  changeRow,
  contentHash,
  inventoryPartition,
  inventoryRow,
} from '../../../src/core/inventory/inventory.js';
import { listChanges, listInventory } from '../../../src/core/operations/results.js';
import { InputError } from '../../../src/core/platform/errors.js';
import { createRuntime, type FleetRuntime } from '../../../src/core/runtime.js';
import { newRunId } from '../../../src/core/sweep/runs.js';
import { testConfig } from '../../support/provider.js';

const TENANT = 'dddddddd-0000-4000-8000-000000000004';
/** A tenant whose rows were written by older versions or by hand: odd shapes. */
const ODD_TENANT = 'eeeeeeee-0000-4000-8000-000000000005';
const SUB_1 = '11111111-0000-4000-8000-000000000001';
const SUB_2 = '22222222-0000-4000-8000-000000000002';
const NOW = '2026-03-02T08:00:00.000Z';
const RUN_ID = newRunId(new Date(NOW));
const TOKEN_REFUSED = 'continuationToken: is not a token this API returned';

function resource(subscriptionId: string, resourceGroup: string, name: string, type: string): InventoryItem {
  return {
    id: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/${type}/${name}`,
    name,
    type,
    location: 'westeurope',
    resourceGroup,
    subscriptionId,
    tags: {},
  };
}

// In table order: SUB_1's partition (rg-data before rg-web, then by name), then SUB_2's.
const ITEMS = [
  resource(SUB_1, 'rg-data', 'st-1', 'Microsoft.Storage/storageAccounts'),
  resource(SUB_1, 'rg-web', 'app-1', 'Microsoft.Web/sites'),
  resource(SUB_1, 'rg-web', 'app-2', 'Microsoft.Web/sites'),
  resource(SUB_2, 'rg-web', 'app-3', 'Microsoft.Web/sites'),
];

let runtime: FleetRuntime;

function row(
  tenantId: string,
  item: InventoryItem,
): Record<string, unknown> & { partitionKey: string; rowKey: string } {
  const context = { tenantId, runId: RUN_ID, now: NOW };
  return inventoryRow(
    context,
    inventoryPartition(tenantId, item.subscriptionId),
    item,
    contentHash(item),
    NOW,
  );
}

beforeAll(async () => {
  runtime = createRuntime(testConfig(), { log: () => undefined });
  await runtime.storage.ensureResources();
  const inventory = runtime.storage.table(runtime.config.names.inventoryTable);
  for (const item of ITEMS) await inventory.createEntity(row(TENANT, item));

  const odd = (name: string, fields: Record<string, unknown>, without: string[] = []) => {
    const entity = { ...row(ODD_TENANT, resource(SUB_1, 'rg-odd', name, 'Microsoft.Web/sites')), ...fields };
    for (const field of without) delete entity[field];
    return inventory.createEntity(entity);
  };
  await odd('text-tags', { tags: 'owner: ops', sku: 'Standard_LRS' });
  await odd('empty-tags', { tags: '' });
  await odd('no-tags', {}, ['tags']);
  await odd('numeric-tags', { tags: 42 });
  await odd('json-tags', { tags: '{"env":"prod"}', sku: '{"name":"S1"}' });

  const changes = runtime.storage.table(runtime.config.names.changesTable);
  const context = { tenantId: TENANT, runId: RUN_ID, now: NOW };
  const details = { changedFields: '["tags"]', before: '', after: '' };
  await changes.createEntity(changeRow(context, 'modified', ITEMS[0]!, details));
  // A change row of an older version: no changedFields property.
  const legacy = changeRow(context, 'added', ITEMS[1]!, details);
  delete legacy.changedFields;
  await changes.createEntity(legacy);
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

const names = (page: { items: Array<{ name: string }> }): string[] => page.items.map((item) => item.name);
const base64 = (text: string): string => Buffer.from(text).toString('base64');

/** The token listInventory returns after the first `top` rows of TENANT. */
async function tokenAfter(top: number): Promise<string> {
  const { continuationToken } = await listInventory(runtime, TENANT, { top });
  expect(continuationToken).toEqual(expect.any(String));
  return continuationToken!;
}

describe('the inventory listing refuses before reading', () => {
  it.each([0, 1001, 2.5])('top=%s', async (top) => {
    const error = await rejection(listInventory(runtime, TENANT, { top }));
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ field: 'top', message: 'top: must be an integer from 1 to 1000' });
  });

  it.each(['!Microsoft.Web/sites', 'Microsoft.Web/sites!', 'Microsoft.Web', "Microsoft.Web/sites' or true"])(
    'type=%s',
    async (type) => {
      const error = await rejection(listInventory(runtime, TENANT, { type }));
      expect(error).toBeInstanceOf(InputError);
      expect(error).toMatchObject({
        field: 'type',
        message: 'type: must be a resource type such as Microsoft.Compute/virtualMachines',
      });
    },
  );

  it('and filters by a well-formed type in any case', async () => {
    expect(names(await listInventory(runtime, TENANT, { type: 'MICROSOFT.WEB/SITES' }))).toEqual([
      'app-1',
      'app-2',
      'app-3',
    ]);
  });
});

describe('a continuation token', () => {
  it('of up to 4096 characters resumes where its page stopped; one more character is refused', async () => {
    const issued = await tokenAfter(1);
    // The same token, its JSON padded with whitespace to 3070 bytes: 4096 base64 characters, the last
    // two of them `=` padding (a token the SDK issues may end in padding).
    const json = Buffer.from(issued, 'base64').toString('utf8');
    const padded = base64(json.padEnd(3070, ' '));
    expect(padded).toHaveLength(4096);
    expect(padded.endsWith('==')).toBe(true);

    expect(names(await listInventory(runtime, TENANT, { top: 1, continuationToken: issued }))).toEqual([
      'app-1',
    ]);
    expect(names(await listInventory(runtime, TENANT, { top: 1, continuationToken: padded }))).toEqual([
      'app-1',
    ]);
    const error = await rejection(
      listInventory(runtime, TENANT, { top: 1, continuationToken: `${padded}=` }),
    );
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ field: 'continuationToken', message: TOKEN_REFUSED });
  });

  it('without nextRowKey (the SDK leaves an empty one out) resumes at the start of its partition', async () => {
    // After three rows the next is the first of SUB_2's partition.
    const { nextPartitionKey } = JSON.parse(Buffer.from(await tokenAfter(3), 'base64').toString('utf8')) as {
      nextPartitionKey: string;
    };
    const continuationToken = base64(JSON.stringify({ nextPartitionKey }));

    expect(names(await listInventory(runtime, TENANT, { continuationToken }))).toEqual(['app-3']);
  });

  it.each<[string, (issued: string) => string]>([
    ['a character outside base64 before it', (issued) => `!${issued}`],
    ['a character outside base64 after it', (issued) => `${issued}!`],
    ['JSON null', () => base64('null')],
    ['a JSON array', () => base64('["p"]')],
    ['a JSON string', () => base64('"p"')],
    ['no nextPartitionKey', () => base64('{}')],
    ['an empty nextPartitionKey', () => base64('{"nextPartitionKey":""}')],
    ['a numeric nextPartitionKey', () => base64('{"nextPartitionKey":5}')],
    [
      'a numeric nextRowKey',
      (issued) =>
        base64(
          JSON.stringify({
            ...(JSON.parse(Buffer.from(issued, 'base64').toString('utf8')) as object),
            nextRowKey: 5,
          }),
        ),
    ],
    ['text that is not JSON', () => base64('not json')],
    ['a lone surrogate in nextPartitionKey', () => base64('{"nextPartitionKey":"\\ud800"}')],
  ])('with %s is refused', async (_, token) => {
    const continuationToken = token(await tokenAfter(1));
    const error = await rejection(listInventory(runtime, TENANT, { top: 1, continuationToken }));
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ field: 'continuationToken', message: TOKEN_REFUSED });
  });
});

describe('rows of odd shapes', () => {
  it('show tags and SKU as written when not JSON, and no tags when empty, missing or not text', async () => {
    const { items } = await listInventory(runtime, ODD_TENANT);
    expect(Object.fromEntries(items.map((item) => [item.name, { tags: item.tags, sku: item.sku }]))).toEqual({
      'text-tags': { tags: 'owner: ops', sku: 'Standard_LRS' },
      'empty-tags': { tags: {}, sku: undefined },
      'no-tags': { tags: {}, sku: undefined },
      'numeric-tags': { tags: {}, sku: undefined },
      'json-tags': { tags: { env: 'prod' }, sku: { name: 'S1' } },
    });
  });

  it('list a change row without changed fields as changing none', async () => {
    const { items } = await listChanges(runtime, TENANT, { runId: RUN_ID });
    expect(Object.fromEntries(items.map((item) => [item.name, item.changedFields]))).toEqual({
      'st-1': ['tags'],
      'app-1': [],
    });
  });
});

/**
 * The sandbox ARM's single-resource GET, `$expand` and `$filter` rules, as documented, through the real
 * SDK client. Sources:
 * - GET by id: https://learn.microsoft.com/rest/api/resources/resources/get-by-id
 * - `$filter` and `$expand` on Resources - List: https://learn.microsoft.com/rest/api/resources/resources/list
 *   ("When you filter by a tag name and value, the tags for each resource are not returned in the
 *   results"; eq/ne on location, resourceType, name, resourceGroup; substringof on name and
 *   resourceGroup; "Valid values include createdTime, changedTime and provisioningState").
 */
import { ResourceManagementClient } from '@azure/arm-resources';
import type { RestError } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceId } from '../../sandbox/state.js';
import { quirksWorld } from '../support/quirks-world.js';
import { MintingCredential, startArm, type ArmFixture } from './arm.fixture.js';

const { world, ids } = quirksWorld();
const resources = world.resources!;
let arm: ArmFixture;

function client(): ResourceManagementClient {
  const credential = new MintingCredential(arm.keys, {
    tenantId: ids.tenantId,
    objectId: ids.readerObjectId,
  });
  return new ResourceManagementClient(credential, ids.subscriptionId, {
    endpoint: arm.endpoint,
    credentials: { scopes: ['https://management.azure.com/.default'] },
    tlsOptions: { ca: arm.caCertPem },
    retryOptions: { maxRetries: 0 },
  });
}

async function list(filter?: string, expand?: string) {
  const found = [];
  for await (const r of client().resources.list({
    ...(filter ? { filter } : {}),
    ...(expand ? { expand } : {}),
  }))
    found.push(r);
  return found;
}

async function refusal(promise: Promise<unknown>): Promise<RestError> {
  try {
    await promise;
  } catch (error) {
    return error as RestError;
  }
  throw new Error('expected a refusal');
}

const idOf = (name: string): string =>
  resourceId({ ...resources.find((r) => r.name === name)!, resourceGroup: ids.group });

beforeAll(async () => {
  arm = await startArm(world);
});
afterAll(async () => {
  await arm.close();
});

describe('sandbox ARM: GET by id', () => {
  it('answers a resource by its id (any casing) with provisioningState', async () => {
    const vm = await client().resources.getById(idOf('vm-web-01').toLowerCase(), '2024-07-01');
    expect(vm.name).toBe('vm-web-01');
    expect(vm.type?.toLowerCase()).toBe('microsoft.compute/virtualmachines');
    expect(vm.tags).toEqual({ env: 'prod' });
    expect((vm.properties as { provisioningState?: string }).provisioningState).toBe('Succeeded');
  });

  it('answers 404 ResourceNotFound for an absent resource', async () => {
    const error = await refusal(
      client().resources.getById(idOf('vm-web-01').replace('vm-web-01', 'vm-nope'), '2024-07-01'),
    );
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe('ResourceNotFound');
  });
});

describe('sandbox ARM: $expand', () => {
  it('adds createdTime, changedTime and provisioningState when asked, and moves changedTime on a change', async () => {
    expect((await list())[0]!.changedTime).toBeUndefined();
    const first = (await list(undefined, 'createdTime,changedTime,provisioningState')).find(
      (r) => r.name === 'pip-web',
    )!;
    expect(first.createdTime).toBeInstanceOf(Date);
    expect(first.changedTime).toBeInstanceOf(Date);
    expect(first.provisioningState).toBe('Succeeded');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const pip = resources.find((r) => r.name === 'pip-web')!;
    arm.store.upsertResource({ ...pip, tags: { ...pip.tags, reviewed: 'yes' } });
    const second = (await list(undefined, 'createdTime,changedTime')).find((r) => r.name === 'pip-web')!;
    expect(second.createdTime).toEqual(first.createdTime);
    expect(second.changedTime!.getTime()).toBeGreaterThan(first.changedTime!.getTime());
  });
});

describe('sandbox ARM: $filter as documented', () => {
  it('returns resources found by tag without their tags', async () => {
    const found = await list("tagName eq 'env' and tagValue eq 'prod'");
    expect(found.map((r) => r.name).sort()).toEqual(['pip-web', 'vm-web-01']);
    for (const r of found) expect(r.tags).toBeUndefined();
  });

  it('accepts substringof on resourceGroup and ne on location', async () => {
    expect(await list(`substringof('web', resourceGroup)`)).toHaveLength(resources.length);
    expect((await list("location ne 'westeurope'")).map((r) => r.name)).toEqual(['kv-web']);
    expect(
      (await list("substringof('vm', name) and resourceType eq 'Microsoft.Compute/virtualMachines'")).map(
        (r) => r.name,
      ),
    ).toEqual(['vm-web-01']);
  });

  it('refuses a tag condition combined with another property', async () => {
    const error = await refusal(list("tagName eq 'env' and location eq 'westeurope'"));
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('InvalidFilterInQueryString');
  });
});

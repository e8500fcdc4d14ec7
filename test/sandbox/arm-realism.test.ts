/**
 * Real ARM's casing quirks, on by default in the sandbox (sandbox/arm/realism.ts), seen through the
 * real SDK client. Sources:
 * - VM and disk ids carry the resource group upper-cased: https://github.com/MicrosoftDocs/azure-docs/issues/36222,
 *   https://github.com/Azure/azure-powershell/issues/13516, https://github.com/Azure/azure-rest-api-specs/issues/14192
 * - id casing is not consistent between calls: https://github.com/Azure/azure-sdk-for-java/issues/1508;
 *   names are case-insensitive: https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
 * - locations come back normalised (`westeurope`), the form every ARM list shows:
 *   https://learn.microsoft.com/rest/api/resources/resources/list (examples)
 */
import { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quirksWorld } from '../support/quirks-world.js';
import { MintingCredential, startArm, type ArmFixture } from './arm.fixture.js';

const { world, ids } = quirksWorld();
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
  });
}

async function listing(): Promise<Array<{ id: string; type: string; location: string }>> {
  const found: Array<{ id: string; type: string; location: string }> = [];
  for await (const r of client().resources.list())
    found.push({ id: r.id!, type: r.type!, location: r.location! });
  return found;
}

beforeAll(async () => {
  arm = await startArm(world);
});
afterAll(async () => {
  await arm.close();
});

describe('sandbox ARM casing realism (default)', () => {
  it('upper-cases the resource group in the ids of VMs and disks', async () => {
    const compute = (await listing()).filter((r) => r.type.toLowerCase().startsWith('microsoft.compute/'));
    expect(compute).toHaveLength(2);
    for (const r of compute) expect(r.id).toContain(`/resourceGroups/${ids.group.toUpperCase()}/`);
  });

  it('spells the same resources differently from one listing to the next, and namespaces in both cases', async () => {
    const passes = [];
    for (let i = 0; i < 6; i++) passes.push(await listing());
    const lowered = passes.map((pass) => pass.map((r) => r.id.toLowerCase()).sort());
    for (const pass of lowered) expect(pass).toEqual(lowered[0]);
    const spellings = new Set(
      passes.map((pass) =>
        pass
          .map((r) => r.id)
          .sort()
          .join('|'),
      ),
    );
    expect(spellings.size).toBeGreaterThan(1);
    const types = passes.flat().map((r) => r.type);
    expect(types.some((t) => t.startsWith('microsoft.'))).toBe(true);
    expect(types.some((t) => t.startsWith('Microsoft.'))).toBe(true);
  });

  it('answers locations normalised even when the world has a display name', async () => {
    arm.store.upsertResource({ ...world.resources![2]!, location: 'West Europe' });
    const pip = (await listing()).find((r) => r.id.toLowerCase().endsWith('/pip-web'))!;
    expect(pip.location).toBe('westeurope');
  });

  it('answers ids exactly as the world has them with realism off', async () => {
    arm.setSettings({ realism: false });
    try {
      const all = await listing();
      expect(all.every((r) => r.id.includes(`/resourceGroups/${ids.group}/providers/Microsoft.`))).toBe(true);
    } finally {
      arm.setSettings({ realism: true });
    }
  });
});

/**
 * A small world for the tests of real ARM's quirks (casing, locations, single GETs, $expand): one
 * tenant, one subscription, a reader principal, a mixed-case resource group holding a VM, a disk, a
 * public IP, a storage account and a web app.
 */
import type { WorldInput } from '../../sandbox/world.js';
import { testGuid } from './identity-world.js';

export interface QuirksWorldIds {
  tenantId: string;
  subscriptionId: string;
  readerObjectId: string;
  group: string;
}

export function quirksWorld(ids: Partial<QuirksWorldIds> = {}): { world: WorldInput; ids: QuirksWorldIds } {
  const all: QuirksWorldIds = {
    tenantId: ids.tenantId ?? testGuid(1, 61),
    subscriptionId: ids.subscriptionId ?? testGuid(2, 61),
    readerObjectId: ids.readerObjectId ?? testGuid(4, 61),
    group: ids.group ?? 'rg-Web',
  };
  const resource = (name: string, type: string, extra: Record<string, unknown> = {}) => ({
    subscriptionId: all.subscriptionId,
    resourceGroup: all.group,
    name,
    type,
    location: 'westeurope',
    ...extra,
  });
  return {
    ids: all,
    world: {
      tenants: [{ id: all.tenantId, displayName: 'Quirks' }],
      roleAssignments: [
        {
          principalId: all.readerObjectId,
          roleDefinitionName: 'Reader',
          scope: `/subscriptions/${all.subscriptionId}`,
        },
      ],
      subscriptions: [
        { subscriptionId: all.subscriptionId, tenantId: all.tenantId, displayName: 'Quirks prod' },
      ],
      resourceGroups: [{ subscriptionId: all.subscriptionId, name: all.group, location: 'westeurope' }],
      resources: [
        resource('vm-web-01', 'Microsoft.Compute/virtualMachines', { tags: { env: 'prod' } }),
        resource('vm-web-01_OsDisk_1', 'Microsoft.Compute/disks', { sku: { name: 'Premium_LRS' } }),
        resource('pip-web', 'Microsoft.Network/publicIPAddresses', { tags: { env: 'prod', team: 'web' } }),
        resource('app-web', 'Microsoft.Web/sites', { kind: 'app' }),
        resource('kv-web', 'Microsoft.KeyVault/vaults', { location: 'northeurope' }),
        resource('law-web', 'Microsoft.OperationalInsights/workspaces'),
        resource('nsg-web', 'Microsoft.Network/networkSecurityGroups'),
        resource('vnet-web', 'Microsoft.Network/virtualNetworks'),
      ],
    },
  };
}

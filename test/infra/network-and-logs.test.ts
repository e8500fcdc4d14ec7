/**
 * Provider-side hardening of issue 11 in the templates: the least storage data roles for the provider identity,
 * the option that closes storage and the Function App to public networks, and the diagnostic settings that send
 * the Function App's and the storage services' logs to Log Analytics.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createBicepParser,
  declarations,
  modules,
  nodesOfType,
  propertiesOf,
  resources,
  stringLiterals,
  type BicepTemplate,
  type ModuleDeclaration,
} from '../support/bicep.js';
import { loadInfraTemplates, templateNamed } from './templates.js';

let templates: BicepTemplate[];
const template = (file: string): BicepTemplate => templateNamed(templates, file);
const compact = (text: string | undefined): string => (text ?? '').replace(/\s+/g, '');
/** The `params` of the module call `name` in `file`, as key to compacted source text. */
const params = (file: string, name: string): Map<string, string> => {
  const call: ModuleDeclaration | undefined = modules(template(file)).find((m) => m.name === name);
  const object = call?.body ? propertiesOf(call.body).get('params') : undefined;
  if (!object) throw new Error(`no module ${name} in ${file}`);
  return new Map([...propertiesOf(object)].map(([key, value]) => [key, compact(value.text)]));
};

beforeAll(async () => {
  templates = loadInfraTemplates(await createBicepParser());
});

describe('storage data roles of the provider identity', () => {
  it('Blob Data Owner only where the Functions host requires it: on the one storage account, with the reason', () => {
    const owners = templates.filter((t) => t.source.includes('builtInRoleIds.storageBlobDataOwner'));
    expect(owners.map((t) => t.file)).toEqual(['infra/app/rbac.bicep']);
    const rbac = template('infra/app/rbac.bicep');
    const assignment = resources(rbac).find((r) => r.name === 'storageDataRoles')!;
    expect(propertiesOf(assignment.body!).get('scope')?.text).toBe('storageAccount');
    const account = resources(rbac).find((r) => r.name === 'storageAccount')!;
    expect(account.existing).toBe(true);
    expect(account.type).toMatch(/^Microsoft\.Storage\/storageAccounts@/);
    expect(rbac.source).toMatch(/Blob Data Owner, not Contributor: the Functions host requires it/);
    expect(rbac.source).toMatch(/Connecting to host storage with an identity/);
    // No Contributor-level blob role on top of Owner, and nothing wider than data roles plus telemetry.
    const ids = declarations(rbac).find((d) => d.name === 'storageDataRoleIds')!.node.text;
    expect(ids).not.toContain('storageBlobDataContributor');
  });
});

describe('restrictPublicNetworkAccess', () => {
  it('is a main.bicep parameter, off by default, that adds the network only when set', () => {
    const main = template('infra/main.bicep');
    expect(main.source).toContain('param restrictPublicNetworkAccess bool = false');
    const network = modules(main).find((m) => m.name === 'network')!;
    expect(network.node.text).toMatch(/= if \(restrictPublicNetworkAccess\) \{/);
    for (const name of ['storage', 'api']) {
      expect(params('infra/main.bicep', name).get('restrictPublicNetworkAccess'), name).toBe(
        'restrictPublicNetworkAccess',
      );
    }
  });

  it('closes the storage account: public access Disabled, default Deny, private endpoints for blob, queue, table', () => {
    const account = params('infra/app/storage.bicep', 'account');
    expect(account.get('publicNetworkAccess')).toBe("restrictPublicNetworkAccess?'Disabled':'Enabled'");
    expect(account.get('networkAcls')).toBe(
      "{defaultAction:restrictPublicNetworkAccess?'Deny':'Allow'bypass:'AzureServices'}",
    );
    expect(account.get('privateEndpoints')).toBe('restrictPublicNetworkAccess?privateEndpoints:[]');
    const endpoints = declarations(template('infra/app/storage.bicep')).find(
      (d) => d.name === 'privateEndpoints',
    )!;
    expect(compact(endpoints.node.text)).toContain("forservicein['blob','queue','table']");
    expect(compact(endpoints.node.text)).toContain('privateDnsZoneResourceId:privateDnsZoneIds[service]');
  });

  it('closes the Function App: public access Disabled, VNet integration, a private endpoint for sites', () => {
    const site = params('infra/app/api.bicep', 'site');
    expect(site.get('publicNetworkAccess')).toBe("restrictPublicNetworkAccess?'Disabled':'Enabled'");
    expect(site.get('virtualNetworkSubnetResourceId')).toBe(
      'restrictPublicNetworkAccess?functionsSubnetId:null',
    );
    expect(site.get('privateEndpoints')).toMatch(
      /^restrictPublicNetworkAccess\?\[\{service:'sites'subnetResourceId:privateEndpointsSubnetId/,
    );
  });

  it('the network has a subnet delegated to Microsoft.App/environments and DNS zones for every endpoint', () => {
    const network = template('infra/app/network.bicep');
    expect(stringLiterals(network.root).map((l) => l.value)).toContain('Microsoft.App/environments');
    const zones = declarations(network).find((d) => d.name === 'storageZones')!.node.text;
    for (const service of ['blob', 'queue', 'table']) {
      expect(zones).toContain(`privatelink.${service}.\${environment().suffixes.storage}`);
    }
    expect(declarations(network).find((d) => d.name === 'zoneNames')!.node.text).toContain(
      'sitePrivateDnsZone',
    );
    expect(resources(network).map((r) => r.type)).toEqual([
      'Microsoft.Network/virtualNetworks@2024-05-01',
      'Microsoft.Network/privateDnsZones@2024-06-01',
      'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01',
    ]);
  });
});

describe('diagnostic settings to Log Analytics', () => {
  it('the Function App sends FunctionAppLogs and AppServiceAuthenticationLogs (by default) to the workspace', () => {
    const main = template('infra/main.bicep');
    const defaults = declarations(main).find((d) => d.name === 'functionAppLogCategories')!;
    expect(stringLiterals(nodesOfType(defaults.node, 'array')[0]!).map((l) => l.value)).toEqual([
      'FunctionAppLogs',
      'AppServiceAuthenticationLogs',
    ]);
    expect(params('infra/main.bicep', 'api').get('logCategories')).toBe('functionAppLogCategories');
    expect(params('infra/main.bicep', 'api').get('logAnalyticsWorkspaceResourceId')).toBe(
      'monitoring.outputs.logAnalyticsWorkspaceResourceId',
    );
    const settings = params('infra/app/api.bicep', 'site').get('diagnosticSettings');
    expect(settings).toContain('workspaceResourceId:logAnalyticsWorkspaceResourceId');
    expect(settings).toContain('logCategoriesAndGroups:[forcategoryinlogCategories:{category:category}]');
  });

  it('the storage account sends blob, queue and table reads, writes and deletes to the workspace', () => {
    const storage = template('infra/app/storage.bicep');
    const logs = declarations(storage).find((d) => d.name === 'dataLogs')!;
    expect(compact(logs.node.text)).toContain('workspaceResourceId:logAnalyticsWorkspaceResourceId');
    expect(stringLiterals(logs.node).map((l) => l.value)).toEqual([
      'to-log-analytics',
      'StorageRead',
      'StorageWrite',
      'StorageDelete',
    ]);
    const account = params('infra/app/storage.bicep', 'account');
    for (const service of ['blobServices', 'queueServices', 'tableServices']) {
      expect(account.get(service), service).toContain('diagnosticSettings:dataLogs');
    }
    expect(params('infra/main.bicep', 'storage').get('logAnalyticsWorkspaceResourceId')).toBe(
      'monitoring.outputs.logAnalyticsWorkspaceResourceId',
    );
    // The workspace id comes from the monitoring module's output, which the interface check ties to AVM's.
    expect(
      nodesOfType(template('infra/app/monitoring.bicep').root, 'output_declaration').map((o) => o.text),
    ).toContain('output logAnalyticsWorkspaceResourceId string = workspace.outputs.resourceId');
  });
});

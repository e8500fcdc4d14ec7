/**
 * Offline checks of the deployment (issue 4): every Bicep file parses (tree-sitter-bicep), the templates
 * keep their security invariants, role ids match Microsoft's documented built-in roles, azure.yaml is
 * valid for azd, and the provider hook and customer onboarding script behave as documented.
 * The Bicep compiler and Azure are out of reach here: what needs them is listed in docs/testing.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  PROVIDER_REQUIRED_SETTINGS,
  checkRequiredSettings,
  checkRoleIdsOutsideMap,
  checkTemplate,
  createBicepParser,
  declarations,
  moduleReferences,
  modules,
  nodesOfType,
  objectProperties,
  propertiesOf,
  resources,
  stringLiterals,
  stringValue,
  type BicepParse,
  type BicepTemplate,
} from '../support/bicep.js';
import { installFakeAz, type FakeAz } from './fake-az.js';
import {
  describeViolations,
  infraDir,
  loadInfraTemplates,
  repoRoot,
  templateNamed,
  variableObject,
} from './templates.js';

// CI clones the repository with the shared folder beside it.
const azureYamlSchemaPath = path.resolve(repoRoot, '../shared/schemas/azure.yaml.json');
const ROLE_MAP_FILE = 'infra/shared/built-in-roles.bicep';

/**
 * Azure built-in role ids as documented by Microsoft
 * (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles), checked 2026-11-23.
 */
const DOCUMENTED_BUILT_IN_ROLES: Record<string, string> = {
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  'Storage Blob Data Reader': '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
};

/** Keys of the Bicep role map and the documented role each one stands for. */
const ROLE_MAP_KEYS: Record<string, string> = {
  reader: 'Reader',
  storageBlobDataOwner: 'Storage Blob Data Owner',
  storageBlobDataContributor: 'Storage Blob Data Contributor',
  storageBlobDataReader: 'Storage Blob Data Reader',
  storageQueueDataContributor: 'Storage Queue Data Contributor',
  storageTableDataContributor: 'Storage Table Data Contributor',
  monitoringMetricsPublisher: 'Monitoring Metrics Publisher',
};

/** App settings src/core/platform/config.ts reads in Azure. */
const APP_SETTINGS = [
  'TENANT_FLEET_CLOUD',
  'TENANT_FLEET_MI_CLIENT_ID',
  'TENANT_FLEET_APP_CLIENT_ID',
  'TENANT_FLEET_SWEEP_SCHEDULE',
  'TENANT_FLEET_HTTP_AUTH',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'AzureWebJobsStorage__blobServiceUri',
  'AzureWebJobsStorage__queueServiceUri',
  'AzureWebJobsStorage__tableServiceUri',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
];

/** Reads a JSON file that may carry // comments (bicepconfig.json does). */
function readJsonWithComments(file: string): unknown {
  const text = readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '');
  return JSON.parse(text) as unknown;
}

let parse: BicepParse;
let templates: BicepTemplate[];
const template = (file: string): BicepTemplate => templateNamed(templates, file);
const providerTemplates = (): BicepTemplate[] =>
  templates.filter((candidate) => !candidate.file.startsWith('infra/customer/'));
const customerTemplates = (): BicepTemplate[] =>
  templates.filter((candidate) => candidate.file.startsWith('infra/customer/'));

beforeAll(async () => {
  parse = await createBicepParser();
  templates = loadInfraTemplates(parse);
});

describe('Bicep files parse', () => {
  it('finds the provider and customer templates', () => {
    expect(templates.map((t) => t.file)).toEqual([
      'infra/app/api.bicep',
      'infra/app/entra.bicep',
      'infra/app/monitoring.bicep',
      'infra/app/network.bicep',
      'infra/app/rbac.bicep',
      'infra/app/storage.bicep',
      'infra/customer/management-group.bicep',
      'infra/customer/storage-account-grant.bicep',
      'infra/customer/subscription.bicep',
      'infra/main.bicep',
      'infra/shared/built-in-roles.bicep',
    ]);
  });

  it('parses every .bicep file under infra/ with tree-sitter-bicep without an error node', () => {
    const problems = templates.flatMap((t) =>
      t.syntaxProblems.map((p) => `${t.file}:${p.line}:${p.column} ${p.kind}: ${p.text}`),
    );
    expect(problems.join('\n')).toBe('');
  });

  it('reports the position of a syntax error', () => {
    const broken = parse(
      "param ok string = 'a'\nresource r 'x@1' = {\n  name: 'a'\n  properties: {\n}\n",
      'broken.bicep',
    );
    expect(broken.syntaxProblems.length).toBeGreaterThan(0);
    expect(broken.syntaxProblems[0]!.line).toBeGreaterThanOrEqual(2);
    expect(checkTemplate(broken).map((v) => v.rule)).toContain('syntax');
  });

  it('uses only extensions declared in bicepconfig.json and pinned to an exact version', () => {
    const config = readJsonWithComments(path.join(infraDir, 'bicepconfig.json')) as {
      extensions: Record<string, string>;
    };
    const used = templates.flatMap((t) => t.extensionAliases);
    expect(used).toEqual(['microsoftGraphV1']);
    expect(config.extensions.microsoftGraphV1).toBe(
      'br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0',
    );
    for (const alias of used) expect(config.extensions[alias]).toMatch(/:\d+\.\d+\.\d+$/);
  });
});

describe('security invariants', () => {
  it('no template breaks a per-file rule (keys, secrets, @secure, descriptions, pinning, role assignments)', () => {
    const violations = [
      ...providerTemplates().flatMap((t) =>
        checkTemplate(t, {
          roleAssignmentScopeTypes: ['Microsoft.Storage/storageAccounts', 'Microsoft.Insights/components'],
        }),
      ),
      ...customerTemplates().flatMap((t) => checkTemplate(t)),
    ];
    expect(describeViolations(violations)).toBe('');
  });

  it('the provider templates carry every required security setting, and never a weaker value', () => {
    expect(describeViolations(checkRequiredSettings(providerTemplates(), PROVIDER_REQUIRED_SETTINGS))).toBe(
      '',
    );
  });

  it('the checker catches a deliberately bad template', () => {
    const bad = parse(
      [
        'param noDescription string',
        '@secure()',
        "@description('a secret in, which Tenant Fleet never needs')",
        'param adminPassword string',
        "module site 'br/public:avm/res/web/site:0.24' = {",
        "  name: 'site'",
        '  params: {}',
        '}',
        "resource st 'Microsoft.Storage/storageAccounts@2025-06-01' = {",
        "  name: 'st'",
        '  properties: {',
        '    allowSharedKeyAccess: true',
        "    minimumTlsVersion: 'TLS1_0'",
        '  }',
        '}',
        "resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {",
        "  name: 'fixed-name'",
        '  properties: {',
        "    roleDefinitionId: '/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7'",
        "    principalId: 'p'",
        '  }',
        '}',
        'var settings = {',
        "  AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountName=st;AccountKey=${st.listKeys().keys[0].value}'",
        "  clientSecret: 'x'",
        "  authority: 'https://login.microsoftonline.com/common'",
        '}',
        'output primaryKey string = st.listKeys().keys[0].value',
        'output s object = settings',
      ].join('\n'),
      'bad.bicep',
    );
    expect(bad.syntaxProblems).toEqual([]);
    const violations = [
      ...checkTemplate(bad, { roleAssignmentScopeTypes: ['Microsoft.Storage/storageAccounts'] }),
      ...checkRequiredSettings([bad], PROVIDER_REQUIRED_SETTINGS),
      ...checkRoleIdsOutsideMap([bad], Object.values(DOCUMENTED_BUILT_IN_ROLES), ROLE_MAP_FILE),
    ];
    const rules = new Set(violations.map((v) => v.rule));
    expect([...rules].sort()).toEqual([
      'no-hardcoded-cloud-urls',
      'no-key-material',
      'no-list-functions',
      'no-secret-names',
      'no-secret-properties',
      'no-secure-declarations',
      'param-description',
      'pinned-module',
      'required-setting',
      'role-assignment',
      'role-assignment-scope',
      'role-id-outside-map',
    ]);
    const messages = describeViolations(violations);
    expect(messages).toContain("param 'noDescription' has no @description");
    expect(messages).toContain('listKeys() reads keys or secrets');
    expect(messages).toContain("property 'AzureWebJobsStorage' carries a secret");
    expect(messages).toContain("property 'clientSecret' carries a secret");
    expect(messages).toContain("output 'primaryKey' is named like a secret");
    expect(messages).toContain('name must be guid(scope, principal, role)');
    expect(messages).toContain('principalType is not set');
    expect(messages).toContain('allowSharedKeyAccess is true, must be false');
    expect(messages).toContain("minimumTlsVersion is 'TLS1_0', must be 'TLS1_2'");
    expect(messages).toContain('requireHttps');
    // Every violation points at a real line of the snippet, not at "somewhere".
    for (const violation of violations.filter((v) => v.rule !== 'required-setting')) {
      expect(violation.line).toBeGreaterThan(0);
    }
  });

  it('no parameter or output of the provider or customer templates is @secure or key-bearing', () => {
    const secure = templates.flatMap((t) =>
      declarations(t)
        .filter((d) => (d.kind === 'param' || d.kind === 'output') && d.decorators.includes('secure'))
        .map((d) => `${t.file}: ${d.name}`),
    );
    expect(secure).toEqual([]);
  });
});

/** The text of the first argument of decorator `name` on a top-level declaration, e.g. '40' for @minValue(40). */
function decoratorArgument(bicep: BicepTemplate, declarationName: string, name: string): string | undefined {
  const declaration = declarations(bicep).find((d) => d.name === declarationName);
  if (!declaration) throw new Error(`${declarationName} is not declared in ${bicep.file}`);
  return declaration.decoratorCalls.find((call) => call.name === name)?.args[0]?.text;
}

describe('Flex Consumption accepts the Function App (issue 16)', () => {
  it('no Flex app sets siteConfig.ftpsState (error 51021); FTP and SCM basic auth stay off by policy', () => {
    const violations = providerTemplates().flatMap((t) =>
      checkTemplate(t).filter((v) => v.rule === 'flex-consumption'),
    );
    expect(describeViolations(violations)).toBe('');
    const api = template('infra/app/api.bicep');
    expect(objectProperties(api.root).some((p) => p.key === 'functionAppConfig')).toBe(true);
    expect(objectProperties(api.root).some((p) => p.key === 'ftpsState')).toBe(false);
    const policies = objectProperties(api.root).find((p) => p.key === 'basicPublishingCredentialsPolicies');
    const entries = nodesOfType(policies!.value, 'object').map((policy) =>
      Object.fromEntries([...propertiesOf(policy)].map(([k, v]) => [k, v.text])),
    );
    expect(entries).toEqual([
      { name: "'ftp'", allow: 'false' },
      { name: "'scm'", allow: 'false' },
    ]);
  });

  it('the check flags ftpsState and alwaysOn on a Flex app and a maximumInstanceCount outside 40..1000', () => {
    const flex = parse(
      [
        "module site 'br/public:avm/res/web/site:0.24.0' = {",
        "  name: 'site'",
        '  params: {',
        '    functionAppConfig: {',
        '      scaleAndConcurrency: {',
        '        maximumInstanceCount: 39',
        '      }',
        '    }',
        '    siteConfig: {',
        "      ftpsState: 'Disabled'",
        '      alwaysOn: true',
        '    }',
        '  }',
        '}',
        // Not a Flex app (no functionAppConfig): ftpsState is fine there.
        "module web 'br/public:avm/res/web/site:0.24.0' = {",
        "  name: 'web'",
        "  params: { siteConfig: { ftpsState: 'Disabled' } }",
        '}',
      ].join('\n'),
      'flex.bicep',
    );
    const flagged = checkTemplate(flex).filter((v) => v.rule === 'flex-consumption');
    expect(flagged.map((v) => v.line)).toEqual([10, 11, 6]);
    expect(describeViolations(flagged)).toContain('refused on Flex Consumption (51021)');
    expect(describeViolations(flagged)).toContain(
      "maximumInstanceCount 39 is outside Flex Consumption's 40..1000",
    );
  });

  it('maximumInstanceCount is bounded to 40..1000 where it enters (main.bicep) and where it is used (api.bicep)', () => {
    for (const file of ['infra/main.bicep', 'infra/app/api.bicep']) {
      const bicep = template(file);
      expect(decoratorArgument(bicep, 'maximumInstanceCount', 'minValue'), file).toBe('40');
      expect(decoratorArgument(bicep, 'maximumInstanceCount', 'maxValue'), file).toBe('1000');
    }
    const main = template('infra/main.bicep');
    const defaultValue = /param maximumInstanceCount int = (\d+)/.exec(main.source)?.[1];
    expect(Number(defaultValue)).toBeGreaterThanOrEqual(40);
    expect(Number(defaultValue)).toBeLessThanOrEqual(1000);
  });
});

describe('built-in role ids', () => {
  it('the one role map matches the documented built-in role ids, entry by entry', () => {
    const map = template(ROLE_MAP_FILE);
    const declaration = declarations(map).find((d) => d.name === 'builtInRoleIds');
    expect(declaration?.kind).toBe('var');
    expect(declaration?.decorators).toEqual(['export', 'description']);
    const entries = Object.fromEntries(
      [...variableObject(map, 'builtInRoleIds')].map(([key, value]) => [key, value.replace(/'/g, '')]),
    );
    expect(Object.keys(entries).sort()).toEqual(Object.keys(ROLE_MAP_KEYS).sort());
    for (const [key, id] of Object.entries(entries)) {
      expect(id, key).toBe(DOCUMENTED_BUILT_IN_ROLES[ROLE_MAP_KEYS[key]!]);
    }
  });

  it('every entry of the map carries a comment saying what the role is for', () => {
    const lines = template(ROLE_MAP_FILE).source.split('\n');
    const entryLines = lines
      .map((line, index) => ({ line, index }))
      .filter(({ line }) => /^\s+[a-zA-Z]+: '[0-9a-f-]{36}'$/.test(line));
    expect(entryLines).toHaveLength(Object.keys(ROLE_MAP_KEYS).length);
    for (const { index } of entryLines) expect(lines[index - 1]).toMatch(/^\s+\/\/ \S/);
  });

  it('no other template writes a role id: they all import the map', () => {
    const violations = checkRoleIdsOutsideMap(
      templates,
      Object.values(DOCUMENTED_BUILT_IN_ROLES),
      ROLE_MAP_FILE,
    );
    expect(describeViolations(violations)).toBe('');
    for (const file of [
      'infra/app/rbac.bicep',
      'infra/customer/subscription.bicep',
      'infra/customer/management-group.bicep',
    ]) {
      expect(template(file).source).toContain(
        "import { builtInRoleIds } from '../shared/built-in-roles.bicep'",
      );
    }
  });

  it('the provider identity gets data roles only (storage) plus metrics publishing, nothing control-plane', () => {
    const used = new Set(
      nodesOfType(template('infra/app/rbac.bicep').root, 'member_expression')
        .map((node) => node.text)
        .filter((text) => text.startsWith('builtInRoleIds.'))
        .map((text) => text.slice('builtInRoleIds.'.length)),
    );
    expect([...used].sort()).toEqual([
      'monitoringMetricsPublisher',
      'storageBlobDataOwner',
      'storageQueueDataContributor',
      'storageTableDataContributor',
    ]);
  });

  it('customers grant Reader and at most one blob data role', () => {
    for (const file of ['infra/customer/subscription.bicep', 'infra/customer/management-group.bicep']) {
      const bicep = template(file);
      const blobRoles = variableObject(bicep, 'blobRoleIds');
      expect([...blobRoles.keys()]).toEqual(['None', 'Reader', 'Contributor']);
      expect(blobRoles.get('None')).toBe('[]');
      expect(blobRoles.get('Reader')).toContain('builtInRoleIds.storageBlobDataReader');
      expect(blobRoles.get('Contributor')).toContain('builtInRoleIds.storageBlobDataContributor');
      // Reader on the scope, plus the blob role on the scope unless storage accounts are listed.
      expect(bicep.source).toContain(
        'concat([builtInRoleIds.reader], perAccount ? [] : blobRoleIds[blobDataAccess])',
      );
      const assignments = resources(bicep).filter((r) =>
        r.type.startsWith('Microsoft.Authorization/roleAssignments@'),
      );
      expect(assignments).toHaveLength(1);
      const principalType = objectProperties(bicep.root).find((p) => p.key === 'principalType');
      expect(principalType?.value.text).toBe("'ServicePrincipal'");
    }
    expect(template('infra/customer/management-group.bicep').source).toMatch(
      /targetScope = 'managementGroup'/,
    );
    expect(template('infra/customer/management-group.bicep').source).toContain('managementGroupResourceId(');
    expect(template('infra/customer/subscription.bicep').source).toMatch(/targetScope = 'subscription'/);
  });
});

describe('provider resources', () => {
  it('every local module path exists (registry modules are checked against their fixtures in interfaces.test.ts)', () => {
    // Local paths are relative to the calling template.
    const local = templates.flatMap((t) =>
      moduleReferences(t)
        .filter((m) => !m.path.startsWith('br'))
        .map((m) => path.join(repoRoot, path.dirname(t.file), m.path)),
    );
    expect(local.length).toBeGreaterThan(0);
    for (const file of local) expect(existsSync(file), file).toBe(true);
  });

  it('main.bicep deploys at subscription scope with azd tags and UPPER_SNAKE outputs', () => {
    const main = template('infra/main.bicep');
    expect(main.source).toMatch(/^targetScope = 'subscription'$/m);
    expect(
      objectProperties(main.root).some((p) => p.key === 'azd-env-name' && p.value.text === 'environmentName'),
    ).toBe(true);
    const api = template('infra/app/api.bicep');
    expect(
      objectProperties(api.root).some((p) => p.key === 'azd-service-name' && p.value.text === 'serviceName'),
    ).toBe(true);
    expect(api.source).toContain("param serviceName string = 'api'");
    const outputs = declarations(main)
      .filter((d) => d.kind === 'output')
      .map((d) => d.name);
    for (const name of outputs) expect(name).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
    expect(outputs).toEqual(
      expect.arrayContaining([
        'AZURE_TENANT_ID',
        'SERVICE_API_NAME',
        'TENANT_FLEET_APP_CLIENT_ID',
        'TENANT_FLEET_MI_CLIENT_ID',
        'TENANT_FLEET_ADMIN_CONSENT_URL_TEMPLATE',
      ]),
    );
  });

  it('runs the Function App on Flex Consumption (FC1), Linux, Node 22, as the user-assigned identity', () => {
    const main = template('infra/main.bicep');
    const mainProps = objectProperties(main.root);
    expect(mainProps.find((p) => p.key === 'skuName')?.value.text).toBe("'FC1'");
    expect(mainProps.find((p) => p.key === 'reserved')?.value.text).toBe('true');
    const api = template('infra/app/api.bicep');
    const apiProps = objectProperties(api.root);
    const runtime = apiProps.find((p) => p.key === 'runtime')?.value;
    expect(runtime && Object.fromEntries([...propertiesOf(runtime)].map(([k, v]) => [k, v.text]))).toEqual({
      name: "'node'",
      version: "'22'",
    });
    expect(apiProps.find((p) => p.key === 'kind')?.value.text).toBe("'functionapp,linux'");
    const deploymentAuth = apiProps.filter((p) => p.key === 'authentication').map((p) => p.value.text);
    expect(deploymentAuth.join()).toContain("type: 'UserAssignedIdentity'");
    expect(apiProps.find((p) => p.key === 'userAssignedResourceIds')?.value.text).toContain(
      'identityResourceId',
    );
  });

  it('sets every app setting the code reads, identity-based, with nothing secret', () => {
    const keys = new Set(
      [template('infra/main.bicep'), template('infra/app/api.bicep')].flatMap((t) =>
        objectProperties(t.root).map((p) => p.key),
      ),
    );
    for (const setting of APP_SETTINGS) expect(keys.has(setting), setting).toBe(true);
    const api = template('infra/app/api.bicep');
    const settings = variableObject(api, 'hostSettings');
    expect(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe(
      "'ClientId=${identityClientId};Authorization=AAD'",
    );
    expect(settings.get('AzureWebJobsStorage__clientId')).toBe('identityClientId');
    expect(keys.has('AzureWebJobsStorage')).toBe(false);
    // The worker's heap limit comes from the file the benchmark runs the fleet with.
    expect(api.source).toContain("var nodeWorker = loadJsonContent('node-worker.json')");
    expect(settings.get('languageWorkers__node__arguments')).toBe(
      "'--max-old-space-size=${nodeWorker.maxOldSpaceSizeMB}'",
    );
    const worker = JSON.parse(readFileSync(path.join(infraDir, 'app', 'node-worker.json'), 'utf8')) as {
      maxOldSpaceSizeMB: unknown;
    };
    expect(worker.maxOldSpaceSizeMB).toEqual(expect.any(Number));
    expect(worker.maxOldSpaceSizeMB).toBeGreaterThanOrEqual(96); // a sweep's live heap, measured
    const main = template('infra/main.bicep');
    expect(objectProperties(main.root).find((p) => p.key === 'TENANT_FLEET_HTTP_AUTH')?.value.text).toBe(
      "'appservice'",
    );
    expect(main.source).toContain("param sweepSchedule string = '0 0 */6 * * *'");
  });

  it('creates the tables, queues and containers the app uses', () => {
    const literals = new Set(stringLiterals(template('infra/app/storage.bicep').root).map((l) => l.value));
    for (const name of [
      'tenants',
      'runs',
      'runtenants',
      'inventory',
      'changes',
      'storage',
      'aggregates',
      'tenant-sweep',
      'tenant-sweep-poison',
      'snapshots',
    ]) {
      expect(literals.has(name), name).toBe(true);
    }
  });

  it('maps each cloud to its FIC audience and to the TENANT_FLEET_CLOUD value the app expects', () => {
    const main = template('infra/main.bicep');
    const declaration = declarations(main).find((d) => d.name === 'clouds');
    const clouds = declaration ? nodesOfType(declaration.node, 'object')[0] : undefined;
    const table = Object.fromEntries(
      [...propertiesOf(clouds!)].map(([cloud, value]) => [
        cloud,
        Object.fromEntries([...propertiesOf(value)].map(([k, v]) => [k, stringValue(v)])),
      ]),
    );
    expect(table).toEqual({
      AzureCloud: {
        fleetCloud: 'AzurePublicCloud',
        ficAudience: 'api://AzureADTokenExchange',
        sitePrivateDnsZone: 'privatelink.azurewebsites.net',
      },
      AzureUSGovernment: {
        fleetCloud: 'AzureUSGovernment',
        ficAudience: 'api://AzureADTokenExchangeUSGov',
        sitePrivateDnsZone: 'privatelink.azurewebsites.us',
      },
      AzureChinaCloud: {
        fleetCloud: 'AzureChinaCloud',
        ficAudience: 'api://AzureADTokenExchangeChina',
        sitePrivateDnsZone: 'privatelink.chinacloudsites.cn',
      },
    });
    expect(main.source).toContain('clouds[environment().name]');
  });

  it('registers the multitenant app with the managed identity as its only credential (FIC)', () => {
    const entra = template('infra/app/entra.bicep');
    const apps = resources(entra).filter((r) => r.type === 'Microsoft.Graph/applications@v1.0');
    const audience = (name: string): string | undefined => {
      const body = apps.find((app) => app.name === name)?.body;
      return body ? propertiesOf(body).get('signInAudience')?.text : undefined;
    };
    expect(audience('fleetApp')).toBe("'AzureADMultipleOrgs'");
    expect(audience('apiApp')).toBe("'AzureADMyOrg'");
    const fic = resources(entra).find((r) => r.type === 'federatedIdentityCredentials@v1.0');
    const ficProps = new Map([...propertiesOf(fic!.body!)].map(([k, v]) => [k, v.text]));
    expect(ficProps.get('issuer')).toBe('ficIssuer');
    expect(ficProps.get('subject')).toBe('identityPrincipalId');
    expect(ficProps.get('audiences')?.replace(/\s+/g, '')).toBe('[ficAudience]');
    // main.bicep computes the issuer once and hands it to entra.bicep (and to its output).
    const issuer = declarations(template('infra/main.bicep')).find((d) => d.name === 'ficIssuer');
    expect(template('infra/main.bicep').source).toMatch(/ficIssuer: ficIssuer/);
    expect(issuer?.node.text).toContain(
      "'${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'",
    );
    // The FIC subject is the identity's principal (object) id, not its client id.
    expect(template('infra/main.bicep').source).toMatch(
      /identityPrincipalId: identity\.outputs\.principalId/,
    );
    expect(template('infra/main.bicep').source).toMatch(/ficAudience: cloud\.ficAudience/);
    // Nothing but the FIC: no password or certificate credential on any app.
    const keys = objectProperties(entra.root).map((p) => p.key);
    expect(keys).not.toContain('passwordCredentials');
    expect(keys).not.toContain('keyCredentials');
  });

  it('protects the HTTP API with App Service Authentication and the app roles the code checks', () => {
    const entra = template('infra/app/entra.bicep');
    const rolesDeclaration = declarations(entra).find((d) => d.name === 'apiAppRoles');
    const roleValues = nodesOfType(rolesDeclaration!.node, 'object').map(
      (role) => propertiesOf(role).get('value')?.text,
    );
    expect(roleValues).toEqual(["'Fleet.Read'", "'Fleet.CustomerData.Read'", "'Fleet.Admin'"]);
    // Both roles are defined on the API app (loop over apiAppRoles) and can be given to users and apps.
    expect(entra.source).toMatch(/appRoles: \[\s+for role in apiAppRoles: \{/);
    expect(entra.source).toMatch(/allowedMemberTypes: \[\s+'User'\s+'Application'\s+\]/);
    const api = template('infra/app/api.bicep');
    const auth = variableObject(api, 'authSettings');
    expect(auth.get('identityProviders')).toContain('clientId: authClientId');
    expect(auth.get('identityProviders')).toContain('allowedAudiences: authAllowedAudiences');
    expect(auth.get('identityProviders')).not.toMatch(/clientSecret/i);
    expect(api.source).toContain("name: 'authsettingsV2'");
    expect(entra.source).toContain('appRoleAssignmentRequired: true');
  });

  it('only uses abbreviations that abbreviations.json defines', () => {
    const abbreviations = JSON.parse(
      readFileSync(path.join(infraDir, 'abbreviations.json'), 'utf8'),
    ) as Record<string, string>;
    const used = nodesOfType(template('infra/main.bicep').root, 'member_expression')
      .map((node) => node.text)
      .filter((text) => text.startsWith('abbrs.'))
      .map((text) => text.slice('abbrs.'.length));
    expect(used.length).toBeGreaterThan(0);
    for (const key of used) expect(abbreviations[key], key).toBeTypeOf('string');
  });

  it('main.parameters.json feeds exactly parameters main.bicep declares, including every required one', () => {
    const main = template('infra/main.bicep');
    const params = declarations(main).filter((d) => d.kind === 'param');
    const required = params.filter((d) => !/=\s*\S/.test(d.node.text.split('\n')[0]!)).map((d) => d.name);
    const file = JSON.parse(readFileSync(path.join(infraDir, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: string }>;
    };
    const supplied = Object.keys(file.parameters);
    for (const name of supplied)
      expect(
        params.map((d) => d.name),
        name,
      ).toContain(name);
    for (const name of required) expect(supplied, name).toContain(name);
    expect(required.sort()).toEqual(['environmentName', 'location']);
  });
});

describe('azure.yaml', () => {
  const loadValidator = () => {
    const schemaText = readFileSync(azureYamlSchemaPath, 'utf8');
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // The schema $refs azd extension schemas on GitHub (services with host azure.ai.*); they cannot be
    // fetched offline and do not apply to a `function` service, so they are registered as empty schemas.
    const external = new Set([...schemaText.matchAll(/"\$ref":\s*"(https?:[^"#]+)/g)].map((m) => m[1]!));
    for (const url of external) ajv.addSchema({ $id: url }, url);
    return ajv.compile(JSON.parse(schemaText) as object);
  };
  const azureYaml = (): Record<string, unknown> =>
    parseYaml(readFileSync(path.join(repoRoot, 'azure.yaml'), 'utf8')) as Record<string, unknown>;

  it('validates against the azd schema (draft 2019-09)', () => {
    const validate = loadValidator();
    const valid = validate(azureYaml());
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('declares service api (host function, language ts) and hooks that exist', () => {
    const config = azureYaml() as {
      services: Record<string, { host: string; language: string; project: string }>;
      infra: { path: string; module: string };
      hooks: { postprovision: { posix: { run: string }; windows: { run: string } } };
    };
    expect(config.services.api).toMatchObject({ host: 'function', language: 'ts', project: '.' });
    expect(existsSync(path.join(repoRoot, config.infra.path, `${config.infra.module}.bicep`))).toBe(true);
    expect(existsSync(path.join(repoRoot, config.hooks.postprovision.posix.run))).toBe(true);
    expect(existsSync(path.join(repoRoot, config.hooks.postprovision.windows.run))).toBe(true);
  });

  it('the validator rejects a broken azure.yaml', () => {
    const validate = loadValidator();
    const broken = { ...azureYaml(), name: 'Tenant Fleet', services: { api: { language: 'ts' } } };
    expect(validate(broken)).toBe(false);
    const paths = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
    expect(paths).toEqual(
      expect.arrayContaining(['/name must match pattern "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"']),
    );
    expect(paths.some((p) => p.includes("required property 'host'"))).toBe(true);
  });
});

describe('postprovision hook', () => {
  const hook = path.join(infraDir, 'hooks', 'postprovision.sh');
  const outputs = {
    AZURE_TENANT_ID: '11111111-1111-1111-1111-111111111111',
    SERVICE_API_URI: 'https://func-abc.azurewebsites.net',
    TENANT_FLEET_APP_CLIENT_ID: '22222222-2222-2222-2222-222222222222',
    TENANT_FLEET_APP_DISPLAY_NAME: 'Tenant Fleet',
    TENANT_FLEET_ADMIN_CONSENT_URL_TEMPLATE:
      'https://login.microsoftonline.com/{customer-tenant-id}/adminconsent?client_id=22222222-2222-2222-2222-222222222222',
    TENANT_FLEET_MI_PRINCIPAL_ID: '33333333-3333-3333-3333-333333333333',
    TENANT_FLEET_FIC_ISSUER: 'https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0',
    TENANT_FLEET_FIC_AUDIENCE: 'api://AzureADTokenExchange',
    TENANT_FLEET_API_IDENTIFIER_URI: 'api://11111111-1111-1111-1111-111111111111/tenant-fleet-abc',
  };
  const run = (env: Record<string, string>) =>
    spawnSync('sh', [hook], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8' });

  it('reads only outputs main.bicep declares', () => {
    const outputNames = new Set(
      declarations(template('infra/main.bicep'))
        .filter((d) => d.kind === 'output')
        .map((d) => d.name),
    );
    for (const name of Object.keys(outputs)) expect(outputNames.has(name), name).toBe(true);
    const read = [...readFileSync(hook, 'utf8').matchAll(/\$([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!);
    for (const name of read) expect(outputNames.has(name), name).toBe(true);
  });

  it('prints what to send to a customer: app id, onboarding command, consent link (POSIX sh)', () => {
    const result = run(outputs);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('app (client) id 22222222-2222-2222-2222-222222222222');
    expect(result.stdout).toContain(
      './infra/customer/onboard.sh --app-id 22222222-2222-2222-2222-222222222222 --subscription <subscription-id>',
    );
    expect(result.stdout).toContain('--management-group <management-group-id>');
    expect(result.stdout).toContain(outputs.TENANT_FLEET_ADMIN_CONSENT_URL_TEMPLATE);
    expect(result.stdout).toContain('subject 33333333-3333-3333-3333-333333333333');
    expect(result.stdout).toContain('nothing to rotate');
  });

  it('fails with the names of missing outputs when provisioning did not run', () => {
    const { TENANT_FLEET_APP_CLIENT_ID: _appId, SERVICE_API_URI: _uri, ...partial } = outputs;
    const result = run(partial);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('missing azd outputs: SERVICE_API_URI TENANT_FLEET_APP_CLIENT_ID');
  });
});

describe('customer onboarding script (with a fake az on PATH)', () => {
  const script = path.join(infraDir, 'customer', 'onboard.sh');
  const tenantId = 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa';
  const currentSubscription = 'bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb';
  const appId = 'cccccccc-cccc-cccc-cccc-cccccccccccc';
  const newSp = 'dddddddd-dddd-dddd-dddd-dddddddddddd';
  let fakeAz: FakeAz;

  // Answers the few commands the script makes.
  beforeAll(() => {
    fakeAz = installFakeAz([
      [
        '"account show --query tenantId --output tsv"',
        '[ -z "${FAKE_LOGGED_OUT:-}" ] || { echo "Please run az login" >&2; exit 1; }; echo "$FAKE_TENANT"',
      ],
      ['"account show --query id --output tsv"', 'echo "$FAKE_SUBSCRIPTION"'],
      [
        '"ad sp show --id "*',
        'if [ -n "${FAKE_SP_EXISTS:-}" ]; then echo "$FAKE_SP_EXISTS"; else echo "ERROR: not found" >&2; exit 3; fi',
      ],
      ['"ad sp create --id "*', 'echo "$FAKE_SP_CREATED"'],
      ['"deployment sub create "* | "deployment mg create "*', 'exit 0'],
    ]);
  });

  afterAll(() => fakeAz.remove());

  const onboard = (args: string[], extraEnv: Record<string, string> = {}) =>
    fakeAz.run(script, args, {
      FAKE_TENANT: tenantId,
      FAKE_SUBSCRIPTION: currentSubscription,
      FAKE_SP_CREATED: newSp,
      ...extraEnv,
    });

  it('creates the service principal, grants Reader on the current subscription, prints what to send back', () => {
    const result = onboard(['--app-id', appId]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.calls).toEqual([
      'account show --query tenantId --output tsv',
      'account show --query id --output tsv',
      `ad sp show --id ${appId} --query id --output tsv`,
      `ad sp create --id ${appId} --query id --output tsv`,
      `deployment sub create --subscription ${currentSubscription} --location eastus --name tenant-fleet-onboarding ` +
        `--template-file ${path.join(infraDir, 'customer', 'subscription.bicep')} --parameters ` +
        `providerServicePrincipalObjectId=${newSp} blobDataAccess=None providerName=Tenant Fleet blobDataStorageAccountIds=[] --output none`,
    ]);
    expect(result.stdout).toContain(`Tenant id:          ${tenantId}`);
    expect(result.stdout).toContain(`Subscriptions:      ${currentSubscription}`);
    expect(result.stdout).toContain(`Service principal:  ${newSp}`);
    expect(result.stdout).toContain('Roles granted:      Reader\n');
    expect(result.stdout).toContain(`az ad sp delete --id ${appId}`);
  });

  it('reuses an existing service principal and grants blob read on each named subscription', () => {
    const existingSp = 'eeeeeeee-eeee-eeee-eeee-eeeeeeeeeeee';
    const subscriptions = ['11111111-0000-0000-0000-000000000001', '11111111-0000-0000-0000-000000000002'];
    const result = onboard(
      [
        '--app-id',
        appId,
        '--subscription',
        subscriptions[0]!,
        '--subscription',
        subscriptions[1]!,
        '--blob-access',
        'Reader',
      ],
      { FAKE_SP_EXISTS: existingSp },
    );
    expect(result.status).toBe(0);
    expect(result.calls.filter((c) => c.startsWith('ad sp create'))).toEqual([]);
    const deployments = result.calls.filter((c) => c.startsWith('deployment sub create'));
    expect(deployments).toHaveLength(2);
    deployments.forEach((call, i) => {
      expect(call).toContain(`--subscription ${subscriptions[i]!}`);
      expect(call).toContain(`providerServicePrincipalObjectId=${existingSp} blobDataAccess=Reader`);
    });
    expect(result.stdout).toContain('Roles granted:      Reader, Storage Blob Data Reader');
  });

  it('grants at a management group with the management-group template', () => {
    const result = onboard([
      '--app-id',
      appId,
      '--management-group',
      'contoso-root',
      '--blob-access',
      'Contributor',
    ]);
    expect(result.status).toBe(0);
    const deployment = result.calls.find((c) => c.startsWith('deployment mg create'));
    expect(deployment).toContain('--management-group-id contoso-root');
    expect(deployment).toContain(
      `--template-file ${path.join(infraDir, 'customer', 'management-group.bicep')}`,
    );
    expect(deployment).toContain('blobDataAccess=Contributor');
    expect(result.calls.some((c) => c.startsWith('deployment sub create'))).toBe(false);
    expect(result.stdout).toContain('Management group:   contoso-root');
    expect(result.stdout).toContain('Roles granted:      Reader, Storage Blob Data Contributor');
  });

  it('grants the blob role on listed storage accounts only, passing them to the template as a JSON array', () => {
    const accounts = [
      `/subscriptions/${currentSubscription}/resourceGroups/data/providers/Microsoft.Storage/storageAccounts/stdata1`,
      '/subscriptions/11111111-0000-0000-0000-000000000002/resourceGroups/logs/providers/Microsoft.Storage/storageAccounts/stlogs',
    ];
    const result = onboard([
      '--app-id',
      appId,
      '--blob-access',
      'Reader',
      '--blob-storage-account',
      accounts[0]!,
      '--blob-storage-account',
      accounts[1]!,
    ]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const deployment = result.calls.find((c) => c.startsWith('deployment sub create'));
    expect(deployment).toContain(
      `blobDataAccess=Reader providerName=Tenant Fleet blobDataStorageAccountIds=${JSON.stringify(accounts)} --output none`,
    );
    expect(result.stdout).toContain(
      'Roles granted:      Reader, Storage Blob Data Reader (blob role on 2 storage account(s) only)',
    );
    for (const account of accounts) expect(result.stdout).toContain(`Blob role on:       ${account}`);
  });

  it('the templates grant the listed accounts one by one, on the account, and keep the blob role off the scope', () => {
    for (const file of ['infra/customer/subscription.bicep', 'infra/customer/management-group.bicep']) {
      const bicep = template(file);
      expect(bicep.source, file).toContain('param blobDataStorageAccountIds string[] = []');
      const grants = modules(bicep).find((m) => m.name === 'accountGrants')!;
      expect(grants.path).toBe('storage-account-grant.bicep');
      expect(grants.node.text).toContain('for (accountId, i) in blobDataStorageAccountIds:');
      expect(grants.node.text).toContain(
        "scope: resourceGroup(split(accountId, '/')[2], split(accountId, '/')[4])",
      );
      expect(declarations(bicep).find((d) => d.name === 'accountBlobRoleId')?.node.text).toContain(
        "fail('blobDataStorageAccountIds needs blobDataAccess Reader or Contributor')",
      );
    }
    const grant = template('infra/customer/storage-account-grant.bicep');
    const [assignment] = resources(grant).filter((r) =>
      r.type.startsWith('Microsoft.Authorization/roleAssignments@'),
    );
    expect(propertiesOf(assignment!.body!).get('scope')?.text).toBe('account');
    expect(resources(grant).find((r) => r.name === 'account')).toMatchObject({ existing: true });
    // Only blob data roles can be given per account (the caller passes blobRoleIds[Reader|Contributor]).
    expect(grant.source).toContain("@description('Role definition id of the blob data role");
  });

  it.each([
    [[], '--app-id is required'],
    [['--app-id', 'not-a-guid'], '--app-id must be a GUID'],
    [['--app-id', appId, '--blob-access', 'Owner'], '--blob-access must be None, Reader or Contributor'],
    [['--app-id', appId, '--subscription', 'prod'], '--subscription must be a subscription id'],
    [
      ['--app-id', appId, '--blob-access', 'Reader', '--blob-storage-account', 'stdata1'],
      '--blob-storage-account must be a storage account resource id',
    ],
    [
      [
        '--app-id',
        appId,
        '--blob-storage-account',
        `/subscriptions/${currentSubscription}/resourceGroups/d/providers/Microsoft.Storage/storageAccounts/st1`,
      ],
      '--blob-storage-account needs --blob-access Reader or Contributor',
    ],
    [['--app-id', appId, '--subscription', currentSubscription, '--management-group', 'mg'], 'not both'],
    [['--app-id'], '--app-id needs a value'],
    [['--tenant', 'x'], 'unknown argument: --tenant'],
  ])('rejects bad input %j before calling Azure', (args, message) => {
    const result = onboard(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.calls).toEqual([]);
  });

  it('says to sign in when az is not logged in, and creates nothing', () => {
    const result = onboard(['--app-id', appId], { FAKE_LOGGED_OUT: '1' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("not signed in: run 'az login");
    expect(result.calls).toEqual(['account show --query tenantId --output tsv']);
  });

  it('says az is not installed, and how to get it, when there is no az on PATH', () => {
    // A PATH with only the tools the script needs besides az (bash runs it; dirname finds the templates).
    const noAz = mkdtempSync(path.join(tmpdir(), 'tenant-fleet-no-az-'));
    try {
      for (const tool of ['bash', 'dirname']) {
        const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
        symlinkSync(found, path.join(noAz, tool));
      }
      const result = spawnSync(path.join(noAz, 'bash'), [script, '--app-id', appId], {
        encoding: 'utf8',
        env: { PATH: noAz },
      });
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('the Azure CLI (az) is not installed or not on PATH');
      expect(result.stderr).toContain('https://learn.microsoft.com/cli/azure/install-azure-cli');
      expect(result.stderr).not.toContain('not signed in');
    } finally {
      rmSync(noAz, { recursive: true, force: true });
    }
  });
});

/**
 * Offline checks of the deployment (issue 4): every Bicep file parses (tree-sitter-bicep), the templates
 * keep their security invariants, role ids match Microsoft's documented built-in roles, azure.yaml is
 * valid for azd, and the provider hook and customer onboarding script behave as documented.
 * The Bicep compiler and Azure are out of reach here: what needs them is listed in README.md.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
  nodesOfType,
  objectProperties,
  propertiesOf,
  resources,
  stringLiterals,
  stringValue,
  type BicepParse,
  type BicepTemplate,
  type Violation,
} from './support/bicep.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const infraDir = path.join(repoRoot, 'infra');
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

/**
 * AVM modules and the exact versions whose parameter names were checked against the module sources
 * (github.com/Azure/bicep-registry-modules, tags avm/res/<module>/<version>). Bumping one means re-checking.
 */
const VERIFIED_AVM_MODULES = new Set([
  'br/public:avm/res/managed-identity/user-assigned-identity:0.6.0',
  'br/public:avm/res/web/serverfarm:0.7.0',
  'br/public:avm/res/web/site:0.24.0',
  'br/public:avm/res/storage/storage-account:0.33.0',
  'br/public:avm/res/operational-insights/workspace:0.16.1',
  'br/public:avm/res/insights/component:0.8.0',
]);

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

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return bicepFiles(full);
    return entry.name.endsWith('.bicep') ? [full] : [];
  });
}

/** Reads a JSON file that may carry // comments (bicepconfig.json does). */
function readJsonWithComments(file: string): unknown {
  const text = readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '');
  return JSON.parse(text) as unknown;
}

function describeViolations(violations: Violation[]): string {
  return violations.map((v) => `${v.file}:${v.line} [${v.rule}] ${v.message}`).join('\n');
}

let parse: BicepParse;
let templates: BicepTemplate[];
const template = (file: string): BicepTemplate => {
  const found = templates.find((candidate) => candidate.file === file);
  if (!found) throw new Error(`${file} was not parsed`);
  return found;
};
const providerTemplates = (): BicepTemplate[] =>
  templates.filter((candidate) => !candidate.file.startsWith('infra/customer/'));
const customerTemplates = (): BicepTemplate[] =>
  templates.filter((candidate) => candidate.file.startsWith('infra/customer/'));

/** The object literal assigned to a top-level `var`. */
function variableObject(bicep: BicepTemplate, name: string): Map<string, string> {
  const declaration = declarations(bicep).find((d) => d.kind === 'var' && d.name === name);
  const object = declaration ? nodesOfType(declaration.node, 'object')[0] : undefined;
  if (!object) throw new Error(`var ${name} is not an object in ${bicep.file}`);
  return new Map([...propertiesOf(object)].map(([key, value]) => [key, value.text]));
}

beforeAll(async () => {
  parse = await createBicepParser();
  templates = bicepFiles(infraDir)
    .sort()
    .map((file) =>
      parse(readFileSync(file, 'utf8'), path.relative(repoRoot, file).split(path.sep).join('/')),
    );
});

describe('Bicep files parse', () => {
  it('finds the provider and customer templates', () => {
    expect(templates.map((t) => t.file)).toEqual([
      'infra/app/api.bicep',
      'infra/app/entra.bicep',
      'infra/app/monitoring.bicep',
      'infra/app/rbac.bicep',
      'infra/app/storage.bicep',
      'infra/customer/management-group.bicep',
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
    expect(messages).toContain('ftpsState');
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
      expect(bicep.source).toContain('concat([builtInRoleIds.reader], blobRoleIds[blobDataAccess])');
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
  it('pins every registry module to a verified AVM version', () => {
    const references = templates.flatMap((t) => moduleReferences(t).map((m) => m.path));
    const registry = references.filter((reference) => reference.startsWith('br'));
    expect(new Set(registry)).toEqual(VERIFIED_AVM_MODULES);
    const local = references.filter((reference) => !reference.startsWith('br'));
    for (const reference of local) expect(existsSync(path.join(infraDir, reference)), reference).toBe(true);
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
      AzureCloud: { fleetCloud: 'AzurePublicCloud', ficAudience: 'api://AzureADTokenExchange' },
      AzureUSGovernment: { fleetCloud: 'AzureUSGovernment', ficAudience: 'api://AzureADTokenExchangeUSGov' },
      AzureChinaCloud: { fleetCloud: 'AzureChinaCloud', ficAudience: 'api://AzureADTokenExchangeChina' },
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
    const issuer = declarations(entra).find((d) => d.name === 'ficIssuer');
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
    expect(roleValues).toEqual(["'Fleet.Read'", "'Fleet.Admin'"]);
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
  let fakeDir: string;

  beforeAll(() => {
    fakeDir = mkdtempSync(path.join(tmpdir(), 'tenant-fleet-fake-az-'));
    // A stand-in for the Azure CLI: logs each call and answers the few commands the script makes.
    const fakeAz = [
      '#!/usr/bin/env bash',
      'echo "$*" >> "$FAKE_AZ_LOG"',
      'case "$*" in',
      '  "account show --query tenantId --output tsv") [ -z "${FAKE_LOGGED_OUT:-}" ] || { echo "Please run az login" >&2; exit 1; }; echo "$FAKE_TENANT" ;;',
      '  "account show --query id --output tsv") echo "$FAKE_SUBSCRIPTION" ;;',
      '  "ad sp show --id "*) if [ -n "${FAKE_SP_EXISTS:-}" ]; then echo "$FAKE_SP_EXISTS"; else echo "ERROR: not found" >&2; exit 3; fi ;;',
      '  "ad sp create --id "*) echo "$FAKE_SP_CREATED" ;;',
      '  "deployment sub create "* | "deployment mg create "*) exit 0 ;;',
      '  *) echo "fake az: unexpected call: $*" >&2; exit 99 ;;',
      'esac',
    ].join('\n');
    writeFileSync(path.join(fakeDir, 'az'), `${fakeAz}\n`);
    chmodSync(path.join(fakeDir, 'az'), 0o755);
  });

  afterAll(() => rmSync(fakeDir, { recursive: true, force: true }));

  const onboard = (args: string[], extraEnv: Record<string, string> = {}) => {
    const log = path.join(fakeDir, `calls-${Math.random().toString(36).slice(2)}.log`);
    writeFileSync(log, '');
    const result = spawnSync('bash', [script, ...args], {
      encoding: 'utf8',
      env: {
        PATH: `${fakeDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        FAKE_AZ_LOG: log,
        FAKE_TENANT: tenantId,
        FAKE_SUBSCRIPTION: currentSubscription,
        FAKE_SP_CREATED: newSp,
        ...extraEnv,
      },
    });
    const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    return { ...result, calls };
  };

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
        `providerServicePrincipalObjectId=${newSp} blobDataAccess=None providerName=Tenant Fleet --output none`,
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

  it.each([
    [[], '--app-id is required'],
    [['--app-id', 'not-a-guid'], '--app-id must be a GUID'],
    [['--app-id', appId, '--blob-access', 'Owner'], '--blob-access must be None, Reader or Contributor'],
    [['--app-id', appId, '--subscription', 'prod'], '--subscription must be a subscription id'],
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
});

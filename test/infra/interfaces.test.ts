/**
 * Module-interface check (issue 16): every module call in infra/ matches the interface of the module it calls
 * (recorded AVM fixtures for registry modules, the parsed file for local ones), and every Microsoft Graph
 * resource matches the extension's recorded types. The Bicep compiler would catch these; it cannot run here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  armTemplateInterface,
  checkExtensionResources,
  checkModuleCalls,
  createBicepParser,
  modules,
  resources,
  templateInterface,
  type BicepParse,
  type BicepTemplate,
  type ModuleInterface,
} from '../support/bicep.js';
import {
  loadExtensionFixture,
  loadModuleFixture,
  moduleFixturePath,
  type ExtensionFixture,
} from './interfaces.js';
import { describeViolations, infraDir, loadInfraTemplates, repoRoot } from './templates.js';

let parse: BicepParse;
let templates: BicepTemplate[];
let graph: ExtensionFixture;

/** Resolves a module path as used in `file`: registry references to fixtures, local paths to parsed files. */
const resolverFor =
  (file: string) =>
  (modulePath: string): ModuleInterface | undefined => {
    if (modulePath.startsWith('br')) return loadModuleFixture(modulePath);
    const target = path.relative(repoRoot, path.resolve(repoRoot, path.dirname(file), modulePath));
    const local = templates.find((t) => t.file === target.split(path.sep).join('/'));
    return local ? templateInterface(local) : undefined;
  };

beforeAll(async () => {
  parse = await createBicepParser();
  templates = loadInfraTemplates(parse);
  const config = readFileSync(path.join(infraDir, 'bicepconfig.json'), 'utf8');
  const extension = /"microsoftGraphV1":\s*"([^"]+)"/.exec(config)?.[1] ?? '';
  const fixture = loadExtensionFixture(extension);
  if (!fixture) throw new Error(`no recorded Graph types for ${extension}`);
  graph = fixture;
});

describe('recorded interfaces', () => {
  it('every pinned AVM module has a fixture read at its release tag, naming tag and commit', () => {
    const references = [
      ...new Set(templates.flatMap((t) => modules(t).map((m) => m.path)).filter((p) => p.startsWith('br'))),
    ];
    expect(references.length).toBeGreaterThan(0);
    for (const reference of references) {
      const fixture = loadModuleFixture(reference);
      expect(
        fixture,
        `${reference}: record ${moduleFixturePath(reference) ?? '(not an AVM reference)'}`,
      ).toBeDefined();
      const [, module, version] = /^br\/public:(.+):(.+)$/.exec(reference)!;
      expect(fixture).toMatchObject({ module, version, source: { tag: `${module!}/${version!}` } });
      expect(fixture!.source.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(Object.keys(fixture!.parameters)).toContain('name');
      expect(fixture!.outputs.length).toBeGreaterThan(0);
    }
  });

  it('the Graph fixture is read at the extension version bicepconfig.json pins and holds every type used', () => {
    expect(graph.source.tag).toBe(`v${graph.extension.split(':').at(-1)!}`);
    expect(graph.source.commit).toMatch(/^[0-9a-f]{40}$/);
    const used = templates.flatMap((t) =>
      resources(t)
        .map((r) => r.type)
        .filter((type) => type.startsWith('Microsoft.Graph/')),
    );
    for (const type of used) expect(Object.keys(graph.resourceTypes), type).toContain(type);
  });
});

describe('the templates match the interfaces they use', () => {
  it('every module call passes known parameters with allowed values, all required ones, and reads real outputs', () => {
    const violations = templates.flatMap((t) => checkModuleCalls(t, resolverFor(t.file)));
    expect(describeViolations(violations)).toBe('');
  });

  it('every Microsoft Graph resource sets known, writable properties with allowed values and all required ones', () => {
    const violations = templates.flatMap((t) =>
      checkExtensionResources(t, 'Microsoft.Graph/', graph.resourceTypes),
    );
    expect(describeViolations(violations)).toBe('');
  });
});

describe('the check bites (inline snippets)', () => {
  // A small local module: one enum parameter, one required name, one optional object, one output.
  const storageModule = (): ModuleInterface =>
    templateInterface(
      parse(
        [
          "@allowed(['Standard_LRS', 'Premium_LRS'])",
          "@description('SKU')",
          'param skuName string',
          "@description('Name')",
          'param name string',
          "@description('Tags')",
          'param tags object?',
          "output resourceId string = 'id'",
        ].join('\n'),
        'st.bicep',
      ),
    );
  const check = (source: string, resolve: (modulePath: string) => ModuleInterface | undefined) =>
    checkModuleCalls(parse(source, 'caller.bicep'), resolve).map((v) => `${v.line}: ${v.message}`);

  it('reads a local module interface: enum, required and optional parameters, outputs', () => {
    expect(storageModule()).toEqual({
      parameters: {
        skuName: { type: 'string', required: true, allowed: ['Standard_LRS', 'Premium_LRS'] },
        name: { type: 'string', required: true },
        tags: { type: 'object', required: false },
      },
      outputs: ['resourceId'],
    });
  });

  it('flags a wrong parameter name, a wrong enum value, an unknown output and a missing required parameter', () => {
    const messages = check(
      [
        "module st 'st.bicep' = {",
        "  name: 'st'",
        '  params: {',
        "    name: 'a'",
        "    skuname: 'Standard_LRS'",
        '  }',
        '}',
        "module st2 'st.bicep' = {",
        "  name: 'st2'",
        "  params: { name: 'b', skuName: 'Standard_XYZ' }",
        '}',
        'output id string = st2.outputs.resourceIdd',
      ].join('\n'),
      () => storageModule(),
    );
    expect(messages).toEqual([
      "5: module 'st' params has no property 'skuname'",
      "3: module 'st' params lacks required property 'skuName'",
      `10: module 'st2' params.skuName: "Standard_XYZ" is not one of "Standard_LRS", "Premium_LRS"`,
      "12: module 'st2' has no output 'resourceIdd'",
    ]);
  });

  it('checks a top-level var where a module call uses it, through ternaries', () => {
    const messages = check(
      [
        "var sku = 'Standard_XYZ'",
        "module st 'st.bicep' = {",
        "  name: 'st'",
        "  params: { name: 'a', skuName: cheap ? sku : 'Premium_LRS' }",
        '}',
      ].join('\n'),
      () => storageModule(),
    );
    expect(messages).toEqual([
      `1: module 'st' params.skuName (var sku): "Standard_XYZ" is not one of "Standard_LRS", "Premium_LRS"`,
    ]);
  });

  it('flags the same mistakes against a recorded AVM fixture (web/site 0.24.0)', () => {
    const site = 'br/public:avm/res/web/site:0.24.0';
    const messages = check(
      [
        `module site '${site}' = {`,
        "  name: 'site'",
        '  params: {',
        "    name: 'func-x'",
        "    kind: 'functionapp,windows'",
        "    serverFarmResourceId: 'plan'",
        '    httpOnly: true',
        "    configs: [{ name: 'authsettingsV3', properties: {} }]",
        '  }',
        '}',
        'output host string = site.outputs.defaultHostName',
      ].join('\n'),
      loadModuleFixture,
    );
    expect(messages).toEqual([
      expect.stringMatching(
        /^5: module 'site' params\.kind: "functionapp,windows" is not one of "functionapp", /,
      ),
      "7: module 'site' params has no property 'httpOnly'",
      "8: module 'site' params.configs[].name: 'authsettingsV3' is not one of appsettings, authsettings, authsettingsV2, azurestorageaccounts, backup, connectionstrings, logs, metadata, pushsettings, slotConfigNames, web",
      "11: module 'site' has no output 'defaultHostName'",
    ]);
  });

  it('flags a module version that has no recorded interface (a bump without a fixture)', () => {
    const messages = check(
      "module site 'br/public:avm/res/web/site:0.99.0' = {\n  name: 'site'\n  params: { name: 'x' }\n}",
      loadModuleFixture,
    );
    expect(messages).toEqual([
      "1: module 'site': no recorded interface for 'br/public:avm/res/web/site:0.99.0' (record one before using or bumping it)",
    ]);
  });

  it('flags unknown, read-only and missing required Graph properties, nested ones and unknown types', () => {
    const violations = checkExtensionResources(
      parse(
        [
          "resource app 'Microsoft.Graph/applications@v1.0' = {",
          "  uniqueName: 'x'",
          "  signInAudiences: 'AzureADMyOrg'",
          "  appId: '00000000-0000-0000-0000-000000000000'",
          '  api: {',
          '    requestedAccessTokenVersion: 2',
          "    oauth2PermissionScopes: [{ id: 'i', value: 'v', type: 'Users' }]",
          '  }',
          "  resource fic 'federatedIdentityCredentials@v1.0' = {",
          "    name: 'x/fic'",
          "    issuer: 'i'",
          "    audience: ['a']",
          "    subject: 's'",
          '  }',
          '}',
          "resource sp 'Microsoft.Graph/servicePrincipal@v1.0' = {",
          '  appId: app.appId',
          '}',
        ].join('\n'),
        'graph.bicep',
      ),
      'Microsoft.Graph/',
      graph.resourceTypes,
    );
    expect(violations.map((v) => `${v.line}: ${v.message}`)).toEqual([
      "3: Microsoft.Graph/applications@v1.0 has no property 'signInAudiences'",
      '4: Microsoft.Graph/applications@v1.0.appId is read-only',
      "1: Microsoft.Graph/applications@v1.0 lacks required property 'displayName'",
      "12: Microsoft.Graph/applications/federatedIdentityCredentials@v1.0 has no property 'audience'",
      "9: Microsoft.Graph/applications/federatedIdentityCredentials@v1.0 lacks required property 'audiences'",
      "16: resource type 'Microsoft.Graph/servicePrincipal@v1.0' is not among the recorded types",
    ]);
  });

  it('reads a compiled module: required vs nullable vs defaulted parameters, enums, discriminated unions', () => {
    const known = armTemplateInterface({
      definitions: {
        configType: {
          type: 'object',
          discriminator: {
            propertyName: 'name',
            mapping: {
              web: { type: 'object', properties: { name: { type: 'string', allowedValues: ['web'] } } },
            },
          },
        },
      },
      parameters: {
        name: { type: 'string' },
        sku: { type: 'string', allowedValues: ['A', 'B'], defaultValue: 'A' },
        tags: { type: 'object', nullable: true },
        configs: { type: 'array', items: { $ref: '#/definitions/configType' }, nullable: true },
      },
      outputs: { resourceId: {} },
    });
    expect(known.parameters.name).toEqual({ type: 'string', required: true });
    expect(known.parameters.sku).toEqual({ type: 'string', allowed: ['A', 'B'], required: false });
    expect(known.parameters.tags?.required).toBe(false);
    expect(known.parameters.configs?.items?.discriminator?.mapping.web?.properties?.name).toEqual({
      type: 'string',
      allowed: ['web'],
      required: true,
    });
    expect(known.outputs).toEqual(['resourceId']);
  });
});

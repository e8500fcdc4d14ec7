/**
 * The Entra and sign-in part of the deployment: the API app's pre-authorization is staged so Graph accepts it
 * (issue 16), its three app roles (issue 11), App Service Authentication for the API and the console's browser
 * sign-in (issue 12), and the refusal of clouds without Microsoft Graph Bicep unless the script ran (issue 16).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkPreAuthorization,
  createBicepParser,
  declarations,
  modules,
  nodesOfType,
  objectProperties,
  propertiesOf,
  resources,
  templateInterface,
  type BicepParse,
  type BicepTemplate,
  type ModuleDeclaration,
} from '../support/bicep.js';
import { describeViolations, loadInfraTemplates, templateNamed, variableObject } from './templates.js';

let parse: BicepParse;
let templates: BicepTemplate[];
const template = (file: string): BicepTemplate => templateNamed(templates, file);

/** The `params` of a module call as key to source text. */
const moduleParams = (call: ModuleDeclaration | undefined): Map<string, string> => {
  const params = call?.body ? propertiesOf(call.body).get('params') : undefined;
  return new Map([...(params ? propertiesOf(params) : [])].map(([key, value]) => [key, value.text]));
};
const compact = (text: string | undefined): string => (text ?? '').replace(/\s+/g, '');

beforeAll(async () => {
  parse = await createBicepParser();
  templates = loadInfraTemplates(parse);
});

describe('API pre-authorization that Graph accepts (issue 16)', () => {
  it('the check flags an app that pre-authorizes a scope it creates in the same declaration', () => {
    const sameRequest = parse(
      [
        "resource apiApp 'Microsoft.Graph/applications@v1.0' = {",
        "  uniqueName: 'api'",
        "  displayName: 'API'",
        '  api: {',
        "    oauth2PermissionScopes: [{ id: scopeId, value: 'user_impersonation' }]",
        '    preAuthorizedApplications: [',
        '      for clientId in clientIds: { appId: clientId, delegatedPermissionIds: [scopeId] }',
        '    ]',
        '  }',
        '}',
      ].join('\n'),
      'same-request.bicep',
    );
    expect(checkPreAuthorization(sameRequest).map((v) => [v.rule, v.line])).toEqual([
      ['graph-pre-authorization', 6],
    ]);
  });

  it('entra.bicep pre-authorizes clients only in stage complete', () => {
    const entra = template('infra/app/entra.bicep');
    expect(describeViolations(checkPreAuthorization(entra))).toBe('');
    const preAuthorized = objectProperties(entra.root).find((p) => p.key === 'preAuthorizedApplications');
    expect(compact(preAuthorized?.value.text)).toBe('complete?preAuthorizedClients:[]');
    expect(declarations(entra).find((d) => d.name === 'complete')?.node.text).toContain(
      "stage == 'complete'",
    );
    expect(templateInterface(entra).parameters.stage).toMatchObject({
      required: true,
      allowed: ['create', 'complete'],
    });
  });

  it('main.bicep runs stage create, then the Function App, then stage complete with its host name', () => {
    const main = template('infra/main.bicep');
    const entraCalls = modules(main).filter((m) => m.path === 'app/entra.bicep');
    expect(entraCalls.map((m) => [m.name, moduleParams(m).get('stage')])).toEqual([
      ['entra', "'create'"],
      ['entraComplete', "'complete'"],
    ]);
    // Stage complete reads the Function App's output, so ARM runs it after the app, which itself takes the
    // API app's ids from stage create: create -> api -> complete.
    expect(moduleParams(entraCalls[1]).get('siteHostName')).toBe('api.outputs.defaultHostname');
    const api = moduleParams(modules(main).find((m) => m.name === 'api'));
    expect(api.get('authClientId')).toBe('apiAppClientId');
    expect(declarations(main).find((d) => d.name === 'apiAppClientId')?.node.text).toContain(
      'entra.outputs.apiAppClientId',
    );
    // Both stages get the same inputs apart from stage and host name, so they upsert the same objects.
    const [create, complete] = entraCalls.map(moduleParams);
    for (const key of ['stage', 'siteHostName']) {
      create!.delete(key);
      complete!.delete(key);
    }
    expect(complete).toEqual(create);
  });
});

describe('app roles of the API app (issue 11)', () => {
  it('defines Fleet.Read, Fleet.CustomerData.Read and Fleet.Admin with ids derived from the value', () => {
    const entra = template('infra/app/entra.bicep');
    const roles = nodesOfType(declarations(entra).find((d) => d.name === 'apiAppRoles')!.node, 'object').map(
      (role) => Object.fromEntries([...propertiesOf(role)].map(([k, v]) => [k, v.text])),
    );
    expect(roles.map((role) => role.value)).toEqual([
      "'Fleet.Read'",
      "'Fleet.CustomerData.Read'",
      "'Fleet.Admin'",
    ]);
    expect(roles[0]!.description).toMatch(/registry, runs, run results and diagnoses/);
    expect(roles[1]!.description).toMatch(/list blobs and read blob contents/);
    expect(roles[2]!.description).toMatch(/registry.*write and delete blobs.*reset.*start runs.*diagnose/);
    // The id formula earlier deployments used, so Fleet.Read and Fleet.Admin keep their ids and assignments.
    expect(entra.source).toContain('id: guid(tenant().tenantId, resourceToken, role.value)');
  });

  it('gives the deploying principal every role, with the same id formula', () => {
    const entra = template('infra/app/entra.bicep');
    const assignments = resources(entra).filter((r) => r.type === 'Microsoft.Graph/appRoleAssignedTo@v1.0');
    expect(assignments.map((a) => a.name)).toEqual(['adminRoleAssignments']);
    expect(compact(entra.source)).toContain(
      compact(`for role in apiAppRoles: if (!empty(adminPrincipalId)) {
        appRoleId: guid(tenant().tenantId, resourceToken, role.value)
        principalId: adminPrincipalId`),
    );
  });
});

describe('sign-in for the API and the console (issue 12)', () => {
  it('App Service Authentication validates when credentials are present and lets the app answer the rest', () => {
    const auth = variableObject(template('infra/app/api.bicep'), 'authSettings');
    expect(compact(auth.get('globalValidation'))).toBe(
      "{requireAuthentication:falseunauthenticatedClientAction:'AllowAnonymous'}",
    );
    expect(compact(auth.get('platform'))).toBe('{enabled:true}');
    expect(compact(auth.get('login'))).toBe('{tokenStore:{enabled:true}}');
    const entraProvider = auth.get('identityProviders') ?? '';
    expect(compact(entraProvider)).toContain('azureActiveDirectory:{enabled:true');
    expect(entraProvider).toContain('clientId: authClientId');
    expect(entraProvider).toContain('allowedAudiences: authAllowedAudiences');
    expect(entraProvider).not.toMatch(/secret/i);
  });

  it('accepts tokens for the API app id URI and client id, and sets the settings the app reads', () => {
    const main = template('infra/main.bicep');
    const api = moduleParams(modules(main).find((m) => m.name === 'api'));
    expect(compact(api.get('authAllowedAudiences'))).toBe('[apiIdentifierUriapiAppClientId]');
    const settings = Object.fromEntries(
      objectProperties(main.root)
        .filter((p) => p.key.startsWith('TENANT_FLEET_'))
        .map((p) => [p.key, p.value.text]),
    );
    expect(settings).toMatchObject({
      TENANT_FLEET_HTTP_AUTH: "'appservice'",
      TENANT_FLEET_API_AUDIENCE: 'apiIdentifierUri',
      TENANT_FLEET_API_CLIENT_ID: 'apiAppClientId',
      TENANT_FLEET_AUTH_TENANT_ID: 'tenant().tenantId',
    });
    // App Service sets WEBSITE_AUTH_ENABLED itself when authentication is on.
    const keys = templates.flatMap((t) => objectProperties(t.root).map((p) => p.key));
    expect(keys).not.toContain('WEBSITE_AUTH_ENABLED');
  });

  it('the API app allows the console sign-in: callback on the real host, ID tokens, in stage complete only', () => {
    const entra = template('infra/app/entra.bicep');
    const signIn = declarations(entra).find((d) => d.name === 'consoleSignIn')!.node.text;
    expect(compact(signIn)).toContain(
      "complete&&!empty(siteHostName)?{redirectUris:['https://${siteHostName}/.auth/login/aad/callback']implicitGrantSettings:{enableIdTokenIssuance:true}}",
    );
    const apiApp = resources(entra).find((r) => r.name === 'apiApp')!;
    expect(propertiesOf(apiApp.body!).get('web')?.text).toBe('consoleSignIn');
  });
});

describe('clouds without Microsoft Graph Bicep (issue 16)', () => {
  it('runs the Graph stages only in AzureCloud and elsewhere requires the ids the script printed', () => {
    const main = template('infra/main.bicep');
    expect(declarations(main).find((d) => d.name === 'graphBicep')?.node.text).toContain(
      "environment().name == 'AzureCloud'",
    );
    for (const name of ['entra', 'entraComplete']) {
      const call = modules(main).find((m) => m.name === name)!;
      expect(call.node.text, name).toMatch(/= if \(graphBicep\) \{/);
    }
    const refusal = declarations(main).find((d) => d.name === 'sovereignEntra')!.node.text;
    expect(refusal).toContain('graphBicep || sovereignEntraReady');
    expect(refusal).toContain('fail(');
    expect(refusal).toContain('infra/sovereign/entra-apps.sh create');
    expect(refusal).toContain('docs/deploy.md, "Sovereign clouds"');
    // Evaluated by the resource group, the first resource deployed: nothing is created before the refusal.
    const rg = resources(main).find((r) => r.name === 'rg')!;
    expect(propertiesOf(rg.body!).get('tags')?.text).toBe('union(tags, sovereignEntra)');
    for (const name of ['fleetAppClientId', 'apiAppClientId', 'apiIdentifierUri']) {
      const existing = `existing${name[0]!.toUpperCase()}${name.slice(1)}`;
      expect(declarations(main).find((d) => d.name === name)?.node.text).toContain(
        `graphBicep ? entra.outputs.${name} : ${existing}`,
      );
    }
  });
});

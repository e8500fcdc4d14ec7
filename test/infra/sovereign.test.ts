/**
 * infra/sovereign/entra-apps.sh (issue 16): the Entra part of the deployment for US Government and China, where
 * Microsoft Graph Bicep is not available. Run against a fake `az` that records calls and JSON bodies.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installFakeAz, type FakeAz } from './fake-az.js';
import { infraDir } from './templates.js';

const script = path.join(infraDir, 'sovereign', 'entra-apps.sh');
const tenantId = '11111111-1111-1111-1111-111111111111';
const apiAppId = '22222222-2222-2222-2222-222222222222';
const fleetAppId = '33333333-3333-3333-3333-333333333333';
const miPrincipalId = '44444444-4444-4444-4444-444444444444';
const adminId = '55555555-5555-5555-5555-555555555555';
const scopeId = '66666666-6666-6666-6666-666666666666';
const apiSpId = '77777777-7777-7777-7777-777777777777';

/** What `az cloud show` answers per cloud. */
const CLOUDS = {
  AzureUSGovernment: { graph: 'https://graph.microsoft.us/', login: 'https://login.microsoftonline.us' },
  AzureChinaCloud: {
    graph: 'https://microsoftgraph.chinacloudapi.cn/',
    login: 'https://login.chinacloudapi.cn',
  },
};

let fakeAz: FakeAz;

beforeAll(() => {
  fakeAz = installFakeAz([
    ['"cloud show --query name --output tsv"', 'echo "$FAKE_CLOUD"'],
    ['"cloud show --query endpoints.microsoftGraphResourceId --output tsv"', 'echo "$FAKE_GRAPH"'],
    ['"cloud show --query endpoints.activeDirectory --output tsv"', 'echo "$FAKE_LOGIN"'],
    ['"account show --query tenantId --output tsv"', `echo ${tenantId}`],
    ['"ad app list "*', 'echo "${FAKE_EXISTING:-}"'],
    ['"ad app create --display-name Tenant Fleet API "*', `echo ${apiAppId}`],
    ['"ad app create "*', `echo ${fleetAppId}`],
    ['"ad app federated-credential list "*', 'echo ""'],
    ['"ad app show --id "*"oauth2PermissionScopes"*', `echo ${scopeId}`],
    ['"ad app show --id "*"appRoles"*', 'echo "role-$*" | sed -E "s/.*value==.([A-Za-z.]+).*/role-\\1/"'],
    ['"ad sp show --id "*', `echo ${apiSpId}`],
    ['"rest "* | "ad sp create "* | "ad sp update "* | "ad app federated-credential create "*', 'exit 0'],
  ]);
});

afterAll(() => fakeAz.remove());

const run = (
  args: string[],
  cloud: keyof typeof CLOUDS = 'AzureUSGovernment',
  env: Record<string, string> = {},
) =>
  fakeAz.run(script, args, {
    FAKE_CLOUD: cloud,
    FAKE_GRAPH: CLOUDS[cloud].graph,
    FAKE_LOGIN: CLOUDS[cloud].login,
    ...env,
  });

describe('infra/sovereign/entra-apps.sh', () => {
  it('is valid bash (bash -n)', () => {
    const result = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('create: makes the API app with its identifier URI, three app roles and scope, the multitenant app, both service principals', () => {
    const result = run(['create', '--env-suffix', 'abc123']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const apiUri = `api://${tenantId}/tenant-fleet-abc123`;
    const create = result.calls.find((c) => c.startsWith('ad app create --display-name Tenant Fleet API'));
    expect(create).toContain(`--sign-in-audience AzureADMyOrg --identifier-uris ${apiUri} --app-roles @`);
    const [roles, api] = result.files.map((text) => JSON.parse(text) as unknown);
    expect((roles as { value: string; allowedMemberTypes: string[] }[]).map((r) => r.value)).toEqual([
      'Fleet.Read',
      'Fleet.CustomerData.Read',
      'Fleet.Admin',
    ]);
    expect(api).toMatchObject({
      api: {
        requestedAccessTokenVersion: 2,
        oauth2PermissionScopes: [{ value: 'user_impersonation', type: 'User' }],
      },
    });
    // No pre-authorization in create: Graph refuses it in the request that creates the scope.
    expect(JSON.stringify(result.files)).not.toContain('preAuthorizedApplications');
    const patch = `rest --method PATCH --url https://graph.microsoft.us/v1.0/applications(appId='${apiAppId}') --body @`;
    expect(result.calls.some((c) => c.startsWith(patch) && c.endsWith('/api.json --output none'))).toBe(true);
    expect(result.calls).toContain(
      `ad sp update --id ${apiAppId} --set appRoleAssignmentRequired=true --output none`,
    );
    expect(result.calls).toContain(
      'ad app create --display-name Tenant Fleet --sign-in-audience AzureADMultipleOrgs --query appId --output tsv',
    );
    expect(result.calls.filter((c) => c.startsWith('ad sp create'))).toEqual([
      `ad sp create --id ${apiAppId} --output none`,
      `ad sp create --id ${fleetAppId} --output none`,
    ]);
    expect(result.calls.some((c) => /password|credential reset|cert/i.test(c))).toBe(false);
    expect(result.stdout).toContain(`azd env set TENANT_FLEET_EXISTING_FLEET_APP_CLIENT_ID ${fleetAppId}`);
    expect(result.stdout).toContain(`azd env set TENANT_FLEET_EXISTING_API_APP_CLIENT_ID ${apiAppId}`);
    expect(result.stdout).toContain(`azd env set TENANT_FLEET_EXISTING_API_IDENTIFIER_URI ${apiUri}`);
  });

  it('create: reuses apps that exist (rerunnable)', () => {
    const result = run(['create', '--env-suffix', 'abc123'], 'AzureUSGovernment', {
      FAKE_EXISTING: apiAppId,
    });
    expect(result.status).toBe(0);
    expect(result.calls.filter((c) => c.startsWith('ad app create') || c.startsWith('rest '))).toEqual([]);
  });

  it.each([
    ['AzureUSGovernment', 'api://AzureADTokenExchangeUSGov', 'https://login.microsoftonline.us'],
    ['AzureChinaCloud', 'api://AzureADTokenExchangeChina', 'https://login.chinacloudapi.cn'],
  ] as const)(
    'trust in %s: FIC with audience %s, then pre-authorization, sign-in callback and roles',
    (cloud, audience, login) => {
      const result = run(
        [
          'trust',
          '--fleet-app-id',
          fleetAppId,
          '--api-app-id',
          apiAppId,
          '--mi-principal-id',
          miPrincipalId,
          '--site-host',
          'func-abc.azurewebsites.us',
          '--admin-object-id',
          adminId,
        ],
        cloud,
      );
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const [fic, access, ...rest] = result.files.map((text) => JSON.parse(text) as Record<string, unknown>);
      const { description, ...credential } = fic!;
      expect(credential).toEqual({
        name: 'tenant-fleet-managed-identity',
        issuer: `${login}/${tenantId}/v2.0`,
        subject: miPrincipalId,
        audiences: [audience],
      });
      expect(description).toMatch(/managed identity/);
      expect(access).toEqual({
        api: {
          preAuthorizedApplications: [
            { appId: '04b07795-8ddb-461a-bbee-02f9e1bf7b46', delegatedPermissionIds: [scopeId] },
          ],
        },
        web: {
          redirectUris: ['https://func-abc.azurewebsites.us/.auth/login/aad/callback'],
          implicitGrantSettings: { enableIdTokenIssuance: true },
        },
      });
      expect(rest).toEqual([]);
      // The FIC is created before anything else changes, on the multitenant app.
      expect(
        result.calls.findIndex((c) => c.startsWith(`ad app federated-credential create --id ${fleetAppId}`)),
      ).toBeLessThan(result.calls.findIndex((c) => c.startsWith('rest --method PATCH')));
      const assignments = result.calls.filter((c) => c.includes('/appRoleAssignedTo'));
      expect(assignments).toHaveLength(3);
      for (const role of ['Fleet.Read', 'Fleet.CustomerData.Read', 'Fleet.Admin']) {
        expect(
          assignments.some(
            (c) => c.includes(`"appRoleId": "role-${role}"`) && c.includes(`"principalId": "${adminId}"`),
          ),
          role,
        ).toBe(true);
      }
      expect(assignments[0]).toContain(
        `${CLOUDS[cloud].graph}v1.0/servicePrincipals/${apiSpId}/appRoleAssignedTo`,
      );
    },
  );

  it.each([
    [['create'], "--env-suffix must be 1-20 lowercase letters or digits, got: ''"],
    [['create', '--env-suffix', 'Bad_Suffix'], '--env-suffix must be'],
    [['trust', '--fleet-app-id', 'x'], '--fleet-app-id must be a GUID'],
    [
      ['trust', '--fleet-app-id', fleetAppId, '--api-app-id', apiAppId, '--mi-principal-id', miPrincipalId],
      '--site-host must be a host name',
    ],
    [['delete'], 'unknown command: delete'],
    [['create', '--tenant', 'x'], 'unknown argument: --tenant'],
  ])('rejects %j before calling Azure', (args, message) => {
    const result = run(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.calls).toEqual([]);
  });

  it('refuses a cloud it does not know, before changing anything', () => {
    const result = fakeAz.run(script, ['create', '--env-suffix', 'abc'], { FAKE_CLOUD: 'AzureGermanCloud' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unsupported cloud: AzureGermanCloud');
    expect(result.calls).toEqual(['cloud show --query name --output tsv']);
  });
});

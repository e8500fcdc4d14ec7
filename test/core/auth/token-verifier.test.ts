/**
 * The bearer token verifier against the sandbox's Entra (its published keys, fetched over TLS with the
 * sandbox's CA): what a token must be to be accepted, the reason a refused caller reads (never the
 * token), and the caller an accepted token makes. test/functions/auth-http.test.ts drives the same
 * verifier through the HTTP functions.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorld, startSandbox, worldFacts, type Sandbox } from '../../../sandbox/index.js';
import type { Caller } from '../../../src/core/auth/caller.js';
import { acceptedIssuers, ApiTokenVerifier, jwksUrl } from '../../../src/core/auth/token-verifier.js';
import { AZURE_CLOUDS, sandboxCloud, type CloudProfile } from '../../../src/core/platform/cloud.js';
import { ConfigError } from '../../../src/core/platform/errors.js';
import { registerApiCallers, type ApiCallers } from '../../support/api-callers.js';

let sandbox: Sandbox;
let callers: ApiCallers;
let cloud: CloudProfile;
let otherTenant: string;

/**
 * A verifier of its own per test: built inside the test (not in beforeAll), so what its constructor
 * sets up (the pipeline that trusts the sandbox CA) is covered by the tests that use it.
 */
function newVerifier(): ApiTokenVerifier {
  return new ApiTokenVerifier(cloud, {
    tenantId: callers.tenantId,
    audiences: [callers.api.appIdUri, callers.api.appId],
  });
}

beforeAll(async () => {
  sandbox = await startSandbox({
    world: generateWorld({ seed: 17, tenants: 1, subscriptionsPerTenant: 1, resourcesPerSubscription: 0 }),
  });
  callers = registerApiCallers(sandbox);
  cloud = sandboxCloud({
    authorityHost: sandbox.endpoints.authorityHost,
    armEndpoint: sandbox.endpoints.armEndpoint,
    storageEndpoint: sandbox.endpoints.storageEndpoint ?? 'https://127.0.0.1:1',
    caCertPem: sandbox.caCertPem,
  });
  otherTenant = worldFacts(sandbox.store.world).customerTenantIds[0]!;
});

afterAll(async () => {
  await sandbox?.close();
});

async function refusal(token: string, on = newVerifier()): Promise<unknown> {
  try {
    await on.verify(token);
  } catch (error) {
    return error;
  }
  return undefined;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

describe('issuers and keys', () => {
  it("are the tenant's v2.0 issuer in the cloud and its v1.0 form (China's own v1.0 host)", () => {
    const tenantId = randomUUID();
    expect(acceptedIssuers(AZURE_CLOUDS.AzurePublicCloud, tenantId)).toEqual([
      `https://login.microsoftonline.com/${tenantId}/v2.0`,
      `https://sts.windows.net/${tenantId}/`,
    ]);
    expect(acceptedIssuers(AZURE_CLOUDS.AzureChinaCloud, tenantId)).toEqual([
      `https://login.chinacloudapi.cn/${tenantId}/v2.0`,
      `https://sts.chinacloudapi.cn/${tenantId}/`,
    ]);
    expect(jwksUrl(AZURE_CLOUDS.AzureUSGovernment, tenantId)).toBe(
      `https://login.microsoftonline.us/${tenantId}/discovery/v2.0/keys`,
    );
  });

  it('cannot be set up without the provider tenant or an audience, naming the setting', () => {
    const missing = (settings: { tenantId?: string; audiences: string[] }): unknown => {
      try {
        new ApiTokenVerifier(cloud, settings);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(missing({ audiences: ['api://x'] })).toMatchObject({
      setting: 'TENANT_FLEET_AUTH_TENANT_ID',
      message: 'TENANT_FLEET_AUTH_TENANT_ID: is required to accept bearer tokens (the provider tenant id)',
    });
    expect(missing({ tenantId: randomUUID(), audiences: [] })).toMatchObject({
      setting: 'TENANT_FLEET_API_AUDIENCE',
      message:
        'TENANT_FLEET_API_AUDIENCE: is required to accept bearer tokens (the API app id URI), or set TENANT_FLEET_API_CLIENT_ID',
    });
    expect(missing({ tenantId: randomUUID(), audiences: [] })).toBeInstanceOf(ConfigError);
  });
});

describe('an accepted token', () => {
  it('makes a caller of its oid, app id, UPN, name and known roles (ids lower-cased)', async () => {
    const token = await callers.mint({
      roles: ['Fleet.Read', 'Other.Role', 'Fleet.CustomerData.Read'],
      claims: {
        oid: 'AAAA-OID',
        appid: 'BBBB-APP',
        azp: 'cccc-azp',
        upn: 'Alice@Contoso.com',
        preferred_username: 'other@contoso.com',
        name: 'Alice\r\nSmith',
      },
    });
    expect(await newVerifier().verify(token)).toEqual<Caller>({
      objectId: 'aaaa-oid',
      appId: 'bbbb-app',
      upn: 'Alice@Contoso.com',
      name: 'Alice Smith',
      roles: ['Fleet.Read', 'Fleet.CustomerData.Read'],
      via: 'token',
    });
  });

  it('falls back to azp, preferred_username and then the app id for the name; empty claims do not count', async () => {
    const token = await callers.mint({
      claims: {
        oid: '',
        appid: '',
        azp: 'DDDD-AZP',
        upn: '',
        preferred_username: 'bob@contoso.com',
        name: '',
      },
    });
    expect(await newVerifier().verify(token)).toEqual<Caller>({
      appId: 'dddd-azp',
      upn: 'bob@contoso.com',
      name: 'bob@contoso.com',
      roles: [],
      via: 'token',
    });
    const app = await callers.mint({ claims: { oid: 'O', azp: 'EEEE-AZP', roles: 'Fleet.Admin' } });
    // A roles claim that is not a list grants nothing.
    expect(await newVerifier().verify(app)).toEqual<Caller>({
      objectId: 'o',
      appId: 'eeee-azp',
      name: 'EEEE-AZP',
      roles: [],
      via: 'token',
    });
  });

  it("has the provider tenant's tid in any case, or none", async () => {
    const upper = await callers.mint({
      roles: ['Fleet.Read'],
      claims: { tid: callers.tenantId.toUpperCase() },
    });
    expect((await newVerifier().verify(upper)).roles).toEqual(['Fleet.Read']);
    const none = await callers.mint({ roles: ['Fleet.Read'], claims: { tid: undefined } });
    expect((await newVerifier().verify(none)).roles).toEqual(['Fleet.Read']);
  });
});

describe('a refused token', () => {
  it.each<[string, () => Promise<string>, string]>([
    [
      'expired',
      () => callers.mint({ issuedAt: nowSeconds() - 3600, lifetimeSeconds: 600 }),
      'the bearer token is not accepted: it has expired',
    ],
    [
      'for another audience',
      () => callers.mint({ audience: 'api://someone-else' }),
      'the bearer token is not accepted: its audience is not this API',
    ],
    [
      'from another issuer',
      () => callers.mint({ issuer: `https://sts.windows.net/${randomUUID()}/` }),
      'the bearer token is not accepted: its issuer is not the provider tenant',
    ],
    [
      'not valid yet',
      () => callers.mint({ issuedAt: nowSeconds() + 3600 }),
      'the bearer token is not accepted: it is not valid yet',
    ],
    [
      "of another tenant's tid",
      () => callers.mint({ claims: { tid: randomUUID() } }),
      'the bearer token is not accepted: it is from another tenant',
    ],
    [
      "signed by another tenant's key",
      () => callers.mint({ signingTenantId: otherTenant }),
      'the bearer token is not accepted: it is not signed by a key of the provider tenant',
    ],
    [
      'with a forged signature',
      async () => {
        const [header, payload, signature] = (await callers.mint()).split('.');
        const flipped = signature!.startsWith('A') ? `B${signature!.slice(1)}` : `A${signature!.slice(1)}`;
        return `${header}.${payload}.${flipped}`;
      },
      'the bearer token is not accepted: its signature is invalid',
    ],
    [
      'signed with a shared secret',
      () =>
        new SignJWT({ aud: callers.api.appIdUri, iss: acceptedIssuers(cloud, callers.tenantId)[0] })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode('a shared secret of at least 32 bytes')),
      'the bearer token is not accepted: its algorithm is not allowed',
    ],
    [
      'with a header that is not JSON',
      async () => {
        const [, payload, signature] = (await callers.mint()).split('.');
        return `${Buffer.from('not json').toString('base64url')}.${payload}.${signature}`;
      },
      'the bearer token is not accepted: it is malformed',
    ],
  ])('%s, saying why', async (_case, token, message) => {
    const error = await refusal(await token());
    expect((error as Error | undefined)?.message).toBe(message);
    expect(error).toMatchObject({ status: 401 });
  });

  it('that is no JWT at all, before anything is fetched', async () => {
    const good = await callers.mint();
    for (const token of [
      `${good}.extra`,
      `${good} `,
      ` ${good}`,
      'a.b',
      'a..c',
      `a.b.${'c'.repeat(16 * 1024)}`,
    ]) {
      expect(await refusal(token), token.slice(0, 40)).toMatchObject({
        status: 401,
        message: 'the bearer token is not a well-formed JWT',
      });
    }
    // Just under the bound the token is read (and refused for what it is).
    expect(await refusal(`a.b.${'c'.repeat(16 * 1024 - 4)}`)).toMatchObject({
      message: 'the bearer token is not accepted: it is malformed',
    });
  });

  it("is answered 503 when the provider tenant's keys cannot be read", async () => {
    const unknownTenant = new ApiTokenVerifier(cloud, {
      tenantId: randomUUID(),
      audiences: [callers.api.appIdUri],
    });
    expect(await refusal(await callers.mint(), unknownTenant)).toMatchObject({
      status: 503,
      message:
        "the provider tenant's signing keys could not be read, so no token can be checked; retry later",
    });
  });
});

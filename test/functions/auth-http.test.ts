/**
 * Caller authentication in `appservice` mode (the default in Azure): the app itself authenticates
 * every caller. A bearer token must be an Entra token of the provider tenant for this API (signature
 * by the tenant's published keys, issuer in this cloud, audience, lifetime), and roles come from its
 * `roles` claim only. App Service Authentication's principal header is taken only where the platform
 * declares authentication on (WEBSITE_AUTH_ENABLED) and the provider is Entra, again with roles from
 * `roles` claims only. Refusals happen before any work: a refused write leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TenantRecord } from '../../src/core/sweep/registry.js';
import { createRuntime, setRuntime } from '../../src/core/runtime.js';
import { me } from '../../src/functions/me.js';
import { tenant } from '../../src/functions/tenant.js';
import { tenants } from '../../src/functions/tenants.js';
import { asCaller, call, startDemoFleet, tenantIdOf, type Fleet } from '../support/http.js';
import type { ApiCallers } from '../support/api-callers.js';

let fleet: Fleet;
let callers: ApiCallers;
let admin: Record<string, string>;

beforeAll(async () => {
  fleet = await startDemoFleet({ httpAuth: 'appservice' });
  callers = fleet.callers!;
  admin = await callers.headers(['Fleet.Admin']);
});
afterAll(async () => {
  await fleet?.close();
});
afterEach(() => {
  delete process.env.WEBSITE_AUTH_ENABLED;
});

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

async function registered(tenantId: string): Promise<boolean> {
  return (await call(tenant, { headers: admin, params: { tenantId } })).status === 200;
}

describe('bearer tokens', () => {
  it('accepts a token the provider tenant issued to an operator client for this API', async () => {
    const tenantId = randomUUID();
    const created = await call(tenants, {
      method: 'POST',
      headers: admin,
      body: { tenantId, displayName: 'Contoso' },
    });
    expect(created.status, created.text).toBe(201);
    // The actor is the client's service principal (an app caller has no UPN).
    expect(created.json<TenantRecord>().tenantId).toBe(tenantId);
  });

  it('GET /api/me tells the caller who it is and which roles it holds', async () => {
    const response = await call(me, {
      headers: await callers.headers(['Fleet.Read', 'Fleet.CustomerData.Read']),
    });
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({
      name: expect.any(String) as unknown,
      objectId: callers.objectIdOf(['Fleet.Read', 'Fleet.CustomerData.Read']),
      roles: ['Fleet.Read', 'Fleet.CustomerData.Read'],
    });
    const none = await call(me, { headers: await callers.headers([]) });
    expect(none.json<{ roles: string[] }>().roles).toEqual([]);
  });

  it('accepts the v1.0 issuer form of the same tenant', async () => {
    const token = await callers.mint({
      roles: ['Fleet.Read'],
      issuer: `https://sts.windows.net/${callers.tenantId}/`,
      audience: callers.api.appIdUri,
    });
    expect((await call(tenants, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it.each<[string, () => Promise<string>, string]>([
    [
      "another cloud's issuer form for the provider tenant",
      () =>
        callers.mint({
          roles: ['Fleet.Admin'],
          issuer: `https://login.microsoftonline.us/${callers.tenantId}/v2.0`,
        }),
      'issuer',
    ],
    [
      'a token signed by another tenant with its own issuer',
      () => {
        const other = tenantIdOf(fleet.world, 'Litware');
        return callers.mint({
          roles: ['Fleet.Admin'],
          signingTenantId: other,
          issuer: `${fleet.sandbox.endpoints.authorityHost}/${other}/v2.0`,
        });
      },
      'not signed by a key of the provider tenant',
    ],
    [
      'a token not valid yet',
      // Issued an hour from now: its nbf (issue time - 5 min) is still ahead.
      () => callers.mint({ roles: ['Fleet.Admin'], issuedAt: Math.floor(Date.now() / 1000) + 3600 }),
      'not valid yet',
    ],
    [
      'roles given in another claim than roles',
      () => callers.mint({ claims: { groups: ['Fleet.Admin'], scp: 'Fleet.Admin', wids: ['Fleet.Admin'] } }),
      '',
    ],
  ])('refuses %s', async (_case, token, reason) => {
    const tenantId = randomUUID();
    const response = await call(tenants, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token()}` },
      body: { tenantId, displayName: 'Mallory' },
    });
    if (reason) {
      expect(response.status, response.text).toBe(401);
      expect(response.error().message).toContain(reason);
    } else {
      expect(response.status, response.text).toBe(403);
    }
    expect(await registered(tenantId)).toBe(false);
  });

  it('refuses a malformed Authorization header and a token that is not a JWT, with a Bearer challenge', async () => {
    for (const authorization of [
      'Basic YWxpY2U6c2VjcmV0',
      'Bearer not-a-jwt',
      `Bearer ${'a'.repeat(20_000)}.b.c`,
    ]) {
      const response = await call(tenants, { headers: { authorization } });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
  });
});

describe("when the provider tenant's keys cannot be read", () => {
  it("answers 503 (not the caller's fault) and logs it, accepting nothing", async () => {
    const config = fleet.runtime.config;
    // A provider tenant the sandbox's Entra does not know: its key set endpoint refuses.
    setRuntime(createRuntime({ ...config, apiAuth: { ...config.apiAuth, tenantId: randomUUID() } }));
    try {
      const response = await call(tenants, { headers: admin });
      expect(response.status, response.text).toBe(503);
      expect(response.error().code).toBe('AuthenticationUnavailable');
      expect(response.logs.some((line) => line.level === 'error' && line.text.includes('signing keys'))).toBe(
        true,
      );
    } finally {
      setRuntime(fleet.runtime);
    }
  });
});

describe('the App Service Authentication principal', () => {
  // Finding: a forged header with {"claims":[{"typ":"roles","val":"Fleet.Admin"}]} registered a tenant.
  it('is not trusted where the platform has not enabled App Service Authentication', async () => {
    const tenantId = randomUUID();
    const forged = base64(JSON.stringify({ claims: [{ typ: 'roles', val: 'Fleet.Admin' }] }));
    for (const headers of <Array<Record<string, string>>>[
      { 'x-ms-client-principal': forged },
      { 'x-ms-client-principal': forged, 'x-ms-client-principal-idp': 'aad' },
    ]) {
      const response = await call(tenants, {
        method: 'POST',
        headers,
        body: { tenantId, displayName: 'Forged' },
      });
      expect(response.status, response.text).toBe(401);
    }
    expect(await registered(tenantId)).toBe(false);
  });

  it('is trusted where the platform declares it on, for Entra only, with roles from roles claims only', async () => {
    process.env.WEBSITE_AUTH_ENABLED = 'True';
    expect((await call(tenants, { headers: asCaller(['Fleet.Read']) })).status).toBe(200);
    // Another identity provider (e.g. a social login) cannot hold the API's app roles.
    const github = { ...asCaller(['Fleet.Admin']), 'x-ms-client-principal-idp': 'github' };
    expect((await call(tenants, { headers: github })).status).toBe(401);
  });

  // Finding: role_typ "groups" plus a groups claim named Fleet.Admin registered a tenant.
  it('ignores role_typ overrides: a group named Fleet.Admin is not the app role', async () => {
    process.env.WEBSITE_AUTH_ENABLED = 'True';
    const tenantId = randomUUID();
    for (const principal of [
      { auth_typ: 'aad', role_typ: 'groups', claims: [{ typ: 'groups', val: 'Fleet.Admin' }] },
      {
        auth_typ: 'aad',
        role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
        claims: [{ typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role', val: 'Fleet.Admin' }],
      },
    ]) {
      const response = await call(tenants, {
        method: 'POST',
        headers: {
          'x-ms-client-principal': base64(JSON.stringify(principal)),
          'x-ms-client-principal-idp': 'aad',
        },
        body: { tenantId, displayName: 'Groups' },
      });
      expect(response.status, response.text).toBe(403);
    }
    expect(await registered(tenantId)).toBe(false);
  });

  it.each<[string, string]>([
    ['not base64 of JSON', 'this is not a principal'],
    ['base64 of plain text', base64('alice')],
    ['base64 of a JSON array', base64('[]')],
    ['claims that are not a list', base64(JSON.stringify({ claims: 'roles=Fleet.Admin' }))],
    ['a claim without a value', base64(JSON.stringify({ claims: [{ typ: 'roles' }] }))],
    ['an empty header', ''],
  ])('answers 401 for a malformed principal (%s)', async (_case, header) => {
    process.env.WEBSITE_AUTH_ENABLED = 'True';
    const response = await call(tenants, {
      headers: { 'x-ms-client-principal': header, 'x-ms-client-principal-idp': 'aad' },
    });
    expect(response.status).toBe(401);
    expect(response.error().code).toBe('Unauthenticated');
  });
});

/**
 * App Service Authentication's principal header on its own (the platform's environment is passed in):
 * when it is trusted at all, and which claims make the caller. test/functions/auth-http.test.ts drives
 * the same code through the HTTP functions.
 */
import { describe, expect, it } from 'vitest';
import { callerFromPrincipal, platformAuthEnabled } from '../../../src/core/auth/principal.js';
import { refusal } from '../../support/refusal.js';

const ON = { WEBSITE_AUTH_ENABLED: 'True' };

function header(claims: Array<{ typ: string; val: string }>, extra: Record<string, unknown> = {}): string {
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, ...extra }), 'utf8').toString('base64');
}

describe('platformAuthEnabled', () => {
  it('is on only where the platform says true (in any case)', () => {
    expect(platformAuthEnabled({ WEBSITE_AUTH_ENABLED: 'True' })).toBe(true);
    expect(platformAuthEnabled({ WEBSITE_AUTH_ENABLED: 'TRUE' })).toBe(true);
    expect(platformAuthEnabled({ WEBSITE_AUTH_ENABLED: 'false' })).toBe(false);
    expect(platformAuthEnabled({ WEBSITE_AUTH_ENABLED: '1' })).toBe(false);
    expect(platformAuthEnabled({})).toBe(false);
  });
});

describe('callerFromPrincipal', () => {
  const roles = header([{ typ: 'roles', val: 'Fleet.Read' }]);

  it('refuses with 401 where the platform has not enabled authentication, saying to present a token', () => {
    expect(refusal(() => callerFromPrincipal(roles, 'aad', {}))).toMatchObject({
      status: 401,
      message: expect.stringContaining('present a bearer token') as unknown,
    });
  });

  it('takes Entra only, whatever the case of its name', () => {
    expect(callerFromPrincipal(roles, 'AAD', ON).roles).toEqual(['Fleet.Read']);
    for (const idp of ['github', null]) {
      expect(refusal(() => callerFromPrincipal(roles, idp, ON))).toMatchObject({
        status: 401,
        message: 'authentication required: the identity provider must be Microsoft Entra ID',
      });
    }
  });

  it('refuses a header over 64 KiB as malformed', () => {
    const padding = 'x'.repeat(64 * 1024);
    const long = header([{ typ: 'roles', val: 'Fleet.Read' }], { padding });
    expect(long.length).toBeGreaterThan(64 * 1024);
    expect(refusal(() => callerFromPrincipal(long, 'aad', ON))).toMatchObject({
      status: 401,
      message: 'the client principal header is malformed',
    });
    // Exactly at the bound it is read: JSON of 48 KiB is 64 KiB of base64.
    const base = JSON.stringify({
      auth_typ: 'aad',
      claims: [{ typ: 'roles', val: 'Fleet.Read' }],
      padding: '',
    });
    const json = JSON.stringify({
      auth_typ: 'aad',
      claims: [{ typ: 'roles', val: 'Fleet.Read' }],
      padding: 'x'.repeat(48 * 1024 - base.length),
    });
    const fits = Buffer.from(json, 'utf8').toString('base64');
    expect(fits).toHaveLength(64 * 1024);
    expect(callerFromPrincipal(fits, 'aad', ON).roles).toEqual(['Fleet.Read']);
  });

  it('reads the object id, app id, UPN and name claims, lower-casing the ids and skipping empty values', () => {
    const caller = callerFromPrincipal(
      header([
        { typ: 'oid', val: '' },
        { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'AAAA-Object' },
        { typ: 'appid', val: '' },
        { typ: 'azp', val: 'BBBB-App' },
        { typ: 'preferred_username', val: 'Alice@Contoso.com\r\n' },
        { typ: 'name', val: 'Alice\u001b[2J Smith' },
        { typ: 'roles', val: 'Fleet.Admin' },
        { typ: 'roles', val: 'Other.Role' },
        { typ: 'groups', val: 'Fleet.CustomerData.Read' },
      ]),
      'aad',
      ON,
    );
    expect(caller).toEqual({
      objectId: 'aaaa-object',
      appId: 'bbbb-app',
      upn: 'Alice@Contoso.com',
      name: 'Alice [2J Smith',
      roles: ['Fleet.Admin'],
      via: 'appservice',
    });
  });

  it('names the caller by its UPN, else its app id, and leaves out what the header lacks', () => {
    expect(callerFromPrincipal(header([{ typ: 'upn', val: 'bob@contoso.com' }]), 'aad', ON)).toEqual({
      upn: 'bob@contoso.com',
      name: 'bob@contoso.com',
      roles: [],
      via: 'appservice',
    });
    expect(callerFromPrincipal(header([{ typ: 'appid', val: 'App-1' }]), 'aad', ON)).toEqual({
      appId: 'app-1',
      name: 'App-1',
      roles: [],
      via: 'appservice',
    });
    expect(callerFromPrincipal(header([]), 'aad', ON)).toEqual({
      name: 'unknown',
      roles: [],
      via: 'appservice',
    });
  });
});

/**
 * The caller model on its own: which roles grant what, which claim values count as roles, the display
 * name a claim may set (stored in audit rows and printed in logs), and the label an audit row shows.
 * The HTTP tests (test/functions/auth-*.test.ts) drive the same code through real tokens.
 */
import { describe, expect, it } from 'vitest';
import {
  actorLabel,
  AuthError,
  grants,
  knownRoles,
  MAX_DISPLAY_NAME,
  requireRole,
  sanitizeDisplayName,
  type Caller,
} from '../../../src/core/auth/caller.js';

function caller(fields: Partial<Caller>): Caller {
  return { name: 'unknown', roles: [], via: 'token', ...fields };
}

describe('roles', () => {
  it('Fleet.Admin grants Fleet.Read but not Fleet.CustomerData.Read', () => {
    expect(grants(['Fleet.Admin'], 'Fleet.Read')).toBe(true);
    expect(grants(['Fleet.Admin'], 'Fleet.Admin')).toBe(true);
    expect(grants(['Fleet.Admin'], 'Fleet.CustomerData.Read')).toBe(false);
    expect(grants(['Fleet.Read'], 'Fleet.Admin')).toBe(false);
    expect(grants(['Fleet.CustomerData.Read'], 'Fleet.Read')).toBe(false);
    expect(grants([], 'Fleet.Read')).toBe(false);
  });

  it('requireRole refuses with 403 naming the role, and lets a holder through', () => {
    const reader = caller({ roles: ['Fleet.Read'] });
    expect(() => requireRole(reader, 'Fleet.Read')).not.toThrow();
    let refused: unknown;
    try {
      requireRole(reader, 'Fleet.Admin');
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(AuthError);
    expect(refused).toMatchObject({
      status: 403,
      name: 'AuthError',
      message: 'the app role Fleet.Admin is required',
    });
  });

  it('knownRoles keeps the API roles once each and drops everything else', () => {
    expect(
      knownRoles(['Fleet.Read', 'Other.App.Role', 'fleet.admin', 42, 'Fleet.Read', 'Fleet.Admin', null]),
    ).toEqual(['Fleet.Read', 'Fleet.Admin']);
    expect(knownRoles([])).toEqual([]);
  });
});

describe('sanitizeDisplayName', () => {
  it('removes control, line and bidi characters and collapses whitespace', () => {
    expect(sanitizeDisplayName('  Alice\r\nADMIN\u001b[31m  Smith\u2028x\u202ey\u2066z\u0085w\t ')).toBe(
      'Alice ADMIN [31m Smith x y z w',
    );
  });

  it('falls back for a value that is not a string or has nothing left', () => {
    expect(sanitizeDisplayName(undefined)).toBe('unknown');
    expect(sanitizeDisplayName(42, 'app')).toBe('app');
    expect(sanitizeDisplayName(' \r\n\u200e ')).toBe('unknown');
    expect(sanitizeDisplayName('', 'fallback')).toBe('fallback');
  });

  it(`keeps ${MAX_DISPLAY_NAME} characters and cuts a longer name with an ellipsis`, () => {
    const exact = 'a'.repeat(MAX_DISPLAY_NAME);
    expect(sanitizeDisplayName(exact)).toBe(exact);
    const cut = sanitizeDisplayName(`${'b'.repeat(MAX_DISPLAY_NAME)}c`);
    expect(cut).toBe(`${'b'.repeat(MAX_DISPLAY_NAME - 1)}…`);
    expect(cut).toHaveLength(MAX_DISPLAY_NAME);
  });
});

describe('actorLabel', () => {
  it('is the UPN, else the display name, else the app id, else the object id', () => {
    const full = { upn: 'alice@contoso.com', name: 'Alice', appId: 'app', objectId: 'oid' };
    expect(actorLabel(caller(full))).toBe('alice@contoso.com');
    expect(actorLabel(caller({ ...full, upn: undefined }))).toBe('Alice');
    expect(actorLabel(caller({ appId: 'app', objectId: 'oid' }))).toBe('app');
    expect(actorLabel(caller({ objectId: 'oid' }))).toBe('oid');
    expect(actorLabel(caller({}))).toBe('unknown');
  });
});

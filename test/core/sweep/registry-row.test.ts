/**
 * The registry's row shape on its own (pure): what a new tenant and a patch must be, how a stored row
 * reads back (and why a row that cannot be read is reported, not dropped), and the subscription scope.
 * test/core/sweep/registry.test.ts and test/functions/registry-http.test.ts write real rows.
 */
import { describe, expect, it } from 'vitest';
import {
  inSubscriptionScope,
  isInvalidRow,
  looksLikeTenantId,
  newTenantSchema,
  parseTenantRow,
  tenantPatchSchema,
} from '../../../src/core/sweep/registry-row.js';

const TENANT = 'A0A0A0A0-0000-0000-0000-000000000001';
const SUB_A = '11111111-0000-0000-0000-00000000000a';
const SUB_B = '22222222-0000-0000-0000-00000000000b';

function row(fields: Record<string, unknown> = {}) {
  return {
    partitionKey: 'tenant',
    rowKey: TENANT,
    etag: 'W/"7"',
    displayName: 'Contoso',
    enabled: true,
    createdAt: '2030-01-01T00:00:00Z',
    updatedAt: '2030-01-02T00:00:00Z',
    ...fields,
  };
}

describe('a stored row', () => {
  it('reads with the defaults of what it lacks', () => {
    expect(parseTenantRow(row())).toEqual({
      tenantId: TENANT.toLowerCase(),
      displayName: 'Contoso',
      enabled: true,
      tags: [],
      subscriptions: { mode: 'all', include: [], exclude: [] },
      cloud: 'AzurePublicCloud',
      onboardingState: 'pending',
      consecutiveFailures: 0,
      createdAt: '2030-01-01T00:00:00Z',
      updatedAt: '2030-01-02T00:00:00Z',
      etag: 'W/"7"',
    });
  });

  it('reads its exclusion, last sweep and last error when they are complete', () => {
    const record = parseTenantRow(
      row({
        enabled: false,
        excludedAt: '2030-01-03T00:00:00Z',
        excludedReason: 'offboarding',
        tags: '["gold"]',
        subscriptionScope: JSON.stringify({ mode: 'list', include: [SUB_A], exclude: [] }),
        cloud: 'AzureUSGovernment',
        onboardingState: 'verified',
        lastSweepRunId: 'run-1',
        lastSweepStatus: 'partial',
        lastSweepAt: '2030-01-04T00:00:00Z',
        consecutiveFailures: 2,
        lastErrorCode: 'AuthorizationFailed',
      }),
    );
    expect(record).toMatchObject({
      enabled: false,
      exclusion: { by: 'unknown', at: '2030-01-03T00:00:00Z', reason: 'offboarding' },
      tags: ['gold'],
      subscriptions: { mode: 'list', include: [SUB_A], exclude: [] },
      cloud: 'AzureUSGovernment',
      onboardingState: 'verified',
      lastSweep: { runId: 'run-1', status: 'partial', at: '2030-01-04T00:00:00Z' },
      consecutiveFailures: 2,
      lastError: { code: 'AuthorizationFailed', message: '', at: '' },
    });
    const withBy = parseTenantRow(
      row({
        enabled: false,
        excludedAt: 'x',
        excludedBy: 'alice',
        lastErrorCode: 'X',
        lastErrorMessage: 'm',
        lastErrorAt: 't',
      }),
    );
    expect(withBy).toMatchObject({
      exclusion: { by: 'alice', reason: '' },
      lastError: { message: 'm', at: 't' },
    });
    // An enabled tenant has no exclusion; a last sweep without its time is not one.
    const enabled = parseTenantRow(
      row({ excludedAt: 'x', lastSweepRunId: 'run-1', lastSweepStatus: 'failed' }),
    );
    expect(enabled).not.toHaveProperty('exclusion');
    expect(enabled).not.toHaveProperty('lastSweep');
    expect(parseTenantRow(row({ enabled: false }))).not.toHaveProperty('exclusion');
    expect(parseTenantRow(row({ lastSweepRunId: 'r', lastSweepAt: 't' }))).not.toHaveProperty('lastSweep');
    expect(parseTenantRow(row({ lastSweepStatus: 'failed', lastSweepAt: 't' }))).not.toHaveProperty(
      'lastSweep',
    );
    expect(parseTenantRow({ ...row(), etag: undefined })).toMatchObject({ etag: '' });
  });

  it('that cannot be read is reported with its key and why', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [row({ rowKey: 'not-a-tenant' }), 'rowKey: the row key is not a tenant id (GUID)'],
      [row({ displayName: 42 }), 'displayName: '],
      [row({ tags: 'gold' }), 'tags is not JSON'],
      [row({ tags: '[1]' }), 'tags: '],
      [row({ subscriptionScope: '{"mode":"list","include":[]}' }), "subscriptionScope: mode 'list' needs"],
    ];
    for (const [entity, problem] of cases) {
      const result = parseTenantRow(entity);
      expect(isInvalidRow(result), problem).toBe(true);
      expect(result).toMatchObject({ rowKey: String(entity.rowKey) });
      expect((result as { problem: string }).problem).toContain(problem);
    }
    expect(parseTenantRow({ displayName: 'x' })).toMatchObject({ rowKey: '' });
    expect(isInvalidRow(parseTenantRow(row()))).toBe(false);
  });
});

describe('input', () => {
  it('a new tenant gets its defaults, lower-cased ids and trimmed names', () => {
    expect(newTenantSchema.parse({ tenantId: TENANT, displayName: '  Contoso ' })).toEqual({
      tenantId: TENANT.toLowerCase(),
      displayName: 'Contoso',
      enabled: true,
      tags: [],
      subscriptions: { mode: 'all', include: [], exclude: [] },
    });
    expect(
      newTenantSchema.parse({
        tenantId: TENANT,
        displayName: 'C',
        subscriptions: { mode: 'list', include: [SUB_A.toUpperCase()] },
      }).subscriptions,
    ).toEqual({ mode: 'list', include: [SUB_A], exclude: [] });
  });

  it('refuses a list scope without subscriptions, a bad tag, control characters and unknown fields', () => {
    for (const input of [
      { tenantId: TENANT, displayName: 'C', subscriptions: { mode: 'list' } },
      { tenantId: TENANT, displayName: 'C', tags: ['has space'] },
      { tenantId: TENANT, displayName: 'C\u0007' },
      { tenantId: TENANT, displayName: 'C', extra: 1 },
      { tenantId: 'contoso', displayName: 'C' },
    ])
      expect(newTenantSchema.safeParse(input).success, JSON.stringify(input)).toBe(false);
    const listIssue = newTenantSchema.safeParse({
      tenantId: TENANT,
      displayName: 'C',
      subscriptions: { mode: 'list' },
    });
    expect(listIssue.error?.issues[0]).toMatchObject({ path: ['subscriptions', 'include'] });
  });

  it('a patch that excludes a tenant needs a reason', () => {
    const refused = tenantPatchSchema.safeParse({ enabled: false });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]).toMatchObject({
      path: ['reason'],
      message: 'a reason is required to exclude a tenant',
    });
    expect(tenantPatchSchema.safeParse({ enabled: false, reason: 'offboarding' }).success).toBe(true);
    expect(tenantPatchSchema.safeParse({ enabled: true }).success).toBe(true);
    expect(tenantPatchSchema.safeParse({ displayName: 'New' }).success).toBe(true);
  });
});

describe('the subscription scope', () => {
  it('takes every subscription in mode all and only listed ones in mode list, never an excluded one', () => {
    const all = { mode: 'all' as const, include: [], exclude: [SUB_B] };
    expect(inSubscriptionScope(all, SUB_A.toUpperCase())).toBe(true);
    expect(inSubscriptionScope(all, SUB_B.toUpperCase())).toBe(false);
    const list = { mode: 'list' as const, include: [SUB_A], exclude: [] };
    expect(inSubscriptionScope(list, SUB_A.toUpperCase())).toBe(true);
    expect(inSubscriptionScope(list, SUB_B)).toBe(false);
    expect(inSubscriptionScope({ mode: 'list', include: [SUB_A], exclude: [SUB_A] }, SUB_A)).toBe(false);
  });

  it('looksLikeTenantId takes a GUID only', () => {
    expect(looksLikeTenantId(TENANT)).toBe(true);
    expect(looksLikeTenantId('contoso.onmicrosoft.com')).toBe(false);
  });
});

/**
 * Misconfigured customers staged in a sandbox world, next to healthy ones: every per-tenant failure the
 * sandbox can stage, with the status and diagnosis code each must get. Used by the misconfig phase
 * (its own world, four sweeps, the circuit breaker) and by the fleet phase (the same customers in the
 * faulted world with killed workers), so the expectations are written once.
 *
 * The AADSTS modes one customer tenant can cause: no service principal (700016), a deleted tenant
 * (90002), the service principal disabled there (7000112). The sandbox's other modes are the
 * provider's own configuration (FIC issuer, subject, audience, key, assertion shape, resource) and fail
 * every tenant alike.
 */
import { worldFacts } from '../sandbox/generator.js';
import type { WorldStore } from '../sandbox/state.js';
import type { TenantRunRecord } from '../src/core/sweep/runs.js';
import type { FaultFigures } from './report.js';

export interface Expectation {
  label: string;
  status: TenantRunRecord['status'];
  /** The tenant's diagnosis code (failed) or a warning's code (partial). */
  code?: string;
  /** Another outcome that is right too (see `moveSubscription`'s `killable`). */
  or?: { status: TenantRunRecord['status']; code?: string };
}

/** How many customer tenants the staging uses (the rest stay healthy). */
export const MISCONFIGURED_TENANTS = 9;

export interface Misconfiguration {
  /** Per tenant id (lower case): what its run row must say. */
  expectations: Map<string, Expectation>;
  /** The tenants staged to fail as a whole (no inventory). */
  failing: string[];
  /** The tenant that loses its second subscription between sweeps, and the one that receives it. */
  mover: string;
  receiver: string;
  /** Moves the mover's second subscription to the receiver (its role assignments do not follow). */
  moveSubscription(options?: { killable?: boolean }): { subscriptionId: string; rows: number };
  /** After the sweep that retired the moved subscription, the mover is healthy again. */
  settleMove(): void;
  /** The subscription staged Disabled from the start (never swept, so it has no rows). */
  disabledSubscriptionId: string;
  /** The account scope of a tenant's first storage account. */
  accountScope(tenantId: string): string;
}

export function stageMisconfigurations(store: WorldStore): Misconfiguration {
  const facts = worldFacts(store.world);
  if (facts.customerTenantIds.length < MISCONFIGURED_TENANTS + 1)
    throw new RangeError(`the world needs over ${MISCONFIGURED_TENANTS} customer tenants`);
  const sp = (tenantId: string) => facts.servicePrincipalObjectIds[tenantId]!;
  const subsOf = (tenantId: string) => store.subscriptionsOfTenant(tenantId);
  const accountOf = (tenantId: string) => {
    const account = store.world.storageAccounts.find((candidate) =>
      subsOf(tenantId).some((sub) => sub.subscriptionId === candidate.subscriptionId),
    );
    if (!account) throw new RangeError(`tenant ${tenantId} has no storage account to misconfigure`);
    return account;
  };
  const accountScope = (tenantId: string) => {
    const account = accountOf(tenantId);
    return `/subscriptions/${account.subscriptionId}/resourceGroups/${account.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${account.name}`;
  };
  const [noSp, deleted, spDisabled, noReader, noBlobRole, firewall, disabled, mover, receiver] =
    facts.customerTenantIds as [string, string, string, string, string, string, string, string, string];
  const expectations = new Map<string, Expectation>();
  for (const id of facts.customerTenantIds)
    expectations.set(id.toLowerCase(), { label: `healthy ${id}`, status: 'succeeded' });
  const expect = (tenantId: string, expectation: Expectation) =>
    expectations.set(tenantId.toLowerCase(), expectation);

  store.removeServicePrincipal(facts.appId, noSp);
  expect(noSp, { label: 'no service principal', status: 'failed', code: 'AADSTS700016' });
  store.world.tenants.splice(
    store.world.tenants.findIndex((tenant) => tenant.id === deleted),
    1,
  );
  expect(deleted, { label: 'deleted tenant', status: 'failed', code: 'AADSTS90002' });
  store.setServicePrincipalEnabled(facts.appId, spDisabled, false);
  expect(spDisabled, { label: 'service principal disabled', status: 'failed', code: 'AADSTS7000112' });
  for (const sub of subsOf(noReader))
    store.revokeRole(sp(noReader), 'Reader', `/subscriptions/${sub.subscriptionId}`);
  expect(noReader, { label: 'no Reader', status: 'failed', code: 'NoVisibleSubscriptions' });
  store.revokeRole(sp(noBlobRole), 'Storage Blob Data Reader', accountScope(noBlobRole));
  expect(noBlobRole, {
    label: 'no blob data role',
    status: 'partial',
    code: 'AuthorizationPermissionMismatch',
  });
  accountOf(firewall).networkDefaultAction = 'Deny';
  expect(firewall, { label: 'storage firewall', status: 'partial', code: 'AuthorizationFailure' });
  const disabledSubscription = subsOf(disabled)[0]!;
  disabledSubscription.state = 'Disabled';
  // Reported, never swept: its rows are kept as last seen, and it had none (subscription-states.ts).
  expect(disabled, { label: 'disabled subscription', status: 'partial', code: 'SubscriptionDisabled' });

  return {
    expectations,
    failing: [noSp, deleted, spDisabled, noReader].map((id) => id.toLowerCase()),
    mover: mover.toLowerCase(),
    disabledSubscriptionId: disabledSubscription.subscriptionId,
    receiver: receiver.toLowerCase(),
    accountScope,
    settleMove() {
      expectations.set(mover.toLowerCase(), { label: `healthy ${mover}`, status: 'succeeded' });
    },
    moveSubscription({ killable = false } = {}) {
      const moved = subsOf(mover)[1]!;
      moved.tenantId = receiver;
      // The next sweep of the old tenant retires it and says where it went (a warning: partial).
      // Where workers are killed, the delivery that retired it may die after the retire; its redelivery no
      // longer finds the subscription to retire, so it cannot say where it went: succeeded is right then.
      expect(mover, {
        label: 'subscription moved away',
        status: 'partial',
        code: 'SubscriptionMoved',
        ...(killable ? { or: { status: 'succeeded' } } : {}),
      });
      return {
        subscriptionId: moved.subscriptionId,
        rows: store.resourceGroups(moved.subscriptionId).length + store.resourceCount(moved.subscriptionId),
      };
    },
  };
}

/** The diagnosis code of a run row: its own (failed, skipped) or its warnings' (partial). */
export function codeOf(row: TenantRunRecord): string {
  if (row.diagnosisCode) return row.diagnosisCode;
  const warnings = row.warnings ? (JSON.parse(row.warnings) as Array<{ code?: string }>) : [];
  return warnings.map((warning) => warning.code).join(',');
}

/** Compares a run's tenant rows with the expectations; each mismatch is a failure. Returns the matches. */
export function checkExpectations(
  figures: FaultFigures,
  label: string,
  rows: Map<string, TenantRunRecord>,
  expectations: Map<string, Expectation>,
): number {
  let matched = 0;
  for (const [tenantId, expected] of expectations) {
    const row = rows.get(tenantId);
    if (!row) {
      figures.failures.push(`${label}: ${expected.label} is not in the run`);
      continue;
    }
    const code = codeOf(row);
    const matches = (want: { status: string; code?: string }) =>
      row.status === want.status && (want.code === undefined || code === want.code);
    if (!matches(expected) && !(expected.or && matches(expected.or)))
      figures.failures.push(
        `${label}: ${expected.label} is ${row.status} ${code || '(no diagnosis)'}, expected ${expected.status} ${expected.code ?? ''}`,
      );
    else matched++;
  }
  return matched;
}

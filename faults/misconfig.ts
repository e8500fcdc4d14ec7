/**
 * Misconfigured tenants among healthy ones: every per-tenant failure the sandbox can stage (its
 * AADSTS modes that one customer can cause: no service principal 700016, a deleted tenant 90002; a
 * missing Reader; a missing blob data role; a storage firewall; a disabled subscription; a
 * subscription moved to another tenant between sweeps), each diagnosed exactly, the healthy tenants
 * unaffected; the circuit breaker opens after the threshold and closes after a successful diagnose.
 */
import { generateWorld, worldFacts } from '../sandbox/generator.js';
import { runScheduledSweep } from '../dev/local-host.js';
import { httpRoutes } from '../src/functions/shared/routes.js';
import type { TenantRunRecord } from '../src/core/sweep/runs.js';
import { loadAllRoutes } from './abuse.js';
import { invoke } from './invoke.js';
import type { FaultFigures } from './report.js';
import { registerWorld, startPhaseFleet, type PhaseFleet } from './world.js';

interface Expectation {
  label: string;
  status: TenantRunRecord['status'];
  /** The tenant's diagnosis code (failed) or a warning's code (partial). */
  code?: string;
}

async function sweep(fleet: PhaseFleet): Promise<Map<string, TenantRunRecord>> {
  const runId = await runScheduledSweep(await fleet.host(), fleet.runtime, { timeoutMs: 180_000 });
  const rows = new Map<string, TenantRunRecord>();
  for await (const tenant of fleet.runtime.runs.listTenants(runId)) rows.set(tenant.tenantId, tenant);
  return rows;
}

function codeOf(row: TenantRunRecord): string {
  if (row.diagnosisCode) return row.diagnosisCode;
  const warnings = row.warnings ? (JSON.parse(row.warnings) as Array<{ code?: string }>) : [];
  return warnings.map((warning) => warning.code).join(',');
}

function check(
  figures: FaultFigures,
  label: string,
  rows: Map<string, TenantRunRecord>,
  expectations: Map<string, Expectation>,
): void {
  for (const [tenantId, expected] of expectations) {
    const row = rows.get(tenantId);
    if (!row) {
      figures.failures.push(`misconfig ${label}: ${expected.label} is not in the run`);
      continue;
    }
    const code = codeOf(row);
    if (row.status !== expected.status || (expected.code !== undefined && code !== expected.code))
      figures.failures.push(
        `misconfig ${label}: ${expected.label} is ${row.status} ${code || '(no diagnosis)'}, expected ${expected.status} ${expected.code ?? ''}`,
      );
  }
}

export async function misconfigPhase(
  figures: FaultFigures,
  options: { connectionString: string; tenants: number; seed: number; transcript: string[] },
): Promise<void> {
  await loadAllRoutes();
  const world = generateWorld({
    seed: options.seed + 7,
    tenants: options.tenants,
    subscriptionsPerTenant: 2,
    resourcesPerSubscription: 10,
    storageAccountsPerTenant: 1,
    containersPerAccount: 1,
    blobsPerContainer: 2,
  });
  const fleet = await startPhaseFleet(world, options.connectionString, {
    TENANT_FLEET_CIRCUIT_BREAKER_THRESHOLD: '2',
  });
  try {
    await registerWorld(fleet);
    const store = fleet.sandbox.store;
    const facts = worldFacts(store.world);
    const ids = facts.customerTenantIds.map((id) => id.toLowerCase());
    const sp = (tenantId: string) => facts.servicePrincipalObjectIds[tenantId]!;
    const subsOf = (tenantId: string) => store.subscriptionsOfTenant(tenantId);
    const accountOf = (tenantId: string) =>
      store.world.storageAccounts.find((account) =>
        subsOf(tenantId).some((sub) => sub.subscriptionId === account.subscriptionId),
      )!;
    const accountScope = (tenantId: string) => {
      const account = accountOf(tenantId);
      return `/subscriptions/${account.subscriptionId}/resourceGroups/${account.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${account.name}`;
    };
    const [noSp, deleted, noReader, noBlobRole, firewall, disabled, mover, receiver] =
      facts.customerTenantIds;
    const expectations = new Map<string, Expectation>();
    for (const id of ids) expectations.set(id, { label: `healthy ${id}`, status: 'succeeded' });
    const expect = (tenantId: string, expectation: Expectation) =>
      expectations.set(tenantId.toLowerCase(), expectation);

    store.removeServicePrincipal(facts.appId, noSp!);
    expect(noSp!, { label: 'no service principal', status: 'failed', code: 'AADSTS700016' });
    store.world.tenants.splice(
      store.world.tenants.findIndex((tenant) => tenant.id === deleted),
      1,
    );
    expect(deleted!, { label: 'deleted tenant', status: 'failed', code: 'AADSTS90002' });
    for (const sub of subsOf(noReader!))
      store.revokeRole(sp(noReader!), 'Reader', `/subscriptions/${sub.subscriptionId}`);
    expect(noReader!, { label: 'no Reader', status: 'failed', code: 'NoVisibleSubscriptions' });
    store.revokeRole(sp(noBlobRole!), 'Storage Blob Data Reader', accountScope(noBlobRole!));
    expect(noBlobRole!, {
      label: 'no blob data role',
      status: 'partial',
      code: 'AuthorizationPermissionMismatch',
    });
    accountOf(firewall!).networkDefaultAction = 'Deny';
    expect(firewall!, { label: 'storage firewall', status: 'partial', code: 'AuthorizationFailure' });
    subsOf(disabled!)[0]!.state = 'Disabled';
    expect(disabled!, { label: 'disabled subscription', status: 'succeeded' });

    const first = await sweep(fleet);
    check(figures, 'sweep 1', first, expectations);
    const moverBefore = first.get(mover!.toLowerCase());

    // Between sweeps: a subscription moves to another tenant (its role assignments do not follow).
    const moved = subsOf(mover!)[1]!;
    moved.tenantId = receiver!;
    const second = await sweep(fleet);
    check(figures, 'sweep 2', second, expectations);
    const moverAfter = second.get(mover!.toLowerCase());
    const movedRows =
      store.resourceGroups(moved.subscriptionId).length + store.resourceCount(moved.subscriptionId);
    if (moverAfter?.subscriptions !== 1 || moverAfter.removed !== movedRows)
      figures.failures.push(
        `misconfig: the tenant whose subscription moved shows ${moverAfter?.subscriptions} subscription(s) and ${moverAfter?.removed} removed (expected 1 and ${movedRows}; before ${moverBefore?.subscriptions})`,
      );
    const receiverAfter = second.get(receiver!.toLowerCase());
    if (receiverAfter?.subscriptions !== 2)
      figures.failures.push(
        `misconfig: the receiving tenant shows ${receiverAfter?.subscriptions} subscriptions`,
      );

    // Two failures in a row opened the circuit (threshold 2): the next sweep skips those tenants.
    const third = await sweep(fleet);
    for (const tenantId of [noSp!, deleted!, noReader!])
      expect(tenantId, { label: `circuit of ${tenantId}`, status: 'skipped', code: 'CircuitOpen' });
    check(figures, 'sweep 3', third, expectations);

    // The customer provisions the app again; a successful diagnose closes the circuit.
    const objectId = store.provisionServicePrincipal(facts.appId, noSp!);
    for (const sub of subsOf(noSp!))
      store.grantRole(objectId, 'Reader', `/subscriptions/${sub.subscriptionId}`);
    store.grantRole(objectId, 'Storage Blob Data Reader', accountScope(noSp!));
    const diagnose = httpRoutes().find((route) => route.name === 'tenantDiagnose')!.handler;
    const answer = await invoke(diagnose, {
      method: 'POST',
      params: { tenantId: noSp! },
      query: {},
      headers: {},
    });
    options.transcript.push(answer.text);
    const record = await fleet.runtime.registry.get(noSp!);
    if (answer.status !== 200 || fleet.runtime.registry.isCircuitOpen(record))
      figures.failures.push(
        `misconfig: diagnose after the fix answered ${answer.status} and left the circuit ${fleet.runtime.registry.isCircuitOpen(record) ? 'open' : 'closed'}`,
      );
    expect(noSp!, { label: 'fixed after diagnose', status: 'succeeded' });
    const fourth = await sweep(fleet);
    check(figures, 'sweep 4', fourth, expectations);
    const statuses = [...first.values()].map((row) => `${row.status}:${codeOf(row) || '-'}`);
    console.log(`- ${ids.length} tenants, 4 sweeps; first sweep: ${JSON.stringify(tally(statuses))}`);
    options.transcript.push(...fleet.logs);
  } finally {
    await fleet.close();
  }
}

function tally(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

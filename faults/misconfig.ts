/**
 * Misconfigured tenants among healthy ones (misconfigure.ts: every per-tenant failure the sandbox can
 * stage, a subscription moved to another tenant between sweeps), swept four times under the fleet
 * phase's ARM and token faults: each diagnosed exactly, the healthy tenants unaffected; the circuit
 * breaker opens after the threshold and closes after a successful diagnose.
 */
import { generateWorld, worldFacts } from '../sandbox/generator.js';
import { runScheduledSweep } from '../dev/local-host.js';
import { httpRoutes } from '../src/functions/shared/routes.js';
import type { TenantRunRecord } from '../src/core/sweep/runs.js';
import { loadAllRoutes } from './abuse.js';
import { invoke } from './invoke.js';
import { count, type FaultFigures } from './report.js';
import { ARM_FAULTS } from './fleet.js';
import { seeded } from './fuzz.js';
import { checkExpectations, codeOf, stageMisconfigurations, type Expectation } from './misconfigure.js';
import { registerWorld, startPhaseFleet, type PhaseFleet } from './world.js';

async function sweep(fleet: PhaseFleet): Promise<Map<string, TenantRunRecord>> {
  const runId = await runScheduledSweep(await fleet.host(), fleet.runtime, { timeoutMs: 180_000 });
  const rows = new Map<string, TenantRunRecord>();
  for await (const tenant of fleet.runtime.runs.listTenants(runId)) rows.set(tenant.tenantId, tenant);
  return rows;
}

const check = (
  figures: FaultFigures,
  label: string,
  rows: Map<string, TenantRunRecord>,
  expectations: Map<string, Expectation>,
) => checkExpectations(figures, `misconfig ${label}`, rows, expectations);

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
  const fleet = await startPhaseFleet(
    world,
    options.connectionString,
    // The tenants are registered just now: without this, their failures would fall in the onboarding
    // grace (propagation) and never open the circuit this phase checks.
    { TENANT_FLEET_CIRCUIT_BREAKER_THRESHOLD: '2', TENANT_FLEET_ONBOARDING_GRACE_MINUTES: '0' },
    { tokenFaults: { rate: 0.1, random: seeded(options.seed + 2) } },
  );
  try {
    await registerWorld(fleet);
    const store = fleet.sandbox.store;
    const facts = worldFacts(store.world);
    const ids = facts.customerTenantIds.map((id) => id.toLowerCase());
    const staged = stageMisconfigurations(store);
    const { expectations, mover, receiver } = staged;
    const [noSp] = staged.failing as [string];
    const expect = (tenantId: string, expectation: Expectation) =>
      expectations.set(tenantId.toLowerCase(), expectation);
    fleet.sandbox.setArmSettings({ faults: ARM_FAULTS });

    const first = await sweep(fleet);
    check(figures, 'sweep 1', first, expectations);
    const moverBefore = first.get(mover);

    // Between sweeps: a subscription moves to another tenant (its role assignments do not follow).
    const { rows: movedRows } = staged.moveSubscription();
    const second = await sweep(fleet);
    check(figures, 'sweep 2', second, expectations);
    staged.settleMove();
    const moverAfter = second.get(mover);
    if (moverAfter?.subscriptions !== 1 || moverAfter.removed !== movedRows)
      figures.failures.push(
        `misconfig: the tenant whose subscription moved shows ${moverAfter?.subscriptions} subscription(s) and ${moverAfter?.removed} removed (expected 1 and ${movedRows}; before ${moverBefore?.subscriptions})`,
      );
    const receiverAfter = second.get(receiver);
    if (receiverAfter?.subscriptions !== 2)
      figures.failures.push(
        `misconfig: the receiving tenant shows ${receiverAfter?.subscriptions} subscriptions`,
      );

    // Two failures in a row opened the circuit (threshold 2): the next sweep skips those tenants.
    const third = await sweep(fleet);
    for (const tenantId of staged.failing)
      expect(tenantId, { label: `circuit of ${tenantId}`, status: 'skipped', code: 'CircuitOpen' });
    check(figures, 'sweep 3', third, expectations);

    // The customer provisions the app again; a successful diagnose closes the circuit.
    const objectId = store.provisionServicePrincipal(facts.appId, noSp);
    for (const sub of store.subscriptionsOfTenant(noSp))
      store.grantRole(objectId, 'Reader', `/subscriptions/${sub.subscriptionId}`);
    store.grantRole(objectId, 'Storage Blob Data Reader', staged.accountScope(noSp));
    const diagnose = httpRoutes().find((route) => route.name === 'tenantDiagnose')!.handler;
    // Under token and ARM faults a diagnose can fail transiently; the operator runs it again.
    let answer = { status: 0, text: '' };
    for (let attempt = 0; attempt < 3 && answer.status !== 200; attempt++)
      answer = await invoke(diagnose, { method: 'POST', params: { tenantId: noSp }, query: {}, headers: {} });
    options.transcript.push(answer.text);
    const record = await fleet.runtime.registry.get(noSp);
    if (answer.status !== 200 || fleet.runtime.registry.isCircuitOpen(record))
      figures.failures.push(
        `misconfig: diagnose after the fix answered ${answer.status} and left the circuit ${fleet.runtime.registry.isCircuitOpen(record) ? 'open' : 'closed'}`,
      );
    expect(noSp, { label: 'fixed after diagnose', status: 'succeeded' });
    const fourth = await sweep(fleet);
    check(figures, 'sweep 4', fourth, expectations);
    const statuses = [...first.values()].map((row) => `${row.status}:${codeOf(row) || '-'}`);
    console.log(`- ${ids.length} tenants, 4 sweeps; first sweep: ${JSON.stringify(tally(statuses))}`);
    for (const [kind, fired] of fleet.sandbox.counters.faults)
      count(figures.faultsInjected, `misconfig arm:${kind}`, fired);
    for (const [kind, fired] of Object.entries(fleet.tokenProxy?.faults ?? {}))
      count(figures.faultsInjected, `misconfig token:${kind}`, fired);
    options.transcript.push(...fleet.logs);
  } finally {
    fleet.sandbox.setArmSettings({ faults: [] });
    await fleet.close();
  }
}

function tally(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

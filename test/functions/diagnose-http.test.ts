/**
 * POST /api/tenants/{id}/diagnose: onboarding diagnostics step by step (MI token, token exchange in
 * the customer tenant, visible subscriptions, storage token) against the sandbox demo world, through
 * the real @azure/identity and ARM clients. Each failure names its step, code and fix; the answer
 * never carries a token.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { worldFacts } from '../../sandbox/generator.js';
import type { OnboardingReport } from '../../src/core/operations/onboarding.js';
import type { TenantRecord } from '../../src/core/sweep/registry.js';
import { tenant } from '../../src/functions/tenant.js';
import { tenantDiagnose } from '../../src/functions/tenantDiagnose.js';
import { tenants } from '../../src/functions/tenants.js';
import {
  call,
  JWT_LIKE,
  startDemoFleet,
  tenantIdOf,
  type Fleet,
  type FunctionResponse,
} from '../support/http.js';

let fleet: Fleet;

beforeAll(async () => {
  // No onboarding grace: the failing tenants below were registered moments ago, and with the grace
  // diagnose would walk their chain again for 30 s each, as propagation (onboarding-propagation.test.ts).
  fleet = await startDemoFleet({ settings: { TENANT_FLEET_ONBOARDING_GRACE_MINUTES: '0' } });
  for (const name of ['Litware', 'AdventureWorks', 'Woodgrove Bank']) {
    const response = await call(tenants, {
      method: 'POST',
      body: { tenantId: tenantIdOf(fleet.world, name), displayName: name },
    });
    expect(response.status, response.text).toBe(201);
  }
});
afterAll(async () => {
  await fleet?.close();
});

async function diagnose(tenantId: string): Promise<{ response: FunctionResponse; report: OnboardingReport }> {
  const response = await call(tenantDiagnose, { method: 'POST', params: { tenantId } });
  expect(response.status, response.text).toBe(200);
  // Nothing secret comes back: no token, no assertion, and nothing secret was logged either.
  expect(response.text).not.toMatch(JWT_LIKE);
  for (const line of response.logs) expect(line.text).not.toMatch(JWT_LIKE);
  return { response, report: response.json<OnboardingReport>() };
}

function consentUrl(tenantId: string): string {
  return `https://login.microsoftonline.com/${tenantId}/adminconsent?client_id=${worldFacts(fleet.world).appId}`;
}

async function registryState(tenantId: string): Promise<TenantRecord> {
  return (await call(tenant, { params: { tenantId } })).json<TenantRecord>();
}

describe('POST /api/tenants/{id}/diagnose', () => {
  it('verifies a healthy tenant: every step passes and the SP object id is reported', async () => {
    const litware = tenantIdOf(fleet.world, 'Litware');
    const { report } = await diagnose(litware);
    expect(report).toMatchObject({
      tenantId: litware,
      verified: true,
      registered: true,
      servicePrincipalObjectId: worldFacts(fleet.world).servicePrincipalObjectIds[litware],
      visibleSubscriptions: fleet.world.subscriptions.filter((s) => s.tenantId === litware).length,
      adminConsentUrl: consentUrl(litware),
    });
    expect(report.steps.map((step) => [step.name, step.ok])).toEqual([
      ['managedIdentity', true],
      ['tokenExchange', true],
      ['subscriptions', true],
      ['storageToken', true],
    ]);
    expect(await registryState(litware)).toMatchObject({
      onboardingState: 'verified',
      consecutiveFailures: 0,
    });
  });

  it('stops at the token exchange for AdventureWorks (app never provisioned): AADSTS700016 with the consent URL', async () => {
    const adventureWorks = tenantIdOf(fleet.world, 'AdventureWorks');
    const { report } = await diagnose(adventureWorks);
    expect(report).toMatchObject({
      verified: false,
      registered: true,
      adminConsentUrl: consentUrl(adventureWorks),
    });
    expect(report.servicePrincipalObjectId).toBeUndefined();
    expect(report.steps.map((step) => [step.name, step.ok])).toEqual([
      ['managedIdentity', true],
      ['tokenExchange', false],
    ]);
    const failed = report.steps[1]!.diagnosis!;
    expect(failed).toMatchObject({
      code: 'AADSTS700016',
      owner: 'customer',
      category: 'onboarding',
      retryable: false,
    });
    expect(failed.fix).toContain(consentUrl(adventureWorks));
    expect(await registryState(adventureWorks)).toMatchObject({
      onboardingState: 'failed',
      lastError: { code: 'AADSTS700016' },
    });
  });

  it('stops at the subscriptions for Woodgrove (signed in, no role): NoVisibleSubscriptions', async () => {
    const woodgrove = tenantIdOf(fleet.world, 'Woodgrove Bank');
    const { report } = await diagnose(woodgrove);
    expect(report).toMatchObject({
      verified: false,
      registered: true,
      visibleSubscriptions: 0,
      servicePrincipalObjectId: worldFacts(fleet.world).servicePrincipalObjectIds[woodgrove],
    });
    expect(report.steps.map((step) => [step.name, step.ok])).toEqual([
      ['managedIdentity', true],
      ['tokenExchange', true],
      ['subscriptions', false],
    ]);
    expect(report.steps[2]!.diagnosis).toMatchObject({ code: 'NoVisibleSubscriptions', owner: 'customer' });
    expect(report.steps[2]!.diagnosis!.fix).toContain('Reader');
  });

  it('checks a tenant that is not registered yet (registered: false) without registering it', async () => {
    const fabrikam = tenantIdOf(fleet.world, 'Fabrikam');
    const { report } = await diagnose(fabrikam.toUpperCase());
    expect(report).toMatchObject({ tenantId: fabrikam, verified: true, registered: false });
    expect((await call(tenant, { params: { tenantId: fabrikam } })).status).toBe(404);
  });

  it('reports an unknown tenant id as a failed token exchange, not an error', async () => {
    const unknown = randomUUID();
    const { report } = await diagnose(unknown);
    expect(report).toMatchObject({ tenantId: unknown, verified: false, registered: false });
    const last = report.steps.at(-1)!;
    expect(last).toMatchObject({ name: 'tokenExchange', ok: false });
    // Entra answers 90002 (tenant not found) for a directory that does not exist.
    expect(last.diagnosis!.code).toBe('AADSTS90002');
  });

  it.each(['litware.onmicrosoft.com', '', 'common', '../tenants'])(
    'refuses the tenant id %j with 400 before any token is requested',
    async (tenantId) => {
      const before = fleet.sandbox.counters.snapshot();
      const response = await call(tenantDiagnose, { method: 'POST', params: { tenantId } });
      expect(response.status).toBe(400);
      expect(response.error()).toMatchObject({ code: 'InvalidInput', field: 'tenantId' });
      expect(fleet.sandbox.counters.snapshot()).toEqual(before);
    },
  );
});

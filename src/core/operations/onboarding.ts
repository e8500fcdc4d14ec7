/**
 * Onboarding diagnostics: walks the chain a sweep depends on, step by step, and says where it breaks
 * and who must fix what. Nothing secret comes back: only the facts an operator needs (counts, the
 * service principal's object id that the customer's role template takes).
 */
import { decodeJwt } from 'jose';
import { listVisibleSubscriptions } from '../platform/arm.js';
import { adminConsentUrl } from '../platform/cloud.js';
import { diagnose, diagnosisFor, type Diagnosis } from '../platform/diagnosis.js';
import { NotFoundError } from '../platform/errors.js';
import { parseTenantId } from '../platform/ids.js';
import { likelyPropagation, minutesSince } from '../platform/propagation.js';
import type { FleetRuntime } from '../runtime.js';

export type StepName = 'managedIdentity' | 'tokenExchange' | 'subscriptions' | 'storageToken';

export interface OnboardingStep {
  name: StepName;
  ok: boolean;
  detail?: string;
  diagnosis?: Diagnosis;
}

export interface OnboardingReport {
  tenantId: string;
  verified: boolean;
  registered: boolean;
  steps: OnboardingStep[];
  servicePrincipalObjectId?: string;
  visibleSubscriptions?: number;
  adminConsentUrl: string;
  /** Present when the failure is likely propagation (a tenant registered moments ago). */
  propagation?: { likely: true; registeredMinutesAgo: number; attempts: number };
}

export interface DiagnoseOptions {
  /** Waits between attempts while a failure is likely propagation (default 5 s, 10 s, 15 s). */
  retryDelaysMs?: number[];
  sleep?: (ms: number) => Promise<void>;
}

const DEFAULT_RETRY_DELAYS_MS = [5_000, 10_000, 15_000];

/**
 * Walks the chain; when a step fails as propagation does (a service principal or role granted
 * moments ago, platform/propagation.ts) for a tenant registered within the grace period, says so and
 * walks it again on a schedule before reporting.
 */
export async function diagnoseTenant(
  runtime: FleetRuntime,
  tenantIdInput: string,
  options: DiagnoseOptions = {},
): Promise<OnboardingReport> {
  const tenantId = parseTenantId(tenantIdInput);
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const registeredAt = await runtime.registry.get(tenantId).then(
    (record) => record.createdAt,
    (error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    },
  );
  for (let attempt = 0; ; attempt++) {
    const report = await walkChain(runtime, tenantId);
    const failed = report.steps.find((step) => !step.ok);
    const now = runtime.now();
    // The same grace as the sweeps' circuit breaker (TENANT_FLEET_ONBOARDING_GRACE_MINUTES; 0 turns it off).
    const grace = runtime.config.sweep.onboardingGraceMinutes;
    if (!failed || !likelyPropagation(failed.diagnosis, registeredAt, now, grace))
      return finish(runtime, report);
    const minutes = minutesSince(registeredAt, now) ?? 0;
    const retrying = attempt < delays.length;
    report.propagation = { likely: true, registeredMinutesAgo: minutes, attempts: attempt + 1 };
    failed.detail =
      `registered ${minutes} minute(s) ago: the service principal or a role granted in the last ${minutes + 1} ` +
      `minute(s) is likely still propagating; ${retrying ? 'retrying' : `tried ${attempt + 1} times`}`;
    if (!retrying) return finish(runtime, report);
    await sleep(delays[attempt]!);
  }
}

async function walkChain(runtime: FleetRuntime, tenantId: string): Promise<OnboardingReport> {
  const { config, chain } = runtime;
  const context = { cloud: config.cloud, appClientId: config.appClientId, tenantId };
  const report: OnboardingReport = {
    tenantId,
    verified: false,
    registered: true,
    steps: [],
    adminConsentUrl: adminConsentUrl(config.cloud, tenantId, config.appClientId),
  };
  const fail = (name: StepName, error: unknown): OnboardingReport => {
    report.steps.push({ name, ok: false, diagnosis: diagnose(error, context) });
    return report;
  };

  try {
    await chain.assertion();
    report.steps.push({ name: 'managedIdentity', ok: true, detail: `token for ${config.cloud.ficAudience}` });
  } catch (error) {
    return fail('managedIdentity', error);
  }
  try {
    const token = await chain.armToken(tenantId);
    const claims = token ? decodeJwt(token.token) : {};
    if (typeof claims.oid === 'string') report.servicePrincipalObjectId = claims.oid;
    report.steps.push({ name: 'tokenExchange', ok: true, detail: `the app signs in to tenant ${tenantId}` });
  } catch (error) {
    return fail('tokenExchange', error);
  }
  try {
    let count = 0;
    for await (const _subscription of listVisibleSubscriptions(runtime.arm.forTenant(tenantId))) count++;
    report.visibleSubscriptions = count;
    if (count === 0) {
      report.steps.push({
        name: 'subscriptions',
        ok: false,
        diagnosis: diagnosisFor('NoVisibleSubscriptions', context),
      });
      return report;
    }
    report.steps.push({ name: 'subscriptions', ok: true, detail: `${count} subscription(s) visible` });
  } catch (error) {
    return fail('subscriptions', error);
  }
  try {
    await chain.forTenant(tenantId).getToken(config.cloud.storageScope);
    report.steps.push({ name: 'storageToken', ok: true, detail: 'token for Azure Storage' });
  } catch (error) {
    return fail('storageToken', error);
  }
  report.verified = true;
  return report;
}

/** Records the result on the registered tenant (verified closes its circuit); unregistered is fine. */
async function finish(runtime: FleetRuntime, report: OnboardingReport): Promise<OnboardingReport> {
  const failed = report.steps.find((step) => !step.ok);
  try {
    await runtime.registry.markVerified(report.tenantId, report.verified, failed?.diagnosis);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    report.registered = false;
  }
  return report;
}

/** Onboarding a tenant: consent link, the customer's commands, register, then verify step by step. */
import { useState } from 'preact/hooks';
import { api, canAdmin, type Me } from './api.js';
import { useLoad } from './data.js';
import { navigate } from './router.js';
import { ErrorBox, html, Loading } from './ui.js';

interface Guide {
  tenantId: string;
  registered: boolean;
  adminConsentUrl: string;
  commands: string[];
  templateParameters: Record<string, string>;
}

interface Report {
  verified: boolean;
  steps: Array<{
    name: string;
    ok: boolean;
    detail?: string;
    diagnosis?: { code: string; meaning: string; fix: string; owner?: string };
  }>;
  visibleSubscriptions?: number;
}

const STEP_LABELS: Record<string, string> = {
  managedIdentity: 'Managed identity token',
  tokenExchange: 'Token exchange in the tenant',
  subscriptions: 'Visible subscriptions',
  storageToken: 'Storage token',
};

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function OnboardingView({ tenantId, me }: { tenantId: string; me?: Me }) {
  const [input, setInput] = useState(tenantId);
  const [name, setName] = useState('');
  const [report, setReport] = useState<Report>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [message, setMessage] = useState('');
  const guide = useLoad(
    () => (GUID.test(tenantId) ? api<Guide>(`onboarding/${tenantId}`) : Promise.resolve(undefined)),
    [tenantId],
  );
  const admin = canAdmin(me);
  const verify = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setReport(undefined);
    try {
      setReport(await api<Report>(`tenants/${tenantId}/diagnose`, { method: 'POST' }));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const register = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    try {
      await api('tenants', { method: 'POST', body: { tenantId, displayName: name } });
      setMessage(`${name} registered; it is swept from the next run.`);
      guide.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  return html`<section aria-labelledby="onboarding-title">
    <h1 id="onboarding-title">Onboarding</h1>
    <form
      class="filters"
      onSubmit=${(event: Event) => {
        event.preventDefault();
        navigate(`onboarding/${input.trim()}`);
      }}
    >
      <div class="field wide">
        <label for="o-tenant">Customer tenant id</label>
        <input
          id="o-tenant"
          value=${input}
          placeholder="00000000-0000-0000-0000-000000000000"
          onInput=${(event: Event) => setInput((event.target as HTMLInputElement).value)}
        />
      </div>
      <div class="field buttons"><button type="submit" class="primary">Show the steps</button></div>
    </form>
    ${tenantId && !GUID.test(tenantId) ? html`<p class="alert alert-bad" role="alert">“${tenantId}” is not a tenant id (a GUID).</p>` : null}
    <${ErrorBox} error=${guide.error} />
    ${guide.loading && GUID.test(tenantId) && !guide.data ? html`<${Loading} what="the onboarding steps" />` : null}
    ${
      guide.data
        ? html`<ol class="steps">
            <li>
              <h2>1. The customer's administrator consents</h2>
              <p>Send this link to a Global or Cloud Application Administrator of the customer's tenant:</p>
              <p>
                <a href=${guide.data.adminConsentUrl} rel="noreferrer noopener" target="_blank" class="break"
                  >${guide.data.adminConsentUrl}</a
                >
              </p>
            </li>
            <li>
              <h2>2. The customer grants the roles</h2>
              <p>In Azure Cloud Shell (Bash) of their tenant:</p>
              <pre class="commands">${guide.data.commands.join('\n')}</pre>
              <p>Or deploy <code>infra/customer/subscription.bicep</code> with these parameters:</p>
              <table class="grid compact">
                <tbody>
                  ${Object.entries(guide.data.templateParameters).map(
                    ([key, value]) =>
                      html`<tr>
                        <th scope="row"><code>${key}</code></th>
                        <td><code>${value}</code></td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </li>
            <li>
              <h2>3. Register the tenant</h2>
              ${
                guide.data.registered
                  ? html`<p>
                      <span class="badge badge-good"><span aria-hidden="true">✓</span> Registered</span>
                    </p>`
                  : admin
                    ? html`<form class="filters" onSubmit=${register}>
                        <div class="field wide">
                          <label for="o-name">Display name</label
                          ><input
                            id="o-name"
                            required
                            value=${name}
                            onInput=${(event: Event) => setName((event.target as HTMLInputElement).value)}
                          />
                        </div>
                        <div class="field buttons"><button type="submit">Register</button></div>
                      </form>`
                    : html`<p class="muted">Not registered. Registering needs the Fleet.Admin role.</p>`
              }
              ${message ? html`<p class="alert alert-good" role="status">${message}</p>` : null}
            </li>
            <li>
              <h2>4. Verify</h2>
              ${admin ? html`<p><button type="button" class="primary" onClick=${verify} disabled=${busy}>${busy ? 'Verifying…' : 'Verify'}</button></p>` : html`<p class="muted">Verifying needs the Fleet.Admin role.</p>`}
              <${ErrorBox} error=${error} />
              ${
                report
                  ? html`<p role="status" class=${report.verified ? 'alert alert-good' : 'alert alert-bad'}>
                        ${report.verified ? 'Verified: the app can sweep this tenant.' : 'Not ready: see the failing step below.'}
                      </p>
                      <ol class="checks">
                        ${report.steps.map(
                          (step) =>
                            html`<li class=${step.ok ? 'check-ok' : 'check-bad'} data-step=${step.name}>
                              <span class=${`badge ${step.ok ? 'badge-good' : 'badge-bad'}`}
                                ><span aria-hidden="true">${step.ok ? '✓' : '✕'}</span>
                                ${step.ok ? 'OK' : 'Failed'}</span
                              >
                              <strong>${STEP_LABELS[step.name] ?? step.name}</strong>
                              ${step.detail ? html`<span class="muted">${step.detail}</span>` : null}
                              ${
                                step.diagnosis
                                  ? html`<p>
                                        <code class="code">${step.diagnosis.code}</code>
                                        ${step.diagnosis.meaning}
                                      </p>
                                      <p class="fix">
                                        <strong
                                          >Fix${step.diagnosis.owner ? ` (${step.diagnosis.owner})` : ''}:</strong
                                        >
                                        ${step.diagnosis.fix}
                                      </p>`
                                  : null
                              }
                            </li>`,
                        )}
                      </ol>`
                  : null
              }
            </li>
          </ol>`
        : null
    }
  </section>`;
}

/** Fleet overview: tenants by state, failures with diagnosis and fix first; run now; tenant actions. */
import { useState } from 'preact/hooks';
import { api, canAdmin, type Me } from './api.js';
import { useLoad } from './data.js';
import { navigate } from './router.js';
import { ago, Badge, count, ErrorBox, FixLine, html, Link, Loading, STATE_LABELS, when } from './ui.js';

interface TenantOverview {
  tenantId: string;
  displayName: string;
  state: string;
  enabled: boolean;
  consecutiveFailures: number;
  lastSweep?: { runId: string; status: string; at: string };
  exclusion?: { by: string; at: string; reason: string };
  diagnosis?: { code: string; meaning: string; fix: string };
  warnings?: Array<{ scope: string; id: string; code: string; fix: string }>;
  resources: number;
  storageAccounts: number;
  storageRefused: number;
  publicContainers: number;
}

interface Overview {
  tenants: TenantOverview[];
  invalid: Array<{ rowKey: string; problem: string }>;
  counts: Record<string, number>;
  totals: {
    tenants: number;
    resources: number;
    resourceGroups: number;
    storageAccounts: number;
    publicContainers: number;
  };
  lastRun?: { runId: string; status: string; startedAt: string; endedAt?: string };
  runningRun?: { runId: string; startedAt: string };
  schedule: string;
  nextSweepAt?: string;
}

const STATES = ['failing', 'circuitOpen', 'warnings', 'neverSwept', 'excluded', 'healthy'];

function TenantActions({ tenant, onDone }: { tenant: TenantOverview; onDone: (message: string) => void }) {
  const [reason, setReason] = useState('');
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<unknown>();
  const act = async (what: string, action: () => Promise<unknown>): Promise<void> => {
    setError(undefined);
    try {
      await action();
      onDone(what);
    } catch (caught) {
      setError(caught);
    }
  };
  const id = tenant.tenantId;
  return html`<div class="actions">
    <button type="button" onClick=${() =>
      act(`Run started for ${tenant.displayName}`, async () => {
        const started = await api<{ runId: string }>('runs', { method: 'POST', body: { tenantIds: [id] } });
        navigate(`runs/${started.runId}`);
      })}>Run now</button>
    ${
      tenant.state === 'circuitOpen'
        ? html`<button
            type="button"
            onClick=${() => act(`Circuit breaker reset for ${tenant.displayName}`, () => api(`tenants/${id}/reset`, { method: 'POST' }))}
          >
            Reset circuit
          </button>`
        : null
    }
    ${
      tenant.enabled
        ? asking
          ? html`<form
              class="inline"
              onSubmit=${(event: Event) => {
                event.preventDefault();
                void act(`${tenant.displayName} excluded`, () =>
                  api(`tenants/${id}`, { method: 'PATCH', body: { enabled: false, reason } }),
                );
              }}
            >
              <label for=${`reason-${id}`}>Reason</label>
              <input
                id=${`reason-${id}`}
                required
                value=${reason}
                onInput=${(event: Event) => setReason((event.target as HTMLInputElement).value)}
              />
              <button type="submit">Disable</button>
              <button type="button" class="secondary" onClick=${() => setAsking(false)}>Cancel</button>
            </form>`
          : html`<button type="button" class="secondary" onClick=${() => setAsking(true)}>Disable…</button>`
        : html`<button
            type="button"
            onClick=${() => act(`${tenant.displayName} enabled`, () => api(`tenants/${id}`, { method: 'PATCH', body: { enabled: true } }))}
          >
            Enable
          </button>`
    }
    <${Link} to=${`onboarding/${id}`} class="button secondary">Diagnose</${Link}>
    <${ErrorBox} error=${error} />
  </div>`;
}

export function OverviewView({ me }: { me?: Me }) {
  const loaded = useLoad(
    () => api<Overview>('fleet/overview'),
    [],
    (data) => (data?.runningRun ? 2000 : 30000),
  );
  const [message, setMessage] = useState('');
  const [runError, setRunError] = useState<unknown>();
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const admin = canAdmin(me);
  const data = loaded.data;
  if (!data)
    return loaded.error ? html`<${ErrorBox} error=${loaded.error} />` : html`<${Loading} what="the fleet" />`;
  /** All enabled tenants, or the selected ones (a run of some tenants sweeps them even if their circuit is open). */
  const runAll = async (tenantIds?: string[]): Promise<void> => {
    setRunError(undefined);
    try {
      const started = await api<{ runId: string }>('runs', {
        method: 'POST',
        body: tenantIds ? { tenantIds } : {},
      });
      navigate(`runs/${started.runId}`);
    } catch (error) {
      setRunError(error);
    }
  };
  return html`<section aria-labelledby="overview-title">
    <div class="page-head">
      <h1 id="overview-title">Fleet overview</h1>
      ${
        admin
          ? html`<div class="actions">
            ${selected.size > 0 ? html`<button type="button" onClick=${() => runAll([...selected])}>${`Run selected (${selected.size})`}</button>` : null}
            <button type="button" class="primary" onClick=${() => runAll()}>Run now (all tenants)</button>
          </div>`
          : null
      }
    </div>
    <${ErrorBox} error=${runError} />
    ${message ? html`<p class="alert alert-good" role="status">${message}</p>` : null}
    <dl class="cards">
      <div class="card">
        <dt>Tenants</dt>
        <dd>${count(data.totals.tenants)}</dd>
      </div>
      <div class="card">
        <dt>Resources</dt>
        <dd>${count(data.totals.resources)}</dd>
      </div>
      <div class="card">
        <dt>Storage accounts</dt>
        <dd>${count(data.totals.storageAccounts)}</dd>
      </div>
      <div class="card">
        <dt>Public containers</dt>
        <dd class=${data.totals.publicContainers ? 'warn-text' : ''}>
          ${count(data.totals.publicContainers)}
        </dd>
      </div>
      <div class="card">
        <dt>Last sweep</dt>
        <dd class="small">
          ${data.lastRun ? html`<${Link} to=${`runs/${data.lastRun.runId}`}>${when(data.lastRun.startedAt)}</${Link}><br /><${Badge} state=${data.lastRun.status} />` : 'none yet'}
        </dd>
      </div>
      <div class="card">
        <dt>Next sweep</dt>
        <dd class="small">
          ${when(data.nextSweepAt)}<br /><span class="muted"
            >${ago(data.nextSweepAt)} · <code>${data.schedule}</code></span
          >
        </dd>
      </div>
    </dl>
    ${data.runningRun ? html`<p class="alert alert-info" role="status">A sweep is running: <${Link} to=${`runs/${data.runningRun.runId}`}>run ${data.runningRun.runId}</${Link}> (started ${ago(data.runningRun.startedAt)}).</p>` : null}
    <ul class="state-summary" aria-label="Tenants by state">
      ${STATES.map((state) => html`<li><${Badge} state=${state} /> <strong>${data.counts[state] ?? 0}</strong></li>`)}
    </ul>
    ${data.invalid.length ? html`<div class="alert alert-bad" role="alert">${data.invalid.length} registry row(s) cannot be read: ${data.invalid.map((row) => `${row.rowKey} (${row.problem})`).join('; ')}</div>` : null}
    <table class="grid tenants">
      <caption class="sr-only">
        Tenants, failing first
      </caption>
      <thead>
        <tr>
          ${admin ? html`<th scope="col"><span class="sr-only">Select</span></th>` : null}
          <th scope="col">State</th>
          <th scope="col">Tenant</th>
          <th scope="col">Last sweep</th>
          <th scope="col" class="num">Resources</th>
          <th scope="col">What is wrong and what to do</th>
          ${admin ? html`<th scope="col">Actions</th>` : null}
        </tr>
      </thead>
      <tbody>
        ${data.tenants.map(
          (tenant) => html`<tr class=${`row-${tenant.state}`} data-tenant=${tenant.displayName}>
            ${
              admin
                ? html`<td><input type="checkbox" aria-label=${`Select ${tenant.displayName} for a run`} checked=${selected.has(tenant.tenantId)} onChange=${(
                    event: Event,
                  ) => {
                    const next = new Set(selected);
                    if ((event.target as HTMLInputElement).checked) next.add(tenant.tenantId);
                    else next.delete(tenant.tenantId);
                    setSelected(next);
                  }} /></td>`
                : null
            }
            <td><${Badge} state=${tenant.state} /></td>
            <td><strong>${tenant.displayName}</strong><br /><code class="muted small">${tenant.tenantId}</code></td>
            <td>${tenant.lastSweep ? html`<${Link} to=${`runs/${tenant.lastSweep.runId}`}>${ago(tenant.lastSweep.at)}</${Link}>` : html`<span class="muted">never</span>`}
              ${tenant.consecutiveFailures > 0 ? html`<br /><span class="small">${tenant.consecutiveFailures} failure(s) in a row</span>` : null}</td>
            <td class="num"><${Link} to=${`inventory?tenantId=${tenant.tenantId}`}>${count(tenant.resources)}</${Link}></td>
            <td class="diagnosis">
              ${tenant.state === 'excluded' && tenant.exclusion ? html`<p>Excluded by ${tenant.exclusion.by} ${ago(tenant.exclusion.at)}: “${tenant.exclusion.reason}”</p>` : null}
              ${
                tenant.diagnosis && tenant.state !== 'healthy' && tenant.state !== 'excluded'
                  ? html`<p><code class="code">${tenant.diagnosis.code}</code> ${tenant.diagnosis.meaning}</p>
                    <${FixLine} text=${tenant.diagnosis.fix} />
                    <p><${Link} to=${`onboarding/${tenant.tenantId}`}>What to do: verify ${tenant.displayName} step by step →</${Link}></p>`
                  : null
              }
              ${
                tenant.warnings && tenant.warnings.length > 1
                  ? html`<details>
                      <summary>${tenant.warnings.length} warnings</summary>
                      <ul>
                        ${tenant.warnings.map((warning) => html`<li><code>${warning.code}</code> ${warning.scope} ${warning.id}: ${warning.fix}</li>`)}
                      </ul>
                    </details>`
                  : null
              }
              ${tenant.state === 'healthy' ? html`<span class="muted">${STATE_LABELS.healthy}: nothing to do</span>` : null}
              ${tenant.state === 'neverSwept' ? html`<span class="muted">Registered, not swept yet. Start a run or wait for the next sweep.</span>` : null}
            </td>
            ${
              admin
                ? html`<td>
                    <${TenantActions}
                      tenant=${tenant}
                      onDone=${(text: string) => {
                        setMessage(text);
                        loaded.reload();
                      }}
                    />
                  </td>`
                : null
            }
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

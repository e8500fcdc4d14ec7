/** Runs: history, and one run's per-tenant progress, polled while it runs. */
import { api } from './api.js';
import { useLoad } from './data.js';
import { Badge, count, duration, ErrorBox, FixLine, html, Link, Loading, when } from './ui.js';

interface RunRecord {
  runId: string;
  trigger: string;
  status: string;
  startedAt: string;
  endedAt?: string;
  totals?: Record<string, number>;
}

interface TenantRun {
  tenantId: string;
  displayName: string;
  status: string;
  attempts: number;
  durationMs?: number;
  resources?: number;
  added?: number;
  removed?: number;
  modified?: number;
  diagnosisCode?: string;
  diagnosisMeaning?: string;
  diagnosisFix?: string;
  warnings?: Array<{ scope: string; id: string; code: string; fix: string }>;
  snapshotBlob?: string;
}

export function RunsView() {
  const loaded = useLoad(
    () => api<{ items: RunRecord[] }>('runs?top=50'),
    [],
    (data) => (data?.items.some((run) => run.status === 'running') ? 2000 : undefined),
  );
  if (!loaded.data)
    return loaded.error ? html`<${ErrorBox} error=${loaded.error} />` : html`<${Loading} what="runs" />`;
  return html`<section aria-labelledby="runs-title">
    <h1 id="runs-title">Runs</h1>
    <table class="grid">
      <caption class="sr-only">
        Runs, newest first
      </caption>
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Status</th>
          <th scope="col">Trigger</th>
          <th scope="col">Started</th>
          <th scope="col" class="num">Duration</th>
          <th scope="col" class="num">Tenants</th>
          <th scope="col" class="num">Failed</th>
          <th scope="col" class="num">Resources</th>
        </tr>
      </thead>
      <tbody>
        ${loaded.data.items.map(
          (run) => html`<tr>
            <td><${Link} to=${`runs/${run.runId}`}><code>${run.runId}</code></${Link}></td>
            <td><${Badge} state=${run.status} /></td>
            <td>${run.trigger}</td>
            <td>${when(run.startedAt)}</td>
            <td class="num">${run.endedAt ? duration(Date.parse(run.endedAt) - Date.parse(run.startedAt)) : '…'}</td>
            <td class="num">${count(run.totals?.tenants)}</td>
            <td class="num">${count(run.totals?.failed)}</td>
            <td class="num">${count(run.totals?.resources)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

const FINISHED = new Set(['succeeded', 'partial', 'failed', 'skipped', 'invalid', 'abandoned']);

/**
 * The order a run's tenants are listed in: what needs the operator first (failed, then partial and
 * skipped), then what is still under way, then what succeeded; by name within each. The API lists them
 * by tenant id, which says nothing to a reader.
 */
const STATUS_ORDER = [
  'failed',
  'invalid',
  'abandoned',
  'partial',
  'skipped',
  'running',
  'queued',
  'succeeded',
];

/** A warning's scope as the operator reads it (the API's `scope` is `subscription` or `storageAccount`). */
const SCOPE_LABELS: Record<string, string> = {
  subscription: 'Subscription',
  storageAccount: 'Storage account',
};

function byAttention(a: TenantRun, b: TenantRun): number {
  const rank = (status: string): number => {
    const index = STATUS_ORDER.indexOf(status);
    return index < 0 ? STATUS_ORDER.length : index;
  };
  return rank(a.status) - rank(b.status) || a.displayName.localeCompare(b.displayName, 'en');
}

export function RunView({ runId }: { runId: string }) {
  const loaded = useLoad(
    () => api<RunRecord & { tenants: TenantRun[] }>(`runs/${encodeURIComponent(runId)}`),
    [runId],
    (data) => (!data || data.status === 'running' ? 1000 : undefined),
  );
  const run = loaded.data;
  if (!run)
    return loaded.error
      ? html`<${ErrorBox} error=${loaded.error} />`
      : html`<${Loading} what=${`run ${runId}`} />`;
  const done = run.tenants.filter((tenant) => FINISHED.has(tenant.status)).length;
  const total = run.tenants.length;
  return html`<section aria-labelledby="run-title">
    <p><${Link} to="runs">← All runs</${Link}></p>
    <div class="page-head"><h1 id="run-title">Run <code>${run.runId}</code></h1><span data-run-status=${run.status}><${Badge} state=${run.status} /></span></div>
    <p>Started ${when(run.startedAt)} by ${run.trigger}${run.endedAt ? `, ended ${when(run.endedAt)} (${duration(Date.parse(run.endedAt) - Date.parse(run.startedAt))})` : ''}.</p>
    <div class="progress-line">
      <label for="run-progress">${done} of ${total} tenants finished</label>
      <progress id="run-progress" max=${Math.max(total, 1)} value=${done}>${done}/${total}</progress>
    </div>
    <table class="grid">
      <caption class="sr-only">Tenants of this run</caption>
      <thead><tr><th scope="col">Tenant</th><th scope="col">Status</th><th scope="col" class="num">Attempts</th><th scope="col" class="num">Duration</th><th scope="col" class="num">Resources</th><th scope="col" class="num nowrap">Changes <span class="small muted">+ / − / ~</span></th><th scope="col">Diagnosis and fix</th><th scope="col">Snapshot</th></tr></thead>
      <tbody>
        ${[...run.tenants].sort(byAttention).map(
          (tenant) =>
            html`<tr data-tenant=${tenant.displayName}>
              <td>
                <strong>${tenant.displayName}</strong><br /><code class="muted small"
                  >${tenant.tenantId}</code
                >
              </td>
              <td><${Badge} state=${tenant.status} /></td>
              <td class="num">${tenant.attempts}</td>
              <td class="num">${duration(tenant.durationMs)}</td>
              <td class="num">${count(tenant.resources)}</td>
              <td class="num">
                ${`+${count(tenant.added)} −${count(tenant.removed)} ~${count(tenant.modified)}`}
              </td>
              <td class="diagnosis">
                ${
                  tenant.diagnosisCode
                    ? html`<p><code class="code">${tenant.diagnosisCode}</code> ${tenant.diagnosisMeaning}</p>
                        <${FixLine} text=${tenant.diagnosisFix} />`
                    : null
                }
                ${(tenant.warnings ?? []).map(
                  (warning) =>
                    html`<p><code class="code">${warning.code}</code> ${SCOPE_LABELS[warning.scope] ?? warning.scope} <strong>${warning.id}</strong></p>
                      <${FixLine} text=${warning.fix} />`,
                )}
              </td>
              <td>
                ${tenant.snapshotBlob ? html`<a href=${`/api/runs/${run.runId}/tenants/${tenant.tenantId}/snapshot`} download>Download<span class="sr-only"> snapshot of ${tenant.displayName}</span></a>` : html`<span class="muted">—</span>`}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

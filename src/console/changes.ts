/** Change feed: added, removed, modified (with fields before and after), baselines; filters in the URL. */
import { useState } from 'preact/hooks';
import { api, query } from './api.js';
import { useLoad } from './data.js';
import { navigate } from './router.js';
import { ErrorBox, html, Loading, when } from './ui.js';

interface Change {
  tenantId: string;
  tenantName: string;
  runId: string;
  changeType: string;
  name: string;
  type: string;
  resourceId: string;
  changedFields: string[];
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
  detectedAt: string;
}

const KIND_TONE: Record<string, string> = {
  added: 'good',
  removed: 'bad',
  modified: 'warn',
  baseline: 'muted',
};
const FILTERS = ['tenantId', 'kind', 'since', 'until'] as const;

function Diff({ change }: { change: Change }) {
  if (change.changeType !== 'modified') return null;
  return html`<table class="diff">
    <thead>
      <tr>
        <th scope="col">Field</th>
        <th scope="col">Before</th>
        <th scope="col">After</th>
      </tr>
    </thead>
    <tbody>
      ${change.changedFields.map(
        (field) =>
          html`<tr>
            <th scope="row">${field}</th>
            <td><code>${JSON.stringify(change.before?.[field] ?? null)}</code></td>
            <td><code>${JSON.stringify(change.after?.[field] ?? null)}</code></td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function ChangesView({ params }: { params: URLSearchParams }) {
  const filter = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) ?? ''])) as Record<
    (typeof FILTERS)[number],
    string
  >;
  const token = params.get('page') ?? '';
  const tenants = useLoad(
    () => api<{ tenantNames: Array<{ tenantId: string; displayName: string }> }>('fleet/inventory/facets'),
    [],
  );
  const page = useLoad(
    () =>
      api<{ items: Change[]; continuationToken?: string }>(
        `fleet/changes${query({ ...filter, top: '50', continuationToken: token })}`,
      ),
    [params.toString()],
  );
  const [draft, setDraft] = useState(filter);
  const go = (values: Record<string, string>): void => navigate(`changes${query(values)}`);
  const set = (name: string) => (event: Event) =>
    setDraft({ ...draft, [name]: (event.target as HTMLInputElement).value });
  return html`<section aria-labelledby="changes-title">
    <h1 id="changes-title">Change feed</h1>
    <form
      class="filters"
      role="search"
      aria-label="Filter the changes"
      onSubmit=${(event: Event) => {
        event.preventDefault();
        go(draft);
      }}
    >
      <div class="field">
        <label for="c-tenant">Tenant</label>
        <select id="c-tenant" value=${draft.tenantId} onChange=${set('tenantId')}>
          <option value="">All tenants</option>
          ${(tenants.data?.tenantNames ?? []).map((tenant) => html`<option value=${tenant.tenantId}>${tenant.displayName}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="c-kind">Kind</label>
        <select id="c-kind" value=${draft.kind} onChange=${set('kind')}>
          <option value="">All kinds</option>
          ${['added', 'removed', 'modified', 'baseline'].map((kind) => html`<option value=${kind}>${kind}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="c-since">Since (UTC)</label
        ><input
          id="c-since"
          type="datetime-local"
          value=${draft.since.slice(0, 16)}
          onInput=${(event: Event) => setDraft({ ...draft, since: (event.target as HTMLInputElement).value ? `${(event.target as HTMLInputElement).value}:00Z` : '' })}
        />
      </div>
      <div class="field">
        <label for="c-until">Until (UTC)</label
        ><input
          id="c-until"
          type="datetime-local"
          value=${draft.until.slice(0, 16)}
          onInput=${(event: Event) => setDraft({ ...draft, until: (event.target as HTMLInputElement).value ? `${(event.target as HTMLInputElement).value}:00Z` : '' })}
        />
      </div>
      <div class="field buttons"><button type="submit" class="primary">Apply filters</button></div>
    </form>
    <p class="exports">
      Export these filters:${' '}<a href=${`/api/fleet/export/changes${query({ ...filter, format: 'csv' })}`} download>CSV</a>${' · '}<a href=${`/api/fleet/export/changes${query({ ...filter, format: 'ndjson' })}`} download>NDJSON</a>
    </p>
    <${ErrorBox} error=${page.error} />
    ${
      page.data
        ? html`<table class="grid">
              <caption class="sr-only">
                Changes, newest run first
              </caption>
              <thead>
                <tr>
                  <th scope="col">Kind</th>
                  <th scope="col">Resource</th>
                  <th scope="col">Tenant</th>
                  <th scope="col">Detected</th>
                  <th scope="col">What changed</th>
                </tr>
              </thead>
              <tbody>
                ${page.data.items.map(
                  (change) =>
                    html`<tr>
                      <td>
                        <span class=${`badge badge-${KIND_TONE[change.changeType] ?? 'muted'}`}
                          >${change.changeType}</span
                        >
                      </td>
                      <td><strong>${change.name}</strong><br /><code class="small">${change.type}</code></td>
                      <td>${change.tenantName}</td>
                      <td>${when(change.detectedAt)}</td>
                      <td>
                        ${change.changeType === 'baseline' ? html`<span class="muted">first inventory of this subscription</span>` : html`<${Diff} change=${change} />`}
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>
            ${page.data.items.length === 0 ? html`<p class="muted">No change matches these filters.</p>` : null}
            <nav class="pager" aria-label="Pages">
              ${token ? html`<button type="button" class="secondary" onClick=${() => history.back()}>← Previous page</button>` : null}
              ${page.data.continuationToken ? html`<button type="button" onClick=${() => go({ ...filter, page: page.data!.continuationToken! })}>Next page →</button>` : null}
            </nav>`
        : page.error
          ? null
          : html`<${Loading} what="changes" />`
    }
  </section>`;
}

/** Inventory explorer across tenants: filters in the URL, charts from the aggregates, pages, exports, history. */
import { useState } from 'preact/hooks';
import { api, query } from './api.js';
import { useLoad } from './data.js';
import { navigate } from './router.js';
import { Bars, count, ErrorBox, html, Loading, when } from './ui.js';

interface Facets {
  tenants: number;
  resources: number;
  byType: Record<string, number>;
  byLocation: Record<string, number>;
  tenantNames: Array<{ tenantId: string; displayName: string }>;
}

interface Resource {
  tenantId: string;
  tenantName: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  type: string;
  location: string;
  tags: Record<string, string>;
  resourceId: string;
  lastModified: string;
}

export const FILTERS = [
  'tenantId',
  'subscriptionId',
  'resourceGroup',
  'type',
  'location',
  'tag',
  'q',
] as const;

function History({ tenantId, resourceId }: { tenantId: string; resourceId: string }) {
  const loaded = useLoad(
    () =>
      api<{
        items: Array<{
          changeType: string;
          detectedAt: string;
          changedFields: string[];
          before?: unknown;
          after?: unknown;
          runId: string;
        }>;
      }>(`fleet/inventory/history${query({ tenantId, resourceId })}`),
    [tenantId, resourceId],
  );
  if (!loaded.data)
    return loaded.error ? html`<${ErrorBox} error=${loaded.error} />` : html`<${Loading} what="history" />`;
  if (loaded.data.items.length === 0)
    return html`<p class="muted">No change recorded since this resource was first inventoried.</p>`;
  return html`<ol class="history">
    ${loaded.data.items.map(
      (change) =>
        html`<li>
          <strong>${change.changeType}</strong>
          ${when(change.detectedAt)}${change.changedFields.length ? html`: ${change.changedFields.join(', ')}` : null}
          ${
            change.before || change.after
              ? html`<div class="beforeafter">
                  <pre aria-label="before">${JSON.stringify(change.before ?? null, null, 1)}</pre>
                  <pre aria-label="after">${JSON.stringify(change.after ?? null, null, 1)}</pre>
                </div>`
              : null
          }
        </li>`,
    )}
  </ol>`;
}

export function InventoryView({ params }: { params: URLSearchParams }) {
  const filter = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) ?? ''])) as Record<
    (typeof FILTERS)[number],
    string
  >;
  const token = params.get('page') ?? '';
  const facets = useLoad(
    () => api<Facets>(`fleet/inventory/facets${query({ tenantId: filter.tenantId })}`),
    [filter.tenantId],
  );
  const page = useLoad(
    () =>
      api<{ items: Resource[]; continuationToken?: string; tenantsMatched: number }>(
        `fleet/inventory${query({ ...filter, top: '25', continuationToken: token })}`,
      ),
    [params.toString()],
  );
  const [draft, setDraft] = useState(filter);
  const [open, setOpen] = useState<string>();
  const go = (values: Record<string, string>): void => navigate(`inventory${query(values)}`);
  const field = (name: (typeof FILTERS)[number], label: string, placeholder = '') =>
    html`<div class="field">
      <label for=${`f-${name}`}>${label}</label>
      <input
        id=${`f-${name}`}
        name=${name}
        value=${draft[name]}
        placeholder=${placeholder}
        onInput=${(event: Event) => setDraft({ ...draft, [name]: (event.target as HTMLInputElement).value })}
      />
    </div>`;
  const exportQuery = (format: string): string =>
    `/api/fleet/export/inventory${query({ ...filter, format })}`;
  return html`<section aria-labelledby="inventory-title">
    <h1 id="inventory-title">Inventory explorer</h1>
    <form
      class="filters"
      role="search"
      aria-label="Filter the inventory"
      onSubmit=${(event: Event) => {
        event.preventDefault();
        go(draft);
      }}
    >
      <div class="field">
        <label for="f-tenantId">Tenant</label>
        <select
          id="f-tenantId"
          value=${draft.tenantId}
          onChange=${(event: Event) => setDraft({ ...draft, tenantId: (event.target as HTMLSelectElement).value })}
        >
          <option value="">All tenants</option>
          ${(facets.data?.tenantNames ?? []).map((tenant) => html`<option value=${tenant.tenantId}>${tenant.displayName}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="f-type">Type</label>
        <select
          id="f-type"
          value=${draft.type.toLowerCase()}
          onChange=${(event: Event) => setDraft({ ...draft, type: (event.target as HTMLSelectElement).value })}
        >
          <option value="">All types</option>
          ${Object.keys(facets.data?.byType ?? {})
            .sort()
            .map((type) => html`<option value=${type}>${type}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="f-location">Location</label>
        <select
          id="f-location"
          value=${draft.location.toLowerCase()}
          onChange=${(event: Event) => setDraft({ ...draft, location: (event.target as HTMLSelectElement).value })}
        >
          <option value="">All locations</option>
          ${Object.keys(facets.data?.byLocation ?? {})
            .sort()
            .map((location) => html`<option value=${location}>${location}</option>`)}
        </select>
      </div>
      ${field('subscriptionId', 'Subscription id')} ${field('resourceGroup', 'Resource group')}
      ${field('tag', 'Tag', 'env or env=prod')} ${field('q', 'Text', 'name or id contains')}
      <div class="field buttons">
        <button type="submit" class="primary">Apply filters</button>
        <button
          type="button"
          class="secondary"
          onClick=${() => {
            const empty = Object.fromEntries(FILTERS.map((name) => [name, ''])) as typeof draft;
            setDraft(empty);
            go({});
          }}
        >
          Clear
        </button>
      </div>
    </form>
    <div class="charts">
      ${
        facets.data
          ? html`<${Bars}
                title=${`By type (${facets.data.tenants} tenant${facets.data.tenants === 1 ? '' : 's'}, ${count(facets.data.resources)} resources and their resource groups)`}
                counts=${facets.data.byType}
                onPick=${(type: string) => go({ ...filter, type })}
              />
              <${Bars}
                title="By location"
                counts=${facets.data.byLocation}
                onPick=${(location: string) => go({ ...filter, location })}
              />`
          : null
      }
    </div>
    <div class="page-head">
      <h2>Resources</h2>
      <p class="exports">
        Export these filters: <a href=${exportQuery('csv')} download>CSV</a>${' · '}<a href=${exportQuery('ndjson')} download>NDJSON</a>
      </p>
    </div>
    <${ErrorBox} error=${page.error} />
    ${
      page.data
        ? html`<p class="muted small" role="status">
              ${`${page.data.items.length} resources on this page (looked in ${page.data.tenantsMatched} tenant${page.data.tenantsMatched === 1 ? '' : 's'}).`}
            </p>
            <table class="grid resources">
              <caption class="sr-only">
                Resources matching the filters
              </caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Location</th>
                  <th scope="col">Resource group</th>
                  <th scope="col">Tenant</th>
                  <th scope="col">Tags</th>
                  <th scope="col">History</th>
                </tr>
              </thead>
              <tbody>
                ${page.data.items.map(
                  (resource) =>
                    html`<tr data-resource-id=${resource.resourceId}>
                      <td><strong>${resource.name}</strong></td>
                      <td><code class="small">${resource.type}</code></td>
                      <td>${resource.location}</td>
                      <td>${resource.resourceGroup}</td>
                      <td>${resource.tenantName}</td>
                      <td class="small">
                        ${Object.entries(resource.tags).map(([key, value]) => html`<span class="tag">${key}=${value}</span> `)}
                      </td>
                      <td>
                        <button
                          type="button"
                          class="linklike"
                          aria-expanded=${open === resource.resourceId}
                          onClick=${() => setOpen(open === resource.resourceId ? undefined : resource.resourceId)}
                        >
                          ${open === resource.resourceId ? 'Hide' : 'Show'}<span class="sr-only">
                            history of ${resource.name}</span
                          >
                        </button>
                        ${open === resource.resourceId ? html`<${History} tenantId=${resource.tenantId} resourceId=${resource.resourceId} />` : null}
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>
            <nav class="pager" aria-label="Pages">
              ${token ? html`<button type="button" class="secondary" onClick=${() => history.back()}>← Previous page</button>` : null}
              ${page.data.continuationToken ? html`<button type="button" onClick=${() => go({ ...filter, page: page.data!.continuationToken! })}>Next page →</button>` : html`<span class="muted">End of results.</span>`}
            </nav>`
        : page.error
          ? null
          : html`<${Loading} what="resources" />`
    }
  </section>`;
}

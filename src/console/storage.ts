/** Customer storage: accounts, containers (public access highlighted), refusals with the fix, browsing. */
import { api, canReadCustomerData, query, type Me } from './api.js';
import { useLoad } from './data.js';
import { navigate } from './router.js';
import { bytes, count, ErrorBox, FixLine, html, Link, Loading } from './ui.js';

interface Account {
  tenantId: string;
  tenantName: string;
  accountName: string;
  reachable: boolean;
  blobCount: number;
  totalBytes: number;
  publicContainers: number;
  containers: Array<{ name: string; publicAccess: string; blobCount: number; totalBytes: number }>;
  diagnosis?: { code: string; meaning: string; fix: string };
}

function Browse({ tenantId, account, container }: { tenantId: string; account: string; container: string }) {
  const loaded = useLoad(
    () =>
      api<{
        items: Array<{ name: string; contentLength?: number; lastModified?: string }>;
        continuationToken?: string;
      }>(`tenants/${tenantId}/storage/${account}/containers/${container}/blobs${query({ top: '100' })}`),
    [tenantId, account, container],
  );
  return html`<section aria-labelledby="browse-title" class="panel">
    <h2 id="browse-title">Blobs in ${account}/${container}</h2>
    <p><${Link} to="storage">← Back to storage</${Link}></p>
    <${ErrorBox} error=${loaded.error} />
    ${
      loaded.data
        ? html`<table class="grid">
              <thead>
                <tr>
                  <th scope="col">Blob</th>
                  <th scope="col" class="num">Size</th>
                  <th scope="col">Modified</th>
                </tr>
              </thead>
              <tbody>
                ${loaded.data.items.map(
                  (blob) =>
                    html`<tr>
                      <td><code>${blob.name}</code></td>
                      <td class="num">${bytes(blob.contentLength)}</td>
                      <td>${blob.lastModified ?? ''}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
            ${loaded.data.continuationToken ? html`<p class="muted">First 100 blobs shown.</p>` : null}`
        : loaded.error
          ? null
          : html`<${Loading} what="blobs" />`
    }
  </section>`;
}

export function StorageView({ params, me }: { params: URLSearchParams; me?: Me }) {
  const onlyPublic = params.get('public') === 'true';
  const onlyRefused = params.get('refused') === 'true';
  const browse = params.get('browse');
  const loaded = useLoad(
    () =>
      api<{ items: Account[] }>(
        `fleet/storage${query({ public: onlyPublic ? 'true' : '', refused: onlyRefused ? 'true' : '' })}`,
      ),
    [onlyPublic, onlyRefused],
  );
  if (browse) {
    const [tenantId, account, container] = browse.split('/');
    return html`<${Browse}
      tenantId=${tenantId ?? ''}
      account=${account ?? ''}
      container=${container ?? ''}
    />`;
  }
  const browsing = canReadCustomerData(me);
  const toggle = (name: string, on: boolean) =>
    navigate(
      `storage${query({ public: name === 'public' ? (on ? 'true' : '') : onlyPublic ? 'true' : '', refused: name === 'refused' ? (on ? 'true' : '') : onlyRefused ? 'true' : '' })}`,
    );
  return html`<section aria-labelledby="storage-title">
    <h1 id="storage-title">Storage</h1>
    <fieldset class="filters inline-filters">
      <legend>Show</legend>
      <label
        ><input
          type="checkbox"
          checked=${onlyPublic}
          onChange=${(event: Event) => toggle('public', (event.target as HTMLInputElement).checked)}
        />
        only accounts with public containers</label
      >
      <label
        ><input
          type="checkbox"
          checked=${onlyRefused}
          onChange=${(event: Event) => toggle('refused', (event.target as HTMLInputElement).checked)}
        />
        only accounts that refused the app</label
      >
    </fieldset>
    <p class="exports">
      Export: <a href="/api/fleet/export/storage?format=csv" download>CSV</a>${' · '}<a href="/api/fleet/export/storage?format=ndjson" download>NDJSON</a>
    </p>
    <${ErrorBox} error=${loaded.error} />
    ${
      loaded.data
        ? html`<table class="grid">
              <caption class="sr-only">
                Storage accounts
              </caption>
              <thead>
                <tr>
                  <th scope="col">Account</th>
                  <th scope="col">Tenant</th>
                  <th scope="col" class="num">Blobs</th>
                  <th scope="col" class="num">Bytes</th>
                  <th scope="col">Containers</th>
                </tr>
              </thead>
              <tbody>
                ${loaded.data.items.map(
                  (account) =>
                    html`<tr
                      class=${account.reachable ? (account.publicContainers ? 'row-public' : '') : 'row-failing'}
                    >
                      <td><strong>${account.accountName}</strong></td>
                      <td>${account.tenantName}</td>
                      <td class="num">${count(account.blobCount)}</td>
                      <td class="num">${bytes(account.totalBytes)}</td>
                      <td>
                        ${
                          account.reachable
                            ? html`<ul class="containers">
                                ${account.containers.map(
                                  (container) =>
                                    html`<li>
                                      ${container.publicAccess !== 'none' ? html`<span class="badge badge-bad"><span aria-hidden="true">⚠</span> Public (${container.publicAccess})</span> ` : null}
                                      ${browsing ? html`<${Link} to=${`storage?browse=${account.tenantId}/${account.accountName}/${container.name}`}>${container.name}</${Link}>` : html`<span>${container.name}</span>`}
                                      <span class="muted small">
                                        ${`${count(container.blobCount)} blobs, ${bytes(container.totalBytes)}`}</span
                                      >
                                    </li>`,
                                )}
                              </ul>`
                            : html`<p>
                                  <span class="badge badge-bad"
                                    ><span aria-hidden="true">✕</span> Refused</span
                                  >
                                  <code class="code">${account.diagnosis?.code}</code>
                                  ${account.diagnosis?.meaning}
                                </p>
                                <${FixLine} text=${account.diagnosis?.fix} />`
                        }
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>
            ${!browsing ? html`<p class="muted">Browsing containers needs the Fleet.CustomerData.Read role.</p>` : null}`
        : loaded.error
          ? null
          : html`<${Loading} what="storage" />`
    }
  </section>`;
}

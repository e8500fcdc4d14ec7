/**
 * The operator console: a small Preact app (bundled at build, no CDN) over the app's own API. It asks
 * GET /api/me once and shows only the actions the operator's roles allow; the API enforces them anyway.
 */
import { render } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { api, type Me } from './api.js';
import { ChangesView } from './changes.js';
import { useLoad } from './data.js';
import { InventoryView } from './inventory.js';
import { OnboardingView } from './onboarding.js';
import { OverviewView } from './overview.js';
import { useRoute } from './router.js';
import { RunsView, RunView } from './runs.js';
import { StorageView } from './storage.js';
import { ErrorBox, html, Link } from './ui.js';

const NAV = [
  ['overview', 'Overview'],
  ['runs', 'Runs'],
  ['inventory', 'Inventory'],
  ['changes', 'Changes'],
  ['storage', 'Storage'],
  ['onboarding', 'Onboarding'],
] as const;

function App() {
  const route = useRoute();
  const me = useLoad(() => api<Me>('me'), []);
  const [section, ...rest] = route.path.split('/');
  const title = NAV.find(([path]) => path === section)?.[1] ?? 'Not found';
  const first = useRef(true);
  useEffect(() => {
    document.title = `${title} · Tenant Fleet`;
    // After a navigation (not on the first load), focus moves to the new view, as a page load would.
    if (!first.current) document.getElementById('main')?.focus({ preventScroll: true });
    first.current = false;
  }, [route.path]);
  let view;
  if (section === 'overview') view = html`<${OverviewView} me=${me.data} />`;
  else if (section === 'runs' && rest[0]) view = html`<${RunView} runId=${rest[0]} />`;
  else if (section === 'runs') view = html`<${RunsView} />`;
  else if (section === 'inventory') view = html`<${InventoryView} params=${route.params} />`;
  else if (section === 'changes') view = html`<${ChangesView} params=${route.params} />`;
  else if (section === 'storage') view = html`<${StorageView} params=${route.params} me=${me.data} />`;
  else if (section === 'onboarding')
    view = html`<${OnboardingView} tenantId=${rest[0] ?? ''} me=${me.data} />`;
  else
    view = html`<h1>Not found</h1><p>No view “${route.path}”. <${Link} to="overview">Go to the overview</${Link}>.</p>`;
  return html`<a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <span class="brand">Tenant Fleet</span>
      <nav aria-label="Views">
        <ul>
          ${NAV.map(([path, label]) => html`<li><${Link} to=${path} class=${section === path ? 'active' : ''}>${label}</${Link}></li>`)}
        </ul>
      </nav>
      <span class="who"
        >${me.data ? html`${me.data.name} · <span class="roles">${me.data.roles.join(', ') || 'no roles'}</span>` : ''}</span
      >
    </header>
    <main id="main" tabindex="-1">
      <${ErrorBox} error=${me.error} />
      ${view}
    </main>`;
}

render(html`<${App} />`, document.getElementById('app')!);

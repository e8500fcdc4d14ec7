/** Small shared pieces: state badges (colour and text), formatting, loading and error boxes. */
import { h, type ComponentChildren } from 'preact';
import htm from 'htm';
import { ApiError } from './api.js';
import { href, onLink } from './router.js';

export const html = htm.bind(h);

export const STATE_LABELS: Record<string, string> = {
  failing: 'Failing',
  circuitOpen: 'Skipped (circuit breaker)',
  warnings: 'Warnings',
  neverSwept: 'Never swept',
  excluded: 'Excluded',
  healthy: 'Healthy',
  running: 'Running',
  queued: 'Queued',
  succeeded: 'Succeeded',
  partial: 'Partial',
  failed: 'Failed',
  skipped: 'Skipped',
  invalid: 'Invalid',
  abandoned: 'Abandoned',
  completed: 'Completed',
  completedWithErrors: 'Completed with errors',
  timedOut: 'Timed out',
};

const STATE_TONE: Record<string, string> = {
  failing: 'bad',
  failed: 'bad',
  invalid: 'bad',
  abandoned: 'bad',
  timedOut: 'bad',
  circuitOpen: 'circuit',
  warnings: 'warn',
  partial: 'warn',
  completedWithErrors: 'warn',
  neverSwept: 'info',
  queued: 'info',
  running: 'info',
  excluded: 'muted',
  skipped: 'muted',
  healthy: 'good',
  succeeded: 'good',
  completed: 'good',
};

const STATE_ICON: Record<string, string> = {
  bad: '✕',
  warn: '!',
  good: '✓',
  info: '•',
  muted: '–',
  circuit: '‖',
};

export function Badge({ state }: { state: string }) {
  const tone = STATE_TONE[state] ?? 'muted';
  return html`<span class=${`badge badge-${tone}`}
    ><span aria-hidden="true">${STATE_ICON[tone]}</span> ${STATE_LABELS[state] ?? state}</span
  >`;
}

export function Link({
  to,
  children,
  class: className,
}: {
  to: string;
  children: ComponentChildren;
  class?: string;
}) {
  return html`<a href=${href(to)} onClick=${onLink} class=${className}>${children}</a>`;
}

export function when(iso: string | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function ago(iso: string | undefined): string {
  if (!iso) return '';
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const future = seconds < 0;
  const s = Math.abs(seconds);
  const text =
    s < 90
      ? `${s} s`
      : s < 5400
        ? `${Math.round(s / 60)} min`
        : s < 129600
          ? `${Math.round(s / 3600)} h`
          : `${Math.round(s / 86400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return '—';
  return ms < 1000
    ? `${ms} ms`
    : ms < 120_000
      ? `${(ms / 1000).toFixed(1)} s`
      : `${Math.round(ms / 60000)} min`;
}

export function bytes(value: number | undefined): string {
  if (!value) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let index = 0;
  let amount = value;
  while (amount >= 1024 && index < units.length - 1) {
    amount /= 1024;
    index++;
  }
  return `${amount.toFixed(index === 0 ? 0 : 1)} ${units[index]}`;
}

export const count = (value: number | undefined): string => (value ?? 0).toLocaleString('en-US');

/**
 * A diagnosis's fix, as one line under it. Links in a fix (the admin-consent link) are made clickable;
 * everything else stays text. Every view shows a fix this way, so the operator finds it in one place.
 */
export function FixLine({ text }: { text: string | undefined }) {
  if (!text) return null;
  const parts = text.split(/(https:\/\/\S+[^\s.,;)])/g);
  return html`<p class="fix">
    <strong>Fix:</strong> ${parts.map((part) => (/^https:\/\//.test(part) ? html`<a href=${part} rel="noreferrer noopener" target="_blank">${part}</a>` : part))}
  </p>`;
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : undefined;
  return html`<div class="alert alert-bad" role="alert">
    <strong>${api ? `${api.status} ${api.code}` : 'Error'}:</strong> ${(error as Error).message}
    <${FixLine} text=${api?.fix} />
  </div>`;
}

export function Loading({ what }: { what: string }) {
  return html`<p class="loading" role="status">Loading ${what}…</p>`;
}

/** A horizontal bar chart of counts: readable as a table too (screen readers get the numbers). */
export function Bars({
  title,
  counts,
  onPick,
  limit = 10,
}: {
  title: string;
  counts: Record<string, number>;
  onPick?: (key: string) => void;
  limit?: number;
}) {
  const entries = Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit);
  const max = Math.max(1, ...entries.map(([, value]) => value));
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <table class="bars">
      <tbody>
        ${entries.map(
          ([key, value]) =>
            html`<tr>
              <th scope="row">
                ${onPick ? html`<button type="button" class="linklike" onClick=${() => onPick(key)}>${key}</button>` : key}
              </th>
              <td>
                <span class="bar" style=${{ width: `${Math.max(2, (value / max) * 85)}%` }}></span
                ><span class="bar-value">${count(value)}</span>
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </figure>`;
}

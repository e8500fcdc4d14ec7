/** Path-based routes under /api/console/ (each view a shareable URL, query string included). */
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/api/console';

export interface Route {
  /** Path after the base, without leading slash: 'overview', 'runs/2026...', ... */
  path: string;
  params: URLSearchParams;
}

function current(): Route {
  const path = location.pathname.startsWith(BASE)
    ? location.pathname.slice(BASE.length).replace(/^\/+|\/+$/g, '')
    : '';
  return { path: path || 'overview', params: new URLSearchParams(location.search) };
}

const listeners = new Set<() => void>();

export function navigate(to: string, { replace = false } = {}): void {
  const url = `${BASE}/${to}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  listeners.forEach((listener) => listener());
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const update = (): void => setRoute(current());
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** A link that navigates in place (and still opens in a new tab with the usual keys). */
export function onLink(event: MouseEvent): void {
  const anchor = (event.currentTarget as HTMLAnchorElement | null) ?? undefined;
  if (
    !anchor ||
    event.defaultPrevented ||
    event.button !== 0 ||
    event.metaKey ||
    event.ctrlKey ||
    event.shiftKey
  )
    return;
  const href = anchor.getAttribute('href') ?? '';
  if (!href.startsWith(`${BASE}/`)) return;
  event.preventDefault();
  navigate(href.slice(BASE.length + 1));
}

export const href = (to: string): string => `${BASE}/${to}`;

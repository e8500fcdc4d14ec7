/** Loading a resource into component state, with reload and polling. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  reload(): void;
}

export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
  pollMs?: (data: T | undefined) => number | undefined,
): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  const reload = useCallback(() => setTick((value) => value + 1), []);
  useEffect(() => {
    const id = ++latest.current;
    let timer: number | undefined;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => {
        if (id !== latest.current) return;
        setState({ data, loading: false });
        const every = pollMs?.(data);
        if (every) timer = window.setTimeout(() => setTick((value) => value + 1), every);
      },
      (error: unknown) => {
        if (id === latest.current) setState((previous) => ({ ...previous, error, loading: false }));
      },
    );
    return () => window.clearTimeout(timer);
  }, [...deps, tick]);
  return { ...state, reload };
}

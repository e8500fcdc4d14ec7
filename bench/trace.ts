/**
 * Optional request trace of a contender process (set BENCH_TRACE=<file>): every outgoing HTTP(S)
 * request with its start time, duration, method and path (query strings cut, no headers, so no token
 * is ever written). For finding where a sweep's time goes; off by default.
 */
import { subscribe } from 'node:diagnostics_channel';
import { appendFileSync, writeFileSync } from 'node:fs';
import type { ClientRequest } from 'node:http';

let mark: ((label: string) => void) | undefined;

/** Writes a marker line (e.g. the start of a phase) into the trace, if one is on. */
export function traceMark(label: string): void {
  mark?.(label);
}

export function startRequestTrace(file: string | undefined): void {
  if (!file) return;
  const origin = performance.now();
  const started = new WeakMap<ClientRequest, number>();
  const lines: string[] = [];
  writeFileSync(file, 'startMs\tdurationMs\tstatus\tmethod\thost\tpath\n');
  mark = (label) => lines.push(`${(performance.now() - origin).toFixed(1)}\t0\t0\tMARK\t-\t${label}`);
  subscribe('http.client.request.start', (message) => {
    started.set((message as { request: ClientRequest }).request, performance.now());
  });
  subscribe('http.client.response.finish', (message) => {
    const { request, response } = message as {
      request: ClientRequest;
      response: { statusCode?: number };
    };
    const start = started.get(request) ?? origin;
    lines.push(
      [
        (start - origin).toFixed(1),
        (performance.now() - start).toFixed(1),
        response.statusCode ?? 0,
        request.method,
        request.host,
        request.path.split('?')[0],
      ].join('\t'),
    );
    if (lines.length >= 1000) appendFileSync(file, `${lines.splice(0).join('\n')}\n`);
  });
  process.on('exit', () => {
    if (lines.length) appendFileSync(file, `${lines.join('\n')}\n`);
  });
}

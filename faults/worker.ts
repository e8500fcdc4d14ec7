/**
 * A worker instance of the fleet, as its own process so that the suite can kill it at any point:
 * the app's queue handlers under the local host with a short message lease (a killed worker's
 * messages come back within seconds, as the Functions host's lease would let them). Settings come as
 * JSON on stdin (the suite writes them once it knows the worker's own Table front, kill-gate.ts); one
 * line per finished message goes to stdout.
 */
import { join } from 'node:path';
import { LocalFunctionsHost, loadFunctionHandlers, readQueueSemantics } from '../dev/local-host.js';
import { loadConfig } from '../src/core/platform/config.js';
import { createRuntime } from '../src/core/runtime.js';

let input = '';
for await (const chunk of process.stdin) input += String(chunk);
const settings = JSON.parse(input) as Record<string, string>;
const runId = process.env.FAULTS_RUN_ID ?? '';
const runtime = createRuntime(loadConfig(settings), { log: () => undefined });
const host = new LocalFunctionsHost({
  runtime,
  handlers: await loadFunctionHandlers(),
  semantics: readQueueSemantics(join(import.meta.dirname, '..', 'host.json')),
  retryDelaySeconds: 1,
  leaseSeconds: 3,
  onMessage: (event) => console.log(JSON.stringify({ outcome: event.outcome, queue: event.queue })),
  onLog: (level, text) => {
    if (level === 'error' || level === 'warning') console.error(`${level}: ${text}`);
  },
});
for (;;) {
  try {
    await host.drain(async () => (await runtime.runs.getRun(runId)).status !== 'running', { pollMs: 100 });
    break;
  } catch (error) {
    // Storage down (Azurite restarting): the host would keep polling; so does this worker.
    console.error(`drain interrupted: ${error instanceof Error ? error.message : String(error)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** `npm start -- --serve`: serve until Ctrl-C (SIGINT) or SIGTERM, then stop cleanly. */
import { InputError } from '../src/core/platform/errors.js';
import type { FleetRuntime } from '../src/core/runtime.js';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readQueueSemantics, type FunctionHandlers } from './local-host.js';
import { serve, serveBanner } from './serve.js';
import { buildConsole } from '../scripts/build-console.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function serveUntilStopped(
  runtime: FleetRuntime,
  handlers: FunctionHandlers,
  options: { port: string; sweepAtStart: boolean },
): Promise<void> {
  if (!/^\d{1,5}$/.test(options.port) || Number(options.port) > 65535)
    throw new InputError('--port', `'${options.port}' is not a port number (0 picks a free one)`);
  // The console's assets come from dist/console, as in Azure: build them from the sources first.
  await buildConsole();
  const handle = await serve({
    runtime,
    handlers,
    semantics: readQueueSemantics(join(root, 'host.json')),
    port: Number(options.port),
    sweepAtStart: options.sweepAtStart,
  });
  console.log(serveBanner(handle, runtime));
  await new Promise<void>((resolveStop) => {
    process.once('SIGINT', () => resolveStop());
    process.once('SIGTERM', () => resolveStop());
  });
  console.log('\nstopping: no new messages; tenants in flight get 10 s to finish...');
  const { handedBack } = await handle.close();
  console.log(
    handedBack > 0
      ? `stopped; ${handedBack} unfinished message(s) handed back to the queue (swept on the next start)`
      : 'stopped cleanly',
  );
}

/**
 * The local host's message lease: a message is received for a short lease that is renewed while its
 * function runs, so a slow function keeps its message (a second instance polling the same queue
 * never receives it), and the message is deleted with the pop receipt of the last renewal.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalFunctionsHost, readQueueSemantics, type FunctionHandlers } from '../../dev/local-host.js';
import { createRuntime } from '../../src/core/runtime.js';
import { testConfig } from '../support/provider.js';

describe('local host message lease', () => {
  it('renews the lease of a message whose function outlasts it, and delivers it once', async () => {
    const runtime = createRuntime(testConfig(), { log: () => undefined });
    await runtime.storage.ensureResources();
    const queue = runtime.storage.queue(runtime.config.names.sweepQueue);
    await queue.sendMessage(Buffer.from('{"slow":true}').toString('base64'));
    let deliveries = 0;
    let finished = false;
    const handlers: FunctionHandlers = {
      sweepTimer: () => Promise.resolve(),
      sweepWorker: async () => {
        deliveries++;
        // Three leases long: without renewal the message would be received again meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 6_000));
        finished = true;
      },
      sweepPoison: () => Promise.resolve(),
    };
    // Two instances on one queue, as when the host scales out.
    const [first, second] = [0, 1].map(
      () =>
        new LocalFunctionsHost({
          runtime,
          handlers,
          semantics: readQueueSemantics(join(import.meta.dirname, '..', '..', 'host.json')),
          leaseSeconds: 2,
        }),
    );
    await Promise.all(
      [first!, second!].map((host) =>
        host.drain(() => Promise.resolve(finished), { pollMs: 100, timeoutMs: 30_000 }),
      ),
    );
    // Anything still leased would show up once its lease ran out.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const left = await queue.receiveMessages({ numberOfMessages: 32 });
    expect(deliveries).toBe(1);
    expect(left.receivedMessageItems).toHaveLength(0);
  });
});

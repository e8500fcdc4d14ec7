/**
 * The local host runs queue messages as the Functions host does (QueuesOptions.BatchSize): in batches of
 * `batchSize`, a new batch only once no more than `newBatchThreshold` are in flight, so at most their
 * sum at once. The benchmark's memory and speed figures are taken at this concurrency, so it must be the
 * deployed one, not less.
 */
import { describe, expect, it, vi } from 'vitest';
import { LocalFunctionsHost } from '../../dev/local-host.js';
import { createRuntime } from '../../src/core/runtime.js';
import { testConfig } from '../support/provider.js';

const semantics = { batchSize: 4, newBatchThreshold: 2, maxDequeueCount: 5, visibilityTimeoutSeconds: 0 };
const message = (n: number): string => Buffer.from(JSON.stringify({ n })).toString('base64');
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 300));

describe('the local host, message by message', () => {
  it('takes a new batch when no more than newBatchThreshold run, up to batchSize + newBatchThreshold', async () => {
    const runtime = createRuntime(testConfig(), { log: () => undefined });
    await runtime.storage.ensureResources();
    const queue = runtime.storage.queue(runtime.config.names.sweepQueue);
    // Each message runs until the test lets it finish.
    const waiting: Array<() => void> = [];
    let running = 0;
    let most = 0;
    let finished = 0;
    const host = new LocalFunctionsHost({
      runtime,
      semantics,
      handlers: {
        sweepTimer: () => Promise.resolve(),
        sweepWorker: async () => {
          running++;
          most = Math.max(most, running);
          await new Promise<void>((resolve) => waiting.push(resolve));
          running--;
          finished++;
        },
        sweepPoison: () => Promise.resolve(),
      },
    });
    const total = 12;
    for (let n = 0; n < total; n++) await queue.sendMessage(message(n));
    const draining = host.drain(() => Promise.resolve(finished === total), { pollMs: 20 });
    const finishOne = (): void => waiting.shift()!();

    await vi.waitFor(() => expect(running).toBe(4)); // the first batch
    await settle();
    expect(running).toBe(4); // above the threshold: no second batch yet
    finishOne();
    await settle();
    expect(running).toBe(3); // still above it
    finishOne(); // 2 run: at the threshold, the next batch comes
    await vi.waitFor(() => expect(running).toBe(6));
    await settle();
    expect(running).toBe(6);
    while (finished < total) {
      if (waiting.length > 0) finishOne();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await draining;
    expect(most).toBe(semantics.batchSize + semantics.newBatchThreshold);
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
  });
});

/**
 * Serve mode's Ctrl-C: the local host stops receiving, gives the messages in flight a grace period, and
 * hands the unfinished ones back to the queue (visible again at once, as a redelivery), never losing one.
 */
import { describe, expect, it } from 'vitest';
import { LocalFunctionsHost, type FunctionHandlers } from '../../dev/local-host.js';
import { createRuntime } from '../../src/core/runtime.js';
import { testConfig } from '../support/provider.js';

const semantics = { batchSize: 4, newBatchThreshold: 2, maxDequeueCount: 5, visibilityTimeoutSeconds: 0 };

async function setup(worker: FunctionHandlers['sweepWorker']) {
  const runtime = createRuntime(testConfig(), { log: () => undefined });
  await runtime.storage.ensureResources();
  const queue = runtime.storage.queue(runtime.config.names.sweepQueue);
  const host = new LocalFunctionsHost({
    runtime,
    semantics,
    handlers: {
      sweepTimer: () => Promise.resolve(),
      sweepWorker: worker,
      sweepPoison: () => Promise.resolve(),
    },
  });
  return { host, queue };
}

const message = (n: number): string => Buffer.from(JSON.stringify({ n })).toString('base64');

describe('stopping the local host', () => {
  it('hands a message still in flight after the grace period back to the queue', async () => {
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    const { host, queue } = await setup(async () => {
      started();
      await new Promise((resolve) => setTimeout(resolve, 5_000)); // a slow tenant
    });
    await queue.sendMessage(message(1));
    const stop = new AbortController();
    const draining = host.drain(() => Promise.resolve(stop.signal.aborted), {
      signal: stop.signal,
      graceMs: 100,
    });
    await inFlight;
    stop.abort();
    await draining;
    expect(host.handedBack).toBe(1);
    const again = await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 30 });
    expect(again.receivedMessageItems).toHaveLength(1);
    expect(again.receivedMessageItems[0]!.messageText).toBe(message(1));
    expect(again.receivedMessageItems[0]!.dequeueCount).toBe(2);
  });

  it('lets a message that finishes within the grace period complete (and deletes it)', async () => {
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    let finished = 0;
    const { host, queue } = await setup(async () => {
      started();
      await new Promise((resolve) => setTimeout(resolve, 200));
      finished++;
    });
    await queue.sendMessage(message(2));
    const stop = new AbortController();
    const draining = host.drain(() => Promise.resolve(stop.signal.aborted), {
      signal: stop.signal,
      graceMs: 5_000,
    });
    await inFlight;
    stop.abort();
    await draining;
    expect(finished).toBe(1);
    expect(host.handedBack).toBe(0);
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
  });
});

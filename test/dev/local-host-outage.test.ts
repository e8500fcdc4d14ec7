/**
 * The local host through storage trouble, as the Functions host behaves: a message the queue cannot
 * settle is abandoned (it comes back when its lease ends) without stopping the other messages, and a
 * queue that cannot be read for a while is polled again until it can, or until the outage limit.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  LocalFunctionsHost,
  readQueueSemantics,
  type FunctionHandlers,
  type MessageEvent,
} from '../../dev/local-host.js';
import { createRuntime } from '../../src/core/runtime.js';
import { testConfig } from '../support/provider.js';

const semantics = readQueueSemantics(join(import.meta.dirname, '..', '..', 'host.json'));
const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64');

async function sweepQueueWorld() {
  const runtime = createRuntime(testConfig(), { log: () => undefined });
  await runtime.storage.ensureResources();
  return { runtime, queue: runtime.storage.queue(runtime.config.names.sweepQueue) };
}

describe('local host under storage trouble', () => {
  it('abandons a message it cannot delete and goes on with the next one', async () => {
    const { runtime, queue } = await sweepQueueWorld();
    const seen: string[] = [];
    const events: MessageEvent[] = [];
    const handlers: FunctionHandlers = {
      sweepTimer: () => Promise.resolve(),
      sweepWorker: async (message) => {
        const name = (message as { name: string }).name;
        seen.push(name);
        // The first message's own entry disappears under it: its delete can only fail (404).
        if (name === 'first') {
          await queue.clearMessages();
          await queue.sendMessage(encode({ name: 'second' }));
        }
      },
      sweepPoison: () => Promise.resolve(),
    };
    await queue.sendMessage(encode({ name: 'first' }));
    const host = new LocalFunctionsHost({ runtime, handlers, semantics, onMessage: (e) => events.push(e) });
    await host.drain(() => Promise.resolve(seen.includes('second')), { pollMs: 50, timeoutMs: 30_000 });

    expect(seen).toEqual(['first', 'second']);
    expect(events.map((event) => event.outcome)).toEqual(['abandoned', 'completed']);
    expect(events[0]!.error).toMatch(/MessageNotFound|does not exist/i);
  });

  it('polls again while the queue cannot be read, and processes what arrives once it can', async () => {
    const { runtime, queue } = await sweepQueueWorld();
    const seen: string[] = [];
    const handlers: FunctionHandlers = {
      sweepTimer: () => Promise.resolve(),
      sweepWorker: (message) => {
        seen.push((message as { name: string }).name);
        return Promise.resolve();
      },
      sweepPoison: () => Promise.resolve(),
    };
    await queue.delete();
    const host = new LocalFunctionsHost({ runtime, handlers, semantics });
    const draining = host.drain(() => Promise.resolve(seen.length > 0), {
      pollMs: 50,
      timeoutMs: 30_000,
      outageMs: 20_000,
    });
    // Receives fail (QueueNotFound) for a while; then the queue is back with a message in it.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await queue.create();
    await queue.sendMessage(encode({ name: 'after the outage' }));
    await draining;
    expect(seen).toEqual(['after the outage']);
  });

  it('gives up with the cause once storage has been unreachable for longer than the outage limit', async () => {
    const { runtime, queue } = await sweepQueueWorld();
    const handlers: FunctionHandlers = {
      sweepTimer: () => Promise.resolve(),
      sweepWorker: () => Promise.resolve(),
      sweepPoison: () => Promise.resolve(),
    };
    await queue.delete();
    const host = new LocalFunctionsHost({ runtime, handlers, semantics });
    await expect(
      host.drain(() => Promise.resolve(false), { pollMs: 50, timeoutMs: 30_000, outageMs: 500 }),
    ).rejects.toThrow(/storage has been unreachable for 1 s: .*(QueueNotFound|does not exist)/i);
  });
});

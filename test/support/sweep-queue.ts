/** The sweep queue as tests read it: what a run enqueued, without taking it off the queue. */
import type { FleetRuntime } from '../../src/core/runtime.js';
import { parseSweepMessage, type SweepMessage } from '../../src/core/sweep/sweep-message.js';

/** The sweep messages waiting in the installation's queue (the first 32, the queue's peek limit). */
export async function queuedSweepMessages(runtime: FleetRuntime): Promise<SweepMessage[]> {
  const queue = runtime.storage.queue(runtime.config.names.sweepQueue);
  const peeked = await queue.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.map((item) => parseSweepMessage(item.messageText)!);
}

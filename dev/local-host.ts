/**
 * A small stand-in for the Functions host, for running the app's own timer, queue and poison
 * handlers locally (the real host cannot run here). It keeps the host's queue semantics from
 * host.json: batches of `batchSize` messages, a new batch whenever no more than `newBatchThreshold` of a
 * queue's are in flight (so up to their sum at once, as the host runs them), base64 JSON decoding, a
 * failed message reappears after `visibilityTimeout`, and after `maxDequeueCount` deliveries it moves to
 * `<queue>-poison`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
// @azure/functions is CommonJS and Node's ESM loader cannot see this class as a named export.
import azureFunctions, { type InvocationContext, type Timer } from '@azure/functions';
import type { QueueClient, DequeuedMessageItem } from '@azure/storage-queue';
import { z } from 'zod';
import type { FleetRuntime } from '../src/core/runtime.js';
import { setRuntime } from '../src/core/runtime.js';
import { NotFoundError, ensureError, errorCodeOf, redact } from '../src/core/platform/errors.js';
import { TERMINAL_TENANT_STATUSES } from '../src/core/sweep/runs.js';
import { encodeSweepMessage } from '../src/core/sweep/sweep-message.js';

const hostJsonSchema = z.object({
  extensions: z
    .object({
      queues: z
        .object({
          batchSize: z.number().int().positive().default(16),
          newBatchThreshold: z.number().int().nonnegative().optional(),
          maxDequeueCount: z.number().int().positive().default(5),
          visibilityTimeout: z.string().default('00:00:00'),
        })
        .default({ batchSize: 16, maxDequeueCount: 5, visibilityTimeout: '00:00:00' }),
    })
    .default({ queues: { batchSize: 16, maxDequeueCount: 5, visibilityTimeout: '00:00:00' } }),
});

export interface QueueSemantics {
  batchSize: number;
  newBatchThreshold: number;
  maxDequeueCount: number;
  visibilityTimeoutSeconds: number;
}

function timeSpanSeconds(value: string): number {
  const match = /^(\d+):(\d{2}):(\d{2})$/.exec(value);
  if (!match) throw new Error(`host.json: '${value}' is not a time span hh:mm:ss`);
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
}

export function readQueueSemantics(hostJsonPath: string): QueueSemantics {
  const host = hostJsonSchema.parse(JSON.parse(readFileSync(hostJsonPath, 'utf8')));
  const queues = host.extensions.queues;
  return {
    batchSize: queues.batchSize,
    newBatchThreshold: queues.newBatchThreshold ?? Math.floor(queues.batchSize / 2),
    maxDequeueCount: queues.maxDequeueCount,
    visibilityTimeoutSeconds: timeSpanSeconds(queues.visibilityTimeout),
  };
}

/**
 * The most messages of one queue the host runs at once: `batchSize + newBatchThreshold` (its documented
 * maximum), what one instance's worker must have the memory and the CPU for.
 */
export function messagesAtOnce(semantics: Pick<QueueSemantics, 'batchSize' | 'newBatchThreshold'>): number {
  return semantics.batchSize + semantics.newBatchThreshold;
}

/** How many of `queue`'s messages are in flight. */
function inFlightOf(held: ReadonlyMap<Promise<void>, { queue: QueueClient }>, queue: QueueClient): number {
  let count = 0;
  for (const message of held.values()) if (message.queue === queue) count++;
  return count;
}

export type FunctionHandlers = {
  sweepTimer: (timer: Timer, context: InvocationContext) => Promise<void>;
  sweepWorker: (message: unknown, context: InvocationContext) => Promise<void>;
  sweepPoison: (message: unknown, context: InvocationContext) => Promise<void>;
};

/**
 * Loads the function modules exactly as the host would. Outside the host, @azure/functions prints
 * that it is in "test mode" and skips registration; those expected lines are filtered here.
 */
export async function loadFunctionHandlers(): Promise<FunctionHandlers> {
  return withoutTestModeWarning(async () => {
    const [timer, worker, poison] = await Promise.all([
      import('../src/functions/sweepTimer.js'),
      import('../src/functions/sweepWorker.js'),
      import('../src/functions/sweepPoison.js'),
    ]);
    return { sweepTimer: timer.sweepTimer, sweepWorker: worker.sweepWorker, sweepPoison: poison.sweepPoison };
  });
}

/** Runs `load` with @azure/functions' expected "test mode" warnings filtered out. */
export async function withoutTestModeWarning<T>(load: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (
      typeof args[0] === 'string' &&
      args[0].startsWith('WARNING:') &&
      args[0].includes('"@azure/functions"')
    )
      return;
    warn(...args);
  };
  try {
    return await load();
  } finally {
    console.warn = warn;
  }
}

export interface MessageEvent {
  queue: 'sweep' | 'poison';
  dequeueCount: number;
  /**
   * `abandoned`: the function ran but the queue could not be told (storage unreachable, the message
   * gone): the message reappears when its lease runs out, as with the Functions host, and its
   * redelivery is handled idempotently.
   */
  outcome: 'completed' | 'retry' | 'poisoned' | 'abandoned';
  message: unknown;
  error?: string;
}

export interface LocalHostOptions {
  runtime: FleetRuntime;
  handlers: FunctionHandlers;
  semantics: QueueSemantics;
  /** Overrides host.json's visibilityTimeout for retries (tests that provoke poison messages). */
  retryDelaySeconds?: number;
  onMessage?: (event: MessageEvent) => void;
  /** Function logs; default: dropped (the CLI prints its own progress). */
  onLog?: (level: string, text: string) => void;
  /**
   * How long a received message stays invisible; renewed every third of it while its function runs,
   * as the Functions host does. Short, so a killed runner's messages come back soon. Default 60.
   */
  leaseSeconds?: number;
}

/** The default lease: long enough to survive a slow renewal, short enough that a killed run resumes. */
export const DEFAULT_LEASE_SECONDS = 60;

/**
 * A received message's visibility, renewed while its function runs so that nothing else receives it,
 * and kept short so that a runner killed mid-message gives it back within one lease. Each renewal
 * returns a new pop receipt; `settle` stops renewing and hands the current one to delete or update.
 */
class MessageLease {
  private popReceipt: string;
  private renewal: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly queue: QueueClient,
    private readonly item: DequeuedMessageItem,
    leaseSeconds: number,
  ) {
    this.popReceipt = item.popReceipt;
    this.timer = setInterval(
      () => {
        this.renewal = this.renewal.then(async () => {
          try {
            const updated = await this.queue.updateMessage(
              this.item.messageId,
              this.popReceipt,
              this.item.messageText,
              leaseSeconds,
            );
            if (updated.popReceipt) this.popReceipt = updated.popReceipt;
          } catch {
            // A missed renewal only lets the message reappear early; the sweep tolerates redelivery.
          }
        });
      },
      Math.max(1, Math.floor(leaseSeconds / 3)) * 1000,
    );
    this.timer.unref();
  }

  async settle(): Promise<string> {
    clearInterval(this.timer);
    await this.renewal;
    return this.popReceipt;
  }
}

/** A storage failure as the service named it (`QueueNotFound: ...`), not the SDK's bare status. */
function storageError(error: unknown): string {
  const code = errorCodeOf(error);
  const message = redact(ensureError(error).message);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

function decode(messageText: string): unknown {
  const text = Buffer.from(messageText, 'base64').toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class LocalFunctionsHost {
  private readonly sweepQueue: QueueClient;
  private readonly poisonQueue: QueueClient;

  constructor(private readonly options: LocalHostOptions) {
    // The handlers read the process's runtime (as in Azure, one per process). Set here and again each
    // time this host fires or drains, so two hosts built in one process (one test file, two
    // installations) each run their handlers against their own runtime, not the last one built.
    setRuntime(options.runtime);
    const names = options.runtime.config.names;
    this.sweepQueue = options.runtime.storage.queue(names.sweepQueue);
    this.poisonQueue = options.runtime.storage.queue(names.poisonQueue);
  }

  private context(functionName: string, triggerMetadata: Record<string, unknown> = {}): InvocationContext {
    return new azureFunctions.InvocationContext({
      invocationId: randomUUID(),
      functionName,
      triggerMetadata,
      logHandler: (level, ...args) => this.options.onLog?.(level, args.map(String).join(' ')),
    });
  }

  /** Fires the timer function once, as the schedule would. */
  async fireTimer(): Promise<void> {
    const timer: Timer = {
      isPastDue: false,
      schedule: { adjustForDST: true },
      scheduleStatus: {
        last: new Date().toISOString(),
        next: new Date().toISOString(),
        lastUpdated: new Date().toISOString(),
      },
    };
    setRuntime(this.options.runtime);
    await this.options.handlers.sweepTimer(timer, this.context('sweepTimer'));
  }

  /**
   * Processes messages until `done()` says so (checked whenever the queues look empty). As the host
   * does: a queue's messages are received in batches of `batchSize`, a new batch as soon as no more than
   * `newBatchThreshold` of them are in flight, so up to `batchSize + newBatchThreshold` run at once (the
   * host's documented maximum; QueuesOptions.BatchSize). The poison queue is asked when the sweep queue is.
   */
  async drain(
    done: () => Promise<boolean>,
    {
      pollMs = 200,
      timeoutMs = 30 * 60_000,
      signal,
      graceMs = 10_000,
      outageMs = 60_000,
    }: {
      pollMs?: number;
      timeoutMs?: number;
      /**
       * How long storage may stay unreachable (receives and `done()` failing) before the drain gives
       * up: the host keeps polling through a storage restart, but a local run must not hang silently.
       */
      outageMs?: number;
      /** Stop receiving (serve mode's Ctrl-C); what is in flight gets `graceMs`, then is handed back. */
      signal?: AbortSignal;
      graceMs?: number;
    } = {},
  ): Promise<void> {
    setRuntime(this.options.runtime);
    const deadline = Date.now() + timeoutMs;
    const inFlight = new Set<Promise<void>>();
    const held = new Map<Promise<void>, { queue: QueueClient; item: DequeuedMessageItem }>();
    const { newBatchThreshold } = this.options.semantics;
    // Ctrl-C must not wait for a slow tenant to finish before stopping to receive.
    const aborted = new Promise<void>((resolve) =>
      signal?.addEventListener('abort', () => resolve(), { once: true }),
    );
    let outageSince: number | undefined;
    const pollAgain = async (error: unknown): Promise<void> => {
      outageSince ??= Date.now();
      if (Date.now() - outageSince > outageMs)
        throw new Error(
          `storage has been unreachable for ${Math.round(outageMs / 1000)} s: ${storageError(error)}`,
        );
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    };
    for (;;) {
      if (signal?.aborted) return this.stopDraining(held, graceMs);
      if (Date.now() > deadline) throw new Error(`the local host gave up after ${timeoutMs} ms`);
      let received: number;
      try {
        received = await this.receiveInto(inFlight, held);
        outageSince = undefined;
      } catch (error) {
        await pollAgain(error);
        continue;
      }
      if (received === 0) {
        if (inFlight.size > 0) await Promise.race([...inFlight, aborted]);
        else {
          let finished: boolean;
          try {
            finished = await done();
          } catch (error) {
            await pollAgain(error);
            continue;
          }
          if (finished) return;
          await new Promise((resolve) => setTimeout(resolve, signal?.aborted ? 0 : pollMs));
        }
      } else if (inFlightOf(held, this.sweepQueue) > newBatchThreshold) {
        await Promise.race([...inFlight, aborted]);
      }
    }
  }

  /**
   * Receives what the batch has room for from each queue and starts processing it; returns how many
   * messages it received. Processing never rejects (process settles every outcome).
   */
  private async receiveInto(
    inFlight: Set<Promise<void>>,
    held: Map<Promise<void>, { queue: QueueClient; item: DequeuedMessageItem }>,
  ): Promise<number> {
    const { batchSize, newBatchThreshold } = this.options.semantics;
    let received = 0;
    if (inFlightOf(held, this.sweepQueue) <= newBatchThreshold) {
      for (const [queue, kind] of [
        [this.sweepQueue, 'sweep'],
        [this.poisonQueue, 'poison'],
      ] as const) {
        if (inFlightOf(held, queue) > newBatchThreshold) continue;
        // A whole batch (the service gives at most 32 at once), however many are in flight.
        const wanted = Math.min(32, batchSize);
        // A short lease renewed while the message is processed (MessageLease), as the host does.
        const response = await queue.receiveMessages({
          numberOfMessages: wanted,
          visibilityTimeout: this.options.leaseSeconds ?? DEFAULT_LEASE_SECONDS,
        });
        for (const item of response.receivedMessageItems) {
          received++;
          const task = this.process(queue, kind, item).finally(() => {
            inFlight.delete(task);
            held.delete(task);
          });
          inFlight.add(task);
          held.set(task, { queue, item });
        }
      }
    }
    return received;
  }

  /**
   * Waits up to `graceMs` for the messages in flight, then makes the rest visible again at once, as
   * the host does when it shuts down: the next start (or another instance) picks them up as a
   * redelivery, which the sweep handles idempotently. Returns how many were handed back.
   */
  private async stopDraining(
    held: Map<Promise<void>, { queue: QueueClient; item: DequeuedMessageItem }>,
    graceMs: number,
  ): Promise<void> {
    if (held.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...held.keys()]),
        new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    }
    const unfinished = [...held.values()];
    this.handedBack += unfinished.length;
    await Promise.allSettled(
      unfinished.map(({ queue, item }) =>
        queue.updateMessage(item.messageId, item.popReceipt, item.messageText, 0),
      ),
    );
  }

  /** Messages handed back unfinished by a stopped drain (serve mode prints it). */
  handedBack = 0;

  private async process(
    queue: QueueClient,
    kind: 'sweep' | 'poison',
    item: DequeuedMessageItem,
  ): Promise<void> {
    const message = decode(item.messageText);
    const metadata = {
      dequeueCount: item.dequeueCount,
      id: item.messageId,
      insertionTime: item.insertedOn?.toISOString(),
    };
    const lease = new MessageLease(queue, item, this.options.leaseSeconds ?? DEFAULT_LEASE_SECONDS);
    let failure: string | undefined;
    try {
      if (kind === 'sweep')
        await this.options.handlers.sweepWorker(message, this.context('sweepWorker', metadata));
      else await this.options.handlers.sweepPoison(message, this.context('sweepPoison', metadata));
    } catch (caught) {
      failure = redact(ensureError(caught).message);
    }
    const popReceipt = await lease.settle();
    const event = { queue: kind, dequeueCount: item.dequeueCount, message };
    try {
      const outcome = await this.settleMessage(queue, kind, item, popReceipt, failure);
      this.options.onMessage?.({ ...event, outcome, ...(failure ? { error: failure } : {}) });
    } catch (caught) {
      // Never a rejected task: one message the queue could not settle must not stop the others.
      const error = storageError(caught);
      this.options.onMessage?.({ ...event, outcome: 'abandoned', error: failure ?? error });
    }
  }

  /** Deletes, retries or poisons a processed message, as the host does with the function's result. */
  private async settleMessage(
    queue: QueueClient,
    kind: 'sweep' | 'poison',
    item: DequeuedMessageItem,
    popReceipt: string,
    failure: string | undefined,
  ): Promise<MessageEvent['outcome']> {
    if (failure === undefined) {
      await queue.deleteMessage(item.messageId, popReceipt);
      return 'completed';
    }
    if (kind === 'sweep' && item.dequeueCount >= this.options.semantics.maxDequeueCount) {
      // The host's poison handling: copy to <queue>-poison, then remove the original.
      await this.poisonQueue.sendMessage(item.messageText);
      await queue.deleteMessage(item.messageId, popReceipt);
      return 'poisoned';
    }
    const delay = this.options.retryDelaySeconds ?? this.options.semantics.visibilityTimeoutSeconds;
    await queue.updateMessage(item.messageId, popReceipt, item.messageText, delay);
    return 'retry';
  }
}

/** What a new local run found of a previous one that was interrupted (Ctrl-C, a crash) mid-sweep. */
export interface InterruptedRun {
  runId: string;
  startedAt: string;
  /** Tenants of that run already finished before it was interrupted. */
  finished: number;
  /** Tenants that had not finished: their messages were put back on the queue. */
  requeued: number;
  total: number;
}

/**
 * Locally this runner is the only consumer, so a run still holding the lock when it starts was left
 * by a runner that was stopped (Ctrl-C) or died. Its messages may be held invisible by the dead
 * runner, so waiting for them would leave the new runner silent: instead the sweep queue is cleared
 * and one message is put back per unfinished tenant (the worker takes over a `running` tenant row,
 * and a finished one is a duplicate it ignores). A run with nothing left is closed here.
 */
export async function resumeInterruptedRun(runtime: FleetRuntime): Promise<InterruptedRun | undefined> {
  const holder = await runtime.runs.lockHolder();
  if (!holder) return undefined;
  let run;
  try {
    run = await runtime.runs.getRun(holder.runId);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined; // the next start releases a lock without a run
    throw error;
  }
  if (run.status !== 'running') return undefined;
  const unfinished: string[] = [];
  let total = 0;
  for await (const tenant of runtime.runs.listTenants(run.runId)) {
    total++;
    if (!TERMINAL_TENANT_STATUSES.includes(tenant.status)) unfinished.push(tenant.tenantId);
  }
  const queue = runtime.storage.queue(runtime.config.names.sweepQueue);
  await queue.clearMessages();
  for (const tenantId of unfinished)
    await queue.sendMessage(encodeSweepMessage({ v: 1, runId: run.runId, tenantId }));
  if (unfinished.length === 0) await runtime.runs.finalizeRun(run.runId, runtime.now().toISOString());
  return {
    runId: run.runId,
    startedAt: run.startedAt,
    finished: total - unfinished.length,
    requeued: unfinished.length,
    total,
  };
}

/**
 * One whole scheduled sweep through the app's own handlers: the timer fires, the queue drains
 * (workers, retries, poison), and the run closes. Returns the closed run's id. With `resume` (from
 * resumeInterruptedRun) the interrupted run is finished instead and the timer does not fire.
 */
export async function runScheduledSweep(
  host: LocalFunctionsHost,
  runtime: FleetRuntime,
  options: {
    timeoutMs?: number;
    onStarted?: (runId: string) => Promise<void>;
    resume?: InterruptedRun;
  } = {},
): Promise<string> {
  let runId = options.resume?.runId;
  if (!runId) {
    await host.fireTimer();
    const [run] = await runtime.runs.listRuns(1);
    if (!run) throw new Error('the timer started no run (see the log above)');
    runId = run.runId;
  }
  await options.onStarted?.(runId);
  const id = runId;
  await host.drain(async () => (await runtime.runs.getRun(id)).status !== 'running', {
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  return runId;
}

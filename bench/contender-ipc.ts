/**
 * Each contender runs in its own Node process (forked with tsx), so its peak RSS and CPU are its own.
 * The benchmark drives it over the IPC channel: the contender prepares (not timed), says `ready`, and
 * then runs one timed phase per `run` command, while the benchmark resets and reads the counters of
 * the sandbox and the storage proxy around each phase.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { basename, join, resolve } from 'node:path';
import { registerChild, unregisterChild } from './cleanup.js';
import { ROOT } from './sandbox-process.js';

type ParentMessage = { type: 'run'; phase: string } | { type: 'exit' };
type ChildMessage =
  | { type: 'ready'; info: unknown }
  | { type: 'result'; phase: string; result: unknown }
  | { type: 'failed'; message: string };

/** Figures every contender reports for a phase. */
export interface PhaseFigures {
  wallMs: number;
  /** CPU time of the contender's process during the phase. */
  cpuMs: number;
  /** Highest RSS sampled (every 100 ms) during the phase, MiB. */
  phasePeakRssMb: number;
  /** The process's peak RSS since it started (the kernel's high-water mark), MiB. */
  processPeakRssMb: number;
  /** Node's memory breakdown at the sampled peak, MiB (where the resident set went). */
  atPeakMb: { heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
}

/** Parent side: a running contender. */
export class ContenderProcess<Info, Result> {
  private constructor(
    private readonly child: ChildProcess,
    readonly info: Info,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  /**
   * Forks `bench/<entry>` with its input in BENCH_INPUT and waits for it to be ready: compiled from
   * `compiledDirectory` (see compile.ts), or the TypeScript source under tsx without one.
   */
  static async start<Info, Result>(
    entry: string,
    input: unknown,
    compiledDirectory?: string,
    /** Node.js options of the process (the fleet runs with the deployed worker's, see workerNodeArgs). */
    nodeArgs: string[] = [],
  ): Promise<ContenderProcess<Info, Result>> {
    const script = compiledDirectory
      ? join(compiledDirectory, 'bench', entry.replace(/\.ts$/, '.js'))
      : resolve(ROOT, 'bench', entry);
    const child = fork(script, [], {
      cwd: ROOT,
      execArgv: [...(compiledDirectory ? [] : ['--import', 'tsx']), ...nodeArgs],
      env: { ...process.env, BENCH_INPUT: JSON.stringify(input), BENCH_ROOT: ROOT },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    registerChild(child.pid);
    child.once('exit', () => unregisterChild(child.pid));
    const message = await ContenderProcess.next(child);
    if (message.type !== 'ready') throw new Error(`${entry} did not start: ${describe(message)}`);
    return new ContenderProcess<Info, Result>(child, message.info as Info);
  }

  private static async next(child: ChildProcess): Promise<ChildMessage> {
    return Promise.race([
      once(child, 'message').then(([message]) => message as ChildMessage),
      once(child, 'exit').then(([code, signal]) => {
        throw new Error(`the contender process ended (${String(code ?? signal)})`);
      }),
    ]);
  }

  /** Runs one timed phase and returns its result. */
  async run(phase: string): Promise<Result> {
    this.child.send({ type: 'run', phase } satisfies ParentMessage);
    const message = await ContenderProcess.next(this.child);
    if (message.type !== 'result') throw new Error(`phase ${phase} failed: ${describe(message)}`);
    return message.result as Result;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.send({ type: 'exit' } satisfies ParentMessage);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

function describe(message: ChildMessage): string {
  return message.type === 'failed' ? message.message : JSON.stringify(message);
}

/** The input the benchmark gave this contender process. */
export function contenderInput<T>(): T {
  const text = process.env.BENCH_INPUT;
  if (!text) throw new Error('BENCH_INPUT is not set: this file is started by bench/run.ts');
  return JSON.parse(text) as T;
}

/**
 * Measures one phase in this process: wall time, CPU time, the RSS sampled while it runs and the
 * kernel's high-water mark afterwards.
 */
export async function measurePhase<T>(
  work: () => Promise<T>,
  label = 'phase',
): Promise<{ figures: PhaseFigures; value: T }> {
  const profile = await startPhaseProfile(label);
  let peak = 0;
  let atPeak = process.memoryUsage();
  const sample = (): void => {
    const rss = process.memoryUsage.rss();
    if (rss <= peak) return;
    peak = rss;
    atPeak = process.memoryUsage();
  };
  sample();
  // Every 100 ms: each sample costs the contender CPU (about 1 ms on a loaded machine, 11% of a small
  // repeat sweep's CPU at 20 ms), and the kernel's high-water mark below catches the true peak anyway.
  const sampler = setInterval(sample, 100);
  const cpu = process.cpuUsage();
  const started = performance.now();
  try {
    const value = await work();
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    sample();
    const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;
    return {
      value,
      figures: {
        wallMs,
        cpuMs: (used.user + used.system) / 1000,
        phasePeakRssMb: peak / 2 ** 20,
        processPeakRssMb: process.resourceUsage().maxRSS / 1024,
        atPeakMb: {
          heapTotal: mb(atPeak.heapTotal),
          heapUsed: mb(atPeak.heapUsed),
          external: mb(atPeak.external),
          arrayBuffers: mb(atPeak.arrayBuffers),
        },
      },
    };
  } finally {
    clearInterval(sampler);
    await profile?.stop();
  }
}

/**
 * BENCH_CPU_PROFILE=<dir>: a V8 CPU profile of each phase (`<dir>/<contender>-<label>.cpuprofile`,
 * open it in Chrome DevTools), for finding where a sweep's CPU goes. BENCH_HEAP_PROFILE=<dir> instead: a
 * sampling heap profile (`.heapprofile`) that keeps what the collector freed, for finding what its time
 * is spent on. Off by default.
 */
async function startPhaseProfile(label: string): Promise<{ stop(): Promise<void> } | undefined> {
  const directory = process.env.BENCH_CPU_PROFILE;
  const heapDirectory = process.env.BENCH_HEAP_PROFILE;
  if (!directory && !heapDirectory) return undefined;
  const session = new Session();
  session.connect();
  if (heapDirectory) {
    // Every allocation sampled, also those the collector has freed since: what the GC pays for.
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 32_768,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  } else {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  return {
    stop: async () => {
      const base = basename(process.argv[1] ?? 'contender', '.ts');
      const [outputDirectory, name, profile] = heapDirectory
        ? [
            heapDirectory,
            `${base}-${label}.heapprofile`,
            (await session.post('HeapProfiler.stopSampling')).profile,
          ]
        : [directory!, `${base}-${label}.cpuprofile`, (await session.post('Profiler.stop')).profile];
      await mkdir(outputDirectory, { recursive: true });
      await writeFile(join(outputDirectory, name), JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/**
 * Child side: announces `ready` with `info`, then runs `phases[phase]` for every `run` command until
 * told to exit. A failure is reported to the benchmark, which stops with its message.
 */
export function serveContender<Info>(info: Info, phases: Record<string, () => Promise<unknown>>): void {
  const send = (message: ChildMessage): void => {
    process.send!(message);
  };
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'exit') {
      process.disconnect();
      process.exit(0);
    }
    const phase = phases[message.phase];
    if (!phase) {
      send({ type: 'failed', message: `unknown phase '${message.phase}'` });
      return;
    }
    phase().then(
      (result) => send({ type: 'result', phase: message.phase, result }),
      (error: unknown) => send({ type: 'failed', message: (error as Error).message }),
    );
  });
  send({ type: 'ready', info });
}

/**
 * The Node.js options the Functions worker runs with in Azure (infra/app/node-worker.json, which
 * api.bicep passes as languageWorkers__node__arguments), so the fleet is measured as deployed.
 */
export function workerNodeArgs(): string[] {
  const settings = JSON.parse(readFileSync(join(ROOT, 'infra', 'app', 'node-worker.json'), 'utf8')) as {
    maxOldSpaceSizeMB: number;
  };
  // Options added for an experiment (`--trace-gc`, a young generation size), never by default.
  const extra = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  return [`--max-old-space-size=${settings.maxOldSpaceSizeMB}`, ...extra];
}

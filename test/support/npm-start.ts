/**
 * `npm start` (dev/start.ts) as a user runs it, in its own process group as a terminal does; with
 * `interruptOn`, the whole group gets SIGINT (Ctrl-C) as soon as stdout matches it. Shared by the
 * test of an interrupted run and the fault suite (faults/), which also times the restart.
 */
import { spawn } from 'node:child_process';

export interface StartOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runNpmStart(stateDir: string, interruptOn?: RegExp, cwd?: string): Promise<StartOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'dev/start.ts', '--state-dir', stateDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
      detached: true,
      ...(cwd ? { cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (interruptOn && !interrupted && interruptOn.test(stdout)) {
        interrupted = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** What the restarted `npm start` said it found of the interrupted run, or undefined. */
export function interruptedRunNotice(
  stdout: string,
): { runId: string; finished: number; total: number } | undefined {
  const found = /previous local run (\S+) .* interrupted with (\d+) of (\d+) tenant\(s\) finished/.exec(
    stdout,
  );
  return found ? { runId: found[1]!, finished: Number(found[2]), total: Number(found[3]) } : undefined;
}

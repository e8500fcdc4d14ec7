/**
 * Ctrl-C during `npm start`, then `npm start` again, as a new user would. The interrupted runner held
 * its received messages invisible; the next start must not wait for them (it used to sit silent for
 * the 600 s it had received them for, then print '[1/0]'): it says what it found of the previous run,
 * finishes that run and prints the usual summary.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

interface Started {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

/**
 * Runs `npm start` in its own process group (as a terminal does); with `interruptOn`, the whole group
 * gets SIGINT (Ctrl-C) as soon as stdout matches it.
 */
function start(stateDir: string, interruptOn?: RegExp): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'dev/start.ts', '--state-dir', stateDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
      detached: true,
    });
    let stdout = '';
    let interrupted = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (interruptOn && !interrupted && interruptOn.test(stdout)) {
        interrupted = true;
        process.kill(-child.pid!, 'SIGINT');
      }
    });
    child.stderr.resume();
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal, stdout }));
  });
}

const stateDir = await mkdtemp(join(tmpdir(), 'fleet-start-interrupted-'));
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('npm start after an interrupted npm start', () => {
  it('finishes the interrupted run at once and explains what it found', { timeout: 240_000 }, async () => {
    // Interrupted once the first tenant is swept: the others are received and in flight.
    const first = await start(stateDir, /\[1\/\d+\]/);
    expect(first.signal ?? first.code).not.toBe(0);
    expect(first.stdout).not.toContain('Totals:');

    const second = await start(stateDir);
    expect(second.code).toBe(0);
    const found = /previous local run (\S+) .* interrupted with (\d+) of (\d+) tenant\(s\) finished/.exec(
      second.stdout,
    );
    expect(found, second.stdout).not.toBeNull();
    expect(Number(found![2])).toBeLessThan(Number(found![3]));
    // The run finished is the interrupted one, with every tenant accounted for.
    expect(second.stdout).toContain(`Run ${found![1]}:`);
    expect(second.stdout).toMatch(/Totals: 5 tenants \(2 ok, 1 partial, 2 failed, 0 skipped\)/);
    expect(second.stdout).not.toMatch(/\[\d+\/0\]/);
  });
});

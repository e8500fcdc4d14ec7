/**
 * Ctrl-C during `npm start`, then `npm start` again, as a new user would. The interrupted runner held
 * its received messages invisible; the next start must not wait for them (it used to sit silent for
 * the 600 s it had received them for, then print '[1/0]'): it says what it found of the previous run,
 * finishes that run and prints the usual summary.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interruptedRunNotice, runNpmStart } from '../support/npm-start.js';

const stateDir = await mkdtemp(join(tmpdir(), 'fleet-start-interrupted-'));
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('npm start after an interrupted npm start', () => {
  it('finishes the interrupted run at once and explains what it found', { timeout: 240_000 }, async () => {
    // Interrupted once the first tenant is swept: the others are received and in flight.
    const first = await runNpmStart(stateDir, /\[1\/\d+\]/);
    expect(first.signal ?? first.code).not.toBe(0);
    expect(first.stdout).not.toContain('Totals:');

    const second = await runNpmStart(stateDir);
    expect(second.code).toBe(0);
    const notice = interruptedRunNotice(second.stdout);
    expect(notice, second.stdout).toBeDefined();
    expect(notice!.finished).toBeLessThan(notice!.total);
    // The run finished is the interrupted one, with every tenant accounted for.
    expect(second.stdout).toContain(`Run ${notice!.runId}:`);
    expect(second.stdout).toMatch(/Totals: 5 tenants \(2 ok, 1 partial, 2 failed, 0 skipped\)/);
    expect(second.stdout).not.toMatch(/\[\d+\/0\]/);
  });
});

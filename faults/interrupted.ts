/**
 * An interrupted local run, as a new user would cause it: Ctrl-C during `npm start` mid-sweep, then
 * `npm start` again. The second start must explain what it found of the first run and finish
 * within a minute (it used to wait 600 s in silence for the messages the first one held).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interruptedRunNotice, runNpmStart } from '../test/support/npm-start.js';
import type { FaultFigures } from './report.js';
import { ROOT } from './world.js';

export async function interruptedPhase(figures: FaultFigures, transcript: string[]): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'tenant-fleet-faults-start-'));
  try {
    const first = await runNpmStart(stateDir, /\[1\/\d+\]/, ROOT);
    const started = Date.now();
    const second = await runNpmStart(stateDir, undefined, ROOT);
    figures.restartSeconds = Math.round((Date.now() - started) / 100) / 10;
    transcript.push(first.stdout, first.stderr, second.stdout, second.stderr);
    const notice = interruptedRunNotice(second.stdout);
    console.log(
      `- interrupted npm start, restarted: exit ${second.code} after ${figures.restartSeconds} s; ${notice ? `found run ${notice.runId} with ${notice.finished}/${notice.total} tenants finished` : 'no notice of the previous run'}`,
    );
    if (first.stdout.includes('Totals:'))
      figures.failures.push('interrupted: the first npm start finished before Ctrl-C');
    if (second.code !== 0)
      figures.failures.push(`interrupted: the restarted npm start exited ${second.code}`);
    if (!notice)
      figures.failures.push('interrupted: the restarted npm start did not explain the previous run');
    else if (!second.stdout.includes(`Run ${notice.runId}:`))
      figures.failures.push('interrupted: the restarted npm start did not finish the interrupted run');
    if (figures.restartSeconds > 60)
      figures.failures.push(
        `interrupted: the restarted npm start took ${figures.restartSeconds} s (more than a minute)`,
      );
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

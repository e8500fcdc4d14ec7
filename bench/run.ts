/**
 * `npm run bench`: measures Tenant Fleet against the naive loop and the ideal bound on a generated
 * world, then runs the scaling series. Prints a table, writes reports/bench.json and the series chart.
 * It asserts nothing about time: the targets are reported as met or not.
 *
 * Processes: this one (orchestration and the counting storage proxy), Azurite, the sandbox cloud,
 * and one process per contender, so each RSS and CPU figure belongs to one of them.
 */
import { resolve } from 'node:path';
import { runBench } from './bench.js';
import { stopChildrenOnSignal } from './cleanup.js';
import { BenchUsageError, parseBenchArgs, USAGE, type BenchOptions } from './options.js';
import { formatReport, writeReport } from './report.js';
import { ROOT } from './sandbox-process.js';

const log = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

async function cli(): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  stopChildrenOnSignal();
  const started = Date.now();
  const report = await runBench(options, log);
  process.stdout.write(`${formatReport(report)}\n`);
  const written = await writeReport(report, resolve(ROOT, options.reportDirectory));
  process.stdout.write(
    `\nWrote ${written.join(', ')} (${Math.round((Date.now() - started) / 1000)} s in all)\n`,
  );
  return 0;
}

cli().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);

// The score of every part of src/core (scripts/mutation-parts.txt) from its report in reports/mutation/,
// and the total over the parts measured. A part stopped half-way shows what its incremental file holds
// and is left out of the total; a part never run is named. A last line bounds the score of all of
// src/core from below, counting every mutant not tested yet as survived. See docs/testing-mutation.md.
//   npx tsx scripts/mutation-summary.ts [--markdown]
import { existsSync, readFileSync } from 'node:fs';

const STATUSES = [
  'Ignored',
  'CompileError',
  'RuntimeError',
  'Killed',
  'Timeout',
  'Survived',
  'NoCoverage',
] as const;
const markdown = process.argv.includes('--markdown');

/** Counts of each status over a Stryker JSON report (a final report or an incremental file). */
type Counts = Record<(typeof STATUSES)[number] | 'mutants', number>;

interface Report {
  files: Record<string, { mutants: Array<{ status: string }> }>;
}

function zero(): Counts {
  return Object.fromEntries(['mutants', ...STATUSES].map((key) => [key, 0])) as Counts;
}

function count(file: string): Counts {
  const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  const counts = zero();
  for (const { mutants } of Object.values(report.files))
    for (const { status } of mutants) {
      counts.mutants++;
      if (status in counts) counts[status as keyof Counts]++;
    }
  return counts;
}

function add(into: Counts, counts: Counts): void {
  for (const key of Object.keys(into) as Array<keyof Counts>) into[key] += counts[key];
}

/** Killed and timed-out mutants over those that count (compile errors and static ones do not). */
function score(c: Counts): string {
  const detected = c.Killed + c.Timeout;
  const valid = detected + c.Survived + c.NoCoverage;
  return valid ? `${((100 * detected) / valid).toFixed(1)}% (${detected}/${valid})` : '-';
}

const parts = readFileSync('scripts/mutation-parts.txt', 'utf8')
  .split('\n')
  .filter((line) => line.trim() && !line.startsWith('#'))
  .map((line) => line.split('|')[0]!);
const total = zero();
/** Every part's mutants as far as tested, and the mutants stopped parts have not tested yet. */
const tested = zero();
let untested = 0;
const rows: Array<Array<string | number>> = [];
const missing: string[] = [];
for (const name of parts) {
  const final = `reports/mutation/${name}.json`;
  const partial = `reports/mutation/${name}-incremental.json`;
  if (!existsSync(final) && !existsSync(partial)) {
    missing.push(name);
    continue;
  }
  const finished = existsSync(final);
  const c = count(finished ? final : partial);
  if (finished) add(total, c);
  add(tested, c);
  const log = existsSync(`reports/mutation/${name}.log`)
    ? readFileSync(`reports/mutation/${name}.log`, 'utf8')
    : '';
  const wall = /^real\s+(\S+)/m.exec(log)?.[1] ?? '';
  if (!finished) {
    // The part's mutant count as Stryker's instrumenter reported it when the stopped run began.
    const instrumented = /Instrumented \d+ source file\(s\) with (\d+) mutant/.exec(log)?.[1];
    untested += instrumented ? Math.max(0, Number(instrumented) - c.mutants) : Number.NaN;
  }
  rows.push([
    finished ? name : `${name} (stopped: ${c.mutants} tested)`,
    c.mutants,
    c.Ignored,
    c.CompileError + c.RuntimeError,
    c.Killed,
    c.Timeout,
    c.Survived,
    c.NoCoverage,
    score(c),
    wall,
  ]);
}
rows.push([
  'total (finished parts)',
  total.mutants,
  total.Ignored,
  total.CompileError + total.RuntimeError,
  total.Killed,
  total.Timeout,
  total.Survived,
  total.NoCoverage,
  score(total),
  '',
]);
const header = [
  'part',
  'mutants',
  'ignored',
  'errors',
  'killed',
  'timed out',
  'survived',
  'no coverage',
  'score',
  'wall',
];
if (markdown) {
  console.log(`| ${header.join(' | ')} |\n|${header.map(() => ' --- ').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
} else {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells: Array<string | number>) =>
    cells.map((cell, i) => String(cell).padEnd(widths[i] ?? 0)).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}
if (missing.length) console.log(`\nnot measured yet: ${missing.join(', ')}`);
else {
  // The score src/core as a whole cannot fall below: what every part tested, with each mutant a
  // stopped part has not tested counted as survived (some would not even compile).
  const bound = { ...tested, Survived: tested.Survived + untested };
  console.log(
    `\nall parts, every mutant tested so far: ${score(tested)}; ` +
      `lower bound with the ${untested} untested mutants of stopped parts counted as survived: ${score(bound)}`,
  );
}

/** The figures of a fault-suite run: printed at the end and written to reports/faults.json. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface FaultFigures {
  mode: 'quick' | 'full';
  seed: number;
  tenantsExpected: number;
  tenantsInventoried: number;
  rowsExpected: number;
  rowsFound: number;
  rowsDuplicated: number;
  changesExpected: number;
  changesFound: number;
  /** Misconfigured tenants' diagnoses expected in the fleet's sweeps, and those found exactly. */
  diagnosesExpected: number;
  diagnosesRight: number;
  faultsInjected: Record<string, number>;
  /** ARM requests the sandbox answered in the fleet phase (faults included), for the fault rate. */
  armRequests: number;
  /** Token requests that reached the token-fault front in the fleet phase (faults included). */
  tokenRequests: number;
  workersKilled: number;
  /** Worker kills per kill point (kill-gate.ts) and at random moments. */
  workerKills: Record<string, number>;
  azuriteRestarts: number;
  fuzzRequests: number;
  responses5xx: number;
  /** 502 answers carrying a diagnosis (a customer-side refusal of a well-formed read); not in responses5xx. */
  responses502Diagnosed: number;
  responsesByStatus: Record<string, number>;
  hangs: number;
  leaksFound: number;
  lostUpdates: number;
  runsOverlapping: number;
  /** Seconds the `npm start` after an interrupted one took to finish. */
  restartSeconds: number;
  /** Failed checks, each a sentence; empty when the suite passed. */
  failures: string[];
  /** Seconds per phase. */
  phases: Record<string, number>;
}

export function emptyFigures(mode: 'quick' | 'full', seed: number): FaultFigures {
  return {
    mode,
    seed,
    tenantsExpected: 0,
    tenantsInventoried: 0,
    rowsExpected: 0,
    rowsFound: 0,
    rowsDuplicated: 0,
    changesExpected: 0,
    changesFound: 0,
    diagnosesExpected: 0,
    diagnosesRight: 0,
    faultsInjected: {},
    armRequests: 0,
    tokenRequests: 0,
    workersKilled: 0,
    workerKills: {},
    azuriteRestarts: 0,
    fuzzRequests: 0,
    responses5xx: 0,
    responses502Diagnosed: 0,
    responsesByStatus: {},
    hangs: 0,
    leaksFound: 0,
    lostUpdates: 0,
    runsOverlapping: 0,
    restartSeconds: 0,
    failures: [],
    phases: {},
  };
}

export function count(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

export async function writeReport(path: string, figures: FaultFigures): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(figures, null, 2)}\n`);
}

export function printFigures(figures: FaultFigures): void {
  const { failures, phases, faultsInjected, responsesByStatus, workerKills, ...rest } = figures;
  console.log('\nFault suite figures');
  for (const [name, value] of Object.entries(rest)) console.log(`  ${name.padEnd(20)} ${String(value)}`);
  console.log(`  ${'faultsInjected'.padEnd(20)} ${JSON.stringify(faultsInjected)}`);
  console.log(`  ${'workerKills'.padEnd(20)} ${JSON.stringify(workerKills)}`);
  console.log(`  ${'responsesByStatus'.padEnd(20)} ${JSON.stringify(responsesByStatus)}`);
  console.log(`  ${'phases (s)'.padEnd(20)} ${JSON.stringify(phases)}`);
  if (failures.length === 0) console.log('\nPASS: nothing lost, nothing leaked.');
  else {
    console.log(`\nFAIL: ${failures.length} check(s) failed:`);
    for (const failure of failures) console.log(`  - ${failure}`);
  }
}

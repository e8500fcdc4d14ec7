/**
 * What the kernel says about a process (Linux /proc): its peak and current resident set, and the CPU
 * time it used. The benchmark runs the product, the naive loop, the sandbox and Azurite in separate
 * processes, so each figure belongs to exactly one of them.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessSample {
  /** Peak resident set since the process started (VmHWM), MiB. */
  peakRssMb: number;
  /** Resident set now (VmRSS), MiB. */
  rssMb: number;
  /** User + system CPU time since the process started, milliseconds. */
  cpuMs: number;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // the Linux default
    }
  }
  return ticksPerSecond;
}

function statusKb(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : 0;
}

/** Reads a process's memory and CPU figures; undefined once it is gone. */
export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3; utime/stime are 14/15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return {
      peakRssMb: statusKb(status, 'VmHWM') / 1024,
      rssMb: statusKb(status, 'VmRSS') / 1024,
      cpuMs: (ticks / clockTicks()) * 1000,
    };
  } catch {
    return undefined;
  }
}

/** Children of `parentPid` whose command line contains `needle` (e.g. Azurite's entry script). */
export function childProcesses(parentPid: number, needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== parentPid) continue;
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (commandLine.includes(needle)) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** CPU milliseconds a process used between two samples (0 when either is missing). */
export function cpuBetween(before: ProcessSample | undefined, after: ProcessSample | undefined): number {
  return before && after ? after.cpuMs - before.cpuMs : 0;
}

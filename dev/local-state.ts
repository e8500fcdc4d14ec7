/**
 * The state `npm start` keeps between runs (.local/ or --state-dir): how many sweeps ran, and the demo
 * world with its drift. Read before anything starts, so a state directory that is a file or a state
 * file that is corrupt ends in one line naming the path and the fix, not in a stack trace.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A state problem the user fixes; the message names the path and the fix. */
export class LocalStateError extends Error {
  override readonly name = 'LocalStateError';
}

export interface LocalState {
  worldPath: string;
  statePath: string;
  previous: { sweeps: number };
  /** The demo world as last stored, or the shipped demo world on a first run. */
  world: unknown;
}

const stateSchema = z.object({ sweeps: z.number().int().nonnegative() }).loose();

/** Reads a JSON file; a file that cannot be read or parsed is a LocalStateError with `fix`. */
async function readJson(path: string, what: string, fix: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new LocalStateError(
      `cannot read the ${what} ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); ${fix}`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new LocalStateError(`the ${what} ${path} is corrupt (${(error as Error).message}); ${fix}`);
  }
}

/** Prepares the state directory (emptied first with `reset`) and reads what the last run left. */
export async function loadLocalState(
  stateDir: string,
  options: { reset: boolean; resetCommand: string },
): Promise<LocalState> {
  const fix = (path: string): string => `delete ${path} or run \`${options.resetCommand}\` to start over`;
  if (options.reset) await rm(stateDir, { recursive: true, force: true });
  try {
    await mkdir(stateDir, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR')
      throw new LocalStateError(
        `the state directory ${stateDir} is a file (or lies under one): give a directory with --state-dir <dir>, or move the file away`,
      );
    throw new LocalStateError(
      `cannot create the state directory ${stateDir} (${code ?? 'error'}): give another one with --state-dir <dir>`,
    );
  }
  const worldPath = join(stateDir, 'world.json');
  const statePath = join(stateDir, 'state.json');
  let previous = { sweeps: 0 };
  if (existsSync(statePath)) {
    const parsed = stateSchema.safeParse(await readJson(statePath, 'state file', fix(statePath)));
    if (!parsed.success)
      throw new LocalStateError(
        `the state file ${statePath} is corrupt (it needs {"sweeps": <count>}); ${fix(statePath)}`,
      );
    previous = { sweeps: parsed.data.sweeps };
  }
  const world = existsSync(worldPath)
    ? await readJson(worldPath, 'stored demo world', fix(worldPath))
    : await readJson(join(root, 'sandbox', 'worlds', 'demo.json'), 'demo world', 'restore it with git');
  return { worldPath, statePath, previous, world };
}

/**
 * `npm start` as a user runs it: a fresh state directory, a whole sweep, exit 0 and a summary; a second run
 * shows the demo world's drift; a bad flag is a usage error.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

function start(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'dev/start.ts', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** State directories this file made, removed at the end. */
const stateDirs: string[] = [];
async function freshStateDir(prefix = 'fleet-start-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  stateDirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(stateDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('npm start', () => {
  // Each test has its own state directory: the first sweep is this fixture's (run once, its output kept);
  // the drift test makes the second run on it itself, so neither depends on the order the tests run in.
  describe('on a state directory of its own', () => {
    let stateDir: string;
    let first: { code: number | null; stdout: string; stderr: string };
    beforeAll(async () => {
      stateDir = await freshStateDir();
      first = await start(['--state-dir', stateDir]);
    });

    it('sweeps the demo world on a fresh state directory and prints the summary', () => {
      const { code, stdout, stderr } = first;
      expect(stderr).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // never a token
      expect(code).toBe(0);
      expect(stdout).toContain('local sweep #1');
      expect(stdout).toMatch(/Run \d{8}T\d{9}Z-[0-9a-f]{6}: completedWithErrors/);
      expect(stdout).toMatch(/Fabrikam\s+ok\s+3\s+109/);
      expect(stdout).toContain('AdventureWorks: AADSTS700016');
      expect(stdout).toContain('Woodgrove Bank: NoVisibleSubscriptions');
      expect(stdout).toContain('stlitwareaudit01: AuthorizationPermissionMismatch');
      expect(stdout).toMatch(/Totals: 5 tenants \(2 ok, 1 partial, 2 failed, 0 skipped\)/);
      expect(stdout).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    });

    it('shows the drift of the demo world on the next run', async () => {
      expect(first.code).toBe(0);
      const { code, stdout } = await start(['--state-dir', stateDir]);
      expect(code).toBe(0);
      expect(stdout).toContain('local sweep #2');
      expect(stdout).toContain('the demo world drifted since the last sweep');
      // One tag change, one region move, one removal, one addition, in one healthy tenant; the drift also
      // respells a resource (casing and a location display name only), which must count as nothing.
      expect(stdout).toMatch(/\+1\/-1\/~2/);
    });
  });

  it('answers a bad flag with usage and exit code 2', async () => {
    const { code, stderr } = await start(['--frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toContain('usage: npm start');
  });

  // These fail before Azurite or the sandbox start: one line naming the path and the fix, exit 2.
  const noStackTrace = (stderr: string): void => expect(stderr).not.toMatch(/^\s+at /m);

  it('says a --state-dir that is a file is not a directory, without a stack trace', async () => {
    const file = join(await freshStateDir(), 'not-a-directory');
    await writeFile(file, 'not a directory');
    try {
      const { code, stdout, stderr } = await start(['--state-dir', file]);
      expect(code).toBe(2);
      expect(stdout).not.toContain('starting Azurite');
      expect(stderr).toContain(`npm start: the state directory ${file} is a file`);
      expect(stderr).toContain('give a directory with --state-dir <dir>');
      noStackTrace(stderr);
    } finally {
      await rm(file, { force: true });
    }
  });

  it.each([
    ['state.json', '{"sweeps": '],
    ['state.json', '{"sweeps": "many"}'],
    ['world.json', 'not json'],
  ])('says a corrupt %s (%j) is corrupt and how to start over', async (name, content) => {
    const dir = await mkdtemp(join(tmpdir(), 'fleet-start-corrupt-'));
    try {
      await writeFile(join(dir, name), content);
      const { code, stdout, stderr } = await start(['--state-dir', dir]);
      expect(code).toBe(2);
      expect(stdout).not.toContain('starting Azurite');
      expect(stderr).toContain(`${join(dir, name)} is corrupt`);
      expect(stderr).toContain(
        `delete ${join(dir, name)} or run \`npm start -- --reset --state-dir ${dir}\``,
      );
      noStackTrace(stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

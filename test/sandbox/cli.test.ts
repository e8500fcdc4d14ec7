/**
 * The sandbox CLI as a user runs it: `npx tsx sandbox/cli.ts --generate ...` prints one JSON line
 * with the endpoints, serves until SIGTERM and then exits cleanly; bad flags exit 2 with one line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCliArgs, USAGE } from '../../sandbox/cli.js';

const children: ChildProcess[] = [];

/** Runs the CLI in its own process group: npx does not forward signals, a terminal's Ctrl-C hits the group. */
function runCli(args: string[]): ChildProcess {
  const child = spawn('npx', ['tsx', 'sandbox/cli.ts', ...args], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  return child;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** True while any process of the child's group is alive. */
function groupAlive(child: ChildProcess): boolean {
  try {
    process.kill(-child.pid!, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops the CLI as a terminal or process manager does (the signal reaches the whole group; npx
 * itself neither forwards nor survives it) and waits until the sandbox has closed: every process of
 * the group gone and the state directory (certificate and key) removed, which only a clean close does.
 */
async function stopAndCheckClean(
  child: ChildProcess,
  signal: NodeJS.Signals,
  stateDirectory: string,
): Promise<void> {
  signalGroup(child, signal);
  await expect.poll(() => groupAlive(child), { timeout: 15_000 }).toBe(false);
  expect(existsSync(stateDirectory)).toBe(false);
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve(line));
    child.once('exit', (code) => reject(new Error(`cli exited with ${code} before printing`)));
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

/** stderr without npm's own configuration warnings (npx prints them on this machine). */
const ownLines = (stderr: string): string[] =>
  stderr.split('\n').filter((line) => line && !line.startsWith('npm warn'));

afterAll(() => {
  for (const child of children) signalGroup(child, 'SIGKILL');
});

describe('sandbox CLI', () => {
  it('starts from --generate, prints one JSON line, serves, and closes on SIGTERM', async () => {
    const child = runCli([
      '--generate',
      'tenants=2,subscriptions=1,resources=50,seed=3',
      '--page-size',
      '20',
      '--no-throttle',
    ]);
    const done = exited(child);
    const line = await firstLine(child);
    const printed = JSON.parse(line) as Record<string, unknown> & { world: Record<string, unknown> };
    expect(Object.keys(printed).sort()).toEqual(
      [
        'adminEndpoint',
        'armEndpoint',
        'authorityHost',
        'caCertPath',
        'identityEndpoint',
        'identityHeader',
        'world',
      ].sort(),
    );
    expect(line).not.toMatch(/access_token|PRIVATE KEY|eyJ/);
    expect(printed.world).toMatchObject({ tenants: 3, subscriptions: 3 });

    const settings = (await (
      await fetch(`${printed.adminEndpoint as string}/admin/arm-settings`)
    ).json()) as Record<string, unknown>;
    expect(settings).toMatchObject({ pageSize: 20, throttle: { enabled: false } });
    const world = (await (await fetch(`${printed.adminEndpoint as string}/admin/world`)).json()) as {
      tenants: unknown[];
    };
    expect(world.tenants).toHaveLength(3);

    // ARM is up over HTTPS with the printed CA: an anonymous call gets ARM's 401.
    const ca = readFileSync(printed.caCertPath as string, 'utf8');
    const status = await new Promise<number>((resolve, reject) => {
      httpsRequest(`${printed.armEndpoint as string}/subscriptions?api-version=2022-12-01`, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(401);

    await stopAndCheckClean(child, 'SIGTERM', dirname(printed.caCertPath as string));
    expect(ownLines((await done).stderr)).toEqual([]);
  });

  it('starts from --world <file>', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'tf-cli-'));
    try {
      const file = join(directory, 'world.json');
      await writeFile(
        file,
        JSON.stringify({
          tenants: [{ id: '11111111-1111-4111-8111-111111111111', displayName: 'Solo' }],
          subscriptions: [
            {
              subscriptionId: '22222222-2222-4222-8222-222222222222',
              tenantId: '11111111-1111-4111-8111-111111111111',
              displayName: 'Solo Prod',
            },
          ],
        }),
      );
      const child = runCli(['--world', file]);
      const done = exited(child);
      const printed = JSON.parse(await firstLine(child)) as {
        world: Record<string, unknown>;
        storageEndpoint?: string;
        caCertPath: string;
      };
      expect(printed.world).toEqual({ tenants: 1, subscriptions: 1 });
      expect(printed.storageEndpoint).toBeUndefined();
      await stopAndCheckClean(child, 'SIGINT', dirname(printed.caCertPath));
      expect(ownLines((await done).stderr)).toEqual([]);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('exits 2 with a one-line error naming the problem and the fix', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'tf-cli-'));
    const badWorld = join(directory, 'bad.json');
    await writeFile(badWorld, JSON.stringify({ tenants: [{ id: 'nope', displayName: 'x' }] }));
    try {
      const cases: Array<[string[], RegExp]> = [
        [['--generate', 'tenants=two,subscriptions=1,resources=1'], /--generate tenants needs an integer/],
        [['--bogus'], /unknown flag '--bogus'/],
        [[], /give exactly one of --world <file> or --generate <spec>/],
        [['--world', join(directory, 'missing.json')], /cannot read world file .*missing\.json.*ENOENT/],
        [['--world', badWorld], /world file .*bad\.json' is invalid at tenants\[0\]\.id: must be a GUID/],
      ];
      for (const [args, pattern] of cases) {
        const { code, stderr } = await exited(runCli(args));
        const lines = ownLines(stderr);
        expect({ args, code, lines: lines.length }).toEqual({ args, code: 2, lines: 1 });
        expect(lines[0]).toMatch(pattern);
      }
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('`npm run sandbox -- --help` prints the usage and exits 0, starting nothing', async () => {
    const child = spawn('npm', ['run', '--silent', 'sandbox', '--', '--help'], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const { code, stderr } = await exited(child);
    expect({ code, stderr: ownLines(stderr) }).toEqual({ code: 0, stderr: [] });
    expect(stdout.trim()).toBe(USAGE);
  });

  it('parses flags without starting anything', () => {
    expect(parseCliArgs(['--help'])).toBe('help');
    expect(parseCliArgs(['-h'])).toBe('help');
    expect(() => parseCliArgs(['--world'])).toThrow(/^--world needs a file path\. usage:/);
    expect(() => parseCliArgs(['--world', '--generate', 'tenants=1'])).toThrow(/^--world needs a file path/);
    expect(() => parseCliArgs(['--generate', 'tenants=1,subscriptions=1,resources=1', 'extra'])).toThrow(
      /^unexpected argument 'extra'/,
    );
    expect(parseCliArgs(['--world', 'a.json', '--no-throttle', '--no-storage', '--state-dir', 'd'])).toEqual({
      worldFile: 'a.json',
      throttle: false,
      storage: false,
      stateDirectory: 'd',
    });
    expect(
      parseCliArgs(['--generate', 'tenants=20,subscriptions=2,resources=300,seed=1', '--latency-ms', '5']),
    ).toEqual({
      generate: { seed: 1, tenants: 20, subscriptionsPerTenant: 2, resourcesPerSubscription: 300 },
      latencyMs: 5,
      throttle: true,
    });
    expect(() =>
      parseCliArgs(['--world', 'a.json', '--generate', 'tenants=1,subscriptions=1,resources=1']),
    ).toThrow(/exactly one/);
    expect(() => parseCliArgs(['--generate', 'tenants=1,resources=1'])).toThrow(/needs subscriptions=N/);
    expect(() => parseCliArgs(['--world', 'a.json', '--page-size', '0'])).toThrow(
      /--page-size needs an integer >= 1/,
    );
  });
});

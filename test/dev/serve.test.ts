/**
 * `npm start -- --serve` as an operator runs it: it prints where it serves, answers the app's own
 * routes there, really runs a sweep started with POST /api/runs (the queue is processed), and stops on
 * Ctrl-C (SIGINT) with exit code 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const stateDir = await mkdtemp(join(tmpdir(), 'fleet-serve-'));
let child: ChildProcess;
let output = '';
let baseUrl = '';
let exit: Promise<number | null>;

beforeAll(async () => {
  child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'dev/start.ts',
      '--serve',
      '--port',
      '0',
      '--no-sweep-at-start',
      '--state-dir',
      stateDir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } },
  );
  exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 90_000;
  while (!/serving on (http:\/\/127\.0\.0\.1:\d+)/.test(output)) {
    if (Date.now() > deadline) throw new Error(`serve mode did not start:\n${output}`);
    if (child.exitCode !== null) throw new Error(`serve mode exited:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  baseUrl = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
});
afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await rm(stateDir, { recursive: true, force: true });
});

describe('npm start -- --serve', () => {
  it('says in its banner that the local identity is an admin, and where the console is', () => {
    expect(output).toContain('is an ADMIN');
    expect(output).toContain(`${baseUrl}/api/console/`);
  });

  it('redirects / to the console and answers an unknown route with 404', async () => {
    const root = await fetch(`${baseUrl}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/api/console/');
    const unknown = await fetch(`${baseUrl}/api/nothing-here`);
    expect(unknown.status).toBe(404);
  });

  it('runs a sweep started with POST /api/runs to completion', async () => {
    const started = await fetch(`${baseUrl}/api/runs`, { method: 'POST' });
    expect(started.status).toBe(202);
    const { runId, queued } = (await started.json()) as { runId: string; queued: number };
    expect(queued).toBe(5);
    let status = 'running';
    const deadline = Date.now() + 60_000;
    while (status === 'running' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = ((await (await fetch(`${baseUrl}/api/runs/${runId}`)).json()) as { status: string }).status;
    }
    expect(status).toBe('completedWithErrors'); // AdventureWorks and Woodgrove fail in the demo world
    const run = (await (await fetch(`${baseUrl}/api/runs/${runId}`)).json()) as {
      tenants: Array<{ displayName: string; status: string; diagnosisCode?: string }>;
    };
    expect(run.tenants.find((tenant) => tenant.displayName === 'AdventureWorks')).toMatchObject({
      status: 'failed',
      diagnosisCode: 'AADSTS700016',
    });
  });

  it('stops on Ctrl-C with exit code 0', async () => {
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(output).toMatch(/stopped cleanly|handed back to the queue/);
  });
});

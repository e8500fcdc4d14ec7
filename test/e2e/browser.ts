/**
 * The e2e harness: serve mode as an operator starts it (a child process on a free port, a fresh state
 * directory), and Debian's Chromium driven by playwright-core (never a downloaded browser).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClientSecretCredential } from '@azure/identity';
import { chromium, type BrowserContext } from 'playwright-core';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const screenshots = join(root, 'reports', 'console');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface ServeProcess {
  baseUrl: string;
  /** An operator of the API holding `roles` (TENANT_FLEET_HTTP_AUTH=appservice): its client id and token. */
  operator(roles: string[]): Promise<Operator>;
  output(): string;
  stop(): Promise<number | null>;
}

export interface Operator {
  /** The client id: the name the API knows a client-credentials caller by. */
  clientId: string;
  headers: Record<string, string>;
}

/** What serve mode writes when it validates tokens (dev/start.ts). */
interface ApiAuthInfo {
  tenantId: string;
  scope: string;
  authorityHost: string;
  caCertPath: string;
  clients: string;
}

/**
 * An operator client made in serve mode's sandbox (its admin API, as an Entra admin registers one),
 * signed in by the client-credentials grant with @azure/identity: a real token the sandbox's Entra
 * issues for the API app.
 */
async function operatorOf(stateDir: string, roles: string[]): Promise<Operator> {
  const info = JSON.parse(await readFile(join(stateDir, 'api-auth.json'), 'utf8')) as ApiAuthInfo;
  const made = await fetch(info.clients, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ roles }),
  });
  if (!made.ok) throw new Error(`the sandbox made no API client: ${made.status} ${await made.text()}`);
  const client = (await made.json()) as { clientId: string; clientSecret: string };
  const credential = new ClientSecretCredential(info.tenantId, client.clientId, client.clientSecret, {
    authorityHost: info.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: await readFile(info.caCertPath, 'utf8') },
  });
  const token = await credential.getToken(info.scope);
  return { clientId: client.clientId, headers: { authorization: `Bearer ${token.token}` } };
}

export async function startServe(env: Record<string, string> = {}): Promise<ServeProcess> {
  const stateDir = await mkdtemp(join(tmpdir(), 'fleet-e2e-'));
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'dev/start.ts', '--serve', '--port', '0', '--state-dir', stateDir],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0', ...env } },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 150_000;
  // Ready when it serves and the sweep at start has closed (the overview then has every tenant's state).
  while (
    !/serving on http:\/\/127\.0\.0\.1:\d+/.test(output) ||
    (output.match(/ swept$/gm) ?? []).length < 5
  ) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`serve mode did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const baseUrl = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
  const operator = (roles: string[]): Promise<Operator> =>
    env.TENANT_FLEET_HTTP_AUTH === 'appservice'
      ? operatorOf(stateDir, roles)
      : Promise.resolve({ clientId: 'local', headers: {} });
  const reader = await operator(['Fleet.Read']);
  // The run closes right after its last tenant: wait until the API says so.
  for (;;) {
    const runs = (await (await fetch(`${baseUrl}/api/runs`, { headers: reader.headers })).json()) as {
      items: Array<{ status: string }>;
    };
    if (runs.items[0] && runs.items[0].status !== 'running') break;
    if (Date.now() > deadline) throw new Error('the sweep at start did not finish');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return {
    baseUrl,
    operator,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      const code = await exited;
      await rm(stateDir, { recursive: true, force: true });
      return code;
    },
  };
}

export const ADMIN = ['Fleet.Read', 'Fleet.CustomerData.Read', 'Fleet.Admin'];

/** A fresh Chromium profile per context, launched with the flags of the brief. */
export async function openBrowser(options: {
  headers?: Record<string, string>;
  bypassCSP?: boolean;
}): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)`);
  await mkdir(screenshots, { recursive: true });
  const profile = await mkdtemp(join(tmpdir(), 'fleet-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    acceptDownloads: true,
    ...(options.headers ? { extraHTTPHeaders: options.headers } : {}),
    ...(options.bypassCSP ? { bypassCSP: true } : {}),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

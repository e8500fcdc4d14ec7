/** The operator CLI over the same core: registry, diagnostics and runs, with errors that say the fix. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { worldFacts } from '../../sandbox/generator.js';
import type { WorldInput } from '../../sandbox/world.js';
import { runFleetCommand } from '../../src/cli/fleet.js';
import { applyPlatformIdentityEnvironment, sandboxFleetSettings } from '../../dev/sandbox-fleet.js';
import { providerConnectionString, uniquePrefix } from '../support/provider.js';

const demo = JSON.parse(
  readFileSync(new URL('../../sandbox/worlds/demo.json', import.meta.url), 'utf8'),
) as WorldInput;
let sandbox: Sandbox;
let env: Record<string, string>;

type FleetResult = { code: number; text: string; errors: string; json: () => unknown };

/** One command: stdout (`text`) and stderr (`errors`) apart, as a shell sees them. */
async function fleetIn(environment: Record<string, string>, ...args: string[]): Promise<FleetResult> {
  let text = '';
  let errors = '';
  const code = await runFleetCommand(
    args,
    environment,
    (line) => (text += `${line}\n`),
    (line) => (errors += `${line}\n`),
  );
  return { code, text, errors, json: () => JSON.parse(text) as unknown };
}
const fleet = (...args: string[]): Promise<FleetResult> => fleetIn(env, ...args);

/** A fresh installation (its own tables and queues) on the shared sandbox. */
function freshInstallation(): Record<string, string> {
  return sandboxFleetSettings(sandbox, {
    providerConnectionString: providerConnectionString(),
    prefix: uniquePrefix(),
  });
}

beforeAll(async () => {
  sandbox = await startSandbox({ world: demo });
  applyPlatformIdentityEnvironment(sandbox);
  env = freshInstallation();
});
afterAll(async () => {
  await sandbox?.close();
});

const tenant = (name: string) => demo.tenants.find((t) => t.displayName.startsWith(name))!.id;

describe('npm run fleet', () => {
  it('registers, lists, shows and excludes tenants', async () => {
    const added = await fleet('tenants', 'add', tenant('Fabrikam'), 'Fabrikam', '--tag', 'gold');
    expect(added.code).toBe(0);
    expect(added.json()).toMatchObject({ tenantId: tenant('Fabrikam'), tags: ['gold'], enabled: true });
    const again = await fleet('tenants', 'add', tenant('Fabrikam'), 'Again');
    expect({ code: again.code, text: again.text }).toEqual({ code: 2, text: '' });
    expect(again.errors).toContain('already registered');
    const list = (await fleet('tenants', 'list')).json() as { items: Array<{ tenantId: string }> };
    expect(list.items.map((item) => item.tenantId)).toContain(tenant('Fabrikam'));
    const disabled = await fleet('tenants', 'disable', tenant('Fabrikam'), '--reason', 'paused');
    expect(disabled.json()).toMatchObject({ enabled: false, exclusion: { reason: 'paused' } });
    expect((await fleet('tenants', 'enable', tenant('Fabrikam'))).json()).toMatchObject({ enabled: true });
  });

  it('audits its changes and lists the audit log, newest first, filtered', async () => {
    const id = tenant('Northwind');
    expect((await fleet('tenants', 'add', id, 'Northwind')).code).toBe(0);
    expect((await fleet('tenants', 'add', id, 'Again')).code).toBe(2);
    expect((await fleet('tenants', 'reset', id)).code).toBe(0);
    const page = (await fleet('audit', '--tenant', id)).json() as {
      items: Array<{ action: string; outcome: string; actor: { via: string; label: string } }>;
    };
    expect(page.items.map((row) => [row.action, row.outcome])).toEqual([
      ['tenant.reset', 'succeeded'],
      ['tenant.reset', 'started'],
    ]);
    expect(page.items[0]!.actor).toMatchObject({
      via: 'cli',
      label: expect.stringMatching(/^cli:/) as unknown,
    });
    const creates = (await fleet('audit', '--action', 'tenant.create', '--top', '10')).json() as {
      items: Array<{ outcome: string; detail?: string }>;
    };
    expect(creates.items.map((row) => row.outcome).slice(0, 4)).toEqual([
      'refused',
      'started',
      'succeeded',
      'started',
    ]);
    const bad = await fleet('audit', '--action', 'everything');
    expect(bad.code).toBe(2);
    expect(bad.text).toBe('');
    expect(bad.errors).toContain('action');
    // Leave the registry as the other tests expect it (one tenant), on the record too.
    expect((await fleet('tenants', 'remove', id)).code).toBe(0);
    const removed = (await fleet('audit', '--tenant', id, '--action', 'tenant.delete')).json() as {
      items: Array<{ outcome: string }>;
    };
    expect(removed.items[0]!.outcome).toBe('succeeded');
  });

  it('diagnoses onboarding: verified for a healthy tenant, AADSTS700016 with the fix for an unprovisioned one', async () => {
    const passed = await fleet('diagnose', tenant('Fabrikam'));
    expect({ code: passed.code, errors: passed.errors }).toEqual({ code: 0, errors: '' });
    const healthy = passed.json() as {
      verified: boolean;
      servicePrincipalObjectId: string;
    };
    expect(healthy.verified).toBe(true);
    expect(healthy.servicePrincipalObjectId).toBe(
      worldFacts(demo).servicePrincipalObjectIds[tenant('Fabrikam')],
    );
    // A failing check exits 3 (the usage says so), with the report on stdout and one line on stderr.
    const failed = await fleet('diagnose', tenant('AdventureWorks'));
    expect(failed.code).toBe(3);
    expect(failed.errors).toBe(
      'error: the tokenExchange check failed; the report above says why and the fix\n',
    );
    const missing = failed.json() as {
      verified: boolean;
      steps: Array<{ name: string; diagnosis?: { code: string; fix: string } }>;
    };
    expect(missing.verified).toBe(false);
    expect(missing.steps.at(-1)).toMatchObject({
      name: 'tokenExchange',
      diagnosis: { code: 'AADSTS700016' },
    });
  });

  it('starts a run and shows it', async () => {
    // Its own installation with exactly one tenant, whatever the other tests registered.
    const own = freshInstallation();
    expect((await fleetIn(own, 'tenants', 'add', tenant('Northwind'), 'Northwind')).code).toBe(0);
    const started = (await fleetIn(own, 'runs', 'start')).json() as { runId: string; queued: number };
    expect(started.queued).toBe(1);
    const shown = (await fleetIn(own, 'runs', 'show', started.runId)).json() as {
      status: string;
      tenants: Array<{ status: string }>;
    };
    expect(shown.status).toBe('running');
    expect(shown.tenants).toEqual([expect.objectContaining({ status: 'queued' })]);
    const busy = await fleetIn(own, 'runs', 'start');
    expect({ code: busy.code, text: busy.text }).toEqual({ code: 2, text: '' });
    expect(busy.errors).toContain('is still in progress');
  });

  it.each([
    [['tenants', 'add', 'contoso.com', 'x'], 'tenantId: must be a tenant id'],
    [['tenants', 'disable', '11111111-1111-4111-8111-111111111111'], '--reason is missing'],
    [['tenants', 'frobnicate'], "unknown tenants command 'frobnicate'"],
    [['runs', 'list', '--top', 'many'], '--top: must be a whole number'],
    [['runs', 'show', 'not-a-run'], "'not-a-run' is not a run id"],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('answers %j with exit 2 and what is wrong, on stderr', async (args, message) => {
    const result = await fleet(...args);
    expect(result.code).toBe(2);
    expect(result.errors).toContain(message);
    expect(result.text).toBe('');
  });

  it('prints the usage with its exit codes on stdout for --help, exit 0', async () => {
    const help = await fleet('--help');
    expect({ code: help.code, errors: help.errors }).toEqual({ code: 0, errors: '' });
    expect(help.text).toContain('3 diagnose found a failing check');
  });

  it('names the missing setting and the fix when the configuration is incomplete', async () => {
    let text = '';
    let stdout = '';
    const code = await runFleetCommand(
      ['tenants', 'list'],
      { ...env, TENANT_FLEET_MI_CLIENT_ID: undefined },
      (line) => (stdout += line),
      (line) => (text += line),
    );
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(text).toContain('TENANT_FLEET_MI_CLIENT_ID: is required but not set');
    expect(text).toContain('fix: set TENANT_FLEET_MI_CLIENT_ID');
  });

  it('as `npm run fleet` runs it: an error on stderr, nothing on stdout, a non-zero exit', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/fleet-main.ts', 'tenants', 'list'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // No settings at all: fails on the configuration, before any request.
      env: { PATH: process.env.PATH ?? '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toContain('error: TENANT_FLEET_MI_CLIENT_ID: is required but not set');
  });
});

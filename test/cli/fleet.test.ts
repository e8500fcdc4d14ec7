/** The operator CLI over the same core: registry, diagnostics and runs, with errors that say the fix. */
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

type FleetResult = { code: number; text: string; json: () => unknown };

async function fleetIn(environment: Record<string, string>, ...args: string[]): Promise<FleetResult> {
  let text = '';
  const code = await runFleetCommand(args, environment, (line) => (text += `${line}\n`));
  return { code, text, json: () => JSON.parse(text) as unknown };
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
    expect((await fleet('tenants', 'add', tenant('Fabrikam'), 'Again')).text).toContain('already registered');
    const list = (await fleet('tenants', 'list')).json() as { items: Array<{ tenantId: string }> };
    expect(list.items.map((item) => item.tenantId)).toContain(tenant('Fabrikam'));
    const disabled = await fleet('tenants', 'disable', tenant('Fabrikam'), '--reason', 'paused');
    expect(disabled.json()).toMatchObject({ enabled: false, exclusion: { reason: 'paused' } });
    expect((await fleet('tenants', 'enable', tenant('Fabrikam'))).json()).toMatchObject({ enabled: true });
  });

  it('diagnoses onboarding: verified for a healthy tenant, AADSTS700016 with the fix for an unprovisioned one', async () => {
    const healthy = (await fleet('diagnose', tenant('Fabrikam'))).json() as {
      verified: boolean;
      servicePrincipalObjectId: string;
    };
    expect(healthy.verified).toBe(true);
    expect(healthy.servicePrincipalObjectId).toBe(
      worldFacts(demo).servicePrincipalObjectIds[tenant('Fabrikam')],
    );
    const missing = (await fleet('diagnose', tenant('AdventureWorks'))).json() as {
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
    expect((await fleetIn(own, 'runs', 'start')).text).toContain('is still in progress');
  });

  it.each([
    [['tenants', 'add', 'contoso.com', 'x'], 'tenantId: must be a tenant id'],
    [['tenants', 'disable', '11111111-1111-4111-8111-111111111111'], '--reason is missing'],
    [['tenants', 'frobnicate'], "unknown tenants command 'frobnicate'"],
    [['runs', 'list', '--top', 'many'], '--top: must be a whole number'],
    [['runs', 'show', 'not-a-run'], "'not-a-run' is not a run id"],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('answers %j with exit 2 and what is wrong', async (args, message) => {
    const result = await fleet(...args);
    expect(result.code).toBe(2);
    expect(result.text).toContain(message);
  });

  it('names the missing setting and the fix when the configuration is incomplete', async () => {
    let text = '';
    const code = await runFleetCommand(
      ['tenants', 'list'],
      { ...env, TENANT_FLEET_MI_CLIENT_ID: undefined },
      (line) => (text += line),
    );
    expect(code).toBe(2);
    expect(text).toContain('TENANT_FLEET_MI_CLIENT_ID: is required but not set');
    expect(text).toContain('fix: set TENANT_FLEET_MI_CLIENT_ID');
  });
});

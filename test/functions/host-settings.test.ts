/**
 * The app's contract with the Functions host: host.json is what the host's schema allows and agrees
 * with the code, the timer and queue functions register the settings config.ts validates, the config
 * is validated at app start, and local.settings.sample.json names every setting the app reads.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { app } from '@azure/functions';
import {
  loadConfig,
  resourceNamesFromEnv,
  SETTING_NAMES,
  SWEEP_SCHEDULE_SETTING,
} from '../../src/core/platform/config.js';
import { ConfigError } from '../../src/core/platform/errors.js';
import { MAX_DEQUEUE_COUNT } from '../../src/core/sweep/sweep.js';

const root = new URL('../../', import.meta.url);
const readJson = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(name, root), 'utf8')) as Record<string, unknown>;

const valid = {
  TENANT_FLEET_MI_CLIENT_ID: randomUUID(),
  TENANT_FLEET_APP_CLIENT_ID: randomUUID(),
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  TENANT_FLEET_SWEEP_SCHEDULE: '0 15 */4 * * *',
};

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe('host.json', () => {
  const host = readJson('host.json') as {
    extensions: { queues: { maxDequeueCount: number } };
  };

  it('has only top-level keys the host.json schema defines (no _comments)', () => {
    // The top-level properties of SchemaStore's host.json schema (version 2.0) this app may use.
    const schemaKeys = new Set([
      'version',
      'functionTimeout',
      'logging',
      'extensions',
      'extensionBundle',
      'healthMonitor',
      'retry',
      'concurrency',
      'aggregator',
      'watchDirectories',
      'managedDependency',
      'singleton',
      'functions',
    ]);
    expect(Object.keys(host).filter((key) => !schemaKeys.has(key))).toEqual([]);
  });

  it("maxDequeueCount equals the worker's MAX_DEQUEUE_COUNT (the last delivery records a failure)", () => {
    expect(host.extensions.queues.maxDequeueCount).toBe(MAX_DEQUEUE_COUNT);
  });
});

describe('function registrations', () => {
  it('the timer runs on the schedule setting that config.ts validates', async () => {
    const timer = vi.spyOn(app, 'timer');
    await import('../../src/functions/sweepTimer.js');
    const options = timer.mock.calls.find(([name]) => name === 'sweepTimer')?.[1];
    expect(options?.schedule).toBe('%TENANT_FLEET_SWEEP_SCHEDULE%');
    expect(options?.schedule).toBe(`%${SWEEP_SCHEDULE_SETTING}%`);
    expect(loadConfig(valid).sweep.schedule).toBe('0 15 */4 * * *');
  });

  it('the queue functions take their queue names from the validated storage prefix', async () => {
    vi.stubEnv('TENANT_FLEET_STORAGE_PREFIX', 'abc');
    const queue = vi.spyOn(app, 'storageQueue');
    await import('../../src/functions/sweepWorker.js');
    await import('../../src/functions/sweepPoison.js');
    const names = Object.fromEntries(queue.mock.calls.map(([name, options]) => [name, options.queueName]));
    expect(names).toEqual({ sweepWorker: 'abctenant-sweep', sweepPoison: 'abctenant-sweep-poison' });
    expect(() => resourceNamesFromEnv({ TENANT_FLEET_STORAGE_PREFIX: 'Bad-Prefix' })).toThrow(ConfigError);
  });
});

describe('app start', () => {
  it('registers a hook that validates the config when the app starts', async () => {
    const hook = vi.spyOn(app.hook, 'appStart');
    const { validateConfigAtStart } = await import('../../src/functions/appStart.js');
    expect(hook).toHaveBeenCalledTimes(1);
    expect(() => validateConfigAtStart(valid, () => undefined)).not.toThrow();
  });

  it.each([
    ['TENANT_FLEET_MI_CLIENT_ID', { TENANT_FLEET_MI_CLIENT_ID: undefined }],
    ['TENANT_FLEET_SWEEP_SCHEDULE', { TENANT_FLEET_SWEEP_SCHEDULE: undefined }],
    ['TENANT_FLEET_SWEEP_SCHEDULE', { TENANT_FLEET_SWEEP_SCHEDULE: '0 */6 * * *' }],
  ])('fails at start with one line naming %s', async (setting, patch) => {
    const { validateConfigAtStart } = await import('../../src/functions/appStart.js');
    const lines: string[] = [];
    // The module was imported afresh (resetModules): its ConfigError is another class object.
    expect(() => validateConfigAtStart({ ...valid, ...patch }, (line) => lines.push(line))).toThrow(
      new RegExp(`^${setting}: `),
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^Tenant Fleet cannot start: ${setting}: `));
  });
});

describe('local.settings.sample.json', () => {
  const values = (readJson('local.settings.sample.json') as { Values: Record<string, string> }).Values;

  it('names every setting the app reads, and no other of its own', () => {
    expect(SETTING_NAMES.filter((name) => !(name in values))).toEqual([]);
    const ours = Object.keys(values).filter((name) => name.startsWith('TENANT_FLEET_'));
    expect(ours.filter((name) => !SETTING_NAMES.includes(name))).toEqual([]);
  });

  it('is a valid config once the two client ids are filled in', () => {
    const filled = {
      ...values,
      TENANT_FLEET_MI_CLIENT_ID: randomUUID(),
      TENANT_FLEET_APP_CLIENT_ID: randomUUID(),
    };
    expect(loadConfig(filled, { functionsHost: true }).sweep.schedule).toBe('0 0 */6 * * *');
  });
});

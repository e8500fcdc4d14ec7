/**
 * The runtime every entry point shares: built once from the process's config, replaceable by the CLI
 * and tests, with a default logger that sends each level to its console stream (the Functions host
 * reads stderr as errors and warnings as warnings).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setConfig } from '../../src/core/platform/config.js';
import { createRuntime, getRuntime, setRuntime } from '../../src/core/runtime.js';
import { testConfig } from '../support/provider.js';

afterEach(() => {
  vi.restoreAllMocks();
  setRuntime(undefined);
  setConfig(undefined);
});

describe('createRuntime', () => {
  it('logs each level to its console stream, prefixed with the level', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const info = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const runtime = createRuntime(testConfig());
    runtime.log('error', 'broke');
    runtime.log('warn', 'odd');
    runtime.log('info', 'fine');
    expect(error.mock.calls).toEqual([['[error] broke']]);
    expect(warn.mock.calls).toEqual([['[warn] odd']]);
    expect(info.mock.calls).toEqual([['[info] fine']]);
  });

  it("uses the clock and logger it is given, and the config's tables", () => {
    const config = testConfig();
    const at = new Date('2030-01-01T00:00:00Z');
    const lines: string[] = [];
    const runtime = createRuntime(config, { now: () => at, log: (_level, message) => lines.push(message) });
    runtime.log('info', 'hello');
    expect(lines).toEqual(['hello']);
    expect(runtime.now()).toBe(at);
    expect(runtime.config).toBe(config);
    expect(createRuntime(config).now()).toBeInstanceOf(Date);
  });
});

describe('getRuntime', () => {
  it("is built once from the process's config, and replaced by setRuntime", () => {
    const config = testConfig();
    setConfig(config);
    const first = getRuntime();
    expect(first.config).toBe(config);
    expect(getRuntime()).toBe(first);
    const other = createRuntime(testConfig());
    setRuntime(other);
    expect(getRuntime()).toBe(other);
  });
});

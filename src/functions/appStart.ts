/**
 * App start: the config is loaded and validated when the worker starts, not on the first invocation,
 * so a misconfigured app fails at start with one log line naming the setting and the fix.
 */
import { app } from '@azure/functions';
import { loadConfig, setConfig } from '../core/platform/config.js';
import { ConfigError } from '../core/platform/errors.js';

/** Validates the config (as the Functions host runs it) and installs it; throws when it is wrong. */
export function validateConfigAtStart(
  env: Record<string, string | undefined> = process.env,
  log: (line: string) => void = console.error,
): void {
  try {
    setConfig(loadConfig(env, { functionsHost: true }));
  } catch (error) {
    if (error instanceof ConfigError) log(`Tenant Fleet cannot start: ${error.message}`);
    throw error;
  }
}

app.hook.appStart(() => validateConfigAtStart());

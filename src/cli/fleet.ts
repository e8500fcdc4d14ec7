/**
 * `npm run fleet -- <command>`: the operator's command line over the same core as the HTTP API, for a
 * configured installation (the app settings in the environment: see docs/configuration.md).
 *
 *   tenants list | show <id> | add <id> <name> [--tag t]... | disable <id> --reason <text> | enable <id>
 *           | reset <id> | remove <id>
 *   diagnose <tenantId>
 *   runs list [--top n] | show <runId> | start [<tenantId>...]
 *
 * Output is JSON (pipe it to jq); errors are one line naming what is wrong and how to fix it, exit 2
 * for bad input or configuration, 1 for a failure of the cloud behind.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/platform/config.js';
import {
  ConfigError,
  ConflictError,
  InputError,
  NotFoundError,
  ensureError,
  redact,
} from '../core/platform/errors.js';
import { diagnoseTenant } from '../core/operations/onboarding.js';
import { isInvalidRow, type InvalidTenantRow, type TenantRecord } from '../core/sweep/registry.js';
import { createRuntime, type FleetRuntime } from '../core/runtime.js';
import { startSweep } from '../core/sweep/sweep.js';

const USAGE = `usage: npm run fleet -- <command>
  tenants list | show <tenantId> | add <tenantId> <displayName> [--tag <tag>]...
  tenants disable <tenantId> --reason <text> | enable <tenantId> | reset <tenantId> | remove <tenantId>
  diagnose <tenantId>
  runs list [--top <n>] | show <runId> | start [<tenantId>...]`;

class UsageError extends Error {}

export async function runFleetCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  out: (text: string) => void,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        tag: { type: 'string', multiple: true },
        reason: { type: 'string' },
        top: { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    out(`error: ${ensureError(error).message}\n${USAGE}`);
    return 2;
  }
  const [group, action, ...rest] = parsed.positionals;
  if (parsed.values.help || !group) {
    out(USAGE);
    return parsed.values.help ? 0 : 2;
  }
  let runtime: FleetRuntime;
  try {
    runtime = createRuntime(loadConfig(env), { log: () => undefined });
  } catch (error) {
    if (error instanceof ConfigError) {
      out(`error: ${error.message}\nfix: set ${error.setting} in the environment (docs/configuration.md)`);
      return 2;
    }
    throw error;
  }
  try {
    await runtime.storage.ensureResources();
    const result = await dispatch(runtime, group, action, rest, parsed.values);
    out(JSON.stringify(result, null, 2));
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      out(`error: ${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof InputError) {
      out(`error: ${error.message}`);
      return 2;
    }
    if (error instanceof NotFoundError || error instanceof ConflictError) {
      out(`error: ${error.message}`);
      return 2;
    }
    out(`error: ${redact(ensureError(error).message.split('\n')[0] ?? '')}`);
    return 1;
  }
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`${what} is missing`);
  return value;
}

async function dispatch(
  runtime: FleetRuntime,
  group: string,
  action: string | undefined,
  rest: string[],
  options: { tag?: string[]; reason?: string; top?: string },
): Promise<unknown> {
  const { registry, runs } = runtime;
  const actor = `cli:${process.env.USER ?? 'operator'}`;
  if (group === 'diagnose') return diagnoseTenant(runtime, need(action, 'the tenant id'));
  if (group === 'tenants') {
    switch (action) {
      case 'list': {
        const items: TenantRecord[] = [];
        const invalid: InvalidTenantRow[] = [];
        for await (const row of registry.list()) {
          if (isInvalidRow(row)) invalid.push(row);
          else items.push(row);
        }
        return { items, invalid };
      }
      case 'show':
        return registry.get(need(rest[0], 'the tenant id'));
      case 'add':
        return registry.add(
          {
            tenantId: need(rest[0], 'the tenant id'),
            displayName: need(rest[1], 'the display name'),
            tags: options.tag ?? [],
          },
          actor,
        );
      case 'disable':
        return registry.update(
          need(rest[0], 'the tenant id'),
          { enabled: false, reason: need(options.reason, '--reason') },
          actor,
        );
      case 'enable':
        return registry.update(need(rest[0], 'the tenant id'), { enabled: true }, actor);
      case 'reset':
        return registry.resetCircuit(need(rest[0], 'the tenant id'));
      case 'remove':
        await registry.remove(need(rest[0], 'the tenant id'));
        return { removed: rest[0] };
      default:
        throw new UsageError(`unknown tenants command '${action ?? ''}'`);
    }
  }
  if (group === 'runs') {
    switch (action) {
      case 'list': {
        const top = options.top === undefined ? 20 : Number(options.top);
        if (!Number.isInteger(top) || top < 1 || top > 200)
          throw new InputError('--top', 'must be a whole number from 1 to 200');
        return runs.listRuns(top);
      }
      case 'show': {
        const run = await runs.getRun(need(rest[0], 'the run id'));
        const tenants = [];
        for await (const tenant of runs.listTenants(run.runId)) tenants.push(tenant);
        return { ...run, tenants };
      }
      case 'start':
        return startSweep(runtime, { trigger: 'cli', ...(rest.length ? { tenantIds: rest } : {}) });
      default:
        throw new UsageError(`unknown runs command '${action ?? ''}'`);
    }
  }
  throw new UsageError(`unknown command '${group}'`);
}

/**
 * `npm run fleet -- <command>`: the operator's command line over the same core as the HTTP API, for a
 * configured installation (the app settings in the environment: see docs/configuration.md).
 *
 *   tenants list | show <id> | add <id> <name> [--tag t]... | disable <id> --reason <text> | enable <id>
 *           | reset <id> | remove <id>
 *   diagnose <tenantId>
 *   runs list [--top n] | show <runId> | start [<tenantId>...]
 *   audit [--tenant id] [--actor id|upn] [--action a] [--from iso] [--to iso] [--top n] [--continuation t]
 *
 * Changes made here are audited like the API's (actor `cli:$USER`, via `cli`).
 * Output is JSON on stdout (pipe it to jq); errors go to stderr, one line naming what is wrong and how
 * to fix it. Exit codes: 0 done, 1 a failure of the cloud behind, 2 bad input or configuration, 3 a
 * diagnose whose checks did not all pass (its report still on stdout).
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
import { auditLogOf, type AuditAction } from '../core/audit/audit-log.js';
import { sanitizeDisplayName, type Caller } from '../core/auth/caller.js';
import { randomUUID } from 'node:crypto';

const USAGE = `usage: npm run fleet -- <command>
  tenants list | show <tenantId> | add <tenantId> <displayName> [--tag <tag>]...
  tenants disable <tenantId> --reason <text> | enable <tenantId> | reset <tenantId> | remove <tenantId>
  diagnose <tenantId>
  runs list [--top <n>] | show <runId> | start [<tenantId>...]
  audit [--tenant <id>] [--actor <id|upn>] [--action <a>] [--from <iso>] [--to <iso>] [--top <n>] [--continuation <token>]
exit codes: 0 done, 1 the cloud behind failed, 2 bad input or configuration,
  3 diagnose found a failing check (the report on stdout says which and the fix)`;

/** Exit code of a diagnose whose checks did not all pass. */
export const DIAGNOSE_FAILED_EXIT = 3;

class UsageError extends Error {}

/**
 * Runs one command: its result goes to `out` (stdout), an error or the usage after a mistake to `err`
 * (stderr). Returns the exit code.
 */
export async function runFleetCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  out: (text: string) => void,
  err: (text: string) => void,
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
        tenant: { type: 'string' },
        actor: { type: 'string' },
        action: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        continuation: { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    err(`error: ${ensureError(error).message}\n${USAGE}`);
    return 2;
  }
  const [group, action, ...rest] = parsed.positionals;
  if (parsed.values.help) {
    out(USAGE);
    return 0;
  }
  if (!group) {
    err(USAGE);
    return 2;
  }
  let runtime: FleetRuntime;
  try {
    runtime = createRuntime(loadConfig(env), { log: () => undefined });
  } catch (error) {
    if (error instanceof ConfigError) {
      err(`error: ${error.message}\nfix: set ${error.setting} in the environment (docs/configuration.md)`);
      return 2;
    }
    throw error;
  }
  try {
    await runtime.storage.ensureResources();
    const result = await dispatch(runtime, group, action, rest, parsed.values);
    out(JSON.stringify(result, null, 2));
    if (group === 'diagnose' && !(result as { verified?: boolean }).verified) {
      const failed = (result as { steps?: Array<{ name: string; ok: boolean }> }).steps?.find(
        (step) => !step.ok,
      );
      err(`error: the ${failed?.name ?? 'onboarding'} check failed; the report above says why and the fix`);
      return DIAGNOSE_FAILED_EXIT;
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      err(`error: ${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof InputError || error instanceof NotFoundError || error instanceof ConflictError) {
      err(`error: ${error.message}`);
      return 2;
    }
    err(`error: ${redact(ensureError(error).message.split('\n')[0] ?? '')}`);
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
  options: {
    tag?: string[];
    reason?: string;
    top?: string;
    tenant?: string;
    actor?: string;
    action?: string;
    from?: string;
    to?: string;
    continuation?: string;
  },
): Promise<unknown> {
  const { registry, runs } = runtime;
  const actor = `cli:${sanitizeDisplayName(process.env.USER ?? 'operator')}`;
  const log = auditLogOf(runtime);
  const caller: Caller = { name: actor, roles: [], via: 'cli' };
  const invocationId = `cli-${randomUUID()}`;
  /** Runs a change and appends its outcome to the audit log (a failed append fails the command loudly). */
  const audited = async <T>(
    auditAction: AuditAction,
    tenantId: string | undefined,
    change: () => Promise<T>,
  ) => {
    const id = tenantId?.toLowerCase();
    const event = {
      action: auditAction,
      target: id ? `tenants/${id}` : auditAction === 'run.start' ? 'runs' : 'tenants',
      ...(id ? { tenantId: id } : {}),
      status: 0,
    };
    await log.append(caller, invocationId, 0, { ...event, outcome: 'started' });
    let result: T;
    try {
      result = await change();
    } catch (error) {
      const refused =
        error instanceof InputError || error instanceof NotFoundError || error instanceof ConflictError;
      await log.append(caller, invocationId, 1, {
        ...event,
        outcome: refused ? 'refused' : 'failed',
        detail: ensureError(error).name,
      });
      throw error;
    }
    await log.append(caller, invocationId, 1, { ...event, outcome: 'succeeded' });
    return result;
  };
  if (group === 'audit') {
    const top = options.top === undefined ? undefined : Number(options.top);
    return log.list({
      ...(options.tenant !== undefined ? { tenantId: options.tenant } : {}),
      ...(options.actor !== undefined ? { actor: options.actor } : {}),
      ...(options.action !== undefined ? { action: options.action } : {}),
      ...(options.from !== undefined ? { from: options.from } : {}),
      ...(options.to !== undefined ? { to: options.to } : {}),
      ...(top !== undefined ? { top } : {}),
      ...(options.continuation !== undefined ? { continuationToken: options.continuation } : {}),
    });
  }
  if (group === 'diagnose') {
    const tenantId = need(action, 'the tenant id');
    return audited('tenant.diagnose', tenantId, () => diagnoseTenant(runtime, tenantId));
  }
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
      case 'add': {
        const tenantId = need(rest[0], 'the tenant id');
        const displayName = need(rest[1], 'the display name');
        return audited('tenant.create', undefined, () =>
          registry.add({ tenantId, displayName, tags: options.tag ?? [] }, actor),
        );
      }
      case 'disable': {
        const tenantId = need(rest[0], 'the tenant id');
        const reason = need(options.reason, '--reason');
        return audited('tenant.update', tenantId, () =>
          registry.update(tenantId, { enabled: false, reason }, actor),
        );
      }
      case 'enable': {
        const tenantId = need(rest[0], 'the tenant id');
        return audited('tenant.update', tenantId, () => registry.update(tenantId, { enabled: true }, actor));
      }
      case 'reset': {
        const tenantId = need(rest[0], 'the tenant id');
        return audited('tenant.reset', tenantId, () => registry.resetCircuit(tenantId));
      }
      case 'remove': {
        const tenantId = need(rest[0], 'the tenant id');
        await audited('tenant.delete', tenantId, () => registry.remove(tenantId));
        return { removed: rest[0] };
      }
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
        return audited('run.start', undefined, () =>
          startSweep(runtime, { trigger: 'cli', ...(rest.length ? { tenantIds: rest } : {}) }),
        );
      default:
        throw new UsageError(`unknown runs command '${action ?? ''}'`);
    }
  }
  throw new UsageError(`unknown command '${group}'`);
}

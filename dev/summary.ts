/** The readable end of a local sweep: per tenant what was found and changed, and for failures the fix. */
import type { FleetConfig } from '../src/core/platform/config.js';
import type { RunRecord, TenantRunRecord } from '../src/core/sweep/runs.js';

const MARK: Record<string, string> = {
  succeeded: 'ok',
  partial: 'partial',
  failed: 'FAILED',
  skipped: 'skipped',
  invalid: 'invalid',
  abandoned: 'abandoned',
  queued: 'queued',
  running: 'running',
};

function pad(text: string, width: number): string {
  return text.length >= width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

function bytes(value: number): string {
  if (value >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(1)} MB`;
  if (value >= 1024) return `${(value / 1024).toFixed(1)} KB`;
  return `${value} B`;
}

export function formatSummary(
  run: RunRecord,
  tenants: TenantRunRecord[],
  context: { elapsedMs: number; stateDir?: string; config: FleetConfig },
): string {
  const lines: string[] = [];
  const sorted = [...tenants].sort((a, b) => a.displayName.localeCompare(b.displayName));
  lines.push('');
  lines.push(`Run ${run.runId}: ${run.status} in ${(context.elapsedMs / 1000).toFixed(1)} s`);
  lines.push('');
  lines.push(
    `${pad('tenant', 22)} ${pad('status', 9)} ${'subs'.padStart(4)} ${'resources'.padStart(9)} ${'changes (+/-/~)'.padStart(15)} ${'storage'.padStart(18)}`,
  );
  for (const tenant of sorted) {
    const changes =
      tenant.status === 'succeeded' || tenant.status === 'partial'
        ? tenant.baselined && !tenant.added && !tenant.removed && !tenant.modified
          ? 'baseline'
          : `+${tenant.added ?? 0}/-${tenant.removed ?? 0}/~${tenant.modified ?? 0}`
        : '';
    const storage =
      tenant.storageAccounts !== undefined
        ? `${(tenant.storageAccounts ?? 0) - (tenant.storageRefused ?? 0)}/${tenant.storageAccounts} ok, ${bytes(tenant.blobBytes ?? 0)}`
        : '';
    lines.push(
      `${pad(tenant.displayName || tenant.tenantId, 22)} ${pad(MARK[tenant.status] ?? tenant.status, 9)} ${String(tenant.subscriptions ?? '').padStart(4)} ${String(tenant.resources ?? '').padStart(9)} ${changes.padStart(15)} ${storage.padStart(18)}`,
    );
  }
  const problems = sorted.filter((tenant) => tenant.diagnosisCode || tenant.warnings);
  if (problems.length) {
    lines.push('');
    lines.push('What needs attention:');
    for (const tenant of problems) {
      const name = tenant.displayName || tenant.tenantId;
      if (tenant.diagnosisCode) {
        lines.push(`- ${name}: ${tenant.diagnosisCode}: ${tenant.diagnosisMeaning ?? ''}`);
        lines.push(`    fix: ${tenant.diagnosisFix ?? ''}`);
      }
      if (tenant.warnings) {
        for (const warning of JSON.parse(tenant.warnings) as Array<{
          scope?: string;
          id?: string;
          code?: string;
          fix?: string;
          truncated?: number;
        }>) {
          if (warning.truncated) {
            lines.push(`- ${name}: ... and ${warning.truncated} more (GET /api/runs/${run.runId})`);
            continue;
          }
          lines.push(`- ${name}: ${warning.scope ?? ''} ${warning.id ?? ''}: ${warning.code ?? ''}`);
          lines.push(`    fix: ${warning.fix ?? ''}`);
        }
      }
    }
  }
  const totals = run.totals;
  if (totals) {
    lines.push('');
    lines.push(
      `Totals: ${totals.tenants} tenants (${totals.succeeded} ok, ${totals.partial} partial, ${totals.failed} failed, ${totals.skipped} skipped), ` +
        `${totals.subscriptions} subscriptions, ${totals.resourceGroups} resource groups, ${totals.resources} resources, ` +
        // A baseline takes in resource groups as well as resources: say so, or the counts look wrong.
        (totals.baselined
          ? `${totals.baselined} resource groups and resources taken into a first inventory (baseline), `
          : '') +
        `${totals.added} added, ${totals.removed} removed, ${totals.modified} modified.`,
    );
  }
  const names = context.config.names;
  lines.push('');
  lines.push('Results:');
  lines.push(
    `- tables ${names.inventoryTable}, ${names.changesTable}, ${names.storageTable}, ${names.runsTable}, ${names.runTenantsTable}, ${names.tenantsTable}`,
  );
  lines.push(`- snapshots: container ${names.snapshotsContainer}, blobs <tenantId>/${run.runId}.ndjson.gz`);
  if (context.stateDir) {
    lines.push(
      `- all in Azurite's data under ${context.stateDir} (run \`npm start\` again to see drift; \`npm start -- --reset\` to start over)`,
    );
  }
  return lines.join('\n');
}

export function printSummary(...args: Parameters<typeof formatSummary>): void {
  console.log(formatSummary(...args));
}

/**
 * The summary `npm start` prints (dev/summary.ts): its totals say what a baseline counts, so a first
 * sweep's baselined figure (resource groups and resources) never looks at odds with its resources.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatSummary } from '../../dev/summary.js';
import { loadConfig } from '../../src/core/platform/config.js';
import { emptyCounts, type RunRecord, type RunTotals } from '../../src/core/sweep/runs.js';

const config = loadConfig({
  TENANT_FLEET_MI_CLIENT_ID: randomUUID(),
  TENANT_FLEET_APP_CLIENT_ID: randomUUID(),
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
});

function run(totals: Partial<RunTotals>): RunRecord {
  return {
    runId: '20261130T120000000Z-abcdef',
    trigger: 'cli',
    status: 'completed',
    startedAt: '2026-11-30T12:00:00.000Z',
    totals: {
      tenants: 3,
      succeeded: 3,
      partial: 0,
      failed: 0,
      skipped: 0,
      invalid: 0,
      abandoned: 0,
      ...emptyCounts(),
      subscriptions: 5,
      ...totals,
    },
  };
}

const totalsLine = (text: string): string =>
  text.split('\n').find((line) => line.startsWith('Totals:')) ?? '';

describe('the summary totals', () => {
  it('says that the baseline counts resource groups as well as resources', () => {
    const line = totalsLine(
      formatSummary(run({ resources: 221, resourceGroups: 28, baselined: 249 }), [], {
        elapsedMs: 1000,
        config,
      }),
    );
    expect(line).toContain('28 resource groups, 221 resources');
    expect(line).toContain('249 resource groups and resources taken into a first inventory (baseline)');
    // Not "249 of them" after "221 resources": the baseline is not a part of the resources.
    expect(line).not.toContain('of them');
  });

  it('leaves the baseline out of a sweep that took none in', () => {
    const line = totalsLine(
      formatSummary(run({ resources: 221, resourceGroups: 28, added: 1 }), [], { elapsedMs: 1000, config }),
    );
    expect(line).toContain('28 resource groups, 221 resources, 1 added');
    expect(line).not.toContain('baseline');
  });
});

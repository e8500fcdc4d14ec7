/**
 * Run rows on their own (pure): run ids that say when a run started and sort newest first, the bounded
 * warnings list that always parses, and how run and tenant rows read back. test/core/sweep/*.test.ts
 * and test/functions/runs-http.test.ts write real rows.
 */
import { describe, expect, it } from 'vitest';
import {
  boundedJsonList,
  COUNT_FIELDS,
  emptyCounts,
  flatten,
  isRunId,
  newRunId,
  readBoundedJsonList,
  runRowKey,
  toRun,
  toTenantRun,
} from '../../../src/core/sweep/run-records.js';

describe('run ids', () => {
  it('say when the run started and sort newest first in the runs table', () => {
    const id = newRunId(new Date('2026-11-23T06:30:00.123Z'));
    expect(id).toMatch(/^20261123T063000123Z-[0-9a-f]{6}$/);
    expect(isRunId(id)).toBe(true);
    const later = newRunId(new Date('2026-11-23T06:30:00.124Z'));
    expect(runRowKey(later) < runRowKey(id)).toBe(true);
    expect(runRowKey(id)).toBe(
      `${String(99_999_999_999_999 - Date.parse('2026-11-23T06:30:00.123Z'))}_${id}`,
    );
  });

  it('are refused when they are not one', () => {
    for (const value of [
      '20261123T063000123Z-3f9a1',
      'x20261123T063000123Z-3f9a1c',
      '20261123T063000123Z-3f9a1cx',
      42,
    ])
      expect(isRunId(value), String(value)).toBe(false);
    expect(() => runRowKey('not-a-run')).toThrow("'not-a-run' is not a run id");
  });
});

describe('boundedJsonList', () => {
  it('keeps every item that fits', () => {
    expect(boundedJsonList([{ a: 1 }, 'b'], 100)).toBe('[{"a":1},"b"]');
    expect(boundedJsonList([], 10)).toBe('[]');
  });

  it('keeps whole items and says how many were left out, always parseable within the bound', () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ id: `item-${i}`, detail: 'x'.repeat(20) }));
    const value = boundedJsonList(items, 500);
    expect(value.length).toBeLessThanOrEqual(500);
    const parsed = JSON.parse(value) as unknown[];
    const marker = parsed.at(-1) as { truncated: number };
    expect(parsed.slice(0, -1)).toEqual(items.slice(0, parsed.length - 1));
    expect(marker.truncated).toBe(items.length - (parsed.length - 1));
    expect(parsed.length).toBeGreaterThan(5);
  });

  it('keeps a last item without room for a marker after it (counting a separator per item)', () => {
    const one = JSON.stringify(['abc']);
    expect(boundedJsonList(['abc'], one.length + 1)).toBe(one);
    expect(boundedJsonList(['abc'], one.length)).toBe('[{"truncated":1}]');
    // Not the last: room for the marker is kept too.
    expect(boundedJsonList(['abc', 'd'], one.length + 1)).toBe('[{"truncated":2}]');
  });

  it('is read back as the items kept and how many were left out, or undefined when it is no list', () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ id: `item-${i}`, detail: 'x'.repeat(20) }));
    const cut = readBoundedJsonList(boundedJsonList(items, 500))!;
    expect(cut.items).toEqual(items.slice(0, cut.items.length));
    expect(cut.omitted).toBe(items.length - cut.items.length);
    expect(readBoundedJsonList(boundedJsonList(['a', 'b'], 100))).toEqual({ items: ['a', 'b'] });
    expect(readBoundedJsonList('[]')).toEqual({ items: [] });
    expect(readBoundedJsonList('[1, null]')).toEqual({ items: [1, null] });
    for (const value of ['', 'not json', '{"truncated":1}', '"list"'])
      expect(readBoundedJsonList(value)).toBeUndefined();
  });
});

describe('reading rows back', () => {
  it('a run row, with its end and totals when it has them', () => {
    expect(toRun({ runId: 'r', trigger: 'timer', status: 'running', startedAt: 's', etag: 'e' })).toEqual({
      runId: 'r',
      trigger: 'timer',
      status: 'running',
      startedAt: 's',
      etag: 'e',
    });
    const totals = { tenants: 2, ...emptyCounts() };
    expect(
      toRun({ runId: 'r', status: 'completed', startedAt: 1, endedAt: 'z', totals: JSON.stringify(totals) }),
    ).toMatchObject({ startedAt: '', endedAt: 'z', totals });
  });

  it('a tenant row, with only the text and numbers it holds', () => {
    const entity: Record<string, unknown> = {
      partitionKey: 'run-1',
      rowKey: 'tenant-1',
      displayName: 'Contoso',
      status: 'partial',
      attempts: 2,
      etag: 'e',
      startedAt: 's',
      endedAt: '',
      diagnosisCode: 'X',
      warnings: '[]',
      durationMs: 12,
      resources: 5,
      blobs: '7',
    };
    expect(toTenantRun(entity)).toEqual({
      runId: 'run-1',
      tenantId: 'tenant-1',
      displayName: 'Contoso',
      status: 'partial',
      attempts: 2,
      etag: 'e',
      startedAt: 's',
      diagnosisCode: 'X',
      warnings: '[]',
      durationMs: 12,
      resources: 5,
    });
    expect(toTenantRun({ status: 'queued' })).toEqual({
      runId: '',
      tenantId: '',
      displayName: '',
      status: 'queued',
      attempts: 0,
      etag: '',
    });
  });

  it('flatten drops the key fields and what is undefined', () => {
    // Strict: a property left there holding undefined is not dropped.
    expect(
      flatten({ tenantId: 't', etag: 'e', displayName: 'C', status: 'failed', diagnosisCode: undefined }),
    ).toStrictEqual({ displayName: 'C', status: 'failed' });
  });

  it('counts start at 0 for every count field', () => {
    expect(Object.keys(emptyCounts())).toEqual(COUNT_FIELDS);
    expect(Object.values(emptyCounts()).every((value) => value === 0)).toBe(true);
  });
});

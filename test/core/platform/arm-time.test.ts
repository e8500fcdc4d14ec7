/** isoTime: the same text as `new Date(value).toISOString()`, whatever ARM sends. */
import { describe, expect, it } from 'vitest';
import { isoTime } from '../../../src/core/platform/arm.js';

const viaDate = (value: string): string => new Date(value).toISOString();

function expectSameAsDate(values: string[]): void {
  for (const value of values) expect(isoTime(value), value).toBe(viaDate(value));
}

describe('isoTime', () => {
  it("gives Date's text for ARM's usual form: 7 digits of fraction, none, or fewer", () => {
    expectSameAsDate([
      '2023-11-14T22:13:20.9999999Z',
      '2023-11-14T22:13:20.0000000Z',
      '2023-11-14T22:13:20Z',
      '2023-11-14T22:13:20.5Z',
      '2023-11-14T22:13:20.12Z',
      '2023-11-14T22:13:20.123456789Z',
      '1999-01-01T00:00:00.001Z',
      '2024-12-28T23:59:59.9990000Z',
      '2026-11-30T10:00:00.0000000Z',
      '2026-12-31T23:59:59.9999999Z',
      '2024-02-29T12:00:00Z',
      '2000-02-29T00:00:00.5Z',
    ]);
    expect(isoTime('2024-02-29T12:00:00.1234567Z')).toBe('2024-02-29T12:00:00.123Z');
    expect(isoTime('2023-11-14T22:13:20.9999999Z')).toBe('2023-11-14T22:13:20.999Z');
  });

  it("takes Date's way for the rest: days that roll over, offsets, dates without a time", () => {
    expectSameAsDate([
      '2023-02-29T10:00:00.1239999Z',
      '2023-02-31T00:00:00Z',
      '2023-04-31T00:00:00.0000000Z',
      '1900-02-29T12:00:00Z',
      '2023-06-31T00:00:00Z',
      '2023-11-14T22:13:20+02:00',
      '2023-11-14T22:13:20.5-05:30',
      '2023-11-14',
    ]);
    expect(isoTime('2023-02-31T00:00:00Z')).toBe('2023-03-03T00:00:00.000Z');
    expect(() => isoTime('not a time')).toThrow(RangeError);
  });

  it('agrees with Date on random times of every day, hour and fraction length', () => {
    let seed = 17;
    const next = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const two = (n: number): string => String(n).padStart(2, '0');
    for (let i = 0; i < 5_000; i++) {
      const fraction = String(next(1_000_000_000)).padStart(9, '0').slice(0, next(10));
      const value =
        `${1990 + next(60)}-${two(1 + next(12))}-${two(1 + next(31))}T${two(next(24))}:${two(next(60))}:` +
        `${two(next(60))}${fraction ? `.${fraction}` : ''}Z`;
      expect(isoTime(value), value).toBe(viaDate(value));
    }
  });
});

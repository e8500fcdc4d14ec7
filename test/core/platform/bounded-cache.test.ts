/** The least-recently-used bound on the per-tenant credentials and ARM clients. */
import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../../src/core/platform/bounded-cache.js';

describe('BoundedCache', () => {
  it('builds once per key and hands the same value out again', () => {
    const cache = new BoundedCache<object>(3);
    let built = 0;
    const build = (): object => ({ n: ++built });
    const a = cache.getOrCreate('a', build);
    expect(cache.getOrCreate('a', build)).toBe(a);
    expect(built).toBe(1);
    expect(cache.size).toBe(1);
  });

  it('keeps the most recently used entries and drops the least recently used beyond its capacity', () => {
    const cache = new BoundedCache<string>(2);
    const builds: string[] = [];
    const get = (key: string): string =>
      cache.getOrCreate(key, () => {
        builds.push(key);
        return `${key}-${builds.length}`;
      });
    get('a');
    get('b');
    get('a'); // a is now more recent than b
    get('c'); // drops b, the least recently used
    expect(cache.size).toBe(2);
    expect(get('a')).toBe('a-1');
    expect(get('c')).toBe('c-3');
    expect(get('b')).toBe('b-4'); // built again; drops a (c was used after it)
    expect(builds).toEqual(['a', 'b', 'c', 'b']);
    expect(get('c')).toBe('c-3');
    expect(get('a')).toBe('a-5');
  });

  it('refuses a capacity that is not a positive integer', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN])
      expect(() => new BoundedCache(capacity)).toThrow('capacity must be an integer >= 1');
  });
});

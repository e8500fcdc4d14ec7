/**
 * A map that keeps its `capacity` most recently used entries and drops the least recently used one
 * beyond that. The per-tenant credentials and ARM clients are kept so (credentials.ts, tenant-arm.ts):
 * a worker that sweeps thousands of tenants over its life must not hold one of each per tenant
 * (about 40 KB with its pipeline and token cache) when the deployed heap is 128 MB.
 */
export class BoundedCache<V> {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  private readonly entries = new Map<string, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be an integer >= 1');
  }

  /** The entry for `key`, built by `build` if it is not kept; either way it becomes the most recent. */
  getOrCreate(key: string, build: () => V): V {
    const kept = this.entries.get(key);
    if (kept !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, kept);
      return kept;
    }
    const built = build();
    this.entries.set(key, built);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return built;
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Stored hashes stay valid: the content hash and the manifest's key hash are computed without the
 * intermediate objects they were once computed from, and must give the same values as the original
 * definition (reimplemented here: SHA-256 of JSON.stringify of the canonical view, keys sorted by
 * `localeCompare`), or every resource of a repeat sweep after an upgrade would count as modified.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { InventoryItem } from '../../../src/core/platform/arm.js';
import { contentDigest } from '../../../src/core/inventory/inventory.js';
import { rowKeyHash } from '../../../src/core/inventory/inventory-manifest.js';
import { resourceRowKey } from '../../../src/core/storage/table-keys.js';
import { entityJson } from '../../../src/core/storage/table-transaction.js';

/** The content hash as first defined (commit 55d520b and before). */
function originalDigest(item: InventoryItem): { hash: string; words: [number, number] } {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object')
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .filter(([, v]) => v !== undefined)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => [k, canonical(v)]),
      );
    return value;
  };
  const view = {
    name: item.name,
    type: item.type.toLowerCase(),
    location: item.location.toLowerCase().replace(/\s+/g, ''),
    tags: canonical(item.tags ?? {}),
    sku: canonical(item.sku ?? null),
    kind: item.kind ?? null,
    managedBy: item.managedBy ?? null,
  };
  const digest = createHash('sha256').update(JSON.stringify(view)).digest();
  return {
    hash: digest.toString('base64url').slice(0, 32),
    words: [digest.readUInt32BE(0), digest.readUInt32BE(4)],
  };
}

const sub = '0b1f6471-1bf0-4dda-aec3-cb9272f09590';
const base: InventoryItem = {
  id: `/subscriptions/${sub}/resourceGroups/RG-Web/providers/Microsoft.Web/sites/app-1`,
  name: 'app-1',
  type: 'Microsoft.Web/sites',
  location: 'West Europe',
  resourceGroup: 'RG-Web',
  subscriptionId: sub,
  tags: {},
};

/** Items of every shape the hash has to take, the awkward ones included. */
function variedItems(): InventoryItem[] {
  const items: InventoryItem[] = [
    base,
    { ...base, tags: { workload: 'web', environment: 'prod' } },
    { ...base, tags: { environment: 'prod', workload: 'web' } },
    { ...base, tags: { b: 'x', B: 'y', a: 'z', A: 'w', ä: '1', _x: '2', '10': '3', '9': '4' } },
    { ...base, tags: { 'quote"key': 'line\nbreak', emoji: '\u{1F600}', ctl: '\u0001', lone: '\uD800' } },
    { ...base, tags: { set: 'x', unset: undefined } as unknown as Record<string, string> },
    { ...base, tags: { n: 1, t: true, z: null } as unknown as Record<string, string> },
    { ...base, tags: { nested: { b: 1, a: [{ d: 2, c: 3 }] } } as unknown as Record<string, string> },
    { ...base, tags: ['a', 'b'] as unknown as Record<string, string> },
    { ...base, tags: undefined as unknown as Record<string, string> },
    {
      ...base,
      sku: {
        name: 'S1',
        tier: 'Standard',
        size: undefined,
        family: undefined,
        model: undefined,
        capacity: 2,
      },
    },
    { ...base, sku: { name: 'Premium_LRS', tier: 'Premium' } },
    { ...base, sku: { capacity: 1.5, name: 'x', extra: { z: 1, y: 2 } } },
    { ...base, kind: 'app,linux', managedBy: `/subscriptions/${sub}/resourceGroups/x` },
    { ...base, kind: '', managedBy: '' },
    { ...base, kind: 7 as unknown as string },
    { ...base, type: 'microsoft.web/SITES', location: 'westeurope', name: 'Ünïcode "name"' },
    // The last array index and the first key past it (an object lists only indices first).
    { ...base, tags: { b: '1', '4294967295': '2', '4294967294': '3', '7': '4', '1a': '5' } },
    { ...base, name: undefined as unknown as string },
  ];
  // The sandbox's generated shapes: tag sets repeat with a few key lists, SKUs with six keys.
  const environments = ['prod', 'dev', 'test'];
  for (let i = 0; i < 300; i++) {
    const tags: Record<string, string> = {};
    if (i % 3 !== 0) Object.assign(tags, { environment: environments[i % 3]!, workload: `w${i % 7}` });
    if (i % 5 === 0) tags.owner = `team-${i % 4}`;
    if (i % 11 === 0) tags.Owner = 'upper';
    const item: InventoryItem = { ...base, name: `r-${i}`, tags };
    if (i % 4 === 0)
      item.sku = {
        name: `s${i % 3}`,
        tier: 'Standard',
        size: undefined,
        family: undefined,
        model: undefined,
        capacity: i % 2 ? i : undefined,
      };
    if (i % 6 === 0) item.kind = 'functionapp';
    items.push(item);
  }
  // Random keys from awkward characters (digits make integer-like keys, cases and accents tie-break).
  let state = 12345;
  const random = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  const alphabet = ['0', '1', '9', 'a', 'A', 'b', 'ä', 'Ä', '_', '-', ' ', 'é', 'e', 'z'];
  for (let i = 0; i < 500; i++) {
    const tags: Record<string, string | undefined> = {};
    for (let k = random(6); k > 0; k--) {
      let key = '';
      for (let c = 1 + random(3); c > 0; c--) key += alphabet[random(alphabet.length)]!;
      tags[key] = random(8) === 0 ? undefined : `v${random(100)}`;
    }
    items.push({ ...base, name: `fuzz-${i}`, tags: tags as Record<string, string> });
  }
  return items;
}

describe('content hash compatibility', () => {
  it('gives every item the hash and words of the original definition', () => {
    for (const item of variedItems())
      expect(contentDigest(item), JSON.stringify(item)).toEqual(originalDigest(item));
  });

  it('keeps the values stored before the change (computed at commit 55d520b)', () => {
    expect(contentDigest(base).hash).toBe('5uyGfVv5vMNh9GUsr0nkNBxB582Jx2y2');
    expect(contentDigest(base).words).toEqual([3874260605, 1543093443]);
    const rich: InventoryItem = {
      ...base,
      tags: { workload: 'web', environment: 'prod', Owner: 'ops', ünï: 'çödé "q"\n' },
      sku: {
        name: 'S1',
        tier: 'Standard',
        size: undefined,
        family: undefined,
        model: undefined,
        capacity: 2,
      },
      kind: 'app,linux',
      managedBy: '/subscriptions/x/y',
    };
    expect(contentDigest(rich)).toEqual({
      hash: '4hzJ_gUfhxc4_YArHHgeI_LJOVptH6V9',
      words: [3793537534, 85952279],
    });
    expect(rowKeyHash(resourceRowKey(base.id))).toEqual([1165863707, 3845369602]);
  });

  it('gives row keys the key hash of the original definition (the digest read as bytes)', () => {
    for (const key of ['', 'a', 'resourcegroups%2frg-web', 'ü'.repeat(50), '\uD800x', 'k'.repeat(1000)]) {
      const digest = createHash('sha256').update(key).digest();
      expect(rowKeyHash(key)).toEqual([digest.readUInt32BE(0), digest.readUInt32BE(4)]);
    }
  });
});

describe('row keys and row text', () => {
  it('keys a resource as the original regular expression did', () => {
    const ids = [
      base.id,
      '/SUBSCRIPTIONS/ABC/resourceGroups/x%y/providers/A/b',
      '/subscriptions//x',
      '/subscriptions/abc',
      '/subscriptions/abc/',
      'relative/subscriptions/a/b',
      '/subscriptions/a\nb/c#d',
    ];
    const original = (id: string): string =>
      id
        .toLowerCase()
        .replace(/^\/subscriptions\/[^/]+\//, '')
        .replace(
          // eslint-disable-next-line no-control-regex
          /[%/\\#?\u0000-\u001f\u007f-\u009f]/g,
          (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
        );
    for (const id of ids) expect(resourceRowKey(id)).toBe(original(id));
  });

  it('writes a plain row as the same JSON as the general way', () => {
    const row = {
      partitionKey: "t_'s",
      rowKey: 'r"1',
      name: 'ü\n',
      n: 5,
      b: false,
      gone: undefined,
      big: 2 ** 40,
    };
    const general = (entity: Record<string, unknown>): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(entity))
        if (v !== undefined) out[k === 'partitionKey' ? 'PartitionKey' : k === 'rowKey' ? 'RowKey' : k] = v;
      return out;
    };
    const { big, ...plain } = row;
    expect(entityJson(plain)).toBe(JSON.stringify(general(plain)));
    // A value that needs an annotation takes the general way, with it.
    expect(JSON.parse(entityJson(row))).toEqual({ ...general(row), 'big@odata.type': 'Edm.Double' });
    expect(big).toBe(2 ** 40);
  });
});

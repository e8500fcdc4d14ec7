/**
 * A subscription's inventory in compact form, for change detection: per row, 8 bytes of the SHA-256
 * of its row key and 8 bytes of its content hash, sorted by key. It is stored in the subscription's
 * marker row, so the next sweep reads its previous state with one point read instead of a query over
 * the partition (which on Azurite scans the whole table, and in Azure takes a page per 1,000 rows),
 * and holds 16 bytes per resource in memory instead of a row key and a hash as strings.
 */
import { hash } from 'node:crypto';

export const MANIFEST_VERSION = 1;
/** Bytes per entry: key hash (2 x uint32) and content hash (2 x uint32), big-endian. */
const ENTRY_BYTES = 16;
/** Table storage's limit for one binary property. */
export const MANIFEST_CHUNK_BYTES = 64 * 1024;
/** Chunks per marker row: 15 x 64 KiB stays under the 1 MiB entity limit with the other properties. */
export const MANIFEST_MAX_CHUNKS = 15;
/** Subscriptions with more resources keep no manifest (their sweeps read the partition instead). */
export const MANIFEST_MAX_ENTRIES = (MANIFEST_CHUNK_BYTES / ENTRY_BYTES) * MANIFEST_MAX_CHUNKS;

/** The value of each base64url character (-1 for other characters). */
const BASE64URL_VALUES = new Int8Array(128).fill(-1);
for (const [i, char] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries())
  BASE64URL_VALUES[char.charCodeAt(0)] = i;

/**
 * The first 64 bits of a digest given in base64url (at least 11 characters: 66 bits), as two unsigned
 * 32-bit words: the same words as reading the digest's bytes, without a Buffer per digest (a sweep
 * takes two digests of every resource; docs/performance.md).
 */
export function base64urlWords(text: string): [number, number] {
  const v = (i: number): number => BASE64URL_VALUES[text.charCodeAt(i)]!;
  const hi = ((v(0) << 26) | (v(1) << 20) | (v(2) << 14) | (v(3) << 8) | (v(4) << 2) | (v(5) >>> 4)) >>> 0;
  const lo =
    (((v(5) & 15) << 28) | (v(6) << 22) | (v(7) << 16) | (v(8) << 10) | (v(9) << 4) | (v(10) >>> 2)) >>> 0;
  return [hi, lo];
}

/** The first 64 bits of a row key's SHA-256, as two unsigned 32-bit words. */
export function rowKeyHash(rowKey: string): [number, number] {
  return base64urlWords(hash('sha256', rowKey, 'base64url'));
}

/** The first 64 bits of a stored content hash (base64url); zeros for a row stored without one. */
export function contentHashWords(contentHash: string): [number, number] {
  const bytes = Buffer.from(contentHash, 'base64url');
  return bytes.length >= 8 ? [bytes.readUInt32BE(0), bytes.readUInt32BE(4)] : [0, 0];
}

/** A key hash as text (for sets of keys seen). */
export function keyText(hi: number, lo: number): string {
  return `${hi.toString(36)}.${lo.toString(36)}`;
}

export class HashManifest {
  private constructor(
    /** [keyHi, keyLo, contentHi, contentLo] per entry, sorted by key. */
    private readonly words: Uint32Array,
  ) {}

  static readonly empty = new HashManifest(new Uint32Array(0));

  get size(): number {
    return this.words.length / 4;
  }

  /** The manifest stored in `chunks`, or undefined if they do not hold `entries` entries in order. */
  static fromChunks(chunks: Uint8Array[], entries: number): HashManifest | undefined {
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    if (!Number.isSafeInteger(entries) || entries < 0 || total !== entries * ENTRY_BYTES) return undefined;
    // Read chunk by chunk (no copy of them all joined): a large subscription's manifest is 1 MB.
    const words = new Uint32Array(entries * 4);
    let word = 0;
    let carry = 0;
    let carried = 0;
    for (const chunk of chunks) {
      for (let i = 0; i < chunk.length; i++) {
        carry = ((carry << 8) | chunk[i]!) >>> 0;
        if (++carried === 4) {
          words[word++] = carry;
          carry = 0;
          carried = 0;
        }
      }
    }
    const manifest = new HashManifest(words);
    for (let i = 1; i < entries; i++)
      if (manifest.compareAt(i - 1, words[i * 4]!, words[i * 4 + 1]!) >= 0) return undefined;
    return manifest;
  }

  /** Position of a key, or -1. */
  indexOf(hi: number, lo: number): number {
    let low = 0;
    let high = this.size - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const order = this.compareAt(middle, hi, lo);
      if (order === 0) return middle;
      if (order < 0) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  /** True when entry `index` has this content hash. */
  sameContent(index: number, hi: number, lo: number): boolean {
    return this.words[index * 4 + 2] === hi && this.words[index * 4 + 3] === lo;
  }

  /** The content hash of entry `index`, as two words. */
  contentAt(index: number): [number, number] {
    return [this.words[index * 4 + 2]!, this.words[index * 4 + 3]!];
  }

  keyAt(index: number): [number, number] {
    return [this.words[index * 4]!, this.words[index * 4 + 1]!];
  }

  /** The manifest as binary chunks of at most {@link MANIFEST_CHUNK_BYTES}, written in place. */
  toChunks(): Uint8Array[] {
    const chunks: Uint8Array[] = [];
    const wordsPerChunk = MANIFEST_CHUNK_BYTES / 4;
    for (let first = 0; first < this.words.length; first += wordsPerChunk) {
      const count = Math.min(wordsPerChunk, this.words.length - first);
      const chunk = new Uint8Array(count * 4);
      const view = new DataView(chunk.buffer);
      for (let i = 0; i < count; i++) view.setUint32(i * 4, this.words[first + i]!);
      chunks.push(chunk);
    }
    return chunks;
  }

  private compareAt(index: number, hi: number, lo: number): number {
    const keyHi = this.words[index * 4]!;
    if (keyHi !== hi) return keyHi < hi ? -1 : 1;
    const keyLo = this.words[index * 4 + 1]!;
    return keyLo === lo ? 0 : keyLo < lo ? -1 : 1;
  }

  /** Builds a manifest from entries in any order (a key given twice is kept once). */
  static builder(): {
    add(keyHi: number, keyLo: number, contentHi: number, contentLo: number): void;
    build(): HashManifest;
  } {
    let words = new Uint32Array(4 * 256);
    let count = 0;
    return {
      add(keyHi, keyLo, contentHi, contentLo) {
        if ((count + 1) * 4 > words.length) {
          const grown = new Uint32Array(words.length * 2);
          grown.set(words);
          words = grown;
        }
        const at = count * 4;
        words[at] = keyHi;
        words[at + 1] = keyLo;
        words[at + 2] = contentHi;
        words[at + 3] = contentLo;
        count++;
      },
      build() {
        const order = new Uint32Array(count);
        for (let i = 0; i < count; i++) order[i] = i;
        order.sort((a, b) => {
          const hiA = words[a * 4]!;
          const hiB = words[b * 4]!;
          if (hiA !== hiB) return hiA < hiB ? -1 : 1;
          const loA = words[a * 4 + 1]!;
          const loB = words[b * 4 + 1]!;
          return loA === loB ? 0 : loA < loB ? -1 : 1;
        });
        const sorted = new Uint32Array(count * 4);
        let kept = 0;
        for (let i = 0; i < count; i++) {
          const from = order[i]! * 4;
          if (
            kept > 0 &&
            sorted[(kept - 1) * 4] === words[from] &&
            sorted[(kept - 1) * 4 + 1] === words[from + 1]
          )
            continue;
          sorted.set(words.subarray(from, from + 4), kept * 4);
          kept++;
        }
        // Keys given twice are rare (a page boundary repeating an item): copy only then.
        return new HashManifest(kept === count ? sorted : sorted.slice(0, kept * 4));
      },
    };
  }
}

/**
 * A set of 64-bit key hashes (open addressing over a Uint32Array): about 16 bytes per key, where a
 * set of strings holds a string and an entry per key, several times more (docs/performance.md).
 */
export class KeySet {
  /** Pairs of words; the pair (0, 0) marks an empty slot, so the key (0, 0) is tracked on its own. */
  private slots = new Uint32Array(2 * 256);
  private count = 0;
  private hasZero = false;

  /** Adds a key; false if it was already there. */
  add(hi: number, lo: number): boolean {
    if (hi === 0 && lo === 0) {
      if (this.hasZero) return false;
      this.hasZero = true;
      return true;
    }
    if ((this.count + 1) * 2 > this.slots.length / 2) this.grow();
    if (!this.insert(this.slots, hi, lo)) return false;
    this.count++;
    return true;
  }

  private insert(slots: Uint32Array, hi: number, lo: number): boolean {
    const mask = slots.length / 2 - 1;
    for (let slot = (lo ^ hi) & mask; ; slot = (slot + 1) & mask) {
      const storedHi = slots[slot * 2]!;
      const storedLo = slots[slot * 2 + 1]!;
      if (storedHi === 0 && storedLo === 0) {
        slots[slot * 2] = hi;
        slots[slot * 2 + 1] = lo;
        return true;
      }
      if (storedHi === hi && storedLo === lo) return false;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== 0 || old[i + 1] !== 0) this.insert(this.slots, old[i]!, old[i + 1]!);
    }
  }
}

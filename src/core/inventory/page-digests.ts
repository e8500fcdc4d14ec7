/**
 * The digests of the pages a subscription's listing came in, kept in its marker row next to the
 * manifest (inventory-manifest.ts). A page's digest is taken of what change detection sees of its
 * items, in order: each one's id, lower-cased (its row key), and the text its content hash is taken of
 * (comparedJson, inventory.ts). So ARM spelling an id's group or a type's namespace in another casing
 * from one listing to the next (sandbox/arm/realism.ts) leaves a page's digest as it was, and a page
 * whose digest is the one stored at its place holds the same resources with the same content as then:
 * their content hashes are the manifest's. A listing whose every page is the stored one holds the
 * stored inventory exactly, and its sweep looks up no resource (subscription-sync.ts).
 *
 * The marker keeps digests only with the manifest they describe: written together, or kept while the
 * manifest stays the same. A listing that repeated an item (a page boundary) keeps none, so a listing
 * found the same has no item twice.
 */
import { hash } from 'node:crypto';
import type { InventoryItem } from '../platform/arm.js';

/**
 * What a page's digest stands for (pageDigest below, comparedJson and the row key). Raised when one of
 * them changes, so that digests taken before are not trusted.
 */
export const PAGE_DIGESTS_VERSION = 1;

/** Bytes of a page's SHA-256 kept as its digest. */
const DIGEST_BYTES = 16;

/** Table storage's limit for one binary property: 4,096 pages (409,600 resources at 100 per page). */
const MAX_DIGEST_BYTES = 64 * 1024;

/**
 * The digest of a page: its items' lower-cased ids and compared texts (`jsons[i]` of `items[i]`), each
 * id after its length, each text ending a line (JSON text holds no raw line break), so that two pages
 * with the same text to digest list the same items.
 */
export function pageDigest(items: readonly InventoryItem[], jsons: readonly string[]): Uint8Array {
  let text = '';
  for (let i = 0; i < items.length; i++) {
    const id = items[i]!.id.toLowerCase();
    text += `${id.length}:${id}${jsons[i]}\n`;
  }
  return hash('sha256', text, 'buffer').subarray(0, DIGEST_BYTES);
}

/** The digests of a subscription's listing as it arrives, against those stored for the last one. */
export class ListingDigests {
  private readonly taken: Uint8Array[] = [];
  private complete = true;
  private allStored = true;

  constructor(private readonly stored: Uint8Array | undefined) {}

  /**
   * Takes the next page's digest (undefined: an item that came on its own, not in a page) and says
   * whether the page is the one stored at its place.
   */
  add(digest: Uint8Array | undefined): boolean {
    const at = this.taken.length * DIGEST_BYTES;
    if (!digest) {
      this.complete = false;
      this.allStored = false;
      return false;
    }
    this.taken.push(digest);
    const same =
      this.stored !== undefined &&
      at + DIGEST_BYTES <= this.stored.length &&
      sameDigests(this.stored.subarray(at, at + DIGEST_BYTES), digest);
    if (!same) this.allStored = false;
    return same;
  }

  /** Every page of the listing was the stored one at its place, and there were as many. */
  get sameAsStored(): boolean {
    return (
      this.allStored && this.stored !== undefined && this.taken.length * DIGEST_BYTES === this.stored.length
    );
  }

  /** The digests to store for this listing, or undefined when an item came on its own or they do not fit. */
  toStore(): Uint8Array | undefined {
    if (!this.complete || this.taken.length * DIGEST_BYTES > MAX_DIGEST_BYTES) return undefined;
    const digests = new Uint8Array(this.taken.length * DIGEST_BYTES);
    this.taken.forEach((digest, i) => digests.set(digest, i * DIGEST_BYTES));
    return digests;
  }
}

/** True when two digest lists are the same bytes (or both absent). */
export function sameDigests(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (!a || !b) return a === b;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

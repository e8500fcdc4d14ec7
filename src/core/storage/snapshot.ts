/**
 * A snapshot blob per tenant per run: the run's inventory as gzip-compressed NDJSON, streamed to the
 * provider's storage while the sweep reads ARM (nothing is buffered beyond a chunk and the upload's
 * blocks). The blob name is fixed by tenant and run, so a redelivered message overwrites the same blob.
 *
 * Each chunk of records is compressed on its own, on the calling thread, into one gzip member: the
 * blob is a multi-member gzip file (RFC 1952 section 2.2), which gunzip, Node's zlib and Python's gzip
 * read as one. A zlib stream would compress on libuv's thread pool instead, where 16 tenants
 * compressing at once grow the allocator's per-thread arenas and with them the worker's memory
 * (measured in docs/performance.md).
 */
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { constants, gzipSync } from 'node:zlib';
import type { ContainerClient } from '@azure/storage-blob';

const noop = (): void => undefined;

/**
 * Block size of a streamed upload (a snapshot that outgrew HELD_BYTES). The SDK allocates whole blocks up
 * front, and a worker instance writes 16 tenants' snapshots at once: 4 MiB blocks held 64+ MiB for
 * nothing. At 512 KiB, the 50,000-block limit still allows 24 GiB of compressed inventory per tenant and run.
 */
const BLOCK_BYTES = 512 * 1024;

/** Bytes of NDJSON compressed at once (one gzip member). */
const CHUNK_BYTES = 256 * 1024;

/**
 * NDJSON lines written as UTF-8 straight into one reused buffer, until they are compressed. Why not a
 * string: lines appended to a string make a rope that compression must flatten and then encode, and a
 * chunk's string of 256 KiB is a large object on the heap each time; written so, serialising and
 * compressing a first sweep's records cost about a third of the CPU (docs/performance.md).
 */
class NdjsonChunk {
  private buffer: Buffer | undefined;
  /** Bytes written. */
  length = 0;

  append(line: string): void {
    // A character is at most 3 bytes of UTF-8 (a surrogate pair, two characters, is 4).
    const needed = this.length + 3 * line.length + 1;
    if (!this.buffer || needed > this.buffer.length) this.grow(needed);
    this.length += this.buffer!.write(line, this.length);
    this.buffer![this.length++] = 0x0a;
  }

  /** The bytes written, valid until the next append; the chunk is empty after. */
  take(): Buffer {
    const bytes = (this.buffer ?? Buffer.alloc(0)).subarray(0, this.length);
    this.length = 0;
    return bytes;
  }

  /** Lets the buffer go (the writer is done). */
  release(): void {
    this.buffer = undefined;
    this.length = 0;
  }

  private grow(needed: number): void {
    const grown = Buffer.allocUnsafe(
      Math.max(needed, CHUNK_BYTES + 64 * 1024, 2 * (this.buffer?.length ?? 0)),
    );
    this.buffer?.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

/**
 * Fastest compression: on inventory NDJSON, level 1 costs much less CPU than the default level for
 * somewhat larger output (docs/performance.md). Compression runs on the worker's only thread, in every
 * sweep; the bytes cost far less than the CPU.
 */
const GZIP_OPTIONS = { level: constants.Z_BEST_SPEED };

export function snapshotBlobName(tenantId: string, runId: string): string {
  return `${tenantId}/${runId}.ndjson.gz`;
}

/**
 * Records a deferred writer holds as they came, before any is serialised: a tenant of up to this many
 * items that turns out unchanged costs no JSON and no compression at all (docs/performance.md).
 */
const HELD_RECORDS = 1000;

/**
 * Compressed bytes a deferred writer keeps in memory before it starts the upload anyway: a large
 * tenant's snapshot is then written whether it changed or not, and memory stays bounded.
 */
const HELD_BYTES = 4 * 1024 * 1024;

/** What a snapshot blob says of itself: NDJSON, gzip-encoded (readers that honour it get the text). */
const BLOB_HEADERS = { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' };

export class SnapshotWriter {
  /** The compressed members, read by the upload (from when it started). */
  private output: PassThrough | undefined;
  private upload: Promise<unknown> | undefined;
  private lines = 0;
  private failed = false;
  /** Records not yet handed to the compressor (at most about CHUNK_BYTES). */
  private readonly pending = new NdjsonChunk();
  /** A deferred writer's records not serialised yet, and its members not uploaded yet. */
  private held: unknown[] = [];
  /** Still holding records unserialised (a deferred writer until it holds HELD_RECORDS). */
  private holding: boolean;
  private members: Buffer[] = [];
  private memberBytes = 0;

  /**
   * @param options.deferred hold the snapshot until `finish` (a tenant that changed) or `discard` (one
   *   that did not: no blob is written). A snapshot larger than the writer may hold starts its upload
   *   when it outgrows that (`uploading`); `discard` would still leave no blob (nothing is committed),
   *   so a caller finishes such a snapshot rather than throw the work away.
   * @param options.holdRecords a deferred writer holds its first records unserialised (the default), so
   *   a snapshot discarded costs no JSON; false for one that will be finished anyway, whose records are
   *   then serialised as they come and not kept alive until the end.
   */
  constructor(
    private readonly container: ContainerClient,
    readonly blobName: string,
    options: { deferred?: boolean; holdRecords?: boolean } = {},
  ) {
    this.holding = options.deferred === true && options.holdRecords !== false;
    if (!options.deferred) this.start();
  }

  /** True once the upload has started (a deferred snapshot that outgrew memory, or any other). */
  get uploading(): boolean {
    return this.upload !== undefined;
  }

  private start(): void {
    if (this.upload) return;
    const output = new PassThrough();
    this.output = output;
    this.upload = this.container.getBlockBlobClient(this.blobName).uploadStream(output, BLOCK_BYTES, 2, {
      blobHTTPHeaders: BLOB_HEADERS,
    });
    // Surface upload errors on finish(); never as an unhandled rejection.
    this.upload.catch(() => {
      this.failed = true;
    });
    for (const member of this.members) output.write(member);
    this.members = [];
    this.memberBytes = 0;
  }

  /**
   * Appends one record; returns a promise only when it compresses a chunk, to wait on when the upload
   * is behind (back-pressure). Most records return nothing: a caller awaits only a promise, and a
   * sweep writes every resource here (docs/performance.md).
   */
  write(record: unknown): Promise<void> | undefined {
    if (this.failed) return undefined;
    this.lines++;
    if (this.holding && this.held.length < HELD_RECORDS) {
      this.held.push(record);
      return undefined;
    }
    this.holding = false;
    this.serializeHeld();
    this.pending.append(JSON.stringify(record));
    // Records are compressed in chunks: one zlib call per record (a few hundred bytes) cost more CPU
    // than the compression itself.
    return this.pending.length >= CHUNK_BYTES ? this.flushPending() : undefined;
  }

  private serializeHeld(): void {
    for (const record of this.held) this.pending.append(JSON.stringify(record));
    this.held = [];
  }

  private async flushPending(): Promise<void> {
    this.serializeHeld();
    const chunk = this.pending.take();
    if (chunk.length === 0 || this.failed) return;
    // Compressed synchronously: the chunk's buffer is free to be written again as soon as this returns.
    const member = gzipSync(chunk, GZIP_OPTIONS);
    if (!this.addMember(member)) {
      // If the upload dies it stops reading and 'drain' never comes: wait for whichever happens first.
      await Promise.race([once(this.output!, 'drain'), this.upload!.then(noop, noop)]);
    }
    if (!this.output && this.memberBytes >= HELD_BYTES) this.start();
  }

  /**
   * Hands a compressed member on: kept while nothing is uploading, else written to the upload. False
   * when the upload is behind (wait for 'drain').
   */
  private addMember(member: Buffer): boolean {
    if (this.output) return this.output.write(member);
    this.members.push(member);
    this.memberBytes += member.length;
    return true;
  }

  async finish(): Promise<{ blobName: string; lines: number }> {
    await this.flushPending();
    this.pending.release();
    // An inventory with no record is still a gzip file (one empty member), not an empty blob.
    if (this.lines === 0 && !this.failed) this.addMember(gzipSync('', GZIP_OPTIONS));
    if (this.upload) {
      this.output!.end();
      await this.upload;
    } else {
      // Held whole (under HELD_BYTES compressed: most tenants): one Put Blob. The SDK's stream upload
      // always stages a block and then commits the list, two requests for every snapshot written.
      const body = this.members.length === 1 ? this.members[0]! : Buffer.concat(this.members);
      this.members = [];
      this.memberBytes = 0;
      await this.container
        .getBlockBlobClient(this.blobName)
        .upload(body, body.length, { blobHTTPHeaders: BLOB_HEADERS });
    }
    return { blobName: this.blobName, lines: this.lines };
  }

  /** Drops a deferred snapshot that is not needed; an upload already started is not committed. */
  discard(): void {
    this.held = [];
    this.members = [];
    this.pending.release();
    this.abort();
  }

  /** Abandons the upload (the tenant failed); no partial blob is committed. */
  abort(): void {
    this.output?.destroy(new Error('snapshot aborted'));
  }
}

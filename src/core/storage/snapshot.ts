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
 * Block size of the upload. The SDK allocates whole blocks up front (even for a 20 KB snapshot), and a
 * worker instance writes 16 tenants' snapshots at once: 4 MiB blocks held 64+ MiB for nothing. At 512
 * KiB, the 50,000-block limit still allows 24 GiB of compressed inventory per tenant and run.
 */
const BLOCK_BYTES = 512 * 1024;

/** Characters of NDJSON compressed at once (one gzip member). */
const CHUNK_CHARS = 256 * 1024;

/**
 * Fastest compression: on inventory NDJSON, level 1 costs much less CPU than the default level for
 * somewhat larger output (docs/performance.md). Compression runs on the worker's only thread, in every
 * sweep; the bytes cost far less than the CPU.
 */
const GZIP_OPTIONS = { level: constants.Z_BEST_SPEED };

export function snapshotBlobName(tenantId: string, runId: string): string {
  return `${tenantId}/${runId}.ndjson.gz`;
}

export class SnapshotWriter {
  /** The compressed members, read by the upload. */
  private readonly output = new PassThrough();
  private readonly upload: Promise<unknown>;
  private lines = 0;
  private failed = false;
  /** Records not yet handed to the compressor (at most about CHUNK_CHARS). */
  private pending = '';

  constructor(
    container: ContainerClient,
    readonly blobName: string,
  ) {
    this.upload = container.getBlockBlobClient(blobName).uploadStream(this.output, BLOCK_BYTES, 2, {
      blobHTTPHeaders: { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' },
    });
    // Surface upload errors on finish(); never as an unhandled rejection.
    this.upload.catch(() => {
      this.failed = true;
    });
  }

  /** Appends one record; waits when the upload is behind (back-pressure). */
  async write(record: unknown): Promise<void> {
    if (this.failed) return;
    this.lines++;
    this.pending += `${JSON.stringify(record)}\n`;
    // Records are compressed in chunks: one zlib call per record (a few hundred bytes) cost more CPU
    // than the compression itself.
    if (this.pending.length >= CHUNK_CHARS) await this.flushPending();
  }

  private async flushPending(): Promise<void> {
    const chunk = this.pending;
    this.pending = '';
    if (!chunk || this.failed) return;
    if (!this.output.write(gzipSync(chunk, GZIP_OPTIONS))) {
      // If the upload dies it stops reading and 'drain' never comes: wait for whichever happens first.
      await Promise.race([once(this.output, 'drain'), this.upload.then(noop, noop)]);
    }
  }

  async finish(): Promise<{ blobName: string; lines: number }> {
    await this.flushPending();
    // An inventory with no record is still a gzip file (one empty member), not an empty blob.
    if (this.lines === 0 && !this.failed) this.output.write(gzipSync('', GZIP_OPTIONS));
    this.output.end();
    await this.upload;
    return { blobName: this.blobName, lines: this.lines };
  }

  /** Abandons the upload (the tenant failed); no partial blob is committed. */
  abort(): void {
    this.output.destroy(new Error('snapshot aborted'));
  }
}

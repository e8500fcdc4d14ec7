/**
 * A snapshot blob per tenant per run: the run's inventory as gzip-compressed NDJSON, streamed to the
 * provider's storage while the sweep reads ARM (nothing is buffered beyond the upload's blocks).
 * The blob name is fixed by tenant and run, so a redelivered message overwrites the same blob.
 */
import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';
import type { ContainerClient } from '@azure/storage-blob';

const noop = (): void => undefined;

export function snapshotBlobName(tenantId: string, runId: string): string {
  return `${tenantId}/${runId}.ndjson.gz`;
}

export class SnapshotWriter {
  private readonly gzip: Gzip;
  private readonly upload: Promise<unknown>;
  private lines = 0;
  private failed = false;

  constructor(
    container: ContainerClient,
    readonly blobName: string,
  ) {
    this.gzip = createGzip();
    this.upload = container.getBlockBlobClient(blobName).uploadStream(this.gzip, 4 * 1024 * 1024, 2, {
      blobHTTPHeaders: { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' },
    });
    // Surface upload errors on finish(); never as an unhandled rejection.
    this.upload.catch(() => {
      this.failed = true;
    });
  }

  /** Appends one record; waits when the compressor's buffer is full (back-pressure). */
  async write(record: unknown): Promise<void> {
    if (this.failed) return;
    this.lines++;
    if (!this.gzip.write(`${JSON.stringify(record)}\n`)) {
      // If the upload dies it stops reading and 'drain' never comes: wait for whichever happens first.
      await Promise.race([once(this.gzip, 'drain'), this.upload.then(noop, noop)]);
    }
  }

  async finish(): Promise<{ blobName: string; lines: number }> {
    this.gzip.end();
    await this.upload;
    return { blobName: this.blobName, lines: this.lines };
  }

  /** Abandons the upload (the tenant failed); no partial blob is committed. */
  abort(): void {
    this.gzip.destroy(new Error('snapshot aborted'));
  }
}

/**
 * The snapshot writer against the real Blob service (Azurite): records compressed chunk by chunk into
 * a multi-member gzip blob read back whole by gunzip, and an empty inventory still a gzip file.
 */
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import { SnapshotWriter } from '../../../src/core/storage/snapshot.js';
import { testConfig } from '../../support/provider.js';

const config = testConfig();
const storage = new ProviderStorage(config);
const container = storage.container(config.names.snapshotsContainer);

beforeAll(async () => {
  await storage.ensureResources();
});

async function readBack(blobName: string): Promise<string> {
  return gunzipSync(await container.getBlockBlobClient(blobName).downloadToBuffer()).toString('utf8');
}

describe('snapshot writer', () => {
  it('writes every record, in order, across many gzip members', async () => {
    const writer = new SnapshotWriter(container, 'tenant-a/run-1.ndjson.gz');
    const records = Array.from({ length: 20_000 }, (_, i) => ({ id: `/subscriptions/s/resource-${i}`, i }));
    for (const record of records) await writer.write(record);
    expect(await writer.finish()).toEqual({ blobName: 'tenant-a/run-1.ndjson.gz', lines: 20_000 });
    const lines = (await readBack('tenant-a/run-1.ndjson.gz')).trimEnd().split('\n');
    expect(lines).toHaveLength(20_000);
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(records);
    const properties = await container.getBlockBlobClient('tenant-a/run-1.ndjson.gz').getProperties();
    expect(properties.contentEncoding).toBe('gzip');
  });

  it('keeps text beyond ASCII and records larger than a chunk whole, byte for byte', async () => {
    // Tag values in 2-, 3- and 4-byte UTF-8 (a surrogate pair), a record of well over the chunk's
    // 256 KiB (the buffer grows for it), then more records after it in the grown buffer.
    const wide = { id: '/subscriptions/s/wide', tags: { note: 'é€😀'.repeat(40_000) } };
    const records = [
      ...Array.from({ length: 500 }, (_, i) => ({
        id: `/subscriptions/s/r-${i}`,
        tags: { owner: `Zoë ✓ 𝄞 ${i}` },
      })),
      wide,
      ...Array.from({ length: 500 }, (_, i) => ({
        id: `/subscriptions/s/after-${i}`,
        tags: { city: 'Łódź' },
      })),
    ];
    const writer = new SnapshotWriter(container, 'tenant-f/run-1.ndjson.gz');
    for (const record of records) await writer.write(record);
    expect(await writer.finish()).toMatchObject({ lines: records.length });
    const text = await readBack('tenant-f/run-1.ndjson.gz');
    expect(text).toBe(records.map((record) => `${JSON.stringify(record)}\n`).join(''));
  });

  it('writes an empty inventory as a gzip file with nothing in it', async () => {
    const writer = new SnapshotWriter(container, 'tenant-b/run-1.ndjson.gz');
    expect(await writer.finish()).toMatchObject({ lines: 0 });
    expect(await readBack('tenant-b/run-1.ndjson.gz')).toBe('');
  });

  it('holds a deferred snapshot: written whole on finish, nothing written when discarded', async () => {
    const records = Array.from({ length: 3000 }, (_, i) => ({ id: `/subscriptions/s/resource-${i}`, i }));
    const kept = new SnapshotWriter(container, 'tenant-c/run-1.ndjson.gz', { deferred: true });
    for (const record of records) await kept.write(record);
    expect(kept.uploading).toBe(false);
    expect(await kept.finish()).toMatchObject({ lines: 3000 });
    const lines = (await readBack('tenant-c/run-1.ndjson.gz')).trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(records);

    const dropped = new SnapshotWriter(container, 'tenant-c/run-2.ndjson.gz', { deferred: true });
    for (const record of records) await dropped.write(record);
    dropped.discard();
    expect(await container.getBlockBlobClient('tenant-c/run-2.ndjson.gz').exists()).toBe(false);
  });

  it('serialises each record as it comes when told not to hold them, and still defers the upload', async () => {
    const records = Array.from({ length: 50 }, (_, i) => ({ id: `/subscriptions/s/resource-${i}`, i }));
    const writer = new SnapshotWriter(container, 'tenant-e/run-1.ndjson.gz', {
      deferred: true,
      holdRecords: false,
    });
    for (const record of records) {
      await writer.write(record);
      record.i = -1; // a record changed after it was written: the snapshot has it as it was written
    }
    expect(writer.uploading).toBe(false);
    expect(await writer.finish()).toMatchObject({ lines: 50 });
    const lines = (await readBack('tenant-e/run-1.ndjson.gz')).trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { i: number }).i)).toEqual(records.map((_, i) => i));
  });

  it('writes a snapshot held whole with one Put Blob, and one that outgrew memory in blocks', async () => {
    // How a blob was written shows in its committed block list: a Put Blob commits no block, a
    // streamed upload the blocks it staged (one request each, and one more for the commit).
    const committedBlocks = async (blobName: string): Promise<number> =>
      (await container.getBlockBlobClient(blobName).getBlockList('committed')).committedBlocks?.length ?? 0;

    const records = Array.from({ length: 3000 }, (_, i) => ({ id: `/subscriptions/s/resource-${i}`, i }));
    const whole = new SnapshotWriter(container, 'tenant-g/run-1.ndjson.gz', { deferred: true });
    for (const record of records) await whole.write(record);
    expect(await whole.finish()).toMatchObject({ lines: 3000 });
    expect(await committedBlocks('tenant-g/run-1.ndjson.gz')).toBe(0);
    const lines = (await readBack('tenant-g/run-1.ndjson.gz')).trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(records);
    const properties = await container.getBlockBlobClient('tenant-g/run-1.ndjson.gz').getProperties();
    expect(properties).toMatchObject({ contentEncoding: 'gzip', contentType: 'application/x-ndjson' });

    // A redelivery writes the same blob again: the newer content replaces it whole.
    const again = new SnapshotWriter(container, 'tenant-g/run-1.ndjson.gz', { deferred: true });
    await again.write({ id: 'only' });
    await again.finish();
    expect(await readBack('tenant-g/run-1.ndjson.gz')).toBe('{"id":"only"}\n');

    const empty = new SnapshotWriter(container, 'tenant-g/run-2.ndjson.gz', { deferred: true });
    expect(await empty.finish()).toMatchObject({ lines: 0 });
    expect(await committedBlocks('tenant-g/run-2.ndjson.gz')).toBe(0);
    expect(await readBack('tenant-g/run-2.ndjson.gz')).toBe('');

    // Random content does not compress: a few MiB of it outgrow what the writer holds, so it streams.
    const { randomBytes } = await import('node:crypto');
    const large = new SnapshotWriter(container, 'tenant-g/run-3.ndjson.gz', { deferred: true });
    for (let i = 0; i < 12_000; i++) await large.write({ i, noise: randomBytes(600).toString('base64') });
    expect(large.uploading).toBe(true);
    await large.finish();
    expect(await committedBlocks('tenant-g/run-3.ndjson.gz')).toBeGreaterThan(1);
  });

  it('starts uploading a deferred snapshot that outgrows what it may hold', async () => {
    // Random content does not compress: a few MiB of it outgrow the writer's memory.
    const { randomBytes } = await import('node:crypto');
    const writer = new SnapshotWriter(container, 'tenant-d/run-1.ndjson.gz', { deferred: true });
    const records = Array.from({ length: 12_000 }, (_, i) => ({
      i,
      noise: randomBytes(600).toString('base64'),
    }));
    for (const record of records) await writer.write(record);
    expect(writer.uploading).toBe(true);
    expect(await writer.finish()).toMatchObject({ lines: 12_000 });
    const lines = (await readBack('tenant-d/run-1.ndjson.gz')).trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(records);
  });
});

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

  it('writes an empty inventory as a gzip file with nothing in it', async () => {
    const writer = new SnapshotWriter(container, 'tenant-b/run-1.ndjson.gz');
    expect(await writer.finish()).toMatchObject({ lines: 0 });
    expect(await readBack('tenant-b/run-1.ndjson.gz')).toBe('');
  });
});

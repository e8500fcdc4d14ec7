/**
 * Seeds the customer storage accounts of a world into Azurite: containers with their public access
 * level and blobs with their content (or deterministic filler of the given size). Runs against Azurite
 * directly with Shared Key (the sandbox holds the account keys; the storage front refuses Shared Key
 * to everyone else). Idempotent: a persisted Azurite seeded again keeps one copy of everything and
 * only rewrites blobs whose content differs from the world.
 */
import { createHash } from 'node:crypto';
import {
  BlobServiceClient,
  RestError,
  StorageSharedKeyCredential,
  newPipeline,
  type ContainerClient,
  type PublicAccessType,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import type { TlsSettings } from '@azure/core-rest-pipeline';
import type { StorageAccount } from './world.js';

type Container = StorageAccount['containers'][number];
type Blob = Container['blobs'][number];

/** Where and how to reach the accounts being seeded. */
export interface SeedTarget {
  /** Blob endpoint of an account, e.g. `https://127.0.0.1:10000/acct` (path-style, Azurite). */
  endpointFor(accountName: string): string;
  /** The account's Shared Key (kept in process; never logged). */
  keyFor(accountName: string): string;
  /** PEM of the CA to trust for the HTTPS endpoint (the sandbox's self-signed certificate). */
  caPem: string;
}

/** What a seeding run did; `blobsWritten` is 0 when the store already matched the world. */
export interface SeedReport {
  accounts: number;
  containersCreated: number;
  containersExisting: number;
  blobsWritten: number;
  blobsUnchanged: number;
  /** Total bytes of all seeded blobs (written or unchanged). */
  bytes: number;
}

/** How many blob uploads run at once per container (Azurite is local; this only bounds memory). */
const UPLOAD_CONCURRENCY = 8;

/**
 * The bytes of a world blob: its `content` (UTF-8) when given, else `size` bytes of a repeating
 * line naming the blob, so the same world always yields the same bytes (and the same MD5).
 */
export function blobContent(accountName: string, containerName: string, blob: Blob): Buffer {
  if (blob.content !== undefined) return Buffer.from(blob.content, 'utf8');
  const buffer = Buffer.alloc(blob.size);
  if (blob.size > 0)
    buffer.fill(`tenant-fleet sandbox filler ${accountName}/${containerName}/${blob.name}\n`);
  return buffer;
}

/** A content type from the blob name, so listings look like a real account's. */
export function contentTypeFor(blobName: string): string {
  const extension = blobName.slice(blobName.lastIndexOf('.') + 1).toLowerCase();
  const types: Record<string, string> = {
    json: 'application/json',
    csv: 'text/csv',
    txt: 'text/plain',
    log: 'text/plain',
    md: 'text/markdown',
    html: 'text/html',
    xml: 'application/xml',
    pdf: 'application/pdf',
    png: 'image/png',
    jpg: 'image/jpeg',
    zip: 'application/zip',
    parquet: 'application/vnd.apache.parquet',
  };
  return types[extension] ?? 'application/octet-stream';
}

/** Seeds every account (in parallel) and reports what was created or left as is. */
export async function seedStorageAccounts(
  accounts: readonly StorageAccount[],
  target: SeedTarget,
): Promise<SeedReport> {
  const reports = await Promise.all(accounts.map((account) => seedAccount(account, target)));
  return reports.reduce<SeedReport>(
    (total, report) => ({
      accounts: total.accounts + report.accounts,
      containersCreated: total.containersCreated + report.containersCreated,
      containersExisting: total.containersExisting + report.containersExisting,
      blobsWritten: total.blobsWritten + report.blobsWritten,
      blobsUnchanged: total.blobsUnchanged + report.blobsUnchanged,
      bytes: total.bytes + report.bytes,
    }),
    {
      accounts: 0,
      containersCreated: 0,
      containersExisting: 0,
      blobsWritten: 0,
      blobsUnchanged: 0,
      bytes: 0,
    },
  );
}

/**
 * A Blob service client talking to Azurite directly with Shared Key, trusting `caPem` for this client
 * only. `tlsOptions` is not declared on StoragePipelineOptions but is passed through to
 * core-rest-pipeline's `createPipelineFromOptions`, which adds its TLS policy (verified by the tests).
 */
export function sharedKeyServiceClient(
  endpoint: string,
  accountName: string,
  accountKey: string,
  caPem: string,
): BlobServiceClient {
  const options: StoragePipelineOptions & { tlsOptions: TlsSettings } = {
    tlsOptions: { ca: caPem },
    retryOptions: { maxTries: 3, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
  };
  const pipeline = newPipeline(new StorageSharedKeyCredential(accountName, accountKey), options);
  return new BlobServiceClient(endpoint, pipeline);
}

async function seedAccount(account: StorageAccount, target: SeedTarget): Promise<SeedReport> {
  const service = sharedKeyServiceClient(
    target.endpointFor(account.name),
    account.name,
    target.keyFor(account.name),
    target.caPem,
  );
  const report: SeedReport = {
    accounts: 1,
    containersCreated: 0,
    containersExisting: 0,
    blobsWritten: 0,
    blobsUnchanged: 0,
    bytes: 0,
  };
  for (const container of account.containers) {
    const client = service.getContainerClient(container.name);
    const created = await ensureContainer(client, container.publicAccess);
    if (created) report.containersCreated++;
    else report.containersExisting++;
    const queue = [...container.blobs];
    const worker = async (): Promise<void> => {
      for (let blob = queue.shift(); blob; blob = queue.shift()) {
        const content = blobContent(account.name, container.name, blob);
        report.bytes += content.length;
        if (await ensureBlob(client, blob.name, content)) report.blobsWritten++;
        else report.blobsUnchanged++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, queue.length) }, worker));
  }
  return report;
}

/** Creates the container with its access level, or corrects the level of an existing one. True when created. */
async function ensureContainer(
  client: ContainerClient,
  publicAccess: Container['publicAccess'],
): Promise<boolean> {
  const access: PublicAccessType | undefined = publicAccess === 'none' ? undefined : publicAccess;
  const result = await client.createIfNotExists(access ? { access } : {});
  if (result.succeeded) return true;
  const properties = await client.getProperties();
  if ((properties.blobPublicAccess ?? undefined) !== access) await client.setAccessPolicy(access);
  return false;
}

/** Uploads the blob unless an identical one (same MD5) is already there. True when written. */
async function ensureBlob(client: ContainerClient, blobName: string, content: Buffer): Promise<boolean> {
  const md5 = createHash('md5').update(content).digest();
  const blobClient = client.getBlockBlobClient(blobName);
  try {
    const existing = await blobClient.getProperties();
    if (existing.contentMD5 && Buffer.from(existing.contentMD5).equals(md5)) return false;
  } catch (error) {
    if (!(error instanceof RestError && error.statusCode === 404)) throw error;
  }
  await blobClient.uploadData(content, {
    blobHTTPHeaders: { blobContentType: contentTypeFor(blobName), blobContentMD5: md5 },
  });
  return true;
}

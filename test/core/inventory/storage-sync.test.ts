/**
 * A tenant's storage inventory (syncTenantStorage) against customer storage that answers with a fixed
 * status: a transient failure is rethrown (the queue retries the tenant) and writes nothing, a refusal
 * is a result (the account is recorded as unreachable with its diagnosis). The "customer storage" is a
 * small HTTPS server of the test's own; the provider's rows go to Azurite. Every test runs alone.
 */
import { createServer, type Server } from 'node:https';
import { randomUUID } from 'node:crypto';
import { odata } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandboxTls } from '../../../sandbox/tls.js';
import { close, listen } from '../../../sandbox/http.js';
import { sandboxCloud, type CloudProfile } from '../../../src/core/platform/cloud.js';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import {
  syncTenantStorage,
  type KnownStorageAccounts,
} from '../../../src/core/inventory/storage-inventory.js';
import { testConfig } from '../../support/provider.js';

const config = testConfig();
const storage = new ProviderStorage(config);
const table = storage.table(config.names.storageTable);

/** What the customer's storage answers next (200: the listings of `containers`), and how many requests it received. */
let answer = { status: 503, code: 'ServerBusy' };
/** The customer account's containers when it answers 200: public access and each blob's size. */
let containers: Record<string, { publicAccess?: 'blob' | 'container'; blobSizes: number[] }> = {};
let requests = 0;
let server: Server;
let cloud: CloudProfile;

beforeAll(async () => {
  await storage.ensureResources();
  const tls = await createSandboxTls();
  server = createServer({ cert: tls.certPem, key: tls.keyPem }, (request, response) => {
    requests++;
    request.resume();
    if (answer.status === 200) {
      response.writeHead(200, { 'content-type': 'application/xml' });
      response.end(listing(new URL(request.url ?? '/', 'https://localhost')));
      return;
    }
    response.writeHead(answer.status, {
      'content-type': 'application/xml',
      'x-ms-error-code': answer.code,
    });
    response.end(
      `<?xml version="1.0" encoding="utf-8"?><Error><Code>${answer.code}</Code><Message>${answer.code}</Message></Error>`,
    );
  });
  const port = await listen(server);
  cloud = sandboxCloud({
    authorityHost: `https://127.0.0.1:${port}`,
    armEndpoint: `https://127.0.0.1:${port}`,
    storageEndpoint: `https://127.0.0.1:${port}`,
    caCertPem: tls.certPem,
  });
});

afterAll(async () => {
  if (server) await close(server);
});

const PROPERTIES = '<Last-Modified>Mon, 23 Nov 2026 10:00:00 GMT</Last-Modified><Etag>"0x1"</Etag>';

/** The Blob service's XML for a container list (`/{account}?comp=list`) or a blob list (`/{account}/{container}?...`). */
function listing(url: URL): string {
  const [, account, container] = url.pathname.split('/');
  const head = `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://localhost/${account}"`;
  if (!container) {
    const items = Object.entries(containers).map(
      ([name, { publicAccess }]) =>
        `<Container><Name>${name}</Name><Properties>${PROPERTIES}${publicAccess ? `<PublicAccess>${publicAccess}</PublicAccess>` : ''}</Properties></Container>`,
    );
    return `${head}><Containers>${items.join('')}</Containers><NextMarker/></EnumerationResults>`;
  }
  const blobs = (containers[container]?.blobSizes ?? []).map(
    (size, index) =>
      `<Blob><Name>b${index}</Name><Properties>${PROPERTIES}<Content-Length>${size}</Content-Length><BlobType>BlockBlob</BlobType></Properties></Blob>`,
  );
  return `${head} ContainerName="${container}"><Blobs>${blobs.join('')}</Blobs><NextMarker/></EnumerationResults>`;
}

const credential = {
  getToken: () => Promise.resolve({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

async function rows(tenantId: string): Promise<Array<Record<string, unknown>>> {
  const found: Array<Record<string, unknown>> = [];
  for await (const row of table.listEntities<Record<string, unknown>>({
    queryOptions: { filter: odata`PartitionKey eq ${tenantId}` },
  }))
    found.push(row);
  return found;
}

function sync(
  tenantId: string,
  recorded: KnownStorageAccounts[],
  scope: { found?: boolean; known?: KnownStorageAccounts | undefined } = {},
) {
  return syncTenantStorage({
    cloud,
    credential,
    table,
    tenantId,
    runId: 'run-1',
    now: '2026-11-23T10:00:00Z',
    appClientId: randomUUID(),
    concurrency: 1,
    accounts:
      scope.found === false
        ? []
        : [{ name: 'stcustomer01', subscriptionId: 'sub-1', resourceGroup: 'rg-data' }],
    known: 'known' in scope ? scope.known : {},
    record: (accounts) => {
      recorded.push(accounts);
      return Promise.resolve();
    },
    sweptSubscriptions: new Set(['sub-1']),
    currentSubscriptions: new Set(['sub-1']),
  });
}

describe('a tenant storage inventory against failing customer storage', () => {
  it('rethrows a transient failure (so the queue retries the tenant) and writes no account row', async () => {
    answer = { status: 503, code: 'ServerBusy' };
    const tenantId = randomUUID();
    const before = requests;
    await expect(sync(tenantId, [])).rejects.toMatchObject({ statusCode: 503 });
    expect(requests - before).toBe(3); // the SDK's own tries (maxTries 3) came first
    expect(await rows(tenantId)).toEqual([]);
  });

  it('records a refusal as an unreachable account with its diagnosis, and does not throw', async () => {
    answer = { status: 403, code: 'AuthorizationPermissionMismatch' };
    const tenantId = randomUUID();
    const recorded: KnownStorageAccounts[] = [];
    const result = await sync(tenantId, recorded);
    expect(result).toMatchObject({ accounts: 1, blobs: 0, blobBytes: 0 });
    expect(result.refused.map((refusal) => [refusal.name, refusal.diagnosis.code])).toEqual([
      ['stcustomer01', 'AuthorizationPermissionMismatch'],
    ]);
    expect(recorded).toEqual([{ stcustomer01: 'sub-1' }]);
    const stored = await rows(tenantId);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      rowKey: 'stcustomer01',
      reachable: false,
      containerCount: 0,
      diagnosisCode: 'AuthorizationPermissionMismatch',
    });
  });
});

describe('a tenant storage inventory against reachable customer storage', () => {
  it('counts every container and blob, and writes one row for the account and one per container', async () => {
    answer = { status: 200, code: '' };
    containers = {
      logs: { publicAccess: 'container', blobSizes: [100, 250] },
      data: { blobSizes: [7] },
      empty: { publicAccess: 'blob', blobSizes: [] },
    };
    const tenantId = randomUUID();
    const recorded: KnownStorageAccounts[] = [];

    const result = await sync(tenantId, recorded);

    expect(result).toEqual({ accounts: 1, blobs: 3, blobBytes: 357, publicContainers: 2, refused: [] });
    expect(recorded).toEqual([{ stcustomer01: 'sub-1' }]);
    const stored = await rows(tenantId);
    expect(stored.map((row) => row.rowKey)).toEqual([
      'stcustomer01',
      'stcustomer01:data',
      'stcustomer01:empty',
      'stcustomer01:logs',
    ]);
    expect(stored[0]).toMatchObject({
      kind: 'account',
      accountName: 'stcustomer01',
      subscriptionId: 'sub-1',
      resourceGroup: 'rg-data',
      reachable: true,
      containerCount: 3,
      blobCount: 3,
      totalBytes: 357,
      publicContainers: 2,
      diagnosisCode: '',
      diagnosisMeaning: '',
      diagnosisFix: '',
      runId: 'run-1',
      checkedAt: '2026-11-23T10:00:00Z',
    });
    expect(
      stored.slice(1).map(({ kind, containerName, publicAccess, blobCount, totalBytes }) => ({
        kind,
        containerName,
        publicAccess,
        blobCount,
        totalBytes,
      })),
    ).toEqual([
      { kind: 'container', containerName: 'data', publicAccess: 'none', blobCount: 1, totalBytes: 7 },
      { kind: 'container', containerName: 'empty', publicAccess: 'blob', blobCount: 0, totalBytes: 0 },
      { kind: 'container', containerName: 'logs', publicAccess: 'container', blobCount: 2, totalBytes: 350 },
    ]);
  });

  it("deletes a deleted container's row, then retires the account's rows once it is gone", async () => {
    answer = { status: 200, code: '' };
    containers = { logs: { blobSizes: [1] }, data: { blobSizes: [2] } };
    const tenantId = randomUUID();
    const recorded: KnownStorageAccounts[] = [];
    await sync(tenantId, recorded);
    containers = { logs: { blobSizes: [1] } };

    await sync(tenantId, recorded, { known: { stcustomer01: 'sub-1' } });
    expect((await rows(tenantId)).map((row) => row.rowKey)).toEqual(['stcustomer01', 'stcustomer01:logs']);
    expect(recorded).toEqual([{ stcustomer01: 'sub-1' }]); // nothing new to record

    await sync(tenantId, recorded, { found: false, known: { stcustomer01: 'sub-1' } });
    expect(await rows(tenantId)).toEqual([]);
    expect(recorded).toEqual([{ stcustomer01: 'sub-1' }, {}]);
  });

  it('finds the accounts with rows from the rows themselves when the marker does not list them', async () => {
    answer = { status: 200, code: '' };
    containers = { logs: { blobSizes: [1] } };
    const tenantId = randomUUID();
    const recorded: KnownStorageAccounts[] = [];
    await sync(tenantId, recorded);

    await sync(tenantId, recorded, { found: false, known: undefined });

    expect(recorded).toEqual([{ stcustomer01: 'sub-1' }, { stcustomer01: 'sub-1' }, {}]);
    expect(await rows(tenantId)).toEqual([]);
  });
});

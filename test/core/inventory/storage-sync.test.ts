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

/** What the customer's storage answers next, and how many requests it received. */
let answer = { status: 503, code: 'ServerBusy' };
let requests = 0;
let server: Server;
let cloud: CloudProfile;

beforeAll(async () => {
  await storage.ensureResources();
  const tls = await createSandboxTls();
  server = createServer({ cert: tls.certPem, key: tls.keyPem }, (request, response) => {
    requests++;
    request.resume();
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

function sync(tenantId: string, recorded: KnownStorageAccounts[]) {
  return syncTenantStorage({
    cloud,
    credential,
    table,
    tenantId,
    runId: 'run-1',
    now: '2026-11-23T10:00:00Z',
    appClientId: randomUUID(),
    concurrency: 1,
    accounts: [{ name: 'stcustomer01', subscriptionId: 'sub-1', resourceGroup: 'rg-data' }],
    known: {},
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

/**
 * Blob operations in customer storage over HTTP, as the provider's app in the customer tenant: list
 * containers, list blobs with paging, read, write and delete, against the sandbox's storage front
 * (Azurite behind Entra token, tenant, firewall and Storage Blob Data role checks). Expected content
 * comes from the world's own seed (`blobContent`). Every bad input is a 4xx naming what is wrong;
 * none is a 500.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { worldFacts } from '../../sandbox/generator.js';
import { storageAccountId } from '../../sandbox/rbac.js';
import { blobContent, contentTypeFor } from '../../sandbox/storage-seed.js';
import type { StorageAccount } from '../../sandbox/world.js';
import { MAX_BLOB_BYTES, type BlobEntry } from '../../src/core/operations/blob-operations.js';
import { storageBlobs, storageContainers } from '../../src/functions/blobs.js';
import { tenants } from '../../src/functions/tenants.js';
import {
  call,
  JWT_LIKE,
  startDemoFleet,
  tenantIdOf,
  type CallOptions,
  type Fleet,
  type FunctionResponse,
  type HttpHandler,
} from '../support/http.js';

let fleet: Fleet;
let litware: string;
let northwind: string;
let fabrikam: string;

beforeAll(async () => {
  fleet = await startDemoFleet();
  litware = tenantIdOf(fleet.world, 'Litware');
  northwind = tenantIdOf(fleet.world, 'Northwind Traders');
  fabrikam = tenantIdOf(fleet.world, 'Fabrikam');
  for (const [tenantId, displayName, enabled] of [
    [litware, 'Litware', true],
    [northwind, 'Northwind Traders', true],
    [fabrikam, 'Fabrikam', false],
  ] as const) {
    const response = await call(tenants, { method: 'POST', body: { tenantId, displayName, enabled } });
    expect(response.status, response.text).toBe(201);
  }
});
afterAll(async () => {
  await fleet?.close();
});

function account(name: string): StorageAccount {
  const found = fleet.world.storageAccounts.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`the world has no storage account ${name}`);
  return found;
}

function containers(tenantId: string, accountName: string): Promise<FunctionResponse> {
  return call(storageContainers, { params: { tenantId, account: accountName } });
}

function blobs(
  tenantId: string,
  accountName: string,
  container: string,
  blobName = '',
  options: Omit<CallOptions, 'params'> = {},
): Promise<FunctionResponse> {
  return call(storageBlobs, {
    ...options,
    params: { tenantId, account: accountName, container, ...(blobName ? { blobName } : {}) },
  });
}

type BlobPage = { items: BlobEntry[]; continuationToken?: string };

describe('reading customer storage', () => {
  it('lists the containers of a readable account with their public access', async () => {
    const response = await containers(litware, 'stlitwareprod01');
    expect(response.status, response.text).toBe(200);
    const items = response.json<{ items: Array<{ name: string; publicAccess: string }> }>().items;
    expect(items.map((item) => [item.name, item.publicAccess]).sort()).toEqual(
      account('stlitwareprod01')
        .containers.map((container) => [container.name, container.publicAccess])
        .sort(),
    );
  });

  it('lists blobs page by page with top and continuationToken, with their sizes', async () => {
    const world = account('stlitwareprod01').containers.find((container) => container.name === 'invoices')!;
    const seen: BlobEntry[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const response = await blobs(litware, 'stlitwareprod01', 'invoices', '', {
        query: { top: '2', ...(token ? { continuationToken: token } : {}) },
      });
      expect(response.status, response.text).toBe(200);
      const page = response.json<BlobPage>();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      token = page.continuationToken;
      pages++;
    } while (token && pages < 100);
    expect(pages).toBe(Math.ceil(world.blobs.length / 2));
    expect(seen.map((blob) => blob.name).sort()).toEqual(world.blobs.map((blob) => blob.name).sort());
    for (const blob of world.blobs) {
      expect(seen.find((entry) => entry.name === blob.name)?.size, blob.name).toBe(
        blobContent('stlitwareprod01', 'invoices', blob).length,
      );
    }
  });

  it('filters blobs by prefix', async () => {
    const response = await blobs(litware, 'stlitwareprod01', 'invoices', '', {
      query: { prefix: '2025/01/' },
    });
    expect(response.json<BlobPage>().items.map((blob) => blob.name)).toEqual([
      '2025/01/INV-10001.pdf',
      '2025/01/INV-10002.pdf',
    ]);
  });

  it.each<[string, string, string]>([
    ['stlitwareprod01', 'invoices', '2025/index.json'],
    ['stlitwareprod01', 'public-assets', 'logo.png'],
    ['stlitwareprod01', 'exports', 'erp/ledger-2025-q1.parquet'],
  ])(
    'reads %s/%s/%s: the bytes the sandbox seeded, with their content type',
    async (name, container, blobName) => {
      const blob = account(name)
        .containers.find((candidate) => candidate.name === container)!
        .blobs.find((candidate) => candidate.name === blobName)!;
      const response = await blobs(litware, name, container, blobName);
      expect(response.status, response.text.slice(0, 200)).toBe(200);
      expect(response.bytes.equals(blobContent(name, container, blob))).toBe(true);
      expect(response.headers.get('content-type')).toBe(contentTypeFor(blobName));
      expect(response.headers.get('etag')).toBeTruthy();
    },
  );

  it("refuses another customer's account at once: 502 InvalidAuthenticationInfo, no data", async () => {
    const ok = await containers(northwind, 'stnorthwindweb01');
    expect(ok.status).toBe(200);
    // Litware's token is refused by Northwind's account, whose 401 challenge names Northwind's tenant.
    // The app must not follow it into another tenant, nor hang retrying (src/core/platform/credentials.ts).
    const started = Date.now();
    const crossed = await containers(litware, 'stnorthwindweb01');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(crossed.status, crossed.text).toBe(502);
    expect(crossed.error()).toMatchObject({ code: 'InvalidAuthenticationInfo', retryable: false });
    expect(crossed.text).not.toContain('images');
    expect(fleet.sandbox.counters.tokenByTenant.get(northwind) ?? 0).toBe(1); // Northwind's own call only
  }, 20_000);

  it('answers 404 for a container or blob that does not exist', async () => {
    const noContainer = await blobs(litware, 'stlitwareprod01', 'no-such-container');
    expect(noContainer.status).toBe(404);
    expect(noContainer.error().message).toContain('no-such-container');
    const noBlob = await blobs(litware, 'stlitwareprod01', 'invoices', '2025/01/INV-99999.pdf');
    expect(noBlob.status).toBe(404);
  });
});

describe('refusals by the customer storage, diagnosed', () => {
  it('refuses a PUT where the SP has only Storage Blob Data Reader: 502 AuthorizationPermissionMismatch, nothing written', async () => {
    const response = await blobs(litware, 'stlitwareprod01', 'invoices', 'uploaded-by-test.txt', {
      method: 'PUT',
      body: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    expect(response.status).toBe(502);
    expect(response.error()).toMatchObject({
      code: 'AuthorizationPermissionMismatch',
      owner: 'customer',
      retryable: false,
    });
    // A write refusal says the identity may not write, and the role that writes.
    expect(response.error().message).toMatch(/may not write blobs/);
    expect(response.error().message).not.toMatch(/may not read/);
    expect(response.error().fix).toContain('Storage Blob Data Contributor');
    expect(response.error().fix).toContain('--blob-access Contributor');
    expect(response.text).not.toMatch(JWT_LIKE);
    expect((await blobs(litware, 'stlitwareprod01', 'invoices', 'uploaded-by-test.txt')).status).toBe(404);
  });

  it('refuses a DELETE with only a Reader data role and keeps the blob', async () => {
    const response = await blobs(litware, 'stlitwareprod01', 'invoices', '2025/index.json', {
      method: 'DELETE',
    });
    expect(response.status).toBe(502);
    expect(response.error().code).toBe('AuthorizationPermissionMismatch');
    expect(response.error().message).toMatch(/may not write blobs/);
    expect((await blobs(litware, 'stlitwareprod01', 'invoices', '2025/index.json')).status).toBe(200);
  });

  it('diagnoses an account without any data role and one behind a firewall', async () => {
    const noRole = await containers(litware, 'stlitwareaudit01');
    expect(noRole.status).toBe(502);
    expect(noRole.error()).toMatchObject({ code: 'AuthorizationPermissionMismatch', owner: 'customer' });
    expect(noRole.error().message).toMatch(/may not read blobs/);
    expect(noRole.error().fix).toContain('--blob-access Reader');
    const firewalled = await containers(litware, 'stlitwarevault01');
    expect(firewalled.status).toBe(502);
    expect(firewalled.error()).toMatchObject({ code: 'AuthorizationFailure', owner: 'customer' });
    expect(firewalled.error().fix).toContain('network');
  });

  it('refuses an excluded tenant with 409 before calling its storage', async () => {
    const before = fleet.sandbox.counters.storage;
    const response = await containers(fabrikam, 'stfabrikamdata01');
    expect(response.status).toBe(409);
    expect(response.error().message).toContain('excluded');
    expect(fleet.sandbox.counters.storage).toBe(before);
  });
});

describe('writing customer storage with a Contributor data role', () => {
  beforeAll(() => {
    const target = account('stlitwaredev01');
    fleet.sandbox.store.grantRole(
      worldFacts(fleet.world).servicePrincipalObjectIds[litware]!,
      'Storage Blob Data Contributor',
      storageAccountId(target.subscriptionId, target.resourceGroup, target.name),
    );
  });

  it('writes (201), reads back the same bytes, lists, deletes (204), and the blob is gone', async () => {
    const name = `reports/${randomUUID()}.json`;
    const content = Buffer.from(JSON.stringify({ hello: 'Litware', at: new Date().toISOString() }));
    const written = await blobs(litware, 'stlitwaredev01', 'scratch', name, {
      method: 'PUT',
      body: content,
      headers: { 'content-type': 'application/json' },
    });
    expect(written.status, written.text).toBe(201);
    expect(written.json<{ name: string; size: number; etag?: string }>()).toMatchObject({
      name,
      size: content.length,
      etag: expect.any(String) as unknown,
    });

    const read = await blobs(litware, 'stlitwaredev01', 'scratch', name);
    expect(read.status).toBe(200);
    expect(read.bytes.equals(content)).toBe(true);
    expect(read.headers.get('content-type')).toBe('application/json');

    const listed = await blobs(litware, 'stlitwaredev01', 'scratch', '', { query: { prefix: 'reports/' } });
    expect(listed.json<BlobPage>().items.map((blob) => blob.name)).toContain(name);

    const deleted = await blobs(litware, 'stlitwaredev01', 'scratch', name, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect((await blobs(litware, 'stlitwaredev01', 'scratch', name)).status).toBe(404);
    expect((await blobs(litware, 'stlitwaredev01', 'scratch', name, { method: 'DELETE' })).status).toBe(404);
  });

  it('refuses a blob over 4 MiB with 400 before sending anything', async () => {
    const before = fleet.sandbox.counters.storage;
    const response = await blobs(litware, 'stlitwaredev01', 'scratch', 'too-big.bin', {
      method: 'PUT',
      body: Buffer.alloc(MAX_BLOB_BYTES + 1, 1),
    });
    expect(response.status).toBe(400);
    expect(response.error()).toMatchObject({ code: 'InvalidInput', field: 'body' });
    expect(fleet.sandbox.counters.storage).toBe(before);
    // Exactly 4 MiB is still accepted.
    const limit = await blobs(litware, 'stlitwaredev01', 'scratch', 'exactly-4-mib.bin', {
      method: 'PUT',
      body: Buffer.alloc(MAX_BLOB_BYTES, 2),
    });
    expect(limit.status, limit.text).toBe(201);
  });
});

describe('bad input: a 4xx naming what is wrong, never a 500', () => {
  const cases: Array<[string, HttpHandler, () => CallOptions, number, string?]> = [
    [
      'an account name that is a host name',
      storageContainers,
      () => ({ params: { tenantId: litware, account: 'evil.example.com' } }),
      400,
      'account',
    ],
    [
      'an account name with a path',
      storageBlobs,
      () => ({ params: { tenantId: litware, account: 'stlitwareprod01/../x', container: 'invoices' } }),
      400,
      'account',
    ],
    [
      'an account name too short',
      storageContainers,
      () => ({ params: { tenantId: litware, account: 'ab' } }),
      400,
      'account',
    ],
    [
      'an account name in capitals',
      storageContainers,
      () => ({ params: { tenantId: litware, account: 'STLITWAREPROD01' } }),
      400,
      'account',
    ],
    [
      'a container name with capitals and an underscore',
      storageBlobs,
      () => ({ params: { tenantId: litware, account: 'stlitwareprod01', container: 'Bad_Container' } }),
      400,
      'container',
    ],
    [
      'a container name with a double hyphen',
      storageBlobs,
      () => ({ params: { tenantId: litware, account: 'stlitwareprod01', container: 'a--b' } }),
      400,
      'container',
    ],
    [
      'a missing container name',
      storageBlobs,
      () => ({ params: { tenantId: litware, account: 'stlitwareprod01' } }),
      400,
      'container',
    ],
    [
      'a blob name ending in a slash',
      storageBlobs,
      () => ({
        params: { tenantId: litware, account: 'stlitwareprod01', container: 'invoices', blobName: '2025/' },
      }),
      400,
      'blob',
    ],
    [
      'a blob name with a control character',
      storageBlobs,
      () => ({
        params: {
          tenantId: litware,
          account: 'stlitwareprod01',
          container: 'invoices',
          blobName: 'a\u0007b',
        },
      }),
      400,
      'blob',
    ],
    [
      'a PUT without a blob name',
      storageBlobs,
      () => ({
        method: 'PUT',
        body: 'x',
        params: { tenantId: litware, account: 'stlitwaredev01', container: 'scratch' },
      }),
      400,
      'blobName',
    ],
    [
      'a PUT with a content type that is no media type',
      storageBlobs,
      () => ({
        method: 'PUT',
        body: 'x',
        headers: { 'content-type': 'not a type' },
        params: { tenantId: litware, account: 'stlitwaredev01', container: 'scratch', blobName: 'x.txt' },
      }),
      400,
      'content-type',
    ],
    [
      'top=0',
      storageBlobs,
      () => ({
        query: { top: '0' },
        params: { tenantId: litware, account: 'stlitwareprod01', container: 'invoices' },
      }),
      400,
      'top',
    ],
    [
      'top=5001',
      storageBlobs,
      () => ({
        query: { top: '5001' },
        params: { tenantId: litware, account: 'stlitwareprod01', container: 'invoices' },
      }),
      400,
      'top',
    ],
    [
      'a prefix over 1024 characters',
      storageBlobs,
      () => ({
        query: { prefix: 'p'.repeat(1025) },
        params: { tenantId: litware, account: 'stlitwareprod01', container: 'invoices' },
      }),
      400,
      'prefix',
    ],
    [
      'a tenant id that is not a GUID',
      storageContainers,
      () => ({ params: { tenantId: 'litware.com', account: 'stlitwareprod01' } }),
      400,
      'tenantId',
    ],
    [
      'an unknown tenant',
      storageContainers,
      () => ({ params: { tenantId: randomUUID(), account: 'stlitwareprod01' } }),
      404,
    ],
    [
      'an unknown tenant writing',
      storageBlobs,
      () => ({
        method: 'PUT',
        body: 'x',
        params: {
          tenantId: randomUUID(),
          account: 'stlitwaredev01',
          container: 'scratch',
          blobName: 'x.txt',
        },
      }),
      404,
    ],
  ];

  it.each(cases)('refuses %s', async (_case, handler, options, status, field) => {
    const before = fleet.sandbox.counters.storage;
    const response = await call(handler, options());
    expect(response.status, response.text).toBe(status);
    if (field) expect(response.error()).toMatchObject({ code: 'InvalidInput', field });
    else expect(response.error().code).toBe('NotFound');
    // Refused before any request reached the customer's storage.
    expect(fleet.sandbox.counters.storage).toBe(before);
  });

  it('answers 404 naming a storage account that does not exist', async () => {
    const response = await containers(litware, 'stdoesnotexist01');
    expect(response.status, response.text).toBe(404);
    expect(response.error().message).toContain('stdoesnotexist01');
    const write = await blobs(litware, 'stdoesnotexist01', 'scratch', 'x.txt', { method: 'PUT', body: 'x' });
    expect(write.status, write.text).toBe(404);
  });

  it('refuses "." and ".." segments in a blob name: no way out of the named container', async () => {
    for (const blobName of [
      '../exports/crm/customers-2025-05-01.csv',
      '2025/../../exports/x.csv',
      './2025/index.json',
      '..',
    ]) {
      const before = fleet.sandbox.counters.storage;
      const response = await blobs(litware, 'stlitwareprod01', 'invoices', blobName);
      expect(response.status, blobName).toBe(400);
      expect(response.error()).toMatchObject({ code: 'InvalidInput', field: 'blob' });
      expect(fleet.sandbox.counters.storage).toBe(before);
    }
    // Dots inside a segment are ordinary characters.
    expect((await blobs(litware, 'stlitwareprod01', 'invoices', '2025/index.json')).status).toBe(200);
  });

  it('answers a blob continuation token the API never issued without a 500', async () => {
    const response = await blobs(litware, 'stlitwareprod01', 'invoices', '', {
      query: { continuationToken: 'forged!token' },
    });
    expect(response.status, response.text).toBeLessThan(500);
  });
});

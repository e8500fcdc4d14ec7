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
import { customerBlobService } from '../../src/core/inventory/storage-inventory.js';
import { storageBlobs, storageContainers } from '../../src/functions/blobs.js';
import { runs } from '../../src/functions/runs.js';
import { tenants } from '../../src/functions/tenants.js';
import {
  call,
  drainRun,
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
  // Blob operations reach only accounts a sweep found in the tenant's subscription scope.
  const started = await call(runs, { method: 'POST', body: { tenantIds: [litware, northwind] } });
  expect(started.status, started.text).toBe(202);
  await drainRun(fleet.runtime, started.json<{ runId: string }>().runId);
}, 180_000);
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

  it("refuses another customer's account at once: 404, not in this tenant's inventory, no call made", async () => {
    const ok = await containers(northwind, 'stnorthwindweb01');
    expect(ok.status).toBe(200);
    const before = fleet.sandbox.counters.storage;
    const crossed = await containers(litware, 'stnorthwindweb01');
    expect(crossed.status, crossed.text).toBe(404);
    expect(crossed.error().message).toContain('not in the storage inventory of tenant');
    expect(crossed.text).not.toContain('images');
    expect(fleet.sandbox.counters.storage).toBe(before);
  });

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
      headers: { 'content-type': 'text/plain', 'if-none-match': '*' },
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
    const etag = (await blobs(litware, 'stlitwareprod01', 'invoices', '2025/index.json')).headers.get(
      'etag',
    )!;
    const response = await blobs(litware, 'stlitwareprod01', 'invoices', '2025/index.json', {
      method: 'DELETE',
      headers: { 'if-match': etag },
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
      headers: { 'content-type': 'application/json', 'if-none-match': '*' },
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

    const etag = read.headers.get('etag')!;
    const deleted = await blobs(litware, 'stlitwaredev01', 'scratch', name, {
      method: 'DELETE',
      headers: { 'if-match': etag },
    });
    expect(deleted.status).toBe(204);
    expect((await blobs(litware, 'stlitwaredev01', 'scratch', name)).status).toBe(404);
    const again = await blobs(litware, 'stlitwaredev01', 'scratch', name, {
      method: 'DELETE',
      headers: { 'if-match': etag },
    });
    expect(again.status).toBe(404);
  });

  it('refuses a blob over 4 MiB with 413 before sending anything', async () => {
    const before = fleet.sandbox.counters.storage;
    const response = await blobs(litware, 'stlitwaredev01', 'scratch', 'too-big.bin', {
      method: 'PUT',
      headers: { 'if-none-match': '*' },
      body: Buffer.alloc(MAX_BLOB_BYTES + 1, 1),
    });
    expect(response.status).toBe(413);
    expect(response.error()).toMatchObject({ code: 'PayloadTooLarge', field: 'body' });
    expect(fleet.sandbox.counters.storage).toBe(before);
    // Exactly 4 MiB is still accepted.
    const limit = await blobs(litware, 'stlitwaredev01', 'scratch', 'exactly-4-mib.bin', {
      method: 'PUT',
      headers: { 'if-none-match': '*' },
      body: Buffer.alloc(MAX_BLOB_BYTES, 2),
    });
    expect(limit.status, limit.text).toBe(201);
  });

  it('refuses to read a blob over 4 MiB with 400 naming its size, and returns one of exactly 4 MiB', async () => {
    // Written with the SDK itself (the API refuses to write it), as the app in Litware.
    const container = customerBlobService(
      fleet.runtime.config.cloud,
      'stlitwaredev01',
      fleet.runtime.chain.forTenant(litware),
    ).getContainerClient('scratch');
    await container.getBlockBlobClient('big/over-4-mib.bin').uploadData(Buffer.alloc(MAX_BLOB_BYTES + 1, 3));
    await container.getBlockBlobClient('big/exactly-4-mib.bin').uploadData(Buffer.alloc(MAX_BLOB_BYTES, 4));

    const over = await blobs(litware, 'stlitwaredev01', 'scratch', 'big/over-4-mib.bin');
    expect(over.status, over.text.slice(0, 200)).toBe(400);
    expect(over.error()).toMatchObject({
      code: 'InvalidInput',
      field: 'blob',
      message: `blob: is ${MAX_BLOB_BYTES + 1} bytes; the API returns at most ${MAX_BLOB_BYTES}`,
    });
    const exact = await blobs(litware, 'stlitwaredev01', 'scratch', 'big/exactly-4-mib.bin');
    expect(exact.status).toBe(200);
    expect(exact.bytes.equals(Buffer.alloc(MAX_BLOB_BYTES, 4))).toBe(true);
  });
});

describe('customer data in scope only', () => {
  // Finding: a tenant registered with only subscription A let a caller list and read an account of B.
  it('refuses an account of a subscription outside the tenant scope with 404, before any call', async () => {
    const prod = account('stlitwareprod01').subscriptionId;
    const dev = account('stlitwaredev01');
    expect(dev.subscriptionId).not.toBe(prod);
    await fleet.runtime.registry.update(
      litware,
      { subscriptions: { mode: 'list', include: [prod] } },
      'test',
    );
    try {
      const before = fleet.sandbox.counters.storage;
      for (const response of [
        await containers(litware, dev.name),
        await blobs(litware, dev.name, 'scratch'),
        await blobs(litware, dev.name, 'scratch', 'notes.txt'),
      ]) {
        expect(response.status, response.text).toBe(404);
        expect(response.error().message).toContain('outside the subscription scope');
      }
      expect(fleet.sandbox.counters.storage).toBe(before);
      expect((await containers(litware, 'stlitwareprod01')).status).toBe(200);
    } finally {
      await fleet.runtime.registry.update(litware, { subscriptions: { mode: 'all' } }, 'test');
    }
  });
});

describe('explicit writes and deletes', () => {
  const dev = 'stlitwaredev01';
  const put = (name: string, headers: Record<string, string>, body = 'v1') =>
    blobs(litware, dev, 'scratch', name, {
      method: 'PUT',
      body,
      headers: { 'content-type': 'text/plain', ...headers },
    });
  const del = (name: string, headers: Record<string, string> = {}, query: Record<string, string> = {}) =>
    blobs(litware, dev, 'scratch', name, { method: 'DELETE', headers, query });
  /** The app's own client acting in Litware (to set up leases and snapshots as a customer would). */
  const blobClient = (name: string) =>
    customerBlobService(fleet.runtime.config.cloud, dev, fleet.runtime.chain.forTenant(litware))
      .getContainerClient('scratch')
      .getBlobClient(name);

  beforeAll(() => {
    const target = account(dev);
    fleet.sandbox.store.grantRole(
      worldFacts(fleet.world).servicePrincipalObjectIds[litware]!,
      'Storage Blob Data Contributor',
      storageAccountId(target.subscriptionId, target.resourceGroup, target.name),
    );
  });

  // Finding: a second PUT silently overwrote a blob; DELETE needed no precondition.
  it('creates only with If-None-Match: *, replaces only with the current ETag, refuses without (428)', async () => {
    const name = `explicit/${randomUUID()}.txt`;
    const bare = await put(name, {});
    expect(bare.status).toBe(428);
    expect(bare.error()).toMatchObject({ code: 'PreconditionRequired', header: 'If-Match' });
    expect(bare.error().message).toContain('If-None-Match: *');
    const created = await put(name, { 'if-none-match': '*' });
    expect(created.status, created.text).toBe(201);
    const etag = created.headers.get('etag')!;
    const again = await put(name, { 'if-none-match': '*' }, 'v2');
    expect(again.status, again.text).toBe(412);
    expect(again.error().message).toContain('already exists');
    const replaced = await put(name, { 'if-match': etag }, 'v2');
    expect(replaced.status, replaced.text).toBe(200);
    const stale = await put(name, { 'if-match': etag }, 'v3');
    expect(stale.status).toBe(412);
    expect((await blobs(litware, dev, 'scratch', name)).text).toBe('v2');

    const noCondition = await del(name);
    expect(noCondition.status).toBe(428);
    expect(noCondition.error().message).toContain('If-Match');
    expect((await del(name, { 'if-match': etag })).status).toBe(412);
    expect((await del(name, { 'if-match': '*' })).status).toBe(400);
    expect((await blobs(litware, dev, 'scratch', name)).status).toBe(200);
  });

  // Finding: a leased blob (PUT/DELETE) and a blob with snapshots (DELETE) were 500s.
  it('answers a leased blob with 409 naming the lease, and a blob with snapshots with 409 and the way out', async () => {
    const name = `explicit/${randomUUID()}.txt`;
    const etag = (await put(name, { 'if-none-match': '*' })).headers.get('etag')!;
    const lease = blobClient(name).getBlobLeaseClient();
    await lease.acquireLease(-1);
    try {
      for (const response of [
        await put(name, { 'if-match': etag }, 'v2'),
        await del(name, { 'if-match': etag }),
      ]) {
        expect(response.status, response.text).toBe(409);
        expect(response.error()).toMatchObject({ code: 'Conflict', reason: 'LeaseIdMissing' });
        expect(response.error().message).toContain('lease');
      }
    } finally {
      await lease.releaseLease();
    }
    await blobClient(name).createSnapshot();
    const withSnapshots = await del(name, { 'if-match': etag });
    expect(withSnapshots.status, withSnapshots.text).toBe(409);
    expect(withSnapshots.error()).toMatchObject({ reason: 'SnapshotsPresent' });
    expect(withSnapshots.error().message).toContain('deleteSnapshots=include');
    expect((await del(name, { 'if-match': etag }, { deleteSnapshots: 'include' })).status).toBe(204);
  });

  // Finding: control characters in a content type or an If-Match were 500s.
  it.each<[string, Record<string, string>, string]>([
    [
      'a content type with a control character',
      { 'if-none-match': '*', 'content-type': 'text/plain; charset=utf-8\u0007' },
      'content-type',
    ],
    ['an If-Match with a control character', { 'if-match': '"0x8D\u001b"' }, 'if-match'],
    ['an If-Match that is no ETag', { 'if-match': 'yesterday' }, 'If-Match'],
    ['an If-None-Match other than *', { 'if-none-match': '"0x8D"' }, 'If-None-Match'],
  ])('refuses %s with 400 naming the header, before any call', async (_case, headers, field) => {
    const before = fleet.sandbox.counters.storage;
    const response = await put(`explicit/${randomUUID()}.txt`, headers);
    expect(response.status, response.text).toBe(400);
    expect(response.error()).toMatchObject({ code: 'InvalidInput', field });
    expect(fleet.sandbox.counters.storage).toBe(before);
  });

  it('refuses a body whose Content-Length is over the limit before reading it (413)', async () => {
    const response = await blobs(litware, dev, 'scratch', 'big.bin', {
      method: 'PUT',
      headers: { 'if-none-match': '*', 'content-length': String(MAX_BLOB_BYTES + 1) },
      body: 'small',
    });
    expect(response.status).toBe(413);
  });
});

describe('input hygiene on reads', () => {
  // Finding: a 16,000-character continuation token and a prefix with control characters were 500/502.
  it.each<[string, Record<string, string>, string]>([
    ['a 16,000-character continuation token', { continuationToken: 'x'.repeat(16_000) }, 'continuationToken'],
    [
      'a continuation token with a control character',
      { continuationToken: 'abc\u0001def' },
      'continuationToken',
    ],
    ['a prefix with control characters', { prefix: '2025/\u0000\u001b' }, 'prefix'],
  ])('refuses %s with 400 at once', async (_case, query, field) => {
    const before = fleet.sandbox.counters.storage;
    const response = await blobs(litware, 'stlitwareprod01', 'invoices', '', { query });
    expect(response.status, response.text).toBe(400);
    expect(response.error()).toMatchObject({ code: 'InvalidInput', field });
    expect(fleet.sandbox.counters.storage).toBe(before);
  });

  it('refuses a backslash in a blob name', async () => {
    const response = await blobs(litware, 'stlitwareprod01', 'invoices', '2025\\index.json');
    expect(response.status).toBe(400);
    expect(response.error()).toMatchObject({ field: 'blob' });
  });

  // Finding: contents were served with their stored type and no nosniff, Content-Disposition or CSP.
  it('serves contents as an attachment, never sniffed, in a CSP sandbox', async () => {
    const response = await blobs(litware, 'stlitwareprod01', 'invoices', '2025/index.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBe(
      `attachment; filename="index.json"; filename*=UTF-8''index.json`,
    );
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toContain('sandbox');
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
        headers: { 'content-type': 'not a type', 'if-none-match': '*' },
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
        headers: { 'if-none-match': '*' },
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
    const write = await blobs(litware, 'stdoesnotexist01', 'scratch', 'x.txt', {
      method: 'PUT',
      body: 'x',
      headers: { 'if-none-match': '*' },
    });
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

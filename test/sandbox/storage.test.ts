/**
 * The sandbox's customer storage through the REAL @azure/storage-blob client: Azurite over HTTPS behind
 * the authorizing front. Tokens are minted with KeyStore.sign exactly as the sandbox's Entra issues them
 * (v1, aud https://storage.azure.com), so these tests do not depend on the identity side.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import type { TlsSettings } from '@azure/core-rest-pipeline';
import {
  AnonymousCredential,
  BlobSASPermissions,
  BlobServiceClient,
  type RestError,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  isRestError,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import { startAzurite } from '../../sandbox/azurite.js';
import { RequestCounters } from '../../sandbox/counters.js';
import { KeyStore } from '../../sandbox/keys.js';
import { startCustomerStorage, type CustomerStorage } from '../../sandbox/storage-front.js';
import { blobContent, seedStorageAccounts } from '../../sandbox/storage-seed.js';
import { createSandboxTls, type SandboxTls } from '../../sandbox/tls.js';
import { parseWorld, type StorageAccount, type World } from '../../sandbox/world.js';

const TENANT = '6f1d2a3b-0c4e-4f5a-9b8c-7d6e5f4a3b2c';
const OTHER_TENANT = 'a9b8c7d6-e5f4-4a3b-8c2d-1e0f9a8b7c6d';
const SUBSCRIPTION = '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e';
const OTHER_SUBSCRIPTION = 'e4d3c2b1-a0f9-4e8d-9c7b-6a5f4e3d2c1b';
const APP_ID = '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d';
/** Service principal object ids in TENANT, one per kind of grant. */
const SP = {
  dataReader: '11111111-aaaa-4aaa-8aaa-000000000001',
  dataContributor: '11111111-aaaa-4aaa-8aaa-000000000002',
  controlPlaneOnly: '11111111-aaaa-4aaa-8aaa-000000000003',
  noRole: '11111111-aaaa-4aaa-8aaa-000000000004',
  containerReader: '11111111-aaaa-4aaa-8aaa-000000000005',
};
const OTHER_TENANT_SP = '22222222-bbbb-4bbb-8bbb-000000000001';
const RG = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-data`;
const DATA_ACCOUNT = `${RG}/providers/Microsoft.Storage/storageAccounts/tfdata1`;
const LOCKED_ACCOUNT = `${RG}/providers/Microsoft.Storage/storageAccounts/tflocked1`;

const Q1_CSV = 'quarter,revenue\nQ1,1200\n';

function buildWorld(): World {
  return parseWorld({
    tenants: [
      { id: TENANT, displayName: 'Tailspin Toys' },
      { id: OTHER_TENANT, displayName: 'Wide World Importers' },
    ],
    applications: [
      {
        appId: APP_ID,
        displayName: 'Tenant Fleet',
        homeTenantId: OTHER_TENANT,
        signInAudience: 'AzureADMultipleOrgs',
      },
    ],
    servicePrincipals: [
      ...Object.values(SP).map((objectId) => ({ appId: APP_ID, tenantId: TENANT, objectId })),
      { appId: APP_ID, tenantId: OTHER_TENANT, objectId: OTHER_TENANT_SP },
    ],
    roleAssignments: [
      { principalId: SP.dataReader, roleDefinitionName: 'Storage Blob Data Reader', scope: DATA_ACCOUNT },
      { principalId: SP.dataReader, roleDefinitionName: 'Storage Blob Data Reader', scope: LOCKED_ACCOUNT },
      // Granted at the resource group: applies to the accounts below it.
      { principalId: SP.dataContributor, roleDefinitionName: 'Storage Blob Data Contributor', scope: RG },
      // Control-plane roles only: no data access.
      {
        principalId: SP.controlPlaneOnly,
        roleDefinitionName: 'Reader',
        scope: `/subscriptions/${SUBSCRIPTION}`,
      },
      { principalId: SP.controlPlaneOnly, roleDefinitionName: 'Contributor', scope: RG },
      {
        principalId: SP.containerReader,
        roleDefinitionName: 'Storage Blob Data Reader',
        scope: `${DATA_ACCOUNT}/blobServices/default/containers/reports`,
      },
      {
        principalId: OTHER_TENANT_SP,
        roleDefinitionName: 'Storage Blob Data Owner',
        scope: `/subscriptions/${OTHER_SUBSCRIPTION}`,
      },
    ],
    subscriptions: [
      { subscriptionId: SUBSCRIPTION, tenantId: TENANT, displayName: 'Tailspin Production' },
      { subscriptionId: OTHER_SUBSCRIPTION, tenantId: OTHER_TENANT, displayName: 'Wide World Shared' },
    ],
    resourceGroups: [{ subscriptionId: SUBSCRIPTION, name: 'rg-data', location: 'westeurope' }],
    storageAccounts: [
      {
        subscriptionId: SUBSCRIPTION,
        resourceGroup: 'rg-data',
        name: 'tfdata1',
        location: 'westeurope',
        containers: [
          {
            name: 'reports',
            blobs: [
              { name: 'q1.csv', content: Q1_CSV },
              { name: 'q2.csv', size: 2048 },
              { name: 'archive/2024.bin', size: 1_500_000 },
            ],
          },
          {
            name: 'public-images',
            publicAccess: 'blob',
            blobs: [
              { name: 'logo.png', size: 4096 },
              { name: 'banner.png', size: 10_000 },
            ],
          },
          {
            name: 'public-docs',
            publicAccess: 'container',
            blobs: [{ name: 'readme.txt', content: 'hello' }],
          },
        ],
      },
      {
        subscriptionId: SUBSCRIPTION,
        resourceGroup: 'rg-data',
        name: 'tflocked1',
        location: 'westeurope',
        networkDefaultAction: 'Deny',
        containers: [{ name: 'secrets', blobs: [{ name: 'a.txt', content: 'locked' }] }],
      },
      {
        subscriptionId: OTHER_SUBSCRIPTION,
        resourceGroup: 'rg-shared',
        name: 'tfother1',
        location: 'northeurope',
        containers: [{ name: 'shared', blobs: [{ name: 'b.txt', content: 'other' }] }],
      },
    ],
  });
}

/** Storage access token claims as the sandbox's Entra issues them (v1). */
function storageClaims(
  tenantId: string,
  oid: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    aud: 'https://storage.azure.com',
    iss: `https://sts.windows.net/${tenantId}/`,
    tid: tenantId,
    oid,
    sub: oid,
    appid: APP_ID,
    idtyp: 'app',
    ver: '1.0',
    ...overrides,
  };
}

/** A TokenCredential handing out a fixed token and recording what the SDK asked for. */
class FixedTokenCredential implements TokenCredential {
  readonly requests: Array<{ scopes: string[]; tenantId?: string }> = [];
  constructor(private readonly token: string) {}
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    this.requests.push({
      scopes: [scopes].flat(),
      ...(options?.tenantId ? { tenantId: options.tenantId } : {}),
    });
    return Promise.resolve({ token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 });
  }
}

/** Waits for a storage call to fail and returns the SDK's RestError. */
async function failure(call: Promise<unknown>): Promise<RestError> {
  try {
    await call;
  } catch (error) {
    if (isRestError(error)) return error;
    throw error;
  }
  throw new Error('expected the storage call to fail');
}

/**
 * The error code of a failed HEAD (getProperties, exists, the first call of downloadToBuffer): with no
 * body the SDK leaves `RestError.code` undefined and exposes the `x-ms-error-code` header as
 * `details.errorCode` (same with real Azure Storage). Callers must read both.
 */
function headErrorCode(error: RestError): string | undefined {
  return error.code ?? (error.details as { errorCode?: string } | undefined)?.errorCode;
}

let tls: SandboxTls;
let stateDirectory: string;
let world: World;
let keys: KeyStore;
let counters: RequestCounters;
let storage: CustomerStorage;

/**
 * THE client-side finding: per-client trust of the sandbox certificate. `tlsOptions` is not declared on
 * StoragePipelineOptions, but @azure/storage-blob 12.34 hands all pipeline options to core-client's
 * createClientPipeline -> core-rest-pipeline's createPipelineFromOptions, which adds tlsPolicy(tlsOptions).
 * Typing the variable as the intersection avoids the excess-property error of an inline literal.
 */
function clientOptions(extra: StoragePipelineOptions = {}): StoragePipelineOptions {
  const options: StoragePipelineOptions & { tlsOptions: TlsSettings } = {
    tlsOptions: { ca: tls.certPem },
    retryOptions: { maxTries: 2, retryDelayInMs: 50, maxRetryDelayInMs: 100 },
    ...extra,
  };
  return options;
}

async function serviceAs(tenantId: string, oid: string, account = 'tfdata1'): Promise<BlobServiceClient> {
  const token = await keys.sign(tenantId, storageClaims(tenantId, oid));
  return new BlobServiceClient(
    `${storage.endpoint}/${account}`,
    new FixedTokenCredential(token),
    clientOptions(),
  );
}

function anonymousService(account = 'tfdata1'): BlobServiceClient {
  return new BlobServiceClient(`${storage.endpoint}/${account}`, new AnonymousCredential(), clientOptions());
}

/** Expected figures computed from the world definition, independently of Azurite. */
function expectedBytes(account: StorageAccount, containerName: string): number {
  const container = account.containers.find((candidate) => candidate.name === containerName)!;
  return container.blobs.reduce(
    (sum, blob) => sum + (blob.content !== undefined ? Buffer.byteLength(blob.content) : blob.size),
    0,
  );
}

/** A raw HTTPS request to the front, to check the wire shape the SDK hides. */
function rawRequest(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(path, storage.endpoint);
  return new Promise((resolve, reject) => {
    const request = httpsRequest(url, { method, headers, ca: tls.certPem }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    request.on('error', reject);
    request.end();
  });
}

beforeAll(async () => {
  stateDirectory = await mkdtemp(join(tmpdir(), 'tf-storage-test-'));
  tls = await createSandboxTls(join(stateDirectory, 'tls'));
  world = buildWorld();
  keys = new KeyStore();
  await keys.warm([TENANT, OTHER_TENANT]);
  counters = new RequestCounters();
  storage = await startCustomerStorage({ world, keys, counters }, { tls });
});

afterAll(async () => {
  await storage?.close();
  await rm(stateDirectory, { recursive: true, force: true });
});

describe('reading with a Storage Blob Data Reader token', () => {
  it('lists containers with their public access level, and blobs with count and total bytes', async () => {
    const token = await keys.sign(TENANT, storageClaims(TENANT, SP.dataReader));
    const credential = new FixedTokenCredential(token);
    const service = new BlobServiceClient(`${storage.endpoint}/tfdata1`, credential, clientOptions());
    const before = counters.storage;

    const containers = new Map<string, string>();
    for await (const container of service.listContainers()) {
      containers.set(container.name, container.properties.publicAccess ?? 'none');
    }
    expect(Object.fromEntries(containers)).toEqual({
      'public-docs': 'container',
      'public-images': 'blob',
      reports: 'none',
    });

    let count = 0;
    let bytes = 0;
    for await (const blob of service.getContainerClient('reports').listBlobsFlat()) {
      count++;
      bytes += blob.properties.contentLength ?? 0;
    }
    const account = world.storageAccounts.find((candidate) => candidate.name === 'tfdata1')!;
    expect(count).toBe(3);
    expect(bytes).toBe(expectedBytes(account, 'reports'));
    expect(bytes).toBe(Buffer.byteLength(Q1_CSV) + 2048 + 1_500_000);

    // The SDK asked for the storage scope, and every request went through the front.
    expect(credential.requests[0]?.scopes).toEqual(['https://storage.azure.com/.default']);
    expect(counters.storage - before).toBeGreaterThanOrEqual(2);
  });

  it('streams blob content through the front byte for byte', async () => {
    const service = await serviceAs(TENANT, SP.dataReader);
    const account = world.storageAccounts.find((candidate) => candidate.name === 'tfdata1')!;
    const blob = account.containers[0]!.blobs[2]!;
    const downloaded = await service
      .getContainerClient('reports')
      .getBlobClient(blob.name)
      .downloadToBuffer();
    const expected = blobContent('tfdata1', 'reports', blob);
    expect(downloaded.length).toBe(1_500_000);
    expect(createHash('sha256').update(downloaded).digest('hex')).toBe(
      createHash('sha256').update(expected).digest('hex'),
    );
    const text = await service.getContainerClient('reports').getBlobClient('q1.csv').downloadToBuffer();
    expect(text.toString('utf8')).toBe(Q1_CSV);
  });

  it('pages listings with the SDK continuation unchanged', async () => {
    const service = await serviceAs(TENANT, SP.dataReader);
    const pages: number[] = [];
    for await (const page of service.listContainers().byPage({ maxPageSize: 1 })) {
      pages.push(page.containerItems.length);
    }
    expect(pages).toEqual([1, 1, 1]);
  });

  it('honours a role granted on one container only', async () => {
    const service = await serviceAs(TENANT, SP.containerReader);
    const names: string[] = [];
    for await (const blob of service.getContainerClient('reports').listBlobsFlat()) names.push(blob.name);
    expect(names.sort()).toEqual(['archive/2024.bin', 'q1.csv', 'q2.csv']);
    const listAccount = await failure(service.listContainers().next());
    expect([listAccount.statusCode, listAccount.code]).toEqual([403, 'AuthorizationPermissionMismatch']);
    const otherContainer = await failure(service.getContainerClient('public-images').listBlobsFlat().next());
    expect([otherContainer.statusCode, otherContainer.code]).toEqual([
      403,
      'AuthorizationPermissionMismatch',
    ]);
  });
});

describe('refusals', () => {
  it('refuses a principal without any role (AuthorizationPermissionMismatch)', async () => {
    const service = await serviceAs(TENANT, SP.noRole);
    const error = await failure(service.listContainers().next());
    expect(error.statusCode).toBe(403);
    expect(error.code).toBe('AuthorizationPermissionMismatch');
    expect(error.message).toContain(
      'This request is not authorized to perform this operation using this permission.',
    );
  });

  it('refuses control-plane Reader and Contributor: they grant no data access', async () => {
    const service = await serviceAs(TENANT, SP.controlPlaneOnly);
    const list = await failure(service.listContainers().next());
    expect([list.statusCode, list.code]).toEqual([403, 'AuthorizationPermissionMismatch']);
    const read = await failure(
      service.getContainerClient('reports').getBlobClient('q1.csv').downloadToBuffer(),
    );
    // downloadToBuffer starts with a HEAD: no body, so the code is only in details.errorCode.
    expect(read.code).toBeUndefined();
    expect([read.statusCode, headErrorCode(read)]).toEqual([403, 'AuthorizationPermissionMismatch']);
  });

  it("refuses a token from another tenant and challenges for the account's tenant", async () => {
    const token = await keys.sign(OTHER_TENANT, storageClaims(OTHER_TENANT, OTHER_TENANT_SP));
    const credential = new FixedTokenCredential(token);
    const service = new BlobServiceClient(`${storage.endpoint}/tfdata1`, credential, clientOptions());
    const error = await failure(service.listContainers().next());
    expect(error.statusCode).toBe(401);
    expect(error.code).toBe('InvalidAuthenticationInfo');
    expect((error.details as { authenticationErrorDetail?: string }).authenticationErrorDetail).toBe(
      'Issuer validation failed. Issuer did not match.',
    );
    // The SDK followed the bearer challenge: it asked its credential for a token of the account's tenant.
    expect(credential.requests.some((request) => request.tenantId === TENANT)).toBe(true);
  });

  it('refuses a token whose signature does not verify', async () => {
    const stranger = new KeyStore(); // same tenant id, a key the sandbox never published
    const unknownKey = await stranger.sign(TENANT, storageClaims(TENANT, SP.dataReader));
    const service = new BlobServiceClient(
      `${storage.endpoint}/tfdata1`,
      new FixedTokenCredential(unknownKey),
      clientOptions(),
    );
    const error = await failure(service.listContainers().next());
    expect([error.statusCode, error.code]).toEqual([401, 'InvalidAuthenticationInfo']);
    expect((error.details as { authenticationErrorDetail?: string }).authenticationErrorDetail).toMatch(
      /^Signature validation failed/,
    );

    const genuine = await keys.sign(TENANT, storageClaims(TENANT, SP.dataReader));
    const [header, payload, signature] = genuine.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(payload, 'base64url').toString()),
        oid: SP.dataContributor,
      }),
    ).toString('base64url');
    const forged = new BlobServiceClient(
      `${storage.endpoint}/tfdata1`,
      new FixedTokenCredential(`${header}.${forgedPayload}.${signature}`),
      clientOptions(),
    );
    const forgedError = await failure(forged.listContainers().next());
    expect([forgedError.statusCode, forgedError.code]).toEqual([401, 'InvalidAuthenticationInfo']);
  });

  it('refuses an expired token and a token for another audience', async () => {
    const expired = await keys.sign(
      TENANT,
      storageClaims(TENANT, SP.dataReader),
      60,
      Math.floor(Date.now() / 1000) - 7200,
    );
    const expiredError = await failure(
      new BlobServiceClient(`${storage.endpoint}/tfdata1`, new FixedTokenCredential(expired), clientOptions())
        .listContainers()
        .next(),
    );
    expect([expiredError.statusCode, expiredError.code]).toEqual([401, 'InvalidAuthenticationInfo']);
    expect((expiredError.details as { authenticationErrorDetail?: string }).authenticationErrorDetail).toBe(
      'Lifetime validation failed. The token is expired.',
    );

    const armToken = await keys.sign(
      TENANT,
      storageClaims(TENANT, SP.dataReader, { aud: 'https://management.azure.com' }),
    );
    const audienceError = await failure(
      new BlobServiceClient(
        `${storage.endpoint}/tfdata1`,
        new FixedTokenCredential(armToken),
        clientOptions(),
      )
        .listContainers()
        .next(),
    );
    expect([audienceError.statusCode, audienceError.code]).toEqual([401, 'InvalidAuthenticationInfo']);
    expect((audienceError.details as { authenticationErrorDetail?: string }).authenticationErrorDetail).toBe(
      'Audience validation failed. Audience did not match.',
    );
  });

  it("refuses every caller of an account whose firewall denies the caller's network", async () => {
    const service = await serviceAs(TENANT, SP.dataReader, 'tflocked1');
    const error = await failure(service.listContainers().next());
    expect([error.statusCode, error.code]).toEqual([403, 'AuthorizationFailure']);
    expect(error.message).toContain('This request is not authorized to perform this operation.');
    const anonymous = await failure(
      anonymousService('tflocked1').getContainerClient('secrets').getBlobClient('a.txt').download(),
    );
    expect([anonymous.statusCode, anonymous.code]).toEqual([403, 'AuthorizationFailure']);
  });

  it('refuses Shared Key and account SAS: key-based access is disabled', async () => {
    const sharedKey = new BlobServiceClient(
      `${storage.endpoint}/tfdata1`,
      new StorageSharedKeyCredential('tfdata1', Buffer.alloc(64, 7).toString('base64')),
      clientOptions(),
    );
    const error = await failure(sharedKey.listContainers().next());
    expect([error.statusCode, error.code]).toEqual([403, 'KeyBasedAuthenticationNotPermitted']);

    const sas = new BlobServiceClient(
      `${storage.endpoint}/tfdata1?sv=2024-11-04&ss=b&srt=sco&sp=rl&se=2099-01-01T00%3A00%3A00Z&spr=https&sig=AAAA`,
      new AnonymousCredential(),
      clientOptions(),
    );
    const sasError = await failure(sas.listContainers().next());
    expect([sasError.statusCode, sasError.code]).toEqual([403, 'KeyBasedAuthenticationNotPermitted']);
  });

  it('answers InvalidUri for an account that does not exist', async () => {
    const service = await serviceAs(TENANT, SP.dataReader, 'nosuchaccount');
    const error = await failure(service.listContainers().next());
    expect([error.statusCode, error.code]).toEqual([400, 'InvalidUri']);
  });

  it('does not trust the sandbox certificate without per-client tlsOptions', async () => {
    const token = await keys.sign(TENANT, storageClaims(TENANT, SP.dataReader));
    const options: StoragePipelineOptions = { retryOptions: { maxTries: 1 } };
    const untrusting = new BlobServiceClient(
      `${storage.endpoint}/tfdata1`,
      new FixedTokenCredential(token),
      options,
    );
    const error = await failure(untrusting.listContainers().next());
    expect(error.code).toMatch(/SELF_SIGNED|CERT/);
  });
});

describe('writing', () => {
  it('refuses a write with a Reader data role and allows it with a Contributor data role', async () => {
    const reader = await serviceAs(TENANT, SP.dataReader);
    const refused = await failure(
      reader.getContainerClient('reports').getBlockBlobClient('new.txt').upload('nope', 4),
    );
    expect([refused.statusCode, refused.code]).toEqual([403, 'AuthorizationPermissionMismatch']);

    const contributor = await serviceAs(TENANT, SP.dataContributor);
    const payload = Buffer.alloc(3 * 1024 * 1024, 'tenant-fleet ');
    const blob = contributor.getContainerClient('reports').getBlockBlobClient('uploads/written.bin');
    await blob.uploadData(payload, { blockSize: 1024 * 1024, maxSingleShotSize: 1024 * 1024 });
    const readBack = await reader
      .getContainerClient('reports')
      .getBlobClient('uploads/written.bin')
      .downloadToBuffer();
    expect(readBack.equals(payload)).toBe(true);
    await blob.delete();
    const gone = await failure(
      reader.getContainerClient('reports').getBlobClient('uploads/written.bin').getProperties(),
    );
    expect(gone.statusCode).toBe(404);

    const created = await contributor.getContainerClient('scratch').create();
    expect(created.etag).toBeTruthy();
    await contributor.getContainerClient('scratch').delete();
  });
});

describe('anonymous access', () => {
  it('reads a public container anonymously as Azure does, and nothing else', async () => {
    const anonymous = anonymousService();
    const docs: string[] = [];
    for await (const blob of anonymous.getContainerClient('public-docs').listBlobsFlat())
      docs.push(blob.name);
    expect(docs).toEqual(['readme.txt']);
    expect(
      (
        await anonymous.getContainerClient('public-docs').getBlobClient('readme.txt').downloadToBuffer()
      ).toString(),
    ).toBe('hello');

    // `blob` level: blobs readable, the listing is not.
    const logo = await anonymous
      .getContainerClient('public-images')
      .getBlobClient('logo.png')
      .downloadToBuffer();
    expect(logo.length).toBe(4096);
    const listing = await failure(anonymous.getContainerClient('public-images').listBlobsFlat().next());
    expect([listing.statusCode, listing.code]).toEqual([401, 'NoAuthenticationInformation']);

    const privateBlob = await failure(
      anonymous.getContainerClient('reports').getBlobClient('q1.csv').downloadToBuffer(),
    );
    expect([privateBlob.statusCode, headErrorCode(privateBlob)]).toEqual([
      401,
      'NoAuthenticationInformation',
    ]);
    const accountList = await failure(anonymous.listContainers().next());
    expect([accountList.statusCode, accountList.code]).toEqual([401, 'NoAuthenticationInformation']);
    const write = await failure(
      anonymous.getContainerClient('public-docs').getBlockBlobClient('x.txt').upload('x', 1),
    );
    expect([write.statusCode, write.code]).toEqual([401, 'NoAuthenticationInformation']);
  });
});

describe('user delegation SAS', () => {
  it('works for a principal with a data role, and only within that role', async () => {
    const reader = await serviceAs(TENANT, SP.dataReader);
    const startsOn = new Date(Date.now() - 5 * 60_000);
    const expiresOn = new Date(Date.now() + 60 * 60_000);
    const key = await reader.getUserDelegationKey(startsOn, expiresOn);
    expect(key.signedObjectId).toBe(SP.dataReader);

    const readSas = generateBlobSASQueryParameters(
      {
        containerName: 'reports',
        blobName: 'q1.csv',
        permissions: BlobSASPermissions.parse('r'),
        startsOn,
        expiresOn,
      },
      key,
      'tfdata1',
    ).toString();
    const viaSas = new BlobServiceClient(
      `${storage.endpoint}/tfdata1?${readSas}`,
      new AnonymousCredential(),
      clientOptions(),
    );
    const content = await viaSas.getContainerClient('reports').getBlobClient('q1.csv').downloadToBuffer();
    expect(content.toString()).toBe(Q1_CSV);

    // The SAS may say "write", but its principal only holds a Reader data role.
    const writeSas = generateBlobSASQueryParameters(
      {
        containerName: 'reports',
        blobName: 'sas.txt',
        permissions: BlobSASPermissions.parse('cw'),
        startsOn,
        expiresOn,
      },
      key,
      'tfdata1',
    ).toString();
    const writer = new BlobServiceClient(
      `${storage.endpoint}/tfdata1?${writeSas}`,
      new AnonymousCredential(),
      clientOptions(),
    );
    const refused = await failure(
      writer.getContainerClient('reports').getBlockBlobClient('sas.txt').upload('x', 1),
    );
    expect([refused.statusCode, refused.code]).toEqual([403, 'AuthorizationPermissionMismatch']);
  });
});

describe('wire shape of errors', () => {
  it('answers in Azure Storage XML with error code, request id and bearer challenge, never echoing the token', async () => {
    const anonymous = await rawRequest('/tfdata1/?comp=list', { 'x-ms-version': '2026-10-06' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['x-ms-error-code']).toBe('NoAuthenticationInformation');
    expect(anonymous.headers['x-ms-request-id']).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{6}000000$/,
    );
    expect(anonymous.headers['content-type']).toBe('application/xml');
    expect(anonymous.headers['www-authenticate']).toBe(
      `Bearer authorization_uri=https://login.microsoftonline.com/${TENANT}/oauth2/authorize resource_id=https://storage.azure.com`,
    );
    expect(anonymous.body).toMatch(
      /^\uFEFF<\?xml version="1.0" encoding="utf-8"\?><Error><Code>NoAuthenticationInformation<\/Code><Message>Server failed to authenticate the request\. Please refer to the information in the www-authenticate header\.\nRequestId:[0-9a-f-]{36}\nTime:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z<\/Message><\/Error>$/,
    );

    const foreign = await keys.sign(OTHER_TENANT, storageClaims(OTHER_TENANT, OTHER_TENANT_SP));
    const refused = await rawRequest('/tfdata1/?comp=list', { authorization: `Bearer ${foreign}` });
    expect(refused.status).toBe(401);
    expect(refused.body).toContain(
      '<AuthenticationErrorDetail>Issuer validation failed. Issuer did not match.</AuthenticationErrorDetail>',
    );
    expect(refused.body).not.toContain(foreign.split('.')[2]!);
    expect(JSON.stringify(refused.headers)).not.toContain(foreign.split('.')[2]!);

    const head = await rawRequest('/tfdata1/reports/q1.csv', {}, 'HEAD');
    expect(head.status).toBe(401);
    expect(head.headers['x-ms-error-code']).toBe('NoAuthenticationInformation');
    expect(head.body).toBe('');

    const verb = await rawRequest('/tfdata1/reports/q1.csv', {}, 'TRACE');
    expect([verb.status, verb.headers['x-ms-error-code']]).toEqual([405, 'UnsupportedHttpVerb']);
  });
});

describe('persistence and seeding', () => {
  it('re-seeds a persisted Azurite idempotently and rewrites only what differs from the world', async () => {
    const location = join(stateDirectory, 'seed-direct');
    const accountKey = Buffer.alloc(64, 3).toString('base64');
    const seeded = buildWorld().storageAccounts.filter((account) => account.name === 'tfdata1');
    const run = async (accounts: StorageAccount[]) => {
      const azurite = await startAzurite({
        location,
        certPath: tls.certPath!,
        keyPath: tls.keyPath!,
        accounts: [{ name: 'tfdata1', key: accountKey }],
      });
      try {
        return await seedStorageAccounts(accounts, {
          endpointFor: (name) => `https://127.0.0.1:${azurite.blobPort}/${name}`,
          keyFor: () => accountKey,
          caPem: tls.certPem,
        });
      } finally {
        await azurite.stop();
      }
    };
    const first = await run(seeded);
    expect(first).toMatchObject({
      accounts: 1,
      containersCreated: 3,
      containersExisting: 0,
      blobsWritten: 6,
      blobsUnchanged: 0,
    });
    const second = await run(seeded);
    expect(second).toMatchObject({
      containersCreated: 0,
      containersExisting: 3,
      blobsWritten: 0,
      blobsUnchanged: 6,
    });
    expect(second.bytes).toBe(first.bytes);

    const changed = structuredClone(seeded);
    changed[0]!.containers[0]!.blobs[0]!.content = 'quarter,revenue\nQ1,1300\n';
    const third = await run(changed);
    expect(third).toMatchObject({ blobsWritten: 1, blobsUnchanged: 5 });
  });

  it('serves the same containers and blobs after a restart on the same location', async () => {
    const location = join(stateDirectory, 'persisted');
    const census = async (): Promise<{ containers: number; blobs: number; bytes: number }> => {
      const persisted = await startCustomerStorage(
        { world: buildWorld(), keys, counters: new RequestCounters() },
        { tls, location },
      );
      try {
        const token = await keys.sign(TENANT, storageClaims(TENANT, SP.dataReader));
        const service = new BlobServiceClient(
          `${persisted.endpoint}/tfdata1`,
          new FixedTokenCredential(token),
          clientOptions(),
        );
        const result = { containers: 0, blobs: 0, bytes: 0 };
        for await (const container of service.listContainers()) {
          result.containers++;
          for await (const blob of service.getContainerClient(container.name).listBlobsFlat()) {
            result.blobs++;
            result.bytes += blob.properties.contentLength ?? 0;
          }
        }
        return result;
      } finally {
        await persisted.close();
      }
    };
    const first = await census();
    expect(first.containers).toBe(3);
    expect(first.blobs).toBe(6);
    expect(await census()).toEqual(first);
  });
});

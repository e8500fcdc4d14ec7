/**
 * The hand-built transaction against the real Table service (Azurite), and against the SDK's own:
 * a refused operation keeps the service's error code, so diagnosis names the cause
 * (`PropertyValueTooLarge`, not `Http400`); and for the same operations the body built here is, part by
 * part, the body @azure/data-tables' submitTransaction sends.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { RestError, TableClient, type TransactionAction } from '@azure/data-tables';
import {
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { diagnose } from '../../../src/core/platform/diagnosis.js';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import {
  submitBatch,
  transactionBody,
  type BatchAction,
} from '../../../src/core/storage/table-transaction.js';
import { testConfig } from '../../support/provider.js';

const config = testConfig();
const storage = new ProviderStorage(config);
const table = storage.table(config.names.inventoryTable);

beforeAll(async () => {
  await storage.ensureResources();
});

describe('a refused transaction', () => {
  it("keeps the service's error code: a too-long property is PropertyValueTooLarge, and diagnosed so", async () => {
    const partitionKey = randomUUID();
    const refused = await submitBatch(table, [
      ['upsert', { partitionKey, rowKey: 'fine', name: 'x' }],
      // A string property holds at most 64 KiB (32K UTF-16 characters).
      ['upsert', { partitionKey, rowKey: 'too-long', tags: 'x'.repeat(40_000) }],
    ]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(RestError);
    expect((refused as RestError).statusCode).toBe(400);
    expect((refused as RestError).code).toBe('PropertyValueTooLarge');
    const diagnosis = diagnose(refused, { cloud: config.cloud, appClientId: config.appClientId });
    expect(diagnosis.code).toBe('PropertyValueTooLarge');
    // Nothing of the transaction was written.
    const rows = table.listEntities({ queryOptions: { filter: `PartitionKey eq '${partitionKey}'` } });
    for await (const row of rows) expect.fail(`row ${row.rowKey} was written`);
  });
});

describe('a transaction refused as a whole', () => {
  it("throws the request's status and the service's code, writing nothing", async () => {
    // The same account with a key that is not its own: the service refuses the whole request (403).
    const connection = config.storage.kind === 'connectionString' ? config.storage.connectionString : '';
    const wrongKey = connection.replace(
      /AccountKey=[^;]+/,
      `AccountKey=${Buffer.from('not the key').toString('base64')}`,
    );
    expect(wrongKey).not.toBe(connection);
    const forged = TableClient.fromConnectionString(wrongKey, config.names.inventoryTable, {
      allowInsecureConnection: true,
    });
    const partitionKey = randomUUID();
    const refused = await submitBatch(forged, [['upsert', { partitionKey, rowKey: 'r', name: 'x' }]]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(RestError);
    const error = refused as RestError;
    expect(error.statusCode).toBe(403);
    expect(error.code).toBe('AuthorizationFailure');
    expect(error.message).toBe('transaction refused with status 403: AuthorizationFailure');
    const rows = table.listEntities({ queryOptions: { filter: `PartitionKey eq '${partitionKey}'` } });
    expect((await rows.next()).done).toBe(true);
  });
});

describe("a transaction's ETags", () => {
  it('gives each operation the ETag its row was stored with, in order, when asked (a delete none)', async () => {
    const partitionKey = randomUUID();
    await table.upsertEntity({ partitionKey, rowKey: 'old', name: 'x' }, 'Replace');
    const etags = await submitBatch(
      table,
      [
        ['upsert', { partitionKey, rowKey: 'a', name: 'x' }],
        ['delete', { partitionKey, rowKey: 'old' }],
        ['upsert', { partitionKey, rowKey: 'b', name: 'y' }],
      ],
      { etags: true },
    );
    expect(etags).toEqual([
      (await table.getEntity(partitionKey, 'a')).etag,
      '',
      (await table.getEntity(partitionKey, 'b')).etag,
    ]);
    expect(await submitBatch(table, [['upsert', { partitionKey, rowKey: 'c', name: 'z' }]])).toEqual([]);
  });
});

describe('text beyond ASCII in a transaction', () => {
  it('stores every character as given: the body is sized in bytes, not characters', async () => {
    const partitionKey = randomUUID();
    // Two-, three- and four-byte UTF-8 characters, in keys and values, around a plain row.
    const rows = [
      { partitionKey, rowKey: 'plain', name: 'vm-1' },
      { partitionKey, rowKey: 'rg-é-vm-ü', name: 'Größe ✓ 東京', tags: '{"owner":"Zoë 😀"}' },
      { partitionKey, rowKey: 'last', name: '€'.repeat(3000) },
    ];
    await submitBatch(
      table,
      rows.map((row): BatchAction => ['upsert', row]),
    );
    for (const row of rows) {
      const stored = await table.getEntity<Record<string, unknown>>(partitionKey, row.rowKey);
      expect({ ...stored, etag: undefined, timestamp: undefined, 'odata.metadata': undefined }).toEqual({
        ...row,
        etag: undefined,
        timestamp: undefined,
        'odata.metadata': undefined,
      });
    }
  });
});

/** One operation of a changeset, parsed: header names lower-cased, blank lines and boundaries gone. */
interface Part {
  partHeaders: Record<string, string>;
  requestLine: string;
  headers: Record<string, string>;
  body: unknown;
}

function headerBlock(lines: string[]): Record<string, string> {
  return Object.fromEntries(
    lines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
    }),
  );
}

/** The operations of a one-changeset transaction body, in order. */
function changesetParts(body: string): { batchHeaders: Record<string, string>; parts: Part[] } {
  const batch = /^--(batch_[\w-]+)\r\n/.exec(body)?.[1];
  const changeset = /boundary=(changeset_[\w-]+)/.exec(body)?.[1];
  if (!batch || !changeset) throw new Error('not a transaction body');
  const [head, ...rest] = body.split(`--${changeset}`);
  const batchHeaders = headerBlock(
    head!
      .split('\r\n')
      .filter((line) => line !== '' && !line.startsWith('--'))
      .map((line) => line.replace(changeset, 'changeset')),
  );
  const parts = rest
    .filter((text) => !text.startsWith('--'))
    .map((text): Part => {
      const lines = text.split('\r\n').filter((line) => line !== '');
      const requestIndex = lines.findIndex((line) => /^(PUT|DELETE|POST|PATCH|MERGE) /.test(line));
      const bodyIndex = lines.findIndex((line, index) => index > requestIndex && line.startsWith('{'));
      const headerEnd = bodyIndex < 0 ? lines.length : bodyIndex;
      return {
        partHeaders: headerBlock(lines.slice(0, requestIndex)),
        requestLine: lines[requestIndex]!,
        headers: headerBlock(lines.slice(requestIndex + 1, headerEnd)),
        body: bodyIndex < 0 ? undefined : JSON.parse(lines[bodyIndex]!),
      };
    });
  return { batchHeaders, parts };
}

/** The request the SDK's own submitTransaction sends for `actions` (answered with a canned 202). */
async function sdkTransaction(
  url: string,
  tableName: string,
  actions: TransactionAction[],
): Promise<PipelineRequest> {
  let captured: PipelineRequest | undefined;
  const httpClient: HttpClient = {
    sendRequest(request): Promise<PipelineResponse> {
      captured = request;
      const operation = [
        '--changesetresponse_r',
        'Content-Type: application/http',
        'Content-Transfer-Encoding: binary',
        '',
        'HTTP/1.1 204 No Content',
        '',
        '',
      ];
      const bodyAsText = [
        '--batchresponse_r',
        'Content-Type: multipart/mixed; boundary=changesetresponse_r',
        '',
        ...actions.flatMap(() => operation),
        '--changesetresponse_r--',
        '--batchresponse_r--',
        '',
      ].join('\r\n');
      return Promise.resolve({
        request,
        status: 202,
        headers: createHttpHeaders({ 'content-type': 'multipart/mixed; boundary=batchresponse_r' }),
        bodyAsText,
      });
    },
  };
  // A SAS-less client without a credential: the request is captured before it would need one.
  await new TableClient(url, tableName, { httpClient }).submitTransaction(actions);
  if (!captured) throw new Error('the SDK sent nothing');
  return captured;
}

describe('the transaction body, part by part, against the SDK', () => {
  it('matches what TableClient.submitTransaction sends for the same upserts, merges and deletes', async () => {
    const url = 'https://contoso.table.core.windows.net';
    const ours: BatchAction[] = [
      [
        'upsert',
        {
          partitionKey: 't_s',
          rowKey: "rg%2fvm'1",
          name: 'vm-1',
          items: 7,
          enabled: true,
          manifest0: new Uint8Array([1, 2, 3]),
          seenAt: new Date('2026-01-01T00:00:00Z'),
          share: 1.5,
        },
      ],
      ['delete', { partitionKey: 't_s', rowKey: 'gone#1 é' }],
      ['upsert', { partitionKey: 't_s', rowKey: '!subscription', syncing: false, lastRunId: 'r' }],
      ['merge', { partitionKey: 't_s', rowKey: '!subscription2', items: 3, lastRunId: 'r2' }],
    ];
    const sdkActions: TransactionAction[] = ours.map(([kind, entity]) =>
      kind === 'delete' ? ['delete', entity] : ['upsert', entity, kind === 'upsert' ? 'Replace' : 'Merge'],
    );
    const sent = (await sdkTransaction(url, 'inventory', sdkActions)).body;
    if (typeof sent !== 'string') throw new Error('the SDK sent a body that is not text');
    const sdk = changesetParts(sent);
    const built = changesetParts(
      transactionBody({ url, tableName: 'inventory' }, ours, {
        batch: randomUUID(),
        changeset: randomUUID(),
      }).toString('utf8'),
    );
    expect(built.batchHeaders).toEqual(sdk.batchHeaders);
    expect(built.parts).toHaveLength(sdk.parts.length);
    for (const [index, part] of built.parts.entries()) {
      const expected = sdk.parts[index]!;
      expect(part.partHeaders).toEqual(expected.partHeaders);
      expect(part.requestLine).toBe(expected.requestLine);
      expect(part.headers).toEqual(expected.headers);
      // One difference by design: a non-integer number is annotated Edm.Double here (the SDK leaves it
      // to the service's inference, which takes an integral value such as 2^33 as an integer).
      expect(part.body).toEqual(
        expected.body && index === 0 ? { ...expected.body, 'share@odata.type': 'Edm.Double' } : expected.body,
      );
    }
  });
});

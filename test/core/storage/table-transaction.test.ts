/**
 * The hand-built transaction body and response reading (src/core/storage/table-transaction.ts), without a
 * service: the body's structure, the OData type annotations, what is refused, and a failed operation
 * read out of a changeset response in the Table service's documented form.
 */
import { describe, expect, it } from 'vitest';
import type { TableEntity } from '@azure/data-tables';
import { entityJson, failedOperation, transactionBody } from '../../../src/core/storage/table-transaction.js';

const table = { url: 'https://contoso.table.core.windows.net/', tableName: 'inventory' };

describe('transactionBody', () => {
  it('is one changeset with a PUT per upsert and a DELETE (If-Match *) per delete, keys quoted and encoded', () => {
    const body = transactionBody(
      table,
      [
        ['upsert', { partitionKey: 't_s', rowKey: "rg%2fvm'1", name: 'vm' }],
        ['delete', { partitionKey: 't_s', rowKey: 'gone' }],
      ],
      { batch: 'b1', changeset: 'c1' },
    ).toString('utf8');
    const lines = body.split('\r\n');
    expect(lines[0]).toBe('--batch_b1');
    expect(lines[1]).toBe('Content-Type: multipart/mixed; boundary=changeset_c1');
    expect(body.match(/^--changeset_c1$/gm)).toHaveLength(2);
    expect(lines).toContain(
      "PUT https://contoso.table.core.windows.net/inventory(PartitionKey='t_s',RowKey='rg%252fvm''1') HTTP/1.1",
    );
    expect(lines).toContain(
      "DELETE https://contoso.table.core.windows.net/inventory(PartitionKey='t_s',RowKey='gone') HTTP/1.1",
    );
    expect(lines).toContain('If-Match: *');
    expect(lines).toContain('{"PartitionKey":"t_s","RowKey":"rg%2fvm\'1","name":"vm"}');
    expect(body.endsWith('--changeset_c1--\r\n--batch_b1--\r\n')).toBe(true);
  });
});

describe('entityJson', () => {
  it('annotates what OData cannot infer and leaves strings, booleans and Int32 plain', () => {
    const json = JSON.parse(
      entityJson({
        partitionKey: 'p',
        rowKey: 'r',
        s: 'x',
        b: true,
        i: 7,
        d: 1.5,
        big: 2 ** 33,
        bin: new Uint8Array([1, 2]),
        at: new Date('2026-01-01T00:00:00Z'),
        skipped: undefined,
      }),
    ) as Record<string, unknown>;
    expect(json).toEqual({
      PartitionKey: 'p',
      RowKey: 'r',
      s: 'x',
      b: true,
      i: 7,
      d: 1.5,
      'd@odata.type': 'Edm.Double',
      big: 2 ** 33,
      'big@odata.type': 'Edm.Double',
      bin: 'AQI=',
      'bin@odata.type': 'Edm.Binary',
      at: '2026-01-01T00:00:00.000Z',
      'at@odata.type': 'Edm.DateTime',
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a plain row', { s: 'x', b: false, i: 7 }, '{"PartitionKey":"p","RowKey":"r","s":"x","b":false,"i":7}'],
    ['an undefined value', { s: 'x', u: undefined }, '{"PartitionKey":"p","RowKey":"r","s":"x"}'],
    ['the largest Int32', { n: 2_147_483_647 }, '{"PartitionKey":"p","RowKey":"r","n":2147483647}'],
    ['the smallest Int32', { n: -2_147_483_648 }, '{"PartitionKey":"p","RowKey":"r","n":-2147483648}'],
    [
      'one above Int32',
      { n: 2_147_483_648 },
      '{"PartitionKey":"p","RowKey":"r","n":2147483648,"n@odata.type":"Edm.Double"}',
    ],
    [
      'one below Int32',
      { n: -2_147_483_649 },
      '{"PartitionKey":"p","RowKey":"r","n":-2147483649,"n@odata.type":"Edm.Double"}',
    ],
    ['a fraction', { n: 0.5 }, '{"PartitionKey":"p","RowKey":"r","n":0.5,"n@odata.type":"Edm.Double"}'],
  ])('writes %s exactly as OData needs it', (_case, values, text) => {
    expect(entityJson({ partitionKey: 'p', rowKey: 'r', ...values })).toBe(text);
  });

  it('renames the keys wherever they stand, not only when they come first', () => {
    const later = { n: 1, partitionKey: 'p', rowKey: 'r' } as unknown as TableEntity;
    expect(entityJson(later)).toBe('{"n":1,"PartitionKey":"p","RowKey":"r"}');
    const swapped = { rowKey: 'r', partitionKey: 'p', s: 'x' } as unknown as TableEntity;
    expect(entityJson(swapped)).toBe('{"RowKey":"r","PartitionKey":"p","s":"x"}');
    const rowKeySecond = { s: 'x', rowKey: 'r', partitionKey: 'p' } as unknown as TableEntity;
    expect(entityJson(rowKeySecond)).toBe('{"s":"x","RowKey":"r","PartitionKey":"p"}');
    const between = { partitionKey: 'p', s: 'x', rowKey: 'r' } as unknown as TableEntity;
    expect(entityJson(between)).toBe('{"PartitionKey":"p","s":"x","RowKey":"r"}');
  });

  it('refuses nested objects and non-finite numbers, naming the property', () => {
    expect(() => entityJson({ partitionKey: 'p', rowKey: 'r', tags: { a: 1 } })).toThrow('property tags');
    expect(() => entityJson({ partitionKey: 'p', rowKey: 'r', n: Number.NaN })).toThrow('property n');
  });
});

describe('failedOperation', () => {
  it('reads the failing operation of a changeset response (the service stops at it)', () => {
    const response = [
      '--batchresponse_1',
      'Content-Type: multipart/mixed; boundary=changesetresponse_2',
      '',
      '--changesetresponse_2',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      '',
      'HTTP/1.1 404 Not Found',
      'Content-Type: application/json;odata=minimalmetadata;streaming=true;charset=utf-8',
      '',
      '{"odata.error":{"code":"ResourceNotFound","message":{"lang":"en-US","value":"1:The specified resource does not exist."}}}',
      '--changesetresponse_2--',
      '--batchresponse_1--',
    ].join('\r\n');
    expect(failedOperation(response)).toEqual({
      status: 404,
      message: 'ResourceNotFound: 1:The specified resource does not exist.',
      code: 'ResourceNotFound',
    });
  });

  it('finds nothing in a response of successes', () => {
    const ok = ['--changesetresponse_2', '', 'HTTP/1.1 204 No Content', 'ETag: W/"x"', ''].join('\r\n');
    expect(failedOperation(ok)).toBeUndefined();
  });
});

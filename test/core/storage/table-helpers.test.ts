/**
 * Table helpers on their own (pure): reading untyped entity properties, telling the service's answers
 * apart, key escaping and key ranges, Int32 against Double in a transaction's JSON, and reading a
 * transaction's response (the failed operation and its code, each operation's ETag). The Azurite tests
 * beside it send real transactions.
 */
import { RestError } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { text } from '../../../src/core/storage/entity-fields.js';
import { hasStatus } from '../../../src/core/storage/table-errors.js';
import {
  escapeKey,
  newestFirstKey,
  resourceGlobalKey,
  resourceRowKey,
  underscorePrefixRange,
  unescapeKey,
} from '../../../src/core/storage/table-keys.js';
import { entityJson, failedOperation, operationEtags } from '../../../src/core/storage/table-transaction.js';

const CRLF = '\r\n';

describe('entity fields and service answers', () => {
  it('text reads strings, numbers and booleans, and nothing else', () => {
    expect(text('a')).toBe('a');
    expect(text(42)).toBe('42');
    expect(text(false)).toBe('false');
    expect(text({ a: 1 })).toBe('');
    expect(text(undefined, 'none')).toBe('none');
    expect(text(null)).toBe('');
  });

  it("hasStatus is true only for the service's answer with one of the statuses", () => {
    const conflict = new RestError('exists', { statusCode: 409 });
    expect(hasStatus(conflict, 404, 409)).toBe(true);
    expect(hasStatus(conflict, 404)).toBe(false);
    expect(hasStatus({ statusCode: 409 }, 409)).toBe(false);
    expect(hasStatus(new RestError('no status'), 0)).toBe(true);
  });
});

describe('keys', () => {
  it('escapes what keys forbid, reversibly, on the fast path and the full one', () => {
    expect(escapeKey('rg/providers/x%y')).toBe('rg%2fproviders%2fx%25y');
    expect(escapeKey('a/b#c?d\\e\u0001')).toBe('a%2fb%23c%3fd%5ce%01');
    for (const value of ['rg/providers/x%y', 'a/b#c?d\\e\u0001', 'plain'])
      expect(unescapeKey(escapeKey(value))).toBe(value);
  });

  it('keys a resource by its id after its subscription (lower-cased), or by the whole id', () => {
    const id = '/subscriptions/S1/resourceGroups/RG/providers/Microsoft.Web/sites/A';
    expect(resourceRowKey(id)).toBe('resourcegroups%2frg%2fproviders%2fmicrosoft.web%2fsites%2fa');
    expect(resourceRowKey(`/x${id}`)).toBe(escapeKey(`/x${id}`.toLowerCase()));
    expect(resourceGlobalKey(id)).toBe(escapeKey(id.toLowerCase()));
  });

  it('newestFirstKey is 14 digits that sort newest first', () => {
    expect(newestFirstKey(1_000)).toBe('99999999998999');
    expect(newestFirstKey(99_999_999_999_998)).toBe('00000000000001');
    expect(newestFirstKey(2000) < newestFirstKey(1000)).toBe(true);
  });

  it('underscorePrefixRange covers the keys that start with prefix_ (either column)', () => {
    expect(underscorePrefixRange('PartitionKey', "t'1")).toBe(
      "PartitionKey ge 't''1_' and PartitionKey lt 't''1`'",
    );
    expect(underscorePrefixRange('RowKey', 'run-1')).toBe("RowKey ge 'run-1_' and RowKey lt 'run-1`'");
  });
});

describe('transaction JSON and responses', () => {
  it('keeps integers within Int32 plain and marks those outside as Double', () => {
    const json = JSON.parse(
      entityJson({
        partitionKey: 'p',
        rowKey: 'r',
        min: -2_147_483_648,
        max: 2_147_483_647,
        over: 2_147_483_648,
        under: -2_147_483_649,
      }),
    ) as Record<string, unknown>;
    expect(json['min@odata.type']).toBeUndefined();
    expect(json['max@odata.type']).toBeUndefined();
    expect(json['over@odata.type']).toBe('Edm.Double');
    expect(json['under@odata.type']).toBe('Edm.Double');
  });

  it('reads the code of a failed operation from its x-ms-error-code header when the body has none', () => {
    const response = [
      '--changesetresponse_2',
      'HTTP/1.1 204 No Content',
      'ETag: W/"1"',
      '',
      '--changesetresponse_2',
      'HTTP/1.1 412 Precondition Failed',
      'x-ms-error-code:   UpdateConditionNotSatisfied  ',
      '',
      'not json',
      '--changesetresponse_2--',
    ].join(CRLF);
    expect(failedOperation(response)).toEqual({
      status: 412,
      message: 'operation failed with status 412',
      code: 'UpdateConditionNotSatisfied',
    });
    // A status line must start its line; an error without a message says its code and status alone.
    expect(failedOperation(`x HTTP/1.1 500 Oops${CRLF}`)).toBeUndefined();
    expect(failedOperation(`HTTP/1.1 409 Conflict${CRLF}${CRLF}{"odata.error":{}}`)).toEqual({
      status: 409,
      message: '409:',
    });
    expect(failedOperation(`HTTP/1.1 400 Bad${CRLF}${CRLF}{"odata.error":{"code":"X"}}`)).toEqual({
      status: 400,
      message: 'X:',
      code: 'X',
    });
  });

  it('reads each operation’s ETag in order, none for a delete', () => {
    const response = [
      '--changesetresponse_2',
      'HTTP/1.1 204 No Content',
      'etag:W/"datetime\'1\'"  ',
      '',
      '--changesetresponse_2',
      'HTTP/1.1 204 No Content',
      'X-Original-ETag: not this',
      '',
      '--changesetresponse_2',
      'HTTP/1.1 201 Created',
      'ETag: W/"3"',
      'Preference-Applied: return-no-content',
      '',
      '--changesetresponse_2--',
    ].join(CRLF);
    expect(operationEtags(response)).toEqual([`W/"datetime'1'"`, '', 'W/"3"']);
    expect(operationEtags('no operations')).toEqual([]);
  });
});

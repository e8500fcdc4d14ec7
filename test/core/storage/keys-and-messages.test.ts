import { describe, expect, it } from 'vitest';
import { encodeSweepMessage, parseSweepMessage } from '../../../src/core/sweep/sweep-message.js';
import { escapeKey, resourceRowKey, unescapeKey } from '../../../src/core/storage/table-keys.js';
import { isRunId, newRunId } from '../../../src/core/sweep/runs.js';
import {
  parseBlobName,
  parseContainerName,
  parseStorageAccountName,
  parseSubscriptionId,
  parseTenantId,
} from '../../../src/core/platform/ids.js';
import { InputError } from '../../../src/core/platform/errors.js';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import { testConfig } from '../../support/provider.js';
import { refusal } from '../../support/refusal.js';

describe('table keys', () => {
  it('escapes the characters Table keys forbid, reversibly', () => {
    const id = '/subscriptions/S/resourceGroups/rg#1/providers/Microsoft.Web/sites/a?b\\c%d';
    const key = escapeKey(id);
    expect(key).not.toMatch(/[/\\#?]/);
    expect(unescapeKey(key)).toBe(id);
  });

  it('escapes a percent sign in a key that has no rarer forbidden character, reversibly', () => {
    const key = escapeKey('resourceGroups/rg/providers/x/a%2fb');
    expect(key).toBe('resourceGroups%2frg%2fproviders%2fx%2fa%252fb');
    expect(unescapeKey(key)).toBe('resourceGroups/rg/providers/x/a%2fb');
  });

  it('keys a resource by its lower-cased id within the subscription', () => {
    const a = resourceRowKey(
      '/subscriptions/0000/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/VM1',
    );
    const b = resourceRowKey(
      '/SUBSCRIPTIONS/0000/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1',
    );
    expect(a).toBe(b);
    expect(a).toBe('resourcegroups%2frg%2fproviders%2fmicrosoft.compute%2fvirtualmachines%2fvm1');
  });
});

describe('provider storage with a managed identity', () => {
  it('addresses tables, queues and containers under the configured service URLs, whatever their trailing slashes', () => {
    const storage = new ProviderStorage(
      {
        ...testConfig(),
        storage: {
          kind: 'identity',
          tableUrl: 'https://stfleet.table.core.windows.net',
          queueUrl: 'https://stfleet.queue.core.windows.net//',
          blobUrl: 'https://stfleet.blob.core.windows.net/',
        },
      },
      { getToken: () => Promise.resolve(null) },
    );
    expect(storage.queue('sweep').url).toBe('https://stfleet.queue.core.windows.net/sweep');
    expect(storage.table('tenants').url).toBe('https://stfleet.table.core.windows.net');
    expect(storage.table('tenants').tableName).toBe('tenants');
    expect(storage.container('snapshots').url).toBe('https://stfleet.blob.core.windows.net/snapshots');
  });

  it('builds one client per name and hands it out again', () => {
    const storage = new ProviderStorage(testConfig());
    expect(storage.table('tenants')).toBe(storage.table('tenants'));
    expect(storage.table('runs')).not.toBe(storage.table('tenants'));
    expect(storage.table('runs').tableName).toBe('runs');
    expect(storage.queue('sweep')).toBe(storage.queue('sweep'));
    expect(storage.queue('poison')).not.toBe(storage.queue('sweep'));
    expect(storage.container('snapshots')).toBe(storage.container('snapshots'));
    expect(storage.container('exports').containerName).toBe('exports');
  });
});

describe('sweep messages', () => {
  const message = {
    v: 1 as const,
    runId: newRunId(new Date('2026-11-23T06:00:00.123Z')),
    tenantId: 'AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE',
  };

  it('round-trips through base64 as the queue trigger expects', () => {
    const encoded = encodeSweepMessage(message);
    expect(Buffer.from(encoded, 'base64').toString('utf8')).toContain('"runId"');
    expect(parseSweepMessage(encoded)).toEqual({ ...message, tenantId: message.tenantId.toLowerCase() });
    // The Functions host hands over the decoded JSON object.
    expect(parseSweepMessage({ ...message })?.tenantId).toBe(message.tenantId.toLowerCase());
  });

  it('rejects what is not a sweep message', () => {
    expect(parseSweepMessage('not base64 json!')).toBeUndefined();
    expect(parseSweepMessage({ v: 1, runId: 'x', tenantId: message.tenantId })).toBeUndefined();
    expect(parseSweepMessage({ v: 1, runId: message.runId, tenantId: '../../etc' })).toBeUndefined();
    expect(parseSweepMessage(42)).toBeUndefined();
  });

  it('makes run ids that sort by time', () => {
    const first = newRunId(new Date('2026-01-01T00:00:00Z'));
    const second = newRunId(new Date('2026-01-01T00:00:01Z'));
    expect(isRunId(first)).toBe(true);
    expect(first < second).toBe(true);
    expect(isRunId('20260101T000000000Z-zzzzzz')).toBe(false);
  });
});

describe('identifier validation', () => {
  it('accepts and normalises good ids and names', () => {
    expect(parseTenantId('AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE')).toBe(
      'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
    );
    expect(parseStorageAccountName('litwaredata01')).toBe('litwaredata01');
    expect(parseContainerName('logs-2026')).toBe('logs-2026');
    expect(parseBlobName('a/b/c.txt')).toBe('a/b/c.txt');
    expect(parseSubscriptionId('0B1F6471-1BF0-4DDA-AEC3-CB9272F09590')).toBe(
      '0b1f6471-1bf0-4dda-aec3-cb9272f09590',
    );
    // Dots inside a segment are no "." or ".." segment.
    for (const name of ['.hidden', 'a..b/c.d', 'x/..y/z', 'reports/2026.01/.keep'])
      expect(parseBlobName(name)).toBe(name);
  });

  it.each<[string, () => unknown, string, string]>([
    ['a tenant id that is no GUID', () => parseTenantId('contoso.onmicrosoft.com'), 'tenantId', 'GUID'],
    ['a missing tenant id', () => parseTenantId(undefined), 'tenantId', 'GUID'],
    ['a subscription id that is no GUID', () => parseSubscriptionId('prod'), 'subscriptionId', 'GUID'],
    ['a subscription id that is no string', () => parseSubscriptionId(42), 'subscriptionId', 'GUID'],
    ['an account name that is no string', () => parseStorageAccountName(42), 'account', '3-24'],
    ['a container name that is no string', () => parseContainerName(null), 'container', '3-63'],
    ['a blob name that is no string', () => parseBlobName(7), 'blob', '1-1024'],
    ['a blob name with DEL', () => parseBlobName('a\u007fb'), 'blob', 'control characters'],
    ['a blob name with a control character', () => parseBlobName('a\u001fb'), 'blob', 'control characters'],
    ['a blob name ending in a slash', () => parseBlobName('logs/'), 'blob', 'trailing'],
    ['a blob name ending in a dot', () => parseBlobName('logs.'), 'blob', 'trailing'],
    ['a blob name ending in a backslash', () => parseBlobName('logs\\'), 'blob', 'trailing'],
    ['a ".." segment first', () => parseBlobName('../exports/x'), 'blob', '".."'],
    ['a ".." segment inside', () => parseBlobName('a/../b'), 'blob', '".."'],
    ['a "." segment inside', () => parseBlobName('a/./b'), 'blob', '"."'],
    ['a ".." name', () => parseBlobName('..'), 'blob', '".."'],
  ])('refuses %s naming the field and what it must be', (_case, call, field, expected) => {
    const error = refusal(call);
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ field });
    expect((error as InputError).message).toContain(expected);
  });

  it('names the field a caller passes', () => {
    expect(() => parseTenantId('x', 'tenantIds.0')).toThrow(
      expect.objectContaining({ field: 'tenantIds.0' }),
    );
    expect(() => parseSubscriptionId('x', 'include.1')).toThrow(
      expect.objectContaining({ field: 'include.1' }),
    );
  });

  it.each([
    () => parseTenantId('contoso.onmicrosoft.com'),
    () => parseStorageAccountName('evil.example.com'),
    () => parseStorageAccountName('UPPER'),
    () => parseContainerName('a--b'),
    () => parseContainerName('-ab'),
    () => parseBlobName('x\u0000y'),
    () => parseBlobName(''),
  ])('refuses bad input with an InputError (%#)', (call) => {
    expect(call).toThrow(InputError);
  });
});

describe('name length limits, at the edge', () => {
  it.each<[string, (value: string) => string, number, number, string]>([
    ['a storage account name', parseStorageAccountName, 3, 24, 'account'],
    ['a container name', parseContainerName, 3, 63, 'container'],
  ])(
    'accepts %s of %i to %i characters and refuses one shorter or longer',
    (_what, parse, min, max, field) => {
      for (const length of [min, max]) expect(parse('a'.repeat(length))).toBe('a'.repeat(length));
      for (const length of [min - 1, max + 1]) {
        const error = (() => {
          try {
            parse('a'.repeat(length));
          } catch (caught) {
            return caught;
          }
          return undefined;
        })();
        expect(error, `length ${length}`).toBeInstanceOf(InputError);
        expect((error as InputError).field).toBe(field);
      }
    },
  );

  it('accepts a blob name of 1024 characters and refuses one of 1025', () => {
    expect(parseBlobName('b'.repeat(1024))).toBe('b'.repeat(1024));
    expect(() => parseBlobName('b'.repeat(1025))).toThrow(InputError);
  });
});

describe('bounded warning lists', () => {
  it('keeps whole items that fit and says how many were left out, always valid JSON', async () => {
    const { boundedJsonList } = await import('../../../src/core/sweep/runs.js');
    const items = Array.from({ length: 500 }, (_, index) => ({
      scope: 'storageAccount',
      id: `account${index}`,
      code: 'AuthorizationFailure',
    }));
    const text = boundedJsonList(items, 2_000);
    expect(text.length).toBeLessThanOrEqual(2_000);
    const parsed = JSON.parse(text) as Array<Record<string, unknown>>;
    const marker = parsed.at(-1)!;
    expect(marker.truncated).toBe(500 - (parsed.length - 1));
    expect(parsed[0]).toEqual(items[0]);
    expect(JSON.parse(boundedJsonList(items.slice(0, 3), 2_000))).toEqual(items.slice(0, 3));
  });
});

/** What `call` throws, or undefined. */

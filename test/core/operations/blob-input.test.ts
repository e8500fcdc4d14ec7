/**
 * What the blob API refuses before it makes any call to customer storage: a listing's page size,
 * prefix and continuation token at their limits, and a write's body size, media type and missing
 * condition. Each refusal names the field and what it must be. Azurite is only reached by a write
 * that passes every check (and then finds no such tenant).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkListOptions,
  MAX_BLOB_BYTES,
  MAX_CONTINUATION_TOKEN,
  MAX_PREFIX,
  writeBlob,
  type ListBlobsOptions,
} from '../../../src/core/operations/blob-operations.js';
import { InputError, PreconditionRequiredError } from '../../../src/core/platform/errors.js';
import { createRuntime } from '../../../src/core/runtime.js';
import { testConfig } from '../../support/provider.js';
import { refusal } from '../../support/refusal.js';

describe('a listing', () => {
  it.each<ListBlobsOptions>([
    {},
    { top: 1 },
    { top: 5000 },
    { prefix: 'p'.repeat(MAX_PREFIX) },
    { continuationToken: '!'.repeat(MAX_CONTINUATION_TOKEN) },
    { continuationToken: '~abc' },
  ])('accepts %j', (options) => {
    expect(refusal(() => checkListOptions(options))).toBeUndefined();
  });

  it.each<[ListBlobsOptions, string]>([
    [{ top: 0 }, 'top: must be an integer from 1 to 5000'],
    [{ top: 5001 }, 'top: must be an integer from 1 to 5000'],
    [{ top: 2.5 }, 'top: must be an integer from 1 to 5000'],
    [{ prefix: 'p'.repeat(MAX_PREFIX + 1) }, `prefix: is longer than ${MAX_PREFIX} characters`],
    [{ prefix: 'logs/\u0001' }, 'prefix: must not contain control characters'],
    [
      { continuationToken: '!'.repeat(MAX_CONTINUATION_TOKEN + 1) },
      `continuationToken: is longer than ${MAX_CONTINUATION_TOKEN} characters: not a token this API returned`,
    ],
    [{ continuationToken: 'a b' }, 'continuationToken: must be visible ASCII: not a token this API returned'],
  ])('refuses %j: %s', (options, message) => {
    const error = refusal(() => checkListOptions(options));
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toBe(message);
  });
});

describe('a write', () => {
  const runtime = createRuntime(testConfig(), { log: () => undefined });
  const write = (content: Buffer, contentType?: string) =>
    writeBlob(runtime, randomUUID(), 'stcustomer01', 'data', 'a.txt', content, contentType, {
      ifNoneMatch: '*',
    });

  it('refuses a write without a condition', async () => {
    await expect(
      writeBlob(runtime, randomUUID(), 'stcustomer01', 'data', 'a.txt', Buffer.from('x'), 'text/plain'),
    ).rejects.toBeInstanceOf(PreconditionRequiredError);
  });

  it('refuses a body over the limit, naming the limit', async () => {
    await expect(write(Buffer.alloc(MAX_BLOB_BYTES + 1))).rejects.toThrow(
      new InputError('body', `is over ${MAX_BLOB_BYTES} bytes`).message,
    );
  });

  it.each([
    'text',
    ' text/plain',
    'text/plain\u0001',
    'text/plain\nx-evil: 1',
    `text/${'p'.repeat(252)}`, // 257 characters
  ])('refuses the media type %j', async (contentType) => {
    await expect(write(Buffer.from('x'), contentType)).rejects.toThrow(
      'content-type: is not a media type (such as text/plain; charset=utf-8)',
    );
  });

  it.each(['text/plain ; charset=utf-8', `text/${'p'.repeat(251)}`, 'application/vnd.api+json'])(
    'takes the media type %j (and goes on to look for the tenant)',
    async (contentType) => {
      const error = await write(Buffer.from('x'), contentType).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(Error);
      expect((error as InputError).field).not.toBe('content-type');
    },
  );
});

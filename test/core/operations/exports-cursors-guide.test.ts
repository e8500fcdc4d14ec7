/**
 * Small operations helpers on their own: the export formats (CSV fields quoted and defused against
 * spreadsheet formulas, NDJSON, streamed in chunks), the fleet views' continuation token (a token this
 * API did not issue is a 400, never page 1 again), and the onboarding guide an operator hands a
 * customer. test/functions/fleet-views-http.test.ts drives them through the HTTP functions.
 */
import { describe, expect, it } from 'vitest';
import { csvField, encodeRows, parseExportFormat } from '../../../src/core/operations/export-format.js';
import { decodeCursor, encodeCursor } from '../../../src/core/operations/fleet-cursor.js';
import { onboardingGuide } from '../../../src/core/operations/onboarding-guide.js';
import { InputError } from '../../../src/core/platform/errors.js';
import { createRuntime } from '../../../src/core/runtime.js';
import { testConfig } from '../../support/provider.js';
import { refusal } from '../../support/refusal.js';

async function text(chunks: AsyncIterable<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const chunk of chunks) out.push(Buffer.from(chunk).toString('utf8'));
  return out;
}

describe('exports', () => {
  it('take csv or ndjson only', () => {
    expect(parseExportFormat('csv')).toBe('csv');
    expect(parseExportFormat('ndjson')).toBe('ndjson');
    for (const value of ['CSV', 'json', '', null, undefined])
      expect(refusal(() => parseExportFormat(value))).toMatchObject({
        field: 'format',
        message: 'format: must be csv or ndjson',
      });
  });

  it('quote CSV fields that need it, write objects as JSON and defuse formulas', () => {
    expect(csvField(undefined)).toBe('');
    expect(csvField(null)).toBe('');
    expect(csvField('plain')).toBe('plain');
    expect(csvField(42)).toBe('42');
    expect(csvField(true)).toBe('true');
    expect(csvField({ env: 'prod' })).toBe('"{""env"":""prod""}"');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
    for (const formula of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx'])
      expect(csvField(formula)).toBe(`'${formula}`);
    expect(csvField('\rx')).toBe(`"'\rx"`);
    expect(csvField('a=1')).toBe('a=1');
    expect(csvField(-1)).toBe("'-1");
  });

  it('encode rows as CSV with a header line or as NDJSON, in chunks of about 64 KiB', async () => {
    const rows = [
      { name: 'a', size: 1 },
      { name: 'b,c', size: 2 },
    ];
    expect(await text(encodeRows(rows, 'csv', ['name', 'size']))).toEqual([
      'name,size\r\na,1\r\n"b,c",2\r\n',
    ]);
    expect(await text(encodeRows(rows, 'ndjson', ['name']))).toEqual([
      '{"name":"a","size":1}\n{"name":"b,c","size":2}\n',
    ]);
    expect(await text(encodeRows([], 'ndjson', ['name']))).toEqual([]);
    expect(await text(encodeRows([], 'csv', ['name']))).toEqual(['name\r\n']);
    const big = Array.from({ length: 3 }, (_, i) => ({ name: String(i).repeat(40 * 1024) }));
    const chunks = await text(encodeRows(big, 'ndjson', ['name']));
    expect(chunks.map((chunk) => chunk.length)).toEqual([2 * (40 * 1024 + 12), 40 * 1024 + 12]);
  });
});

describe('the fleet continuation token', () => {
  it('reads back what it wrote, and nothing for no token', () => {
    const cursor = { v: 1 as const, r: 'run-1', t: 'tenant', k: 'table token' };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    expect(decodeCursor(encodeCursor({ v: 1, t: 'tenant' }))).toEqual({ v: 1, t: 'tenant' });
    expect(decodeCursor(undefined)).toBeUndefined();
    expect(decodeCursor('')).toBeUndefined();
  });

  it('refuses a token this API did not issue with a 400 naming continuationToken', () => {
    const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const raw of [
      'not+base64url',
      `${encodeCursor({ v: 1, t: 'x' })}=`,
      b64({ v: 2, t: 'x' }),
      b64({ v: 1, t: 'x', extra: 1 }),
      b64({ v: 1, t: 'x'.repeat(65) }),
      Buffer.from('not json').toString('base64url'),
      'A'.repeat(8193),
      // Node's decoder skips a character outside the alphabet: only the shape check refuses these.
      `!${encodeCursor({ v: 1, t: 'x' })}`,
      `${encodeCursor({ v: 1, t: 'x' })}!`,
    ]) {
      const error = refusal(() => decodeCursor(raw));
      expect(error, raw.slice(0, 30)).toBeInstanceOf(InputError);
      expect(error).toMatchObject({
        field: 'continuationToken',
        message: 'continuationToken: is not a token this API returned',
      });
    }
    // Just at the length bound the token is read (and refused for what it holds, not its length).
    const long = b64({ v: 1, t: 'x', k: 'k'.repeat(4096) });
    expect(long.length).toBeLessThanOrEqual(8192);
    expect(decodeCursor(long)?.k).toHaveLength(4096);
  });

  it('is read up to 8192 characters, and refused beyond even when what it holds is a valid cursor', () => {
    // A valid cursor's JSON padded with whitespace: 6144 bytes are 8192 base64url characters, 6145 are 8194.
    const padded = (bytes: number): string =>
      Buffer.from(JSON.stringify({ v: 1, t: 'x' }).padEnd(bytes, ' ')).toString('base64url');
    expect(padded(6144)).toHaveLength(8192);
    expect(decodeCursor(padded(6144))).toEqual({ v: 1, t: 'x' });
    expect(padded(6145)).toHaveLength(8194);
    expect(refusal(() => decodeCursor(padded(6145)))).toMatchObject({
      field: 'continuationToken',
      message: 'continuationToken: is not a token this API returned',
    });
  });
});

describe('the onboarding guide', () => {
  it("is built from the tenant id and the app's client id, with the consent link of the cloud", () => {
    const runtime = createRuntime(testConfig());
    const appId = runtime.config.appClientId;
    const tenantId = 'A0A0A0A0-0000-0000-0000-000000000001';
    const guide = onboardingGuide(runtime, tenantId);
    const lower = tenantId.toLowerCase();
    expect(guide).toEqual({
      tenantId: lower,
      appClientId: appId,
      adminConsentUrl: `https://login.microsoftonline.com/${lower}/adminconsent?client_id=${appId}`,
      commands: [
        `az login --tenant ${lower}`,
        'git clone <repository the provider gave you> tenant-fleet && cd tenant-fleet',
        `./infra/customer/onboard.sh --app-id ${appId} --subscription <subscription id>`,
        '# or, for every subscription under a management group:',
        `./infra/customer/onboard.sh --app-id ${appId} --management-group <management group id>`,
      ],
      templateParameters: {
        providerServicePrincipalObjectId: `$(az ad sp show --id ${appId} --query id -o tsv)`,
        blobDataAccess: 'None | Reader | Contributor',
        providerName: 'Tenant Fleet',
      },
      verify: `POST /api/tenants/${lower}/diagnose`,
    });
    expect(refusal(() => onboardingGuide(runtime, 'contoso'))).toBeInstanceOf(InputError);
  });
});

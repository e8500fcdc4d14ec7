import { existsSync, readFileSync } from 'node:fs';
import { createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { AZURE_CLOUDS } from '../../../src/core/platform/cloud.js';
import { diagnose, diagnosisFor, entraErrorNumber } from '../../../src/core/platform/diagnosis.js';
import { redact } from '../../../src/core/platform/errors.js';

const context = {
  cloud: AZURE_CLOUDS.AzurePublicCloud,
  appClientId: '11111111-2222-3333-4444-555555555555',
  tenantId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
};

/** The shape @azure/identity gives token endpoint failures (see offline-azure-notes.md). */
function identityError(code: number, text: string): Error {
  const error = new Error(
    `invalid_client: Error(s): ${code} - Timestamp: 2026-11-23 Trace ID: x AADSTS${code}: ${text}`,
  );
  error.name = 'AuthenticationRequiredError';
  return error;
}

describe('diagnose', () => {
  it('tells the customer how to provision the app for AADSTS700016, with the admin consent link', () => {
    const diagnosis = diagnose(identityError(700016, 'Application not found'), context);
    expect(diagnosis.code).toBe('AADSTS700016');
    expect(diagnosis.owner).toBe('customer');
    expect(diagnosis.category).toBe('onboarding');
    expect(diagnosis.retryable).toBe(false);
    expect(diagnosis.meaning).toContain('not provisioned in the customer tenant');
    expect(diagnosis.fix).toContain(
      `https://login.microsoftonline.com/${context.tenantId}/adminconsent?client_id=${context.appClientId}`,
    );
    expect(diagnosis.fix).toContain(`az ad sp create --id ${context.appClientId}`);
  });

  it('explains AADSTS700236 as an FIC on an app in the wrong tenant', () => {
    const diagnosis = diagnose(identityError(700236, 'Entra ID tokens issued by issuer ...'), context);
    expect(diagnosis.code).toBe('AADSTS700236');
    expect(diagnosis.owner).toBe('provider');
    expect(diagnosis.meaning).toMatch(/another tenant/);
    expect(diagnosis.fix).toMatch(/multitenant app/);
  });

  it.each([
    [70021, 'configuration'],
    [700211, 'configuration'],
    [700212, 'configuration'],
    [700213, 'configuration'],
    [700024, 'transient'],
    [50013, 'configuration'],
    [700027, 'configuration'],
    [90002, 'input'],
    [500011, 'configuration'],
  ])('classifies AADSTS%i', (code, category) => {
    const diagnosis = diagnose(identityError(code, 'x'), context);
    expect(diagnosis.code).toBe(`AADSTS${code}`);
    expect(diagnosis.category).toBe(category);
    // A fix of its own, not the fallback's pointer to the error reference.
    expect(diagnosis.fix).not.toContain('error reference');
    expect(diagnosis.meaning).not.toBe(`Entra refused the token request (AADSTS${code}).`);
  });

  it('reads the error number from MSAL cause when present', () => {
    const error = Object.assign(new Error('no number in the text'), { cause: { errorNo: '700016' } });
    expect(entraErrorNumber(error)).toBe('700016');
    const numeric = Object.assign(new Error('AADSTS50027: other'), { cause: { errorNo: 700213 } });
    expect(entraErrorNumber(numeric)).toBe('700213');
  });

  it.each<[string, unknown, string | undefined]>([
    ['an AADSTS number in the text only', new Error('AADSTS700016: Application not found'), '700016'],
    [
      'MSAL\'s "Error(s):" list only',
      new Error('invalid_client: Error(s): 7000215 - Timestamp: x'),
      '7000215',
    ],
    [
      'a cause without an error number',
      Object.assign(new Error('AADSTS70021: no FIC'), { cause: { errorCode: 'invalid_client' } }),
      '70021',
    ],
    ['a number too short to be one', new Error('AADSTS123: x; Error(s): 99 - y'), undefined],
    ['no number at all', new Error('socket hang up'), undefined],
    ['no error at all', undefined, undefined],
  ])('reads the error number from %s', (_case, error, number) => {
    expect(entraErrorNumber(error)).toBe(number);
  });

  it('writes the fix of AADSTS700016 with placeholders when the tenant is not known', () => {
    const { tenantId: _tenant, ...withoutTenant } = context;
    const { fix } = diagnose(identityError(700016, 'Application not found'), withoutTenant);
    expect(fix).toContain(
      `https://login.microsoftonline.com/%7BtenantId%7D/adminconsent?client_id=${context.appClientId}`,
    );
    expect(fix).toContain('in tenant {tenantId},');
  });

  it.each<[Parameters<typeof diagnosisFor>[0], string, string]>([
    ['AuthorizationFailed', 'Reader', 'no role that allows reading this scope'],
    ['NoVisibleSubscriptions', 'Reader', 'sees no subscription'],
    ['SubscriptionNotVisible', 'Reader', 'not visible to the service principal'],
    ['AuthorizationPermissionMismatch', 'Storage Blob Data Reader', 'no Storage Blob Data role'],
  ])('tells the customer which role grants %s, for this app', (code, role, meaning) => {
    const diagnosis = diagnosisFor(code, context);
    expect(diagnosis).toMatchObject({
      code,
      category: 'permission',
      owner: 'customer',
      retryable: false,
      detail: '',
    });
    expect(diagnosis.meaning).toContain(meaning);
    expect(diagnosis.fix).toContain(`assign ${role} to the service principal of app ${context.appClientId}`);
  });

  it('tells the customer to enable a disabled service principal (AADSTS7000112)', () => {
    expect(diagnose(identityError(7000112, 'Application is disabled'), context)).toMatchObject({
      code: 'AADSTS7000112',
      category: 'onboarding',
      owner: 'customer',
      retryable: false,
      meaning: "The app's service principal is disabled in the customer tenant.",
    });
    expect(diagnose(identityError(7000112, 'x'), context).fix).toContain(
      `enable the service principal of app ${context.appClientId}`,
    );
  });

  it('classifies ARM and storage refusals by their service code', () => {
    const arm = new RestError('The client does not have authorization', {
      code: 'AuthorizationFailed',
      statusCode: 403,
    });
    expect(diagnose(arm, context)).toMatchObject({
      code: 'AuthorizationFailed',
      owner: 'customer',
      retryable: false,
    });
    const blob = new RestError('not authorized using this permission', {
      code: 'AuthorizationPermissionMismatch',
      statusCode: 403,
    });
    expect(diagnose(blob, context).fix).toMatch(/Storage Blob Data Reader/);
    const throttled = new RestError('slow down', { statusCode: 429 });
    expect(diagnose(throttled, context)).toMatchObject({
      code: 'SubscriptionRequestsThrottled',
      retryable: true,
    });
    const unavailable = new RestError('busy', { statusCode: 503 });
    expect(diagnose(unavailable, context)).toMatchObject({ code: 'TransientFailure', retryable: true });
    // 500 is the first server error: transient too.
    const failed = new RestError('oops', { statusCode: 500 });
    expect(diagnose(failed, context)).toMatchObject({ code: 'TransientFailure', retryable: true });
  });

  it('says an unexpected error is one, with what to do, and keeps the first line of its message', () => {
    expect(diagnose(new RestError('teapot\nsecond line', { statusCode: 418 }), context)).toEqual({
      code: 'Http418',
      category: 'unknown',
      owner: 'provider',
      meaning: 'An unexpected error.',
      fix: 'See the detail; report it if it persists.',
      retryable: false,
      detail: 'teapot',
    });
    expect(diagnose(42, context).detail).toBe('');
    expect(diagnose('plain text', context).detail).toBe('plain text');
    expect(diagnose(new Error('x'.repeat(600)), context).detail).toBe('x'.repeat(500));
  });

  it('falls back for an AADSTS number it does not know: unknown, not retryable, naming the number', () => {
    expect(diagnose(identityError(9999999, 'Something new'), context)).toEqual({
      code: 'AADSTS9999999',
      category: 'unknown',
      owner: 'provider',
      meaning: 'Entra refused the token request (AADSTS9999999).',
      fix: "Look up AADSTS9999999 in Microsoft's Entra error reference.",
      retryable: false,
      detail:
        'invalid_client: Error(s): 9999999 - Timestamp: 2026-11-23 Trace ID: x AADSTS9999999: Something new',
    });
  });

  it('reads an unknown tenant from MSAL metadata discovery (no AADSTS number) as AADSTS90002', () => {
    const error = new Error('endpoints_resolution_error: Error: could not resolve endpoints.');
    expect(diagnose(error, context)).toMatchObject({ code: 'AADSTS90002', category: 'input' });
  });

  it('recognises the managed identity being unavailable, by name or by message', () => {
    const byName = Object.assign(new Error('no endpoint'), { name: 'CredentialUnavailableError' });
    expect(diagnose(byName, context).code).toBe('ManagedIdentityUnavailable');
    expect(diagnose(new Error('ManagedIdentityCredential: no response'), context).code).toBe(
      'ManagedIdentityUnavailable',
    );
  });

  it.each<[string, unknown, string, boolean]>([
    ['a refused connection', new Error('connect ECONNREFUSED 127.0.0.1:443'), 'TransientFailure', true],
    ['a 408', new RestError('timeout', { statusCode: 408 }), 'TransientFailure', true],
    [
      'a request that could not be sent',
      new RestError('x', { code: 'REQUEST_SEND_ERROR' }),
      'TransientFailure',
      true,
    ],
    ['an unknown 4xx', new RestError('teapot', { statusCode: 418 }), 'Http418', false],
    [
      'an error with a code of its own',
      new RestError('odd', { code: 'OddCode', statusCode: 400 }),
      'OddCode',
      false,
    ],
    ['something that is no error at all', 42, 'UnexpectedError', false],
  ])('classifies %s', (_case, error, code, retryable) => {
    expect(diagnose(error, context)).toMatchObject({ code, retryable });
  });

  it('names the real options of infra/customer for blob data access, never a parameter that does not exist', () => {
    const read = diagnose(
      new RestError('not authorized using this permission', {
        code: 'AuthorizationPermissionMismatch',
        statusCode: 403,
      }),
      context,
    );
    expect(read.meaning).toMatch(/may not read blobs/);
    expect(read.fix).toContain('onboard.sh --blob-access Reader');
    expect(read.fix).toContain("blobDataAccess='Reader'");
    expect(read.fix).not.toContain('includeStorageDataRole');
    // The names said are the ones the script and the Bicep files take.
    const onboard = readFileSync('infra/customer/onboard.sh', 'utf8');
    expect(onboard).toContain('--blob-access)');
    for (const file of ['infra/customer/subscription.bicep', 'infra/customer/management-group.bicep'])
      expect(readFileSync(file, 'utf8')).toMatch(/^param blobDataAccess string/m);
    const arm = diagnose(new RestError('no', { code: 'AuthorizationFailed', statusCode: 403 }), context);
    for (const path of arm.fix.match(/infra\/[\w/.-]+\.(?:bicep|sh)/g) ?? [])
      expect(existsSync(path)).toBe(true);
  });

  it('says a refused blob write may not write, and names Storage Blob Data Contributor', () => {
    const write = new RestError('not authorized using this permission', {
      code: 'AuthorizationPermissionMismatch',
      statusCode: 403,
      request: createPipelineRequest({ url: 'https://st.blob.core.windows.net/c/b', method: 'PUT' }),
    });
    const diagnosis = diagnose(write, context);
    expect(diagnosis.code).toBe('AuthorizationPermissionMismatch');
    expect(diagnosis.meaning).toMatch(/may not write blobs/);
    expect(diagnosis.meaning).not.toMatch(/may not read/);
    expect(diagnosis.fix).toContain('Storage Blob Data Contributor');
    expect(diagnosis.fix).toContain('--blob-access Contributor');
    expect(diagnosis.fix).not.toMatch(/Storage Blob Data Reader to/);
    // A delete is a write too; a GET is a read.
    const remove = new RestError('no', {
      code: 'AuthorizationPermissionMismatch',
      statusCode: 403,
      request: createPipelineRequest({ url: 'https://st.blob.core.windows.net/c/b', method: 'DELETE' }),
    });
    expect(diagnose(remove, context).meaning).toMatch(/may not write/);
    const get = new RestError('no', {
      code: 'AuthorizationPermissionMismatch',
      statusCode: 403,
      request: createPipelineRequest({ url: 'https://st.blob.core.windows.net/c/b', method: 'GET' }),
    });
    expect(diagnose(get, context).meaning).toMatch(/may not read/);
    // Missing a role is not fixed by trying again.
    expect(diagnosis.retryable).toBe(false);
  });

  it.each(['HEAD', 'OPTIONS', 'head'])('reads a refused %s as a read, not a write', (method) => {
    const refused = new RestError('no', {
      code: 'AuthorizationPermissionMismatch',
      statusCode: 403,
      request: createPipelineRequest({
        url: 'https://st.blob.core.windows.net/c/b',
        method: method as 'HEAD',
      }),
    });
    const diagnosis = diagnose(refused, context);
    expect(diagnosis.meaning).toMatch(/may not read blobs/);
    expect(diagnosis.fix).not.toContain('Storage Blob Data Contributor');
  });

  it('reads AADSTS500011 from the managed identity step as its wrong FIC audience, by name or by message', () => {
    const refusal = 'AADSTS500011: The resource principal named api://wrong was not found in the tenant.';
    const byName = Object.assign(new Error(refusal), { name: 'CredentialUnavailableError' });
    expect(diagnose(byName, context).code).toBe('ManagedIdentityInvalidResource');
    const byMessage = new Error(`ManagedIdentityCredential: ${refusal}`);
    expect(diagnose(byMessage, context).code).toBe('ManagedIdentityInvalidResource');
    // The same refusal from the token exchange names a resource of the customer's tenant.
    expect(diagnose(new Error(refusal), context).code).toBe('AADSTS500011');
    const otherName = Object.assign(new Error(refusal), { name: 'AuthenticationError' });
    expect(diagnose(otherName, context).code).toBe('AADSTS500011');
  });

  it('never carries a token in its detail', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const diagnosis = diagnose(
      new Error(`request failed: client_assertion=${jwt}&x=1 Authorization: Bearer ${jwt}`),
      context,
    );
    expect(diagnosis.detail).not.toContain(jwt);
    expect(diagnosis.detail).not.toContain('eyJ');
  });
});

describe('redact', () => {
  it('removes JWTs, bearer tokens and keys', () => {
    const text = redact('AccountKey=abc123==;Bearer abc.def.ghi sig=xyz eyJa1234.eyJb5678.sig');
    expect(text).toBe('AccountKey=[redacted];Bearer [redacted] sig=[redacted] [redacted-jwt]');
  });
});

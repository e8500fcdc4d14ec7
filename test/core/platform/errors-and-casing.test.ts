/**
 * Small platform helpers on their own: the error types the HTTP layer maps to statuses (their names
 * and messages), reading status and code from whatever an SDK throws, redaction of secrets from a
 * message, and ARM's one spelling of types, locations and resource groups.
 */
import { RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { canonicalLocation, canonicalType, resourceGroupOf } from '../../../src/core/platform/arm-casing.js';
import {
  ConfigError,
  ConflictError,
  ensureError,
  errorCodeOf,
  InputError,
  NotFoundError,
  PreconditionRequiredError,
  redact,
  StateConflictError,
  statusCodeOf,
} from '../../../src/core/platform/errors.js';

describe('error types', () => {
  it('carry their name, what is at fault and a message naming it', () => {
    expect(new ConfigError('TENANT_FLEET_X', 'is required')).toMatchObject({
      name: 'ConfigError',
      setting: 'TENANT_FLEET_X',
      message: 'TENANT_FLEET_X: is required',
    });
    expect(new InputError('tenantId', 'must be a GUID')).toMatchObject({
      name: 'InputError',
      field: 'tenantId',
      message: 'tenantId: must be a GUID',
    });
    expect(new NotFoundError('no such tenant')).toMatchObject({
      name: 'NotFoundError',
      message: 'no such tenant',
    });
    expect(new ConflictError('exists already')).toMatchObject({ name: 'ConflictError', kind: 'exists' });
    expect(new ConflictError('busy', 'busy')).toMatchObject({ kind: 'busy', message: 'busy' });
    expect(new PreconditionRequiredError('If-Match', 'send If-Match')).toMatchObject({
      name: 'PreconditionRequiredError',
      header: 'If-Match',
      message: 'send If-Match',
    });
    expect(new StateConflictError('running', 'the run is going')).toMatchObject({
      name: 'StateConflictError',
      reason: 'running',
      message: 'the run is going',
    });
  });
});

describe('reading what an SDK threw', () => {
  it('ensureError keeps an Error and wraps anything else readably', () => {
    const error = new Error('boom');
    expect(ensureError(error)).toBe(error);
    expect(ensureError('text').message).toBe('text');
    expect(ensureError({ code: 42 }).message).toBe('{"code":42}');
    expect(ensureError(undefined)).toBeInstanceOf(Error);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(ensureError(cyclic).message).toBe('[object Object]');
    expect(ensureError(10n).message).toBe('10');
  });

  it('statusCodeOf reads statusCode, else status, else nothing', () => {
    expect(statusCodeOf(new RestError('x', { statusCode: 409 }))).toBe(409);
    expect(statusCodeOf({ statusCode: 401, status: 500 })).toBe(401);
    expect(statusCodeOf({ status: 503 })).toBe(503);
    expect(statusCodeOf({ statusCode: '404', status: '500' })).toBeUndefined();
    expect(statusCodeOf(null)).toBeUndefined();
    expect(statusCodeOf(undefined)).toBeUndefined();
  });

  it("errorCodeOf prefers the service's error code to the SDK's", () => {
    expect(errorCodeOf({ code: 'REQUEST_SEND_ERROR', details: { errorCode: 'AuthorizationFailed' } })).toBe(
      'AuthorizationFailed',
    );
    expect(errorCodeOf({ code: 'ResourceNotFound', details: { errorCode: 7 } })).toBe('ResourceNotFound');
    expect(errorCodeOf({ code: 5 })).toBeUndefined();
    expect(errorCodeOf(null)).toBeUndefined();
  });

  it('redact removes tokens, bearer values and keys, keeping what names them', () => {
    const jwt = 'eyJhbGciOi.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    expect(redact(`got ${jwt} back`)).toBe('got [redacted-jwt] back');
    expect(redact('Authorization: Bearer abc.def-ghi==')).toBe('Authorization: Bearer [redacted]');
    expect(redact('AccountName=a;AccountKey=c2VjcmV0;EndpointSuffix=x')).toBe(
      'AccountName=a;AccountKey=[redacted];EndpointSuffix=x',
    );
    expect(redact('?sv=1&sig=abc%2B&se=2')).toBe('?sv=1&sig=[redacted]&se=2');
    expect(redact('client_secret=s3cr3t client_assertion=x.y.z')).toBe(
      'client_secret=[redacted] client_assertion=[redacted]',
    );
    expect(redact('nothing secret here')).toBe('nothing secret here');
  });
});

describe("ARM's spellings", () => {
  it('compares types case-insensitively and locations without case or spaces', () => {
    expect(canonicalType('Microsoft.Compute/virtualMachines')).toBe('microsoft.compute/virtualmachines');
    expect(canonicalLocation('West  Europe')).toBe('westeurope');
    expect(canonicalLocation('westeurope')).toBe('westeurope');
  });

  it("names a resource's group as the group is listed, else as the id spells it", () => {
    const groups = new Map([['rg-web', 'RG-Web']]);
    const id = '/subscriptions/s/resourceGroups/RG-WEB/providers/Microsoft.Web/sites/a';
    expect(resourceGroupOf(id, groups)).toBe('RG-Web');
    expect(resourceGroupOf('/subscriptions/s/RESOURCEGROUPS/other/providers/x/y/z', groups)).toBe('other');
    expect(resourceGroupOf('/subscriptions/s', groups)).toBe('');
  });
});

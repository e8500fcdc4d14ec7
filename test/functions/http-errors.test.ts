/**
 * How the HTTP edge maps errors it does not know (src/functions/shared/http.ts): a misconfigured app
 * and an unexpected failure are 500s that say nothing internal (the detail goes to the log,
 * redacted); a refusal by a service behind the app is a 502 with its diagnosis. Each test installs
 * the runtime it needs (or none).
 */
import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import { RestError } from '@azure/core-rest-pipeline';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/platform/errors.js';
import { createRuntime, setRuntime } from '../../src/core/runtime.js';
import { errorResponse } from '../../src/functions/shared/http.js';
import { testConfig } from '../support/provider.js';

function invocation() {
  const lines: Array<[string, string]> = [];
  const invocationId = randomUUID();
  const context = new InvocationContext({
    invocationId,
    functionName: 'test',
    logHandler: (level, ...args) => lines.push([level, args.map(String).join(' ')]),
  });
  return { context, lines, invocationId };
}

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

afterEach(() => {
  setRuntime(undefined);
});

describe('errors the HTTP edge does not know', () => {
  it('answers a misconfigured app with 500 Misconfigured naming the setting, and logs the detail', () => {
    const { context, lines } = invocation();
    const response = errorResponse(new ConfigError('TENANT_FLEET_MI_CLIENT_ID', 'is not a GUID'), context);
    expect(response.status).toBe(500);
    expect(response.jsonBody).toEqual({
      error: {
        code: 'Misconfigured',
        message: 'the app is misconfigured (TENANT_FLEET_MI_CLIENT_ID); see the logs',
      },
    });
    expect(lines).toEqual([['error', 'configuration: TENANT_FLEET_MI_CLIENT_ID: is not a GUID']]);
  });

  it('answers an unexpected failure with 500 naming only the invocation, and logs it redacted', () => {
    setRuntime(createRuntime(testConfig(), { log: () => undefined }));
    const { context, lines, invocationId } = invocation();
    const response = errorResponse(new TypeError(`cannot read x of undefined (Bearer ${JWT})`), context);
    expect(response.status).toBe(500);
    expect(response.jsonBody).toEqual({
      error: { code: 'InternalError', message: `unexpected error; invocation ${invocationId}` },
    });
    expect(lines).toEqual([
      ['error', 'unexpected error: cannot read x of undefined (Bearer [redacted-jwt])'],
    ]);
  });

  it('answers 500 for a thrown non-error even when no runtime can be built', () => {
    const { context, lines, invocationId } = invocation();
    const saved = { ...process.env };
    // No settings at all: getRuntime throws, and the edge must still answer.
    for (const key of Object.keys(process.env)) if (key.startsWith('TENANT_FLEET_')) delete process.env[key];
    try {
      const response = errorResponse('a string was thrown', context);
      expect(response.status).toBe(500);
      expect(response.jsonBody).toEqual({
        error: { code: 'InternalError', message: `unexpected error; invocation ${invocationId}` },
      });
      expect(lines).toEqual([['error', 'unexpected error: a string was thrown']]);
    } finally {
      process.env = saved;
    }
  });

  it("answers a service's refusal with 502 and its diagnosis, logging nothing", () => {
    setRuntime(createRuntime(testConfig(), { log: () => undefined }));
    const { context, lines } = invocation();
    const refusal = new RestError('This request is not authorized to perform this operation.', {
      code: 'AuthorizationFailure',
      statusCode: 403,
    });
    const response = errorResponse(refusal, context);
    expect(response.status).toBe(502);
    expect(response.jsonBody).toMatchObject({
      error: { code: 'AuthorizationFailure', owner: 'customer', retryable: false },
    });
    expect(lines).toEqual([]);
  });

  it('answers an Entra refusal it has no entry for with 500 (unknown), not a 502 with a guess', () => {
    setRuntime(createRuntime(testConfig(), { log: () => undefined }));
    const { context } = invocation();
    const response = errorResponse(new Error('AADSTS9999999: something new'), context);
    expect(response.status).toBe(500);
  });
});

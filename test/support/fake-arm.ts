/**
 * ARM for unit tests, as an HttpClient injected through the SDK client options (as azure-sdk-for-js
 * tests do; @azure/* modules are never mocked): it answers by URL and records every request, and a
 * credential that hands out a static token and records the scopes asked for.
 */
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import {
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';

export class StaticCredential implements TokenCredential {
  readonly scopes: string[] = [];
  getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return Promise.resolve({ token: 'static-test-token', expiresOnTimestamp: Date.now() + 3_600_000 });
  }
}

export interface FakeArmAnswer {
  status: number;
  /** JSON-encoded into the body; a string is sent as it is. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** Answers by URL (`attempt` counts the requests of the same URL, from 1); records every request. */
export function fakeArm(answer: (url: URL, attempt: number) => FakeArmAnswer) {
  const requests: PipelineRequest[] = [];
  const client: HttpClient = {
    sendRequest: (request: PipelineRequest): Promise<PipelineResponse> => {
      requests.push(request);
      const url = new URL(request.url);
      const attempt = requests.filter((r) => r.url === request.url).length;
      const { status, body, headers } = answer(url, attempt);
      return Promise.resolve({
        request,
        status,
        headers: createHttpHeaders({ 'content-type': 'application/json', ...headers }),
        bodyAsText: body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
  };
  return { client, requests };
}

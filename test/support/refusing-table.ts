/**
 * A fresh table in the shared Azurite whose client counts the requests it sends and can be told to
 * answer some of them with a refusal instead of sending them. The HttpClient is injected through the
 * client options (no module mock), so the product's code runs unchanged against the real SDK while a
 * test reaches the paths a race or an outage takes on purpose rather than by timing.
 */
import { TableClient } from '@azure/data-tables';
import {
  createDefaultHttpClient,
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { providerConnectionString, uniquePrefix } from './provider.js';

export interface RefusingTable {
  table: TableClient;
  /** Methods of the requests sent since the table was made (the Tables SDK sends a merge as PATCH). */
  sent: string[];
  /** When set, a request it returns a status for is answered with that status and never sent. */
  refuse?: (request: PipelineRequest) => number | undefined;
}

export async function refusingTable(): Promise<RefusingTable> {
  const inner = createDefaultHttpClient();
  const wired: Partial<RefusingTable> & { sent: string[] } = { sent: [] };
  const httpClient: HttpClient = {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      wired.sent.push(request.method);
      const status = wired.refuse?.(request);
      if (status === undefined) return inner.sendRequest(request);
      const bodyAsText = JSON.stringify({
        'odata.error': { code: `Refused${status}`, message: { value: 'refused by the test' } },
      });
      const headers = createHttpHeaders({ 'content-type': 'application/json' });
      return { request, status, headers, bodyAsText };
    },
  };
  const table = TableClient.fromConnectionString(providerConnectionString(), `${uniquePrefix()}t`, {
    httpClient,
    allowInsecureConnection: true,
    retryOptions: { maxRetries: 0 },
  });
  await table.createTable();
  wired.sent.length = 0;
  wired.table = table;
  return wired as RefusingTable;
}

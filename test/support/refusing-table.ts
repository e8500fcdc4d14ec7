/**
 * A fresh table in the shared Azurite whose client counts the requests it sends and can be told to
 * answer some of them with a refusal instead of sending them. A policy added to the client's own
 * pipeline does it (no module mock; it also sees the transactions table-transaction.ts sends through
 * that pipeline), so the product's code runs unchanged against the real SDK while a test reaches the
 * paths a race or an outage takes on purpose rather than by timing.
 */
import { TableClient } from '@azure/data-tables';
import { createHttpHeaders, type PipelineRequest } from '@azure/core-rest-pipeline';
import { providerConnectionString, uniquePrefix } from './provider.js';

export interface RefusingTable {
  table: TableClient;
  /** Methods of the requests sent since the table was made (the Tables SDK sends a merge as PATCH). */
  sent: string[];
  /** When set, a request it returns a status for is answered with that status and never sent. */
  refuse?: (request: PipelineRequest) => number | undefined;
}

export async function refusingTable(): Promise<RefusingTable> {
  const table = TableClient.fromConnectionString(providerConnectionString(), `${uniquePrefix()}t`, {
    allowInsecureConnection: true,
    retryOptions: { maxRetries: 0 },
  });
  await table.createTable();
  const wired: RefusingTable = { table, sent: [] };
  table.pipeline.addPolicy(
    {
      name: 'refusingTable',
      sendRequest: (request, next) => {
        wired.sent.push(request.method);
        const status = wired.refuse?.(request);
        if (status === undefined) return next(request);
        const bodyAsText = JSON.stringify({
          'odata.error': { code: `Refused${status}`, message: { value: 'refused by the test' } },
        });
        const headers = createHttpHeaders({ 'content-type': 'application/json' });
        return Promise.resolve({ request, status, headers, bodyAsText });
      },
      // Last, next to the transport: a refusal passes back through deserialisation as a real one would.
    },
    { afterPhase: 'Sign' },
  );
  return wired;
}

/** The answers of an injected fault (faults.ts picks the rule): ARM's own 429, 503 and 500 bodies, or a dropped connection. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestCounters } from '../counters.js';
import type { FaultRule } from '../faults.js';
import { sendJson } from '../http.js';

export function answerFault(
  fault: FaultRule,
  request: IncomingMessage,
  response: ServerResponse,
  headers: Record<string, string>,
  subscriptionId: string | undefined,
  counters: RequestCounters,
): void {
  if (fault.kind === 'drop') {
    // No answer at all: the client sees a reset connection.
    counters.countFault('drop');
    request.socket.destroy();
    return;
  }
  headers['x-ms-failure-cause'] = 'gateway';
  const retryAfter = fault.retryAfterSeconds ?? (fault.kind === '429' ? 1 : undefined);
  const sendsRetryAfter = retryAfter !== undefined && fault.kind !== '500' && !fault.omitRetryAfter;
  // Counted by kind for the fault suite's figures (faultsInjected).
  counters.countFault(`${fault.kind}${sendsRetryAfter ? '+retry-after' : ''}`);
  if (sendsRetryAfter) headers['retry-after'] = String(retryAfter);
  if (fault.kind === '429') {
    counters.armThrottled++;
    headers['x-ms-ratelimit-remaining-subscription-reads'] = '0';
    sendJson(
      response,
      429,
      {
        error: {
          code: 'SubscriptionRequestsThrottled',
          message:
            `Number of 'read' requests for subscription '${subscriptionId ?? ''}' exceeded. Please try again after ` +
            `'${retryAfter ?? 1}' seconds after the additional tokens are replenished. Please refer to https://aka.ms/arm-throttling for additional information.`,
        },
      },
      headers,
    );
  } else if (fault.kind === '503') {
    sendJson(
      response,
      503,
      {
        error: {
          code: 'ServiceUnavailable',
          message: 'The server is currently unable to handle the request. Please retry.',
        },
      },
      headers,
    );
  } else {
    sendJson(
      response,
      500,
      {
        error: {
          code: 'InternalServerError',
          message: `Encountered internal server error. Diagnostic information: timestamp '${new Date().toISOString()}', tracking id '${headers['x-ms-request-id']!}'.`,
        },
      },
      headers,
    );
  }
}

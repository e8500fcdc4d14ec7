/**
 * The answers of an injected fault (faults.ts picks the rule): ARM's own 429, 503, 500 and 403 bodies,
 * or a dropped connection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestCounters } from '../counters.js';
import type { FaultRule } from '../faults.js';
import { sendJson } from '../http.js';
import { bearerToken, safeDecode } from './authenticate.js';
import { authorizationFailed } from './errors.js';

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
  if (fault.kind === '403') {
    // ARM's own refusal of a list (fault rules match subscription-level paths): no Retry-After.
    counters.countFault('403');
    const refusal = authorizationFailed(
      callerObjectId(request),
      'Microsoft.Resources/subscriptions/resources/read',
      `/subscriptions/${subscriptionId ?? ''}`,
    );
    sendJson(response, 403, { error: { code: refusal.code, message: refusal.message } }, headers);
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

/**
 * The caller's object id for a 403's message, read from the bearer token's claims without checking it:
 * the fault answers before authentication (as a gateway would), and the id only words the message.
 */
function callerObjectId(request: IncomingMessage): string {
  const token = bearerToken(request.headers.authorization);
  const oid = token ? safeDecode(token)?.oid : undefined;
  return typeof oid === 'string' ? oid : '00000000-0000-0000-0000-000000000000';
}

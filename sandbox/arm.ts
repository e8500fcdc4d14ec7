/**
 * The sandbox's Azure Resource Manager: the read operations Tenant Fleet's SDK clients call
 * (@azure/arm-resources-subscriptions 3 and @azure/arm-resources 8), over HTTPS, with ARM's real
 * JSON shapes, paging (`nextLink` + `$skiptoken`), `$filter`/`$top`, api-version checks, bearer token
 * validation, RBAC, throttling, latency and fault injection.
 *
 * This file is the front door (request ids, latency, faults, api-version, authentication, throttling,
 * error answers); each concern lives in sandbox/arm/: routes (which operation a path names),
 * subscriptions, resource-groups, resources (one handler per operation), access (RBAC), paging,
 * throttling, authenticate, fault-answers, settings.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { authenticate } from './arm/authenticate.js';
import { ChangeTimes } from './arm/change-times.js';
import { authorityOf, type ArmCall, type ArmContext } from './arm/context.js';
import { ArmError } from './arm/errors.js';
import { answerFault } from './arm/fault-answers.js';
import { getResourceGroup, listResourceGroups } from './arm/resource-groups.js';
import { CasingVariation } from './arm/realism.js';
import { getResource, listResources } from './arm/resources.js';
import { checkApiVersion, route, SERVED, type Operation } from './arm/routes.js';
import { getSubscription, listSubscriptions, listTenants } from './arm/subscriptions.js';
import { chargeRead } from './arm/throttling.js';
import { FaultInjector } from './faults.js';
import { sendJson } from './http.js';
import { TokenBuckets } from './throttle.js';

export type { ArmContext } from './arm/context.js';
export {
  ARM_API_VERSIONS,
  ARM_AUDIENCES,
  armSettingsPatchSchema,
  DEFAULT_ARM_SETTINGS,
  mergeArmSettings,
  type ArmSettings,
  type ArmSettingsPatch,
} from './arm/settings.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Runs the handler of one routed operation. */
function execute(operation: Operation, call: ArmCall): unknown {
  switch (operation.kind) {
    case 'listTenants':
      return listTenants(call);
    case 'listSubscriptions':
      return listSubscriptions(call);
    case 'getSubscription':
      return getSubscription(call, operation.subscriptionId);
    case 'listResourceGroups':
      return listResourceGroups(call, operation.subscriptionId);
    case 'getResourceGroup':
      return getResourceGroup(call, operation.subscriptionId, operation.resourceGroup);
    case 'listResources':
      return listResources(call, operation.subscriptionId);
    case 'listGroupResources':
      return listResources(call, operation.subscriptionId, operation.resourceGroup);
    case 'getResource':
      return getResource(call, operation.subscriptionId, operation.resourceGroup, operation.id);
  }
}

/** Creates the request listener of the sandbox's ARM (mount it on an HTTPS server). */
export function createArmHandler(ctx: ArmContext): RequestListener {
  const buckets = new TokenBuckets();
  const globalBuckets = new TokenBuckets();
  const faults = new FaultInjector();
  const casing = new CasingVariation();
  const changeTimes = new ChangeTimes();

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      // Never a crash and never internals (tokens) in the answer.
      if (!response.headersSent) {
        sendJson(
          response,
          500,
          { error: { code: 'InternalServerError', message: 'Encountered internal server error.' } },
          {},
        );
      }
      if (!(error instanceof ArmError))
        console.error('sandbox ARM: unexpected error', (error as Error).message);
    });
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const correlationHeader = request.headers['x-ms-correlation-request-id'];
    const headers: Record<string, string> = {
      'x-ms-request-id': requestId,
      'x-ms-correlation-request-id': typeof correlationHeader === 'string' ? correlationHeader : requestId,
      'x-ms-routing-request-id': `SANDBOX:${new Date().toISOString().replace(/[-:.]/g, '')}:${requestId}`,
      'cache-control': 'no-cache',
    };
    // GET by id sends `/{+resourceId}`, i.e. `//subscriptions/...`, which ARM accepts: never read a
    // leading `//` as a host.
    const url = new URL((request.url ?? '/').replace(/^\/+/, '/'), 'https://sandbox.invalid');
    let segments: string[];
    try {
      segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      segments = [];
    }
    const operation = route(segments);
    const subscriptionId = operation && 'subscriptionId' in operation ? operation.subscriptionId : undefined;
    ctx.counters.countArm(subscriptionId);

    const settings = ctx.settings();
    if (settings.latencyMs > 0) await sleep(settings.latencyMs);

    const fault = faults.pick(settings.faults, { subscriptionId, path: request.url ?? '/' });
    if (fault) return answerFault(fault, request, response, headers, subscriptionId, ctx.counters);

    try {
      if (request.method !== 'GET') {
        throw new ArmError(
          405,
          'MethodNotAllowed',
          `The requested resource does not support http method '${request.method ?? ''}'.`,
        );
      }
      if (!operation) {
        throw new ArmError(
          404,
          'NotFound',
          `The sandbox ARM does not serve '${url.pathname}'. It serves ${SERVED}.`,
        );
      }
      checkApiVersion(url, operation);
      if (subscriptionId !== undefined && !GUID.test(subscriptionId)) {
        throw new ArmError(
          400,
          'InvalidSubscriptionId',
          `The provided subscription identifier '${subscriptionId}' is malformed or invalid.`,
        );
      }
      const claims = await authenticate(ctx, request);
      chargeRead(buckets, globalBuckets, settings.throttle, subscriptionId, claims, headers);
      const body = execute(operation, {
        ctx,
        claims,
        oid: claims.oid.toLowerCase(),
        url,
        settings,
        casing,
        changeTimes,
      });
      sendJson(response, 200, body, headers);
    } catch (error) {
      if (!(error instanceof ArmError)) throw error;
      if (error.status === 401) {
        headers['www-authenticate'] =
          `Bearer authorization_uri="${authorityOf(ctx)}/${error.challengeTenant}", error="invalid_token", ` +
          `error_description="${error.message.split('. ')[0]!.replace(/"/g, "'")}."`;
      }
      if (error.status === 429) ctx.counters.armThrottled++;
      if (error.status === 429 || error.status >= 500) headers['x-ms-failure-cause'] = 'gateway';
      sendJson(
        response,
        error.status,
        { error: { code: error.code, message: error.message } },
        { ...headers, ...error.headers },
      );
    }
  }
}

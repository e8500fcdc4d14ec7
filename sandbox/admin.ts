/**
 * The sandbox's admin API: plain HTTP on 127.0.0.1, JSON in and out. It mirrors the programmatic
 * handle ({@link WorldStore}, counters, ARM settings) so scripts and other processes (the CLI's
 * users, the benchmark) can change the world while the sandbox runs.
 *
 *   GET    /admin/world                          the snapshot (world + generated drift)
 *   GET    /admin/counters                       request counters
 *   POST   /admin/counters/reset
 *   GET    /admin/arm-settings
 *   PUT    /admin/arm-settings                   partial update { pageSize?, latencyMs?, throttle?, faults? }
 *   POST   /admin/service-principals             { appId, tenantId } -> { objectId }
 *   DELETE /admin/service-principals             { appId, tenantId } -> { removed }
 *   PATCH  /admin/service-principals             { appId, tenantId, accountEnabled } -> { updated }
 *   POST   /admin/role-assignments               { principalId, roleDefinitionName, scope }
 *   DELETE /admin/role-assignments               { principalId, roleDefinitionName, scope } -> { removed }
 *   PUT    /admin/resources                      a resource (world schema) -> { id, resource }
 *   DELETE /admin/resources?id=<resource id>     -> { removed }
 *   PUT    /admin/resource-groups                a resource group (world schema)
 *   PUT    /admin/storage-accounts               a storage account (world schema)
 *   POST   /admin/subscriptions/{id}/drift       { seed, add?, modify?, remove? } -> { added, modified, removed }
 *   POST   /admin/api-clients                    { roles, displayName? } -> an operator client of the API (with
 *                                                 its secret, shown once as Entra does) holding these app roles
 *
 * Bad input answers 400 `{ error: { code, field, message } }` naming the field; unknown things 404.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { ApiTokens } from './api-tokens.js';
import type { ArmSettings, ArmSettingsPatch } from './arm.js';
import { Propagation } from './propagation.js';
import type { RequestCounters } from './counters.js';
import { readBody, sendJson } from './http.js';
import { parseOrThrow, resourceId, WorldStoreError, type WorldStore } from './state.js';

export interface AdminContext {
  store: WorldStore;
  counters: RequestCounters;
  armSettings: () => ArmSettings;
  /** Validates and applies a patch (throws WorldStoreError for bad fields); returns the new settings. */
  setArmSettings: (patch: ArmSettingsPatch) => ArmSettings;
  /** Delays provisioning and grants by ArmSettings.realism.propagationDelayMs (at once without it). */
  propagation?: Propagation;
  /** The provider API's registrations and operator clients (serve mode's callers get theirs here). */
  apiTokens?: ApiTokens;
}

const guid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID');
const servicePrincipalBody = z.object({ appId: guid, tenantId: guid }).strict();
const subscriptionBody = z
  .object({
    state: z.enum(['Enabled', 'Warned', 'PastDue', 'Disabled', 'Deleted']).optional(),
    tenantId: guid.optional(),
  })
  .strict();
const servicePrincipalPatch = z.object({ appId: guid, tenantId: guid, accountEnabled: z.boolean() }).strict();
const roleAssignmentBody = z
  .object({ principalId: guid, roleDefinitionName: z.string().min(1), scope: z.string().min(1) })
  .strict();
const driftBody = z
  .object({
    seed: z.number().int(),
    add: z.number().int().min(0).max(1_000_000).optional(),
    modify: z.number().int().min(0).max(1_000_000).optional(),
    remove: z.number().int().min(0).max(1_000_000).optional(),
  })
  .strict();
const resourceIdBody = z.object({ id: z.string().min(1) }).strict();
const apiClientBody = z
  .object({
    roles: z.array(z.enum(['Fleet.Read', 'Fleet.CustomerData.Read', 'Fleet.Admin'])).max(3),
    displayName: z.string().min(1).max(256).optional(),
  })
  .strict();

/** Counters as JSON (the per-tenant and per-subscription maps become objects). */
export function countersJson(counters: RequestCounters): Record<string, unknown> {
  return {
    ...counters.snapshot(),
    tokenByTenant: Object.fromEntries(counters.tokenByTenant),
    armBySubscription: Object.fromEntries(counters.armBySubscription),
  };
}

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function jsonBody(request: IncomingMessage): Promise<unknown> {
  let text: string;
  try {
    text = await readBody(request, 1024 * 1024);
  } catch {
    throw new HttpProblem(413, 'BodyTooLarge', 'The request body is over 1 MiB.');
  }
  if (text.trim() === '') throw new HttpProblem(400, 'MissingBody', 'This operation needs a JSON body.');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpProblem(400, 'InvalidJson', 'The request body is not valid JSON.');
  }
}

/** Creates the admin API's request listener (mount it on a plain HTTP server bound to 127.0.0.1). */
export function createAdminHandler(ctx: AdminContext): RequestListener {
  const { store } = ctx;
  const propagation = ctx.propagation ?? new Propagation();
  const delay = (): number => (ctx.propagation ? ctx.armSettings().realism.propagationDelayMs : 0);

  async function route(request: IncomingMessage, url: URL): Promise<unknown> {
    const method = request.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '');
    const key = `${method} ${path}`;
    switch (key) {
      case 'GET /admin/world':
        return store.snapshot();
      case 'GET /admin/counters':
        return countersJson(ctx.counters);
      case 'POST /admin/counters/reset':
        ctx.counters.reset();
        return countersJson(ctx.counters);
      case 'GET /admin/arm-settings':
        return ctx.armSettings();
      case 'PUT /admin/arm-settings':
      case 'PATCH /admin/arm-settings':
        return ctx.setArmSettings((await jsonBody(request)) as ArmSettingsPatch);
      case 'POST /admin/service-principals': {
        const body = parseOrThrow(servicePrincipalBody, await jsonBody(request));
        return propagation.provisionServicePrincipal(store, body.appId, body.tenantId, delay());
      }
      case 'DELETE /admin/service-principals': {
        const body = parseOrThrow(servicePrincipalBody, await jsonBody(request));
        return { removed: store.removeServicePrincipal(body.appId, body.tenantId) };
      }
      case 'PATCH /admin/service-principals': {
        const body = parseOrThrow(servicePrincipalPatch, await jsonBody(request));
        return {
          updated: store.setServicePrincipalEnabled(body.appId, body.tenantId, body.accountEnabled),
        };
      }
      case 'POST /admin/role-assignments': {
        const body = parseOrThrow(roleAssignmentBody, await jsonBody(request));
        return propagation.grantRole(store, body.principalId, body.roleDefinitionName, body.scope, delay());
      }
      case 'DELETE /admin/role-assignments': {
        const body = parseOrThrow(roleAssignmentBody, await jsonBody(request));
        return { removed: store.revokeRole(body.principalId, body.roleDefinitionName, body.scope) };
      }
      case 'PUT /admin/resources': {
        const resource = store.upsertResource(
          (await jsonBody(request)) as Parameters<WorldStore['upsertResource']>[0],
        );
        return { id: resourceId(resource), resource };
      }
      case 'DELETE /admin/resources': {
        const id = url.searchParams.get('id') ?? parseOrThrow(resourceIdBody, await jsonBody(request)).id;
        return { removed: store.deleteResource(id) };
      }
      case 'PUT /admin/resource-groups':
        return store.upsertResourceGroup(
          (await jsonBody(request)) as Parameters<WorldStore['upsertResourceGroup']>[0],
        );
      case 'PUT /admin/storage-accounts':
        return store.addStorageAccount(
          (await jsonBody(request)) as Parameters<WorldStore['addStorageAccount']>[0],
        );
      case 'POST /admin/api-clients': {
        const body = parseOrThrow(apiClientBody, await jsonBody(request));
        const api = ctx.apiTokens?.registrations()[0];
        if (!ctx.apiTokens || !api)
          throw new HttpProblem(404, 'NoApiRegistration', 'no API app is registered in this sandbox');
        return ctx.apiTokens.registerClient({ tenantId: api.tenantId, ...body });
      }
    }
    const subscription = /^\/admin\/subscriptions\/([^/]+)$/i.exec(path);
    if (subscription && method === 'PATCH') {
      const body = parseOrThrow(subscriptionBody, await jsonBody(request));
      return store.updateSubscription(decodeURIComponent(subscription[1]!), body);
    }
    const drift = /^\/admin\/subscriptions\/([^/]+)\/drift$/i.exec(path);
    if (drift && method === 'POST') {
      const body = parseOrThrow(driftBody, await jsonBody(request));
      return store.driftGenerated(decodeURIComponent(drift[1]!), body);
    }
    throw new HttpProblem(
      404,
      'NotFound',
      `No admin operation '${method} ${url.pathname}'. See the list in sandbox/admin.ts.`,
    );
  }

  return (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    route(request, url)
      .then((body) => sendJson(response, 200, body))
      .catch((error: unknown) => {
        if (error instanceof HttpProblem) {
          sendJson(response, error.status, { error: { code: error.code, message: error.message } });
        } else if (error instanceof WorldStoreError) {
          const status = error.kind === 'not-found' ? 404 : 400;
          const code = error.kind === 'not-found' ? 'NotFound' : 'InvalidRequest';
          sendJson(response, status, { error: { code, field: error.field, message: error.message } });
        } else {
          sendJson(response, 500, {
            error: { code: 'InternalError', message: 'The admin operation failed unexpectedly.' },
          });
          console.error('sandbox admin: unexpected error', (error as Error).message);
        }
      });
  };
}

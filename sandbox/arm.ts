/**
 * The sandbox's Azure Resource Manager: the read operations Tenant Fleet's SDK clients call
 * (@azure/arm-resources-subscriptions 3 and @azure/arm-resources 8), over HTTPS, with ARM's real
 * JSON shapes, paging (`nextLink` + `$skiptoken`), `$filter`/`$top`, api-version checks, bearer token
 * validation, RBAC, throttling, latency and fault injection.
 *
 * RBAC on lists (documented choice, matching ARM's behaviour for collection GETs): a caller with a
 * read role (Reader, Contributor, Owner) on the subscription sees everything; a caller whose roles sit
 * only on some resource groups or resources sees just those in the subscription-level lists (and the
 * subscription itself in GET /subscriptions); a caller with no read role anywhere in the subscription
 * gets 403 AuthorizationFailed.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { compileResourceFilter, compileResourceGroupFilter, InvalidFilterError } from './arm-filter.js';
import type { RequestCounters } from './counters.js';
import { FaultInjector, type FaultRule } from './faults.js';
import { sendJson } from './http.js';
import { TokenRejectedError, type AccessTokenClaims, type KeyStore } from './keys.js';
import { CONTROL_PLANE_READ_ROLES, scopeContains } from './rbac.js';
import { parseOrThrow, resourceId, type WorldStore } from './state.js';
import { DEFAULT_THROTTLE, TokenBuckets, type ThrottleSettings } from './throttle.js';
import type { Resource, ResourceGroup, Subscription } from './world.js';

/** Run-time settings of the sandbox's ARM (changeable while it runs). */
export interface ArmSettings {
  /** Items per page of every list (ARM's own page sizes vary; 100 keeps paging visible). */
  pageSize: number;
  /** Added delay per request, in milliseconds. */
  latencyMs: number;
  throttle: ThrottleSettings;
  faults: FaultRule[];
}

export const DEFAULT_ARM_SETTINGS: ArmSettings = {
  pageSize: 100,
  latencyMs: 0,
  throttle: { ...DEFAULT_THROTTLE },
  faults: [],
};

const faultRuleSchema = z
  .object({
    kind: z.enum(['500', '503', '429', 'drop']),
    match: z
      .object({ subscriptionId: z.string().min(1).optional(), pathIncludes: z.string().min(1).optional() })
      .strict()
      .optional(),
    count: z.number().int().positive().optional(),
    probability: z.number().min(0).max(1).optional(),
    retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
  })
  .strict();

/** A partial update of {@link ArmSettings}; `throttle: false` turns throttling off, `true` on. */
export const armSettingsPatchSchema = z
  .object({
    pageSize: z.number().int().min(1).max(5000).optional(),
    latencyMs: z.number().int().min(0).max(60_000).optional(),
    throttle: z
      .union([
        z.boolean(),
        z
          .object({
            enabled: z.boolean().optional(),
            burst: z.number().int().min(1).max(1_000_000).optional(),
            refillPerSecond: z.number().min(0).max(1_000_000).optional(),
          })
          .strict(),
      ])
      .optional(),
    faults: z.array(faultRuleSchema).optional(),
  })
  .strict();

export type ArmSettingsPatch = z.input<typeof armSettingsPatchSchema>;

/** Applies a validated patch (throws WorldStoreError naming the bad field). Returns a new object. */
export function mergeArmSettings(current: ArmSettings, patch: ArmSettingsPatch): ArmSettings {
  const valid = parseOrThrow(armSettingsPatchSchema, patch);
  const throttle =
    valid.throttle === undefined
      ? current.throttle
      : typeof valid.throttle === 'boolean'
        ? { ...current.throttle, enabled: valid.throttle }
        : { ...current.throttle, ...valid.throttle };
  return {
    pageSize: valid.pageSize ?? current.pageSize,
    latencyMs: valid.latencyMs ?? current.latencyMs,
    throttle,
    faults: valid.faults ?? current.faults,
  };
}

/** Token audiences ARM accepts (its own error message lists these). */
export const ARM_AUDIENCES = [
  'https://management.core.windows.net/',
  'https://management.core.windows.net',
  'https://management.azure.com/',
  'https://management.azure.com',
];

/**
 * api-versions accepted per operation family: what the pinned SDKs send first (2022-12-01 for
 * subscriptions, 2025-04-01 for resources and groups, read from their sources), then older
 * versions Microsoft.Resources still serves.
 */
export const ARM_API_VERSIONS = {
  subscriptions: ['2022-12-01', '2022-09-01', '2021-01-01', '2020-01-01', '2019-11-01', '2016-06-01'],
  resources: [
    '2025-04-01',
    '2024-11-01',
    '2024-08-01',
    '2024-07-01',
    '2024-03-01',
    '2023-07-01',
    '2022-09-01',
    '2021-04-01',
    '2021-01-01',
    '2020-06-01',
    '2019-10-01',
  ],
} as const;

export interface ArmContext {
  store: WorldStore;
  keys: KeyStore;
  counters: RequestCounters;
  settings: () => ArmSettings;
  /** This server's own base URL (nextLinks point at it), known once it listens. */
  armEndpoint: () => string;
  /** Entra authority host named in 401 answers (`authorization_uri`); login.windows.net otherwise. */
  authorityHost?: () => string;
}

/** An ARM error answer: status, `error.code`, `error.message` and extra headers. */
class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** For 401s: the tenant whose authority the WWW-Authenticate challenge names. */
    readonly challengeTenant = '',
  ) {
    super(message);
  }
}

type Operation =
  | { kind: 'listSubscriptions' }
  | { kind: 'listTenants' }
  | { kind: 'getSubscription'; subscriptionId: string }
  | { kind: 'listResourceGroups'; subscriptionId: string }
  | { kind: 'getResourceGroup'; subscriptionId: string; resourceGroup: string }
  | { kind: 'listResources'; subscriptionId: string }
  | { kind: 'listGroupResources'; subscriptionId: string; resourceGroup: string };

const SERVED =
  'GET /subscriptions, /tenants, /subscriptions/{id}, /subscriptions/{id}/resourcegroups[/{rg}[/resources]], /subscriptions/{id}/resources';

/** Matches a path (case-insensitively) to an operation; undefined for paths this ARM does not serve. */
function route(segments: string[]): Operation | undefined {
  const lower = segments.map((s) => s.toLowerCase());
  if (lower.length === 1 && lower[0] === 'subscriptions') return { kind: 'listSubscriptions' };
  if (lower.length === 1 && lower[0] === 'tenants') return { kind: 'listTenants' };
  if (lower[0] !== 'subscriptions' || lower.length < 2) return undefined;
  const subscriptionId = segments[1]!;
  if (lower.length === 2) return { kind: 'getSubscription', subscriptionId };
  if (lower.length === 3 && lower[2] === 'resources') return { kind: 'listResources', subscriptionId };
  if (lower[2] !== 'resourcegroups') return undefined;
  if (lower.length === 3) return { kind: 'listResourceGroups', subscriptionId };
  const resourceGroup = segments[3]!;
  if (lower.length === 4) return { kind: 'getResourceGroup', subscriptionId, resourceGroup };
  if (lower.length === 5 && lower[4] === 'resources')
    return { kind: 'listGroupResources', subscriptionId, resourceGroup };
  return undefined;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Where the caller may read inside one subscription (from its control-plane read roles). */
interface Access {
  subscription: boolean;
  groups: Set<string>;
  resources: string[];
}

function accessIn(store: WorldStore, principalId: string, subscriptionId: string): Access {
  const access: Access = { subscription: false, groups: new Set(), resources: [] };
  const subscriptionScope = `/subscriptions/${subscriptionId.toLowerCase()}`;
  for (const assignment of store.world.roleAssignments) {
    if (assignment.principalId !== principalId.toLowerCase()) continue;
    if (!CONTROL_PLANE_READ_ROLES.includes(assignment.roleDefinitionName)) continue;
    const scope = assignment.scope.toLowerCase().replace(/\/+$/, '');
    if (!scopeContains(subscriptionScope, scope)) continue;
    const rest = scope.slice(subscriptionScope.length).split('/').filter(Boolean);
    if (rest.length === 0) access.subscription = true;
    else if (rest.length === 2 && rest[0] === 'resourcegroups') access.groups.add(rest[1]!);
    else if (rest[0] === 'resourcegroups') access.resources.push(scope);
  }
  return access;
}

const hasAnyAccess = (access: Access): boolean =>
  access.subscription || access.groups.size > 0 || access.resources.length > 0;

function canReadResource(access: Access, resource: Resource): boolean {
  if (access.subscription || access.groups.has(resource.resourceGroup.toLowerCase())) return true;
  if (access.resources.length === 0) return false;
  const id = resourceId(resource);
  return access.resources.some((scope) => scopeContains(scope, id));
}

function authorizationFailed(oid: string, action: string, scope: string): ArmError {
  return new ArmError(
    403,
    'AuthorizationFailed',
    `The client '${oid}' with object id '${oid}' does not have authorization to perform action '${action}' ` +
      `over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  );
}

/** ARM's timestamp style in messages, e.g. `3/14/2025 9:26:53 AM`. */
function armTime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const hours = d.getUTCHours() % 12 || 12;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${hours}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`;
}

/** The JSON of a subscription as GET /subscriptions returns it (api-version 2022-12-01). */
function subscriptionJson(subscription: Subscription): Record<string, unknown> {
  return {
    id: `/subscriptions/${subscription.subscriptionId}`,
    authorizationSource: 'RoleBased',
    managedByTenants: [],
    subscriptionId: subscription.subscriptionId,
    tenantId: subscription.tenantId,
    displayName: subscription.displayName,
    state: subscription.state,
    subscriptionPolicies: {
      locationPlacementId: 'Public_2014-09-01',
      quotaId: 'PayAsYouGo_2014-09-01',
      spendingLimit: 'Off',
    },
  };
}

function resourceGroupJson(group: ResourceGroup): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: `/subscriptions/${group.subscriptionId}/resourceGroups/${group.name}`,
    name: group.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: group.location,
  };
  if (Object.keys(group.tags).length) json.tags = group.tags;
  json.properties = { provisioningState: 'Succeeded' };
  return json;
}

/** A generic resource as the Resources - List operation returns it (tags only when there are some). */
function resourceJson(resource: Resource): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: resourceId(resource),
    name: resource.name,
    type: resource.type,
  };
  if (resource.sku) json.sku = resource.sku;
  if (resource.kind) json.kind = resource.kind;
  json.location = resource.location;
  if (Object.keys(resource.tags).length) json.tags = resource.tags;
  return json;
}

/** Opaque continuation: the scan position, bound to the path it was issued for. */
function encodeSkipToken(path: string, cursor: number): string {
  return Buffer.from(JSON.stringify({ p: path.toLowerCase(), c: cursor })).toString('base64url');
}

function decodeSkipToken(token: string, path: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      p?: unknown;
      c?: unknown;
    };
    if (
      parsed.p === path.toLowerCase() &&
      typeof parsed.c === 'number' &&
      Number.isSafeInteger(parsed.c) &&
      parsed.c >= 0
    ) {
      return parsed.c;
    }
  } catch {
    // fall through to the error below
  }
  throw new ArmError(
    400,
    'InvalidSkipToken',
    `The $skiptoken '${token}' is invalid for '${path}'. Use the nextLink as returned.`,
  );
}

/** Creates the request listener of the sandbox's ARM (mount it on an HTTPS server). */
export function createArmHandler(ctx: ArmContext): RequestListener {
  const buckets = new TokenBuckets();
  const faults = new FaultInjector();
  const authority = (): string => (ctx.authorityHost?.() ?? 'https://login.windows.net').replace(/\/+$/, '');

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
    const url = new URL(request.url ?? '/', 'https://sandbox.invalid');
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
    if (fault) return injectFault(fault, request, response, headers, subscriptionId);

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
      const claims = await authenticate(request);
      const scopeKey = subscriptionId?.toLowerCase() ?? `tenant:${claims.tid}`;
      const decision = buckets.take(`${scopeKey}|${claims.oid}`, settings.throttle);
      const remainingHeader =
        subscriptionId !== undefined
          ? 'x-ms-ratelimit-remaining-subscription-reads'
          : 'x-ms-ratelimit-remaining-tenant-reads';
      headers[remainingHeader] = String(decision.remaining);
      if (!decision.allowed) {
        const scopeText =
          subscriptionId !== undefined ? `subscription '${subscriptionId}'` : `tenant '${claims.tid}'`;
        throw new ArmError(
          429,
          'SubscriptionRequestsThrottled',
          `Number of 'read' requests for ${scopeText} actor '${claims.oid}' exceeded. Please try again after ` +
            `'${decision.retryAfterSeconds}' seconds after the additional tokens are replenished. ` +
            'Please refer to https://aka.ms/arm-throttling for additional information.',
          { 'retry-after': String(decision.retryAfterSeconds) },
        );
      }
      const body = execute(operation, claims, url, settings);
      sendJson(response, 200, body, headers);
    } catch (error) {
      if (!(error instanceof ArmError)) throw error;
      if (error.status === 401) {
        headers['www-authenticate'] =
          `Bearer authorization_uri="${authority()}/${error.challengeTenant}", error="invalid_token", ` +
          `error_description="${error.message.split('. ')[0]!.replace(/"/g, "'")}."`;
      }
      if (error.status === 429 || error.status >= 500) headers['x-ms-failure-cause'] = 'gateway';
      sendJson(
        response,
        error.status,
        { error: { code: error.code, message: error.message } },
        { ...headers, ...error.headers },
      );
    }
  }

  function checkApiVersion(url: URL, operation: Operation): void {
    const version = url.searchParams.get('api-version');
    if (version === null || version === '') {
      throw new ArmError(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    }
    const family =
      operation.kind === 'listSubscriptions' ||
      operation.kind === 'getSubscription' ||
      operation.kind === 'listTenants'
        ? ARM_API_VERSIONS.subscriptions
        : ARM_API_VERSIONS.resources;
    if (!(family as readonly string[]).includes(version)) {
      throw new ArmError(
        400,
        'InvalidApiVersionParameter',
        `The api-version '${version}' is invalid. The supported versions are '${family.join(',')}'.`,
      );
    }
  }

  /** Verifies the bearer token; maps each rejection to ARM's 401 code. Never echoes the token. */
  async function authenticate(request: IncomingMessage): Promise<AccessTokenClaims> {
    const header = request.headers.authorization;
    if (!header) {
      throw new ArmError(
        401,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is missing.",
      );
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new ArmError(
        401,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is provided in an invalid format.",
      );
    }
    const token = match[1]!;
    let claims: AccessTokenClaims;
    try {
      claims = await ctx.keys.verify(token, { audience: ARM_AUDIENCES });
    } catch (error) {
      if (!(error instanceof TokenRejectedError)) throw error;
      const payload = safeDecode(token);
      switch (error.reason) {
        case 'expired':
          throw new ArmError(
            401,
            'ExpiredAuthenticationToken',
            `The access token expiry UTC time '${armTime(Number(payload?.exp ?? 0))}' is earlier than current UTC time '${armTime(Math.floor(Date.now() / 1000))}'.`,
          );
        case 'wrong-audience':
          throw new ArmError(
            401,
            'InvalidAuthenticationTokenAudience',
            `The access token has been obtained for wrong audience or resource '${audienceText(payload?.aud)}'. ` +
              `It should exactly match with one of the allowed audiences '${ARM_AUDIENCES.join("','")}'.`,
          );
        case 'not-yet-valid':
          throw new ArmError(401, 'InvalidAuthenticationToken', 'The access token is not yet valid.');
        default:
          throw new ArmError(401, 'InvalidAuthenticationToken', 'The access token is invalid.');
      }
    }
    // The issuer must be the tenant whose key signed the token (v1 sts.windows.net or v2 login form).
    const signer = ctx.keys.signerOf(token);
    const issuerOk =
      typeof claims.tid === 'string' &&
      claims.tid.toLowerCase() === signer &&
      (claims.iss === `https://sts.windows.net/${claims.tid}/` || claims.iss.endsWith(`/${claims.tid}/v2.0`));
    if (!issuerOk || typeof claims.oid !== 'string') {
      throw new ArmError(
        401,
        'InvalidAuthenticationToken',
        'The access token is invalid: its issuer, tenant or object id is missing or wrong.',
      );
    }
    return claims;
  }

  function requireSubscription(subscriptionId: string, claims: AccessTokenClaims): Subscription {
    const subscription = ctx.store.subscription(subscriptionId);
    if (!subscription) {
      throw new ArmError(
        404,
        'SubscriptionNotFound',
        `The subscription '${subscriptionId}' could not be found.`,
      );
    }
    if (subscription.tenantId !== claims.tid.toLowerCase()) {
      throw new ArmError(
        401,
        'InvalidAuthenticationTokenTenant',
        `The access token is from the wrong issuer '${claims.iss}'. It must match the tenant ` +
          `'https://sts.windows.net/${subscription.tenantId}/' associated with this subscription. Please use the authority ` +
          `(URL) '${authority()}/${subscription.tenantId}' to get the token. Note, if the subscription is transferred to ` +
          'another tenant there is no impact to the services, but information about new tenant could take time to ' +
          'propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.',
        {},
        subscription.tenantId,
      );
    }
    return subscription;
  }

  function pageParameters(url: URL, settings: ArmSettings, path: string): { cursor: number; limit: number } {
    const top = url.searchParams.get('$top');
    let limit = settings.pageSize;
    if (top !== null) {
      const value = Number(top);
      if (!/^\d+$/.test(top) || value < 1) {
        throw new ArmError(
          400,
          'InvalidQueryParameterValue',
          `The value '${top}' of query parameter '$top' is invalid. It must be a positive integer.`,
        );
      }
      limit = Math.min(value, 1000);
    }
    const skipToken = url.searchParams.get('$skiptoken');
    return { cursor: skipToken ? decodeSkipToken(skipToken, path) : 0, limit };
  }

  /** Absolute nextLink on this server, keeping the caller's api-version, $filter and $top. */
  function nextLink(url: URL, cursor: number): string {
    const query = new URLSearchParams();
    for (const key of ['api-version', '$filter', '$top', '$expand']) {
      const value = url.searchParams.get(key);
      if (value !== null) query.set(key, value);
    }
    query.set('$skiptoken', encodeSkipToken(url.pathname, cursor));
    return `${ctx.armEndpoint().replace(/\/+$/, '')}${url.pathname}?${query.toString()}`;
  }

  function compile<T>(compiler: (filter: string) => T, url: URL): T | undefined {
    const filter = url.searchParams.get('$filter');
    if (filter === null || filter.trim() === '') return undefined;
    try {
      return compiler(filter);
    } catch (error) {
      if (error instanceof InvalidFilterError) {
        throw new ArmError(
          400,
          'InvalidFilterInQueryString',
          `Invalid $filter '${filter}' specified in the query string.`,
        );
      }
      throw error;
    }
  }

  /** Pages an in-memory list (subscriptions, groups): small by nature. */
  function pageOf<T>(items: T[], url: URL, settings: ArmSettings): { value: T[]; nextLink?: string } {
    const { cursor, limit } = pageParameters(url, settings, url.pathname);
    const value = items.slice(cursor, cursor + limit);
    return cursor + limit < items.length ? { value, nextLink: nextLink(url, cursor + limit) } : { value };
  }

  function execute(
    operation: Operation,
    claims: AccessTokenClaims,
    url: URL,
    settings: ArmSettings,
  ): unknown {
    const oid = claims.oid.toLowerCase();
    switch (operation.kind) {
      case 'listTenants': {
        const tenant = ctx.store.world.tenants.find((t) => t.id === claims.tid.toLowerCase());
        const value = tenant
          ? [
              {
                id: `/tenants/${tenant.id}`,
                tenantId: tenant.id,
                tenantCategory: 'Home',
                displayName: tenant.displayName,
                ...(tenant.domain ? { domains: [tenant.domain], defaultDomain: tenant.domain } : {}),
                tenantType: 'AAD',
              },
            ]
          : [];
        return { value };
      }
      case 'listSubscriptions': {
        const visible = ctx.store
          .subscriptionsOfTenant(claims.tid)
          .filter((s) => hasAnyAccess(accessIn(ctx.store, oid, s.subscriptionId)))
          .map(subscriptionJson);
        return { ...pageOf(visible, url, settings), count: { type: 'Total', value: visible.length } };
      }
      case 'getSubscription': {
        const subscription = requireSubscription(operation.subscriptionId, claims);
        if (!hasAnyAccess(accessIn(ctx.store, oid, subscription.subscriptionId))) {
          throw authorizationFailed(
            oid,
            'Microsoft.Resources/subscriptions/read',
            `/subscriptions/${subscription.subscriptionId}`,
          );
        }
        return subscriptionJson(subscription);
      }
      case 'listResourceGroups': {
        const subscription = requireSubscription(operation.subscriptionId, claims);
        const access = accessIn(ctx.store, oid, subscription.subscriptionId);
        if (!hasAnyAccess(access)) {
          throw authorizationFailed(
            oid,
            'Microsoft.Resources/subscriptions/resourceGroups/read',
            `/subscriptions/${subscription.subscriptionId}`,
          );
        }
        const filter = compile(compileResourceGroupFilter, url);
        const groups = ctx.store
          .resourceGroups(subscription.subscriptionId)
          .filter((g) => access.subscription || access.groups.has(g.name.toLowerCase()))
          .filter((g) => !filter || filter(g))
          .map(resourceGroupJson);
        return pageOf(groups, url, settings);
      }
      case 'getResourceGroup': {
        const subscription = requireSubscription(operation.subscriptionId, claims);
        const access = accessIn(ctx.store, oid, subscription.subscriptionId);
        if (!access.subscription && !access.groups.has(operation.resourceGroup.toLowerCase())) {
          throw authorizationFailed(
            oid,
            'Microsoft.Resources/subscriptions/resourceGroups/read',
            `/subscriptions/${subscription.subscriptionId}/resourceGroups/${operation.resourceGroup}`,
          );
        }
        const group = ctx.store.resourceGroup(subscription.subscriptionId, operation.resourceGroup);
        if (!group)
          throw new ArmError(
            404,
            'ResourceGroupNotFound',
            `Resource group '${operation.resourceGroup}' could not be found.`,
          );
        return resourceGroupJson(group);
      }
      case 'listResources':
      case 'listGroupResources': {
        const subscription = requireSubscription(operation.subscriptionId, claims);
        const access = accessIn(ctx.store, oid, subscription.subscriptionId);
        const group = operation.kind === 'listGroupResources' ? operation.resourceGroup : undefined;
        const groupScope = group
          ? `/subscriptions/${subscription.subscriptionId}/resourceGroups/${group}`
          : undefined;
        const allowed = groupScope
          ? access.subscription ||
            access.groups.has(group!.toLowerCase()) ||
            access.resources.some((scope) => scopeContains(groupScope, scope))
          : hasAnyAccess(access);
        if (!allowed) {
          throw group
            ? authorizationFailed(
                oid,
                'Microsoft.Resources/subscriptions/resourceGroups/resources/read',
                groupScope!,
              )
            : authorizationFailed(
                oid,
                'Microsoft.Resources/subscriptions/resources/read',
                `/subscriptions/${subscription.subscriptionId}`,
              );
        }
        if (group && !ctx.store.resourceGroup(subscription.subscriptionId, group)) {
          throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${group}' could not be found.`);
        }
        const filter = compile(compileResourceFilter, url);
        const { cursor, limit } = pageParameters(url, settings, url.pathname);
        const scan = ctx.store.scanResources(subscription.subscriptionId, {
          cursor,
          limit,
          include: (r) =>
            (!group || r.resourceGroup.toLowerCase() === group.toLowerCase()) &&
            canReadResource(access, r) &&
            (!filter || filter(r)),
        });
        const value = scan.items.map(resourceJson);
        return scan.next !== undefined ? { value, nextLink: nextLink(url, scan.next) } : { value };
      }
    }
  }

  function injectFault(
    fault: FaultRule,
    request: IncomingMessage,
    response: ServerResponse,
    headers: Record<string, string>,
    subscriptionId: string | undefined,
  ): void {
    if (fault.kind === 'drop') {
      // No answer at all: the client sees a reset connection.
      ctx.counters.countFault('drop');
      request.socket.destroy();
      return;
    }
    headers['x-ms-failure-cause'] = 'gateway';
    const retryAfter = fault.retryAfterSeconds ?? (fault.kind === '429' ? 1 : undefined);
    ctx.counters.countFault(
      `${fault.kind}${retryAfter !== undefined && fault.kind !== '500' ? '+retry-after' : ''}`,
    );
    if (retryAfter !== undefined && fault.kind !== '500') headers['retry-after'] = String(retryAfter);
    if (fault.kind === '429') {
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
}

function safeDecode(token: string): { exp?: unknown; aud?: unknown } | undefined {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

function audienceText(aud: unknown): string {
  if (Array.isArray(aud)) return aud.map(String).join(',');
  return typeof aud === 'string' ? aud : '';
}

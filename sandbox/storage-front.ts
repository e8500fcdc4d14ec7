/**
 * The sandbox's customer storage: Azurite (the real emulator) over HTTPS, behind a front that does
 * what Azure Storage does and Azurite does not. Azurite with `--oauth basic` only checks a bearer
 * token's shape; the front verifies its signature, that it was issued by the account's tenant, the
 * account's firewall setting and the caller's Storage Blob Data role, refuses Shared Key (the product
 * must use Entra), then streams the request to Azurite and the answer back, unchanged. Errors use
 * Azure Storage's XML shape and codes. Account `a` is served path-style at `${endpoint}/a`.
 *
 * Account keys are random per start and never leave this process (not logged, not returned).
 * A development and test tool, never deployed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Agent, createServer, request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { isRestError, type BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, type AzuriteHandle } from './azurite.js';
import type { RequestCounters } from './counters.js';
import { close as closeServer, listen } from './http.js';
import { TokenRejectedError, type AccessTokenClaims, type KeyStore, type TokenRejection } from './keys.js';
import { BLOB_READ_ROLES, BLOB_WRITE_ROLES, hasRole, storageAccountId } from './rbac.js';
import { seedStorageAccounts, sharedKeyServiceClient } from './storage-seed.js';
import type { SandboxTls } from './tls.js';
import type { StorageAccount, World } from './world.js';

/** What the storage front reads per request. `world` is live and mutable: never cached here. */
export interface CustomerStorageContext {
  world: World;
  keys: KeyStore;
  counters: RequestCounters;
}

export interface CustomerStorage {
  /** `https://127.0.0.1:PORT`; account `a` is at `${endpoint}/a`. */
  endpoint: string;
  /** Stops the front, then Azurite. */
  close(): Promise<void>;
}

export interface CustomerStorageOptions {
  /** The sandbox certificate; `certPath` and `keyPath` must be set (Azurite reads files). */
  tls: SandboxTls;
  /** Azurite persistence folder; in-memory when absent. */
  location?: string;
}

/**
 * Starts Azurite with every world storage account, seeds their containers and blobs, and serves
 * them through the authorizing front on 127.0.0.1 (an ephemeral port).
 */
export async function startCustomerStorage(
  ctx: CustomerStorageContext,
  options: CustomerStorageOptions,
): Promise<CustomerStorage> {
  const { certPath, keyPath, certPem, keyPem } = options.tls;
  if (!certPath || !keyPath) {
    throw new Error(
      'startCustomerStorage: options.tls needs certPath and keyPath (createSandboxTls(directory)).',
    );
  }
  const accountKeys = new Map<string, string>();
  for (const account of ctx.world.storageAccounts)
    accountKeys.set(account.name, randomBytes(64).toString('base64'));

  const azurite = await startAzurite({
    location: options.location,
    certPath,
    keyPath,
    oauth: 'basic',
    accounts: [...accountKeys].map(([name, key]) => ({ name, key })),
  });
  const azuriteBlob = (name: string): string => `https://127.0.0.1:${azurite.blobPort}/${name}`;
  try {
    await seedStorageAccounts(ctx.world.storageAccounts, {
      endpointFor: azuriteBlob,
      keyFor: (name) => accountKeys.get(name)!,
      caPem: certPem,
    });
  } catch (error) {
    await azurite.stop();
    throw error;
  }

  const upstream = new Upstream(azurite, certPem, accountKeys);
  const server = createServer({ cert: certPem, key: keyPem }, (request, response) => {
    handle(ctx, upstream, request, response).catch(() => {
      // Never crash the sandbox, never echo internals (a message could carry a header value).
      if (!response.headersSent) sendStorageError(request, response, 'InternalError');
      else response.destroy();
    });
  });
  const port = await listen(server);
  return {
    endpoint: `https://127.0.0.1:${port}`,
    close: async () => {
      await closeServer(server);
      upstream.agent.destroy();
      await azurite.stop();
    },
  };
}

/** The Azurite behind the front: where to send requests, and a Shared Key client per account for lookups. */
class Upstream {
  readonly agent: Agent;
  private readonly clients = new Map<string, BlobServiceClient>();

  constructor(
    readonly azurite: AzuriteHandle,
    private readonly caPem: string,
    private readonly accountKeys: Map<string, string>,
  ) {
    this.agent = new Agent({ keepAlive: true, ca: caPem });
  }

  /** The container's public access level as Azurite holds it (the seed sets it from the world). */
  async publicAccess(accountName: string, containerName: string): Promise<'none' | 'blob' | 'container'> {
    const key = this.accountKeys.get(accountName);
    if (!key) return 'none';
    let client = this.clients.get(accountName);
    if (!client) {
      client = sharedKeyServiceClient(
        `https://127.0.0.1:${this.azurite.blobPort}/${accountName}`,
        accountName,
        key,
        this.caPem,
      );
      this.clients.set(accountName, client);
    }
    try {
      const properties = await client.getContainerClient(containerName).getProperties();
      return properties.blobPublicAccess ?? 'none';
    } catch (error) {
      if (isRestError(error) && error.statusCode === 404) return 'none';
      throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Errors in Azure Storage's shape
// ---------------------------------------------------------------------------------------------

const AUTHENTICATION_FAILED_MESSAGE =
  'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.';

/** Status and message of each error the front produces, as Azure Storage words them. */
const STORAGE_ERRORS = {
  InvalidUri: [400, 'The requested URI does not represent any resource on the server.'],
  UnsupportedHttpVerb: [405, "The resource doesn't support specified Http Verb."],
  NoAuthenticationInformation: [401, AUTHENTICATION_FAILED_MESSAGE],
  InvalidAuthenticationInfo: [401, AUTHENTICATION_FAILED_MESSAGE],
  AuthenticationFailed: [
    403,
    'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
  ],
  AuthorizationFailure: [403, 'This request is not authorized to perform this operation.'],
  AuthorizationPermissionMismatch: [
    403,
    'This request is not authorized to perform this operation using this permission.',
  ],
  KeyBasedAuthenticationNotPermitted: [
    403,
    'Key based authentication is not permitted on this storage account.',
  ],
  ServerBusy: [503, 'The server is currently unable to receive requests. Please retry your request.'],
  InternalError: [500, 'Server encountered an internal error. Please try again after some time.'],
} as const satisfies Record<string, readonly [number, string]>;

export type StorageErrorCode = keyof typeof STORAGE_ERRORS;

interface ErrorOptions {
  /** Goes to `<AuthenticationErrorDetail>` (Azure's reason for a refused token). */
  detail?: string;
  /** Adds the bearer challenge naming this tenant (401s), as Azure Storage does. */
  challengeTenantId?: string;
}

/** Azure's request ids are GUIDs ending in six zeros (e.g. 7f24e989-8003-0013-45a4-fdb72d000000). */
function storageRequestId(): string {
  return `${randomUUID().slice(0, -6)}000000`;
}

/** `2023-10-13T07:10:10.1868558Z`: Azure prints seven fractional digits. */
function storageTime(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, (_match, millis: string) => `.${millis}0000Z`);
}

function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

/** Writes an Azure Storage error: XML body, `x-ms-error-code`, `x-ms-request-id` (no body for HEAD). */
export function sendStorageError(
  request: IncomingMessage,
  response: ServerResponse,
  code: StorageErrorCode,
  options: ErrorOptions = {},
): void {
  const [status, message] = STORAGE_ERRORS[code];
  const requestId = storageRequestId();
  const detail = options.detail
    ? `<AuthenticationErrorDetail>${escapeXml(options.detail)}</AuthenticationErrorDetail>`
    : '';
  const body =
    `\uFEFF<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}\n` +
    `RequestId:${requestId}\nTime:${storageTime()}</Message>${detail}</Error>`;
  // Authentication and firewall refusals come from the front end (plain HTTPAPI); the rest from the blob service.
  const fromFrontEnd = status === 401 || code === 'AuthorizationFailure' || code === 'InvalidUri';
  const headers: OutgoingHttpHeaders = {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    server: fromFrontEnd ? 'Microsoft-HTTPAPI/2.0' : 'Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0',
    'x-ms-request-id': requestId,
    'x-ms-error-code': code,
  };
  if (!fromFrontEnd) {
    const version = request.headers['x-ms-version'];
    const clientRequestId = request.headers['x-ms-client-request-id'];
    if (typeof version === 'string') headers['x-ms-version'] = version;
    if (typeof clientRequestId === 'string' && clientRequestId.length <= 1024) {
      headers['x-ms-client-request-id'] = clientRequestId;
    }
  }
  if (options.challengeTenantId) {
    headers['www-authenticate'] =
      `Bearer authorization_uri=https://login.microsoftonline.com/${options.challengeTenantId}/oauth2/authorize ` +
      'resource_id=https://storage.azure.com';
  }
  // A refused request may still be sending its body: drain it so the connection stays usable.
  request.resume();
  response.writeHead(status, headers);
  response.end(request.method === 'HEAD' ? undefined : body);
}

/** `<AuthenticationErrorDetail>` for each token rejection (IdentityModel's wording, as Azure Storage shows it). */
const REJECTION_DETAIL: Record<TokenRejection, string> = {
  malformed: 'Signature validation failed. The token is not a well-formed JWT.',
  'unknown-key': 'Signature validation failed. Unable to match key.',
  'bad-signature': 'Signature validation failed. The signature is invalid.',
  expired: 'Lifetime validation failed. The token is expired.',
  'not-yet-valid': 'Lifetime validation failed. The token is not yet valid.',
  'wrong-audience': 'Audience validation failed. Audience did not match.',
};

// ---------------------------------------------------------------------------------------------
// Request analysis
// ---------------------------------------------------------------------------------------------

interface StorageTarget {
  account: StorageAccount;
  /** Tenant of the account's subscription: the only issuer whose tokens it accepts. */
  tenantId: string;
  /** ARM id of the account (RBAC scope). */
  accountId: string;
  container?: string;
  blob?: string;
  query: URLSearchParams;
}

type Access = 'read' | 'write' | 'preflight';

/** Splits `/{account}/{container}/{blob...}`; undefined when the URI names no known account. */
function resolveTarget(world: World, rawUrl: string): StorageTarget | undefined {
  let url: URL;
  let segments: string[];
  try {
    url = new URL(rawUrl, 'https://127.0.0.1');
    segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const [accountName = '', container, ...blobParts] = segments;
  const account = world.storageAccounts.find((candidate) => candidate.name === accountName.toLowerCase());
  if (!account) return undefined;
  // An account whose subscription is unknown cannot be reached in Azure either (no DNS name).
  const subscription = world.subscriptions.find(
    (candidate) => candidate.subscriptionId === account.subscriptionId,
  );
  if (!subscription || subscription.state === 'Deleted') return undefined;
  const blob = blobParts.join('/');
  return {
    account,
    tenantId: subscription.tenantId,
    accountId: storageAccountId(account.subscriptionId, account.resourceGroup, account.name),
    ...(container ? { container } : {}),
    ...(blob ? { blob } : {}),
    query: url.searchParams,
  };
}

/** Whether the operation needs a read or a write data action (Storage Blob Data roles). */
function classifyAccess(method: string, query: URLSearchParams): Access | undefined {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return 'read';
    case 'OPTIONS':
      return 'preflight';
    case 'POST': {
      // Query Blob Contents and Get User Delegation Key are reads (Storage Blob Data Reader may call them).
      const comp = query.get('comp');
      return comp === 'query' || comp === 'userdelegationkey' ? 'read' : 'write';
    }
    case 'PUT':
    case 'DELETE':
    case 'PATCH':
    case 'MERGE':
      return 'write';
    default:
      return undefined;
  }
}

/**
 * Which public access level would let an anonymous caller do this: `blob` for reading a blob
 * (either level), `container` for reading the container itself or listing its blobs.
 */
function anonymousLevelNeeded(method: string, target: StorageTarget): 'blob' | 'container' | undefined {
  if ((method !== 'GET' && method !== 'HEAD') || !target.container) return undefined;
  const comp = target.query.get('comp');
  if (target.blob)
    return comp === null || ['metadata', 'blocklist', 'pagelist'].includes(comp) ? 'blob' : undefined;
  if (target.query.get('restype') !== 'container') return undefined;
  return comp === null || comp === 'list' || comp === 'metadata' ? 'container' : undefined;
}

/** RBAC scope of the request: the container when there is one (container-scoped grants count), else the account. */
function dataScope(target: StorageTarget): string {
  return target.container
    ? `${target.accountId}/blobServices/default/containers/${target.container}`
    : target.accountId;
}

function tokenAudiences(accountName: string): string[] {
  return [
    'https://storage.azure.com',
    'https://storage.azure.com/',
    `https://${accountName}.blob.core.windows.net`,
    `https://${accountName}.blob.core.windows.net/`,
  ];
}

function isIssuerOf(issuer: unknown, tenantId: string): boolean {
  // Storage tokens from Entra are v1 (sts.windows.net). Azurite refuses any other issuer, so the front does too.
  return typeof issuer === 'string' && issuer.toLowerCase() === `https://sts.windows.net/${tenantId}/`;
}

// ---------------------------------------------------------------------------------------------
// The front
// ---------------------------------------------------------------------------------------------

async function handle(
  ctx: CustomerStorageContext,
  upstream: Upstream,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  ctx.counters.storage++;
  const world = ctx.world;
  const method = request.method ?? 'GET';
  const target = resolveTarget(world, request.url ?? '/');
  // A missing account: Azure's DNS has no name for it; a front end reached anyway answers InvalidUri.
  if (!target) return sendStorageError(request, response, 'InvalidUri');
  const access = classifyAccess(method, target.query);
  if (!access) return sendStorageError(request, response, 'UnsupportedHttpVerb');
  // The firewall is evaluated before authentication: even anonymous reads of public blobs are refused.
  if (target.account.networkDefaultAction === 'Deny')
    return sendStorageError(request, response, 'AuthorizationFailure');

  const authorization = request.headers.authorization;
  if (!authorization) return handleUnauthenticated(ctx, upstream, request, response, target, access);

  const [scheme = '', ...rest] = authorization.trim().split(/\s+/);
  const credential = rest.join(' ');
  if (/^SharedKey(Lite)?$/i.test(scheme)) {
    return sendStorageError(request, response, 'KeyBasedAuthenticationNotPermitted');
  }
  if (scheme.toLowerCase() !== 'bearer' || !credential) {
    return sendStorageError(request, response, 'InvalidAuthenticationInfo', {
      detail: 'Authentication scheme is not supported. Use Bearer.',
      challengeTenantId: target.tenantId,
    });
  }

  let claims: AccessTokenClaims;
  try {
    claims = await ctx.keys.verify(credential, { audience: tokenAudiences(target.account.name) });
  } catch (error) {
    if (!(error instanceof TokenRejectedError)) throw error;
    return sendStorageError(request, response, 'InvalidAuthenticationInfo', {
      detail: REJECTION_DETAIL[error.reason],
      challengeTenantId: target.tenantId,
    });
  }
  if (claims.tid?.toLowerCase() !== target.tenantId || !isIssuerOf(claims.iss, target.tenantId)) {
    return sendStorageError(request, response, 'InvalidAuthenticationInfo', {
      detail: 'Issuer validation failed. Issuer did not match.',
      challengeTenantId: target.tenantId,
    });
  }
  // Claims naming this tenant but signed with another tenant's key: a forgery in the sandbox's key model.
  if (ctx.keys.signerOf(credential) !== target.tenantId) {
    return sendStorageError(request, response, 'InvalidAuthenticationInfo', {
      detail: REJECTION_DETAIL['bad-signature'],
      challengeTenantId: target.tenantId,
    });
  }
  if (access !== 'preflight') {
    const roles = access === 'write' ? BLOB_WRITE_ROLES : BLOB_READ_ROLES;
    if (typeof claims.oid !== 'string' || !hasRole(ctx.world, claims.oid, dataScope(target), roles)) {
      return sendStorageError(request, response, 'AuthorizationPermissionMismatch');
    }
  }
  forward(upstream, request, response);
}

/** No Authorization header: CORS preflight, a SAS, or an anonymous read of a public container. */
async function handleUnauthenticated(
  ctx: CustomerStorageContext,
  upstream: Upstream,
  request: IncomingMessage,
  response: ServerResponse,
  target: StorageTarget,
  access: Access,
): Promise<void> {
  if (access === 'preflight') return forward(upstream, request, response);
  if (target.query.has('sig')) {
    // Account and service SAS are signed with the account key: refused when key access is disabled.
    // A user delegation SAS (skoid) is an Entra credential: its principal needs the data role.
    const signedObjectId = target.query.get('skoid');
    if (!signedObjectId) return sendStorageError(request, response, 'KeyBasedAuthenticationNotPermitted');
    if (target.query.get('sktid')?.toLowerCase() !== target.tenantId) {
      return sendStorageError(request, response, 'AuthenticationFailed', {
        detail: 'The user delegation key was not issued for the tenant of this storage account.',
      });
    }
    const roles = access === 'write' ? BLOB_WRITE_ROLES : BLOB_READ_ROLES;
    if (!hasRole(ctx.world, signedObjectId, dataScope(target), roles)) {
      return sendStorageError(request, response, 'AuthorizationPermissionMismatch');
    }
    return forward(upstream, request, response); // Azurite checks the signature itself.
  }
  const needed = anonymousLevelNeeded(request.method ?? 'GET', target);
  if (needed && target.container) {
    const level = await upstream.publicAccess(target.account.name, target.container);
    if (level === 'container' || (level === 'blob' && needed === 'blob'))
      return forward(upstream, request, response);
  }
  return sendStorageError(request, response, 'NoAuthenticationInformation', {
    challengeTenantId: target.tenantId,
  });
}

/** Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business; everything else passes unchanged. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) result[name] = value;
  }
  return result;
}

/**
 * Streams the request to Azurite and its answer back. The Host header is kept when it is a loopback
 * name so Azurite stays in path-style mode and writes this front's address into listings.
 */
function forward(upstream: Upstream, request: IncomingMessage, response: ServerResponse): void {
  const headers = endToEndHeaders(request.headers);
  const host = request.headers.host ?? '';
  if (!/^(127\.0\.0\.1|localhost)(:\d+)?$/i.test(host))
    headers.host = `127.0.0.1:${request.socket.localPort}`;
  const outgoing = httpsRequest({
    host: '127.0.0.1',
    port: upstream.azurite.blobPort,
    method: request.method,
    path: request.url,
    headers,
    agent: upstream.agent,
  });
  outgoing.on('response', (incoming) => {
    response.writeHead(incoming.statusCode ?? 502, endToEndHeaders(incoming.headers));
    pipeline(incoming, response, () => {
      // The client went away or Azurite cut the stream: nothing more can be said on this response.
    });
  });
  pipeline(request, outgoing, (error) => {
    if (!error) return;
    if (!response.headersSent) sendStorageError(request, response, 'ServerBusy');
    else response.destroy();
  });
  response.on('close', () => {
    if (!response.writableFinished) outgoing.destroy();
  });
}

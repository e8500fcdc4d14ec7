/**
 * Validates a bearer token presented to the API, in the app itself (defense in depth: whatever sits
 * in front of the app, a caller without a valid token of the provider tenant for this API is 401).
 * Keys: the provider tenant's published JWKS (`{authorityHost}/{tenant}/discovery/v2.0/keys`), cached
 * by jose. Accepted issuers: that tenant's v2.0 issuer and its v1.0 issuer form in the configured
 * cloud only. Audience: the API app id URI or client id. Roles: the `roles` claim only.
 */
import {
  createDefaultHttpClient,
  createPipelineFromOptions,
  createPipelineRequest,
} from '@azure/core-rest-pipeline';
import {
  createRemoteJWKSet,
  customFetch,
  errors,
  jwtVerify,
  type FetchImplementation,
  type JWTPayload,
} from 'jose';
import type { ApiAuthSettings } from '../platform/config.js';
import { pipelineOptionsFor, type CloudProfile } from '../platform/cloud.js';
import { ConfigError } from '../platform/errors.js';
import { AuthError, knownRoles, sanitizeDisplayName, type Caller } from './caller.js';

/** Clock skew tolerated on exp/nbf (Entra's own tolerance is 5 minutes; ours is tighter). */
const CLOCK_TOLERANCE_SECONDS = 120;
/** Largest token accepted before any parsing (Entra tokens are a few KiB). */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** The two issuer forms Entra uses for a tenant in this cloud (v2.0 and v1.0 tokens). */
export function acceptedIssuers(cloud: CloudProfile, tenantId: string): string[] {
  const v1Host =
    cloud.name === 'AzureChinaCloud' ? 'https://sts.chinacloudapi.cn' : 'https://sts.windows.net';
  return [`${cloud.authorityHost}/${tenantId}/v2.0`, `${v1Host}/${tenantId}/`];
}

/** The JWKS address of the provider tenant in this cloud. */
export function jwksUrl(cloud: CloudProfile, tenantId: string): string {
  return `${cloud.authorityHost}/${tenantId}/discovery/v2.0/keys`;
}

/**
 * jose's fetch through the Azure pipeline's HTTP client, so the sandbox's CA is trusted for this
 * request only (never process-wide), as every other client of the app does.
 */
function pipelineFetch(cloud: CloudProfile): FetchImplementation {
  const client = createDefaultHttpClient();
  const pipeline = createPipelineFromOptions({
    ...pipelineOptionsFor(cloud),
    retryOptions: { maxRetries: 1 },
  });
  return async (url, options) => {
    const request = createPipelineRequest({
      url,
      method: 'GET',
      abortSignal: options.signal,
      timeout: 10_000,
    });
    const response = await pipeline.sendRequest(client, request);
    return new Response(response.bodyAsText ?? '', {
      status: response.status,
      headers: { 'content-type': response.headers.get('content-type') ?? 'application/json' },
    });
  };
}

export class ApiTokenVerifier {
  private readonly issuers: string[];
  private readonly keys: ReturnType<typeof createRemoteJWKSet>;

  constructor(
    cloud: CloudProfile,
    private readonly settings: ApiAuthSettings,
  ) {
    if (!settings.tenantId)
      throw new ConfigError(
        'TENANT_FLEET_AUTH_TENANT_ID',
        'is required to accept bearer tokens (the provider tenant id)',
      );
    if (settings.audiences.length === 0)
      throw new ConfigError(
        'TENANT_FLEET_API_AUDIENCE',
        'is required to accept bearer tokens (the API app id URI), or set TENANT_FLEET_API_CLIENT_ID',
      );
    this.issuers = acceptedIssuers(cloud, settings.tenantId);
    this.keys = createRemoteJWKSet(new URL(jwksUrl(cloud, settings.tenantId)), {
      [customFetch]: pipelineFetch(cloud),
    });
  }

  /** The caller a token proves; throws AuthError(401) saying why it is refused (never the token). */
  async verify(token: string): Promise<Caller> {
    if (token.length > MAX_TOKEN_LENGTH || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token))
      throw new AuthError(401, 'the bearer token is not a well-formed JWT');
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, this.keys, {
        algorithms: ['RS256'],
        issuer: this.issuers,
        audience: [...this.settings.audiences],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'iss', 'aud'],
      }));
    } catch (error) {
      if (keysUnavailable(error))
        throw new AuthError(
          503,
          "the provider tenant's signing keys could not be read, so no token can be checked; retry later",
        );
      throw new AuthError(401, `the bearer token is not accepted: ${reasonOf(error)}`);
    }
    if (typeof claims.tid === 'string' && claims.tid.toLowerCase() !== this.settings.tenantId)
      throw new AuthError(401, 'the bearer token is not accepted: it is from another tenant');
    return callerOf(claims);
  }
}

/** The JWKS could not be fetched or read (Entra unreachable), as opposed to a bad token. */
function keysUnavailable(error: unknown): boolean {
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) return true;
  // jose reports a non-200 or non-JSON key set answer as a plain JOSEError (its subclasses are token faults).
  if (error instanceof errors.JOSEError)
    return error.constructor === errors.JOSEError && /JSON Web Key Set/.test(error.message);
  return true;
}

function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'it has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'its issuer is not the provider tenant';
    if (error.claim === 'aud') return 'its audience is not this API';
    if (error.claim === 'nbf') return 'it is not valid yet';
    return `its ${error.claim} claim is invalid`;
  }
  if (error instanceof errors.JWKSNoMatchingKey) return 'it is not signed by a key of the provider tenant';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'its signature is invalid';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'its algorithm is not allowed';
  return 'it is malformed';
}

function callerOf(claims: JWTPayload): Caller {
  const text = (name: string): string | undefined =>
    typeof claims[name] === 'string' && claims[name] !== '' ? claims[name] : undefined;
  const roles = Array.isArray(claims.roles) ? knownRoles(claims.roles) : [];
  const appId = text('appid') ?? text('azp');
  const upn = text('upn') ?? text('preferred_username');
  const objectId = text('oid');
  return {
    ...(objectId ? { objectId: objectId.toLowerCase() } : {}),
    ...(appId ? { appId: appId.toLowerCase() } : {}),
    ...(upn ? { upn: sanitizeDisplayName(upn) } : {}),
    name: sanitizeDisplayName(text('name') ?? upn ?? appId),
    roles,
    via: 'token',
  };
}

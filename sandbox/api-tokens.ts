/**
 * Tokens for the provider's own API (Tenant Fleet's HTTP API), issued by the sandbox's Entra through
 * the client-credentials grant with a client secret, as Entra does for an operator's client app:
 * `POST /{tenant}/oauth2/v2.0/token` with `client_id`, `client_secret` and
 * `scope={API app id URI}/.default`. The answer is an access token signed with the tenant's key
 * (published in its JWKS) carrying the app roles assigned to the client in the `roles` claim (no
 * claim at all without roles, as Entra does). The API registration decides the token version:
 * v2.0 (`iss` = `{authorityHost}/{tid}/v2.0`, `aud` = the API's client id) or v1.0 (`iss` =
 * `https://sts.windows.net/{tid}/`, `aud` = the app id URI).
 *
 * Operator clients and API registrations live here, not in the world file: they are the provider's
 * own apps, registered by a test or the harness. `mint` signs tokens directly with the same keys, for
 * tokens Entra would never issue (expired, wrong audience, wrong issuer).
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { entraV1Issuer, nowMs, type IdentityContext } from './identity-context.js';

export interface ApiRegistration {
  tenantId: string;
  /** The API's client id (the `aud` of v2.0 tokens). */
  appId: string;
  /** The app id URI (the scope's resource, the `aud` of v1.0 tokens). */
  appIdUri: string;
  tokenVersion: 1 | 2;
}

export interface OperatorClient {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The client's service principal in its tenant (the token's oid and sub). */
  objectId: string;
  displayName: string;
  /** App roles of the API assigned to this client. */
  roles: string[];
}

export interface MintOptions {
  /** Who the token is for (default: the first registered API, its default audience). */
  audience?: string;
  /** The issuer (default: the registration's issuer form). */
  issuer?: string;
  /** The tenant whose key signs (default: the API's tenant). */
  signingTenantId?: string;
  roles?: string[];
  lifetimeSeconds?: number;
  /** Issue time in epoch seconds (an hour in the past and a short lifetime make an expired token). */
  issuedAt?: number;
  claims?: JWTPayload;
}

type Answer = { status: number; body: Record<string, unknown> };

const LIFETIME_SECONDS = 3600;

function entraError(status: number, error: string, code: number, description: string): Answer {
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${description}`,
      error_codes: [code],
      timestamp: new Date()
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z'),
    },
  };
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export class ApiTokens {
  private readonly apis: ApiRegistration[] = [];
  private readonly clients = new Map<string, OperatorClient>();

  constructor(
    private readonly ctx: IdentityContext,
    private readonly authorityHost: () => string,
  ) {}

  /** Registers the provider's API app in its tenant. */
  registerApi(options: {
    tenantId: string;
    appId?: string;
    appIdUri?: string;
    tokenVersion?: 1 | 2;
  }): ApiRegistration {
    const appId = options.appId ?? randomUUID();
    const api: ApiRegistration = {
      tenantId: options.tenantId.toLowerCase(),
      appId,
      appIdUri: options.appIdUri ?? `api://${appId}`,
      tokenVersion: options.tokenVersion ?? 2,
    };
    this.apis.push(api);
    return api;
  }

  /** The API registrations, first registered first. */
  registrations(): readonly ApiRegistration[] {
    return this.apis;
  }

  /** Registers a client app (with a secret) in a tenant and assigns it app roles of the API. */
  registerClient(options: { tenantId: string; roles?: string[]; displayName?: string }): OperatorClient {
    const client: OperatorClient = {
      tenantId: options.tenantId.toLowerCase(),
      clientId: randomUUID(),
      clientSecret: randomBytes(24).toString('base64url'),
      objectId: randomUUID(),
      displayName: options.displayName ?? 'operator',
      roles: [...(options.roles ?? [])],
    };
    this.clients.set(client.clientId, client);
    return client;
  }

  /** The v2.0 issuer of a tenant at the sandbox's authority (what its discovery document names). */
  v2Issuer(tenantId: string): string {
    return `${this.authorityHost()}/${tenantId}/v2.0`;
  }

  /** Whether a token request is a client-secret grant of a client registered here (answered here). */
  handles(form: URLSearchParams): boolean {
    const clientId = form.get('client_id')?.toLowerCase();
    return form.has('client_secret') && !!clientId && this.clients.has(clientId);
  }

  /** Answers a client-credentials request of a registered client, in the tenant of the URL. */
  async issue(tenantId: string, form: URLSearchParams): Promise<Answer> {
    const client = this.clients.get(form.get('client_id')?.toLowerCase() ?? '');
    if (form.get('grant_type') !== 'client_credentials')
      return entraError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    if (!client || client.tenantId !== tenantId.toLowerCase())
      return entraError(400, 'unauthorized_client', 700016, 'Application not found in the directory.');
    if (!sameSecret(form.get('client_secret') ?? '', client.clientSecret))
      return entraError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    const scope = (form.get('scope') ?? '').trim();
    const resource = scope.endsWith('/.default') ? scope.slice(0, -'/.default'.length) : '';
    const api = this.apis.find(
      (candidate) =>
        candidate.tenantId === client.tenantId &&
        (candidate.appIdUri === resource || candidate.appId === resource),
    );
    if (!api)
      return entraError(
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${resource || scope} was not found in the tenant.`,
      );
    const now = Math.floor(nowMs(this.ctx) / 1000);
    const accessToken = await this.ctx.keys.sign(
      api.tenantId,
      this.claimsFor(api, client),
      LIFETIME_SECONDS,
      now,
    );
    return {
      status: 200,
      body: {
        token_type: 'Bearer',
        expires_in: LIFETIME_SECONDS - 1,
        ext_expires_in: LIFETIME_SECONDS - 1,
        access_token: accessToken,
      },
    };
  }

  private claimsFor(api: ApiRegistration, client: OperatorClient): JWTPayload {
    const common = {
      tid: api.tenantId,
      oid: client.objectId,
      sub: client.objectId,
      idtyp: 'app',
      ...(client.roles.length > 0 ? { roles: [...client.roles] } : {}),
    };
    return api.tokenVersion === 2
      ? { ...common, aud: api.appId, iss: this.v2Issuer(api.tenantId), azp: client.clientId, ver: '2.0' }
      : {
          ...common,
          aud: api.appIdUri,
          iss: entraV1Issuer(api.tenantId),
          appid: client.clientId,
          ver: '1.0',
        };
  }

  /** Signs a token for the first registered API, with any claim overridden (tests of refusals). */
  async mint(options: MintOptions = {}): Promise<string> {
    const api = this.apis[0];
    if (!api) throw new Error('register the API first (registerApi)');
    const issuedAt = options.issuedAt ?? Math.floor(nowMs(this.ctx) / 1000);
    const objectId = randomUUID();
    return this.ctx.keys.sign(
      options.signingTenantId ?? api.tenantId,
      {
        tid: api.tenantId,
        oid: objectId,
        sub: objectId,
        azp: randomUUID(),
        ver: '2.0',
        aud: options.audience ?? (api.tokenVersion === 2 ? api.appId : api.appIdUri),
        iss:
          options.issuer ??
          (api.tokenVersion === 2 ? this.v2Issuer(api.tenantId) : entraV1Issuer(api.tenantId)),
        ...(options.roles && options.roles.length > 0 ? { roles: options.roles } : {}),
        ...options.claims,
      },
      options.lifetimeSeconds ?? LIFETIME_SECONDS,
      issuedAt,
    );
  }
}

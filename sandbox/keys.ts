/**
 * Signing keys and tokens of the sandbox cloud. Each tenant gets its own RS256 key pair (generated on
 * first use and kept for the life of the sandbox), published as that tenant's JWKS; every token the
 * sandbox issues (MI tokens, Entra access tokens) is a real signed JWT, and every token it receives
 * (client assertions, ARM and storage bearer tokens) is verified for real against these keys.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, decodeProtectedHeader, errors } from 'jose';
import type { JWK, JWTPayload, CryptoKey } from 'jose';

export interface TenantKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

/** Claims the sandbox's access tokens carry (the subset of Entra's that consumers need). */
export interface AccessTokenClaims extends JWTPayload {
  aud: string;
  iss: string;
  tid: string;
  oid: string;
  sub: string;
  appid?: string;
  azp?: string;
  idtyp?: string;
  ver?: string;
}

/** Why a presented token was refused; consumers map reasons to their wire errors. */
export type TokenRejection =
  'malformed' | 'unknown-key' | 'bad-signature' | 'expired' | 'not-yet-valid' | 'wrong-audience';

export class TokenRejectedError extends Error {
  constructor(
    readonly reason: TokenRejection,
    message: string,
  ) {
    super(message);
    this.name = 'TokenRejectedError';
  }
}

/**
 * RSA key generation costs ~100-200 ms per 2048-bit pair here, so a world of 200 tenants would spend
 * most of a minute on keys. Every tenant still gets its own key id (and so its own JWKS entry and
 * signer identity, which is what verification checks first), but the RSA material comes from a pool
 * of `poolSize` pairs, handed out round robin. Entra itself signs every tenant's tokens with one global
 * key set, so sharing material is, if anything, closer to the real thing.
 */
export interface KeyStoreOptions {
  poolSize?: number;
}

export class KeyStore {
  private readonly keys = new Map<string, Promise<TenantKey>>();
  private readonly pool: Array<Promise<{ privateKey: CryptoKey; publicKey: CryptoKey }>> = [];
  private readonly poolSize: number;

  constructor(options: KeyStoreOptions = {}) {
    this.poolSize = Math.max(1, options.poolSize ?? 8);
  }

  private material(): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey }> {
    const index = this.keys.size % this.poolSize;
    this.pool[index] ??= generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    return this.pool[index];
  }
  /** kid -> tenant id, so a token can be verified without trusting its own claims first. */
  private readonly tenantByKid = new Map<string, string>();

  /** The tenant's key pair, generated once (concurrent callers share the same promise). */
  keyFor(tenantId: string): Promise<TenantKey> {
    const id = tenantId.toLowerCase();
    let key = this.keys.get(id);
    if (!key) {
      const material = this.material();
      key = (async () => {
        const { privateKey, publicKey } = await material;
        const kid = randomUUID().replaceAll('-', '');
        const publicJwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' };
        this.tenantByKid.set(kid, id);
        return { kid, privateKey, publicKey, publicJwk };
      })();
      this.keys.set(id, key);
    }
    return key;
  }

  /** Pre-generates keys (async, in parallel) so the first token request of a tenant is not slow. */
  async warm(tenantIds: Iterable<string>): Promise<void> {
    await Promise.all([...tenantIds].map((id) => this.keyFor(id)));
  }

  async jwks(tenantId: string): Promise<{ keys: JWK[] }> {
    return { keys: [(await this.keyFor(tenantId)).publicJwk] };
  }

  /**
   * Signs a JWT with the tenant's key. `lifetimeSeconds` defaults to one hour; `issuedAtSeconds`
   * (default now) lets v1 managed identity tokens carry iat backdated with nbf.
   */
  async sign(
    tenantId: string,
    claims: JWTPayload,
    lifetimeSeconds = 3600,
    nowSeconds = Math.floor(Date.now() / 1000),
    issuedAtSeconds = nowSeconds,
  ): Promise<string> {
    const key = await this.keyFor(tenantId);
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid })
      .setIssuedAt(issuedAtSeconds)
      .setNotBefore(nowSeconds - 5 * 60)
      .setExpirationTime(nowSeconds + lifetimeSeconds)
      .setJti(randomUUID())
      .sign(key.privateKey);
  }

  /** The tenant whose key signed this token, from the `kid` header (undefined when unknown). */
  signerOf(token: string): string | undefined {
    try {
      const { kid } = decodeProtectedHeader(token);
      return kid ? this.tenantByKid.get(kid) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Verifies signature, exp and nbf (with Entra's 5 minute skew) and, when given, the audience.
   * With `tenantId` the token must be signed by that tenant's key (as a relying party that fetched
   * the issuer's JWKS would check); otherwise the signer is found from the `kid` header.
   * Returns the claims; throws {@link TokenRejectedError} with a reason otherwise.
   */
  async verify(
    token: string,
    options: { audience?: string | string[]; tenantId?: string } = {},
  ): Promise<AccessTokenClaims> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new TokenRejectedError('malformed', 'The token is not a well-formed JWT.');
    }
    const signer = kid ? this.tenantByKid.get(kid) : undefined;
    const tenantId = options.tenantId?.toLowerCase() ?? signer;
    if (!tenantId)
      throw new TokenRejectedError('unknown-key', `No signing key with kid '${kid ?? ''}' is known.`);
    if (signer !== tenantId)
      throw new TokenRejectedError('bad-signature', 'The token is not signed by a key of its issuer.');
    const key = await this.keyFor(tenantId);
    try {
      const { payload } = await jwtVerify(token, key.publicKey, {
        algorithms: ['RS256'],
        clockTolerance: 300,
        ...(options.audience ? { audience: options.audience } : {}),
      });
      return payload as AccessTokenClaims;
    } catch (error) {
      if (error instanceof errors.JWTExpired)
        throw new TokenRejectedError('expired', 'The token is expired.');
      if (error instanceof errors.JWTClaimValidationFailed) {
        if (error.claim === 'nbf')
          throw new TokenRejectedError('not-yet-valid', 'The token is not yet valid.');
        if (error.claim === 'aud')
          throw new TokenRejectedError('wrong-audience', 'The token audience is not accepted.');
      }
      if (error instanceof errors.JWSSignatureVerificationFailed) {
        throw new TokenRejectedError('bad-signature', 'The token signature is invalid.');
      }
      throw new TokenRejectedError('malformed', `The token is invalid: ${(error as Error).message}`);
    }
  }
}

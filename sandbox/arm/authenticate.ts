/** ARM's bearer-token check: verifies the token and maps each rejection to ARM's 401 code. */
import type { IncomingMessage } from 'node:http';
import { decodeJwt, type JWTPayload } from 'jose';
import { TokenRejectedError, type AccessTokenClaims } from '../keys.js';
import type { ArmContext } from './context.js';
import { ArmError, armTime } from './errors.js';
import { ARM_AUDIENCES } from './settings.js';

/** Verifies the bearer token of `request`. Never echoes the token. */
export async function authenticate(ctx: ArmContext, request: IncomingMessage): Promise<AccessTokenClaims> {
  const header = request.headers.authorization;
  if (!header) {
    throw new ArmError(
      401,
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is missing.",
    );
  }
  const token = bearerToken(header);
  if (!token) {
    throw new ArmError(
      401,
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is provided in an invalid format.",
    );
  }
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

/** The token of an `Authorization: Bearer <token>` header, or undefined for any other header. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

/** A token's claims read without checking it (for wording messages only), or undefined if it is no JWT. */
export function safeDecode(token: string): JWTPayload | undefined {
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

/**
 * What the sandbox's identity side (managed identity endpoint, Entra) needs from the rest of the
 * sandbox: the live world, the signing keys, the request counters and a clock. Shared by
 * `managed-identity.ts` and `entra.ts` so both handlers are built from the same context.
 */
import type { KeyStore } from './keys.js';
import type { RequestCounters } from './counters.js';
import type { World } from './world.js';

export interface IdentityContext {
  /**
   * The live, mutable world: read it fresh on every request (the admin API adds/removes SPs at run
   * time). Do not cache derived indexes across requests.
   */
  world: World;
  keys: KeyStore;
  counters: RequestCounters;
  /** Clock in ms, injectable for time tests. Default Date.now. */
  now?: () => number;
}

/** The context's clock in milliseconds (Date.now unless a test injected one). */
export function nowMs(ctx: IdentityContext): number {
  return ctx.now ? ctx.now() : Date.now();
}

/** The context's clock in whole epoch seconds, as JWT claims use it. */
export function nowSeconds(ctx: IdentityContext): number {
  return Math.floor(nowMs(ctx) / 1000);
}

/** The well-known audiences of the token exchange (public cloud, US Gov, China). */
export const TOKEN_EXCHANGE_AUDIENCES = [
  'api://AzureADTokenExchange',
  'api://AzureADTokenExchangeUSGov',
  'api://AzureADTokenExchangeChina',
] as const;

/** Entra's issuer for v2.0 tokens of a tenant (also what an FIC names as its issuer). */
export function entraV2Issuer(tenantId: string): string {
  return `https://login.microsoftonline.com/${tenantId}/v2.0`;
}

/** Entra's issuer for v1.0 tokens of a tenant (the `iss` and `idp` of ARM and Storage tokens). */
export function entraV1Issuer(tenantId: string): string {
  return `https://sts.windows.net/${tenantId}/`;
}

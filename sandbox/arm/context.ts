/** What every route of the sandbox's ARM is given: the shared world and servers, and one request. */
import type { RequestCounters } from '../counters.js';
import type { AccessTokenClaims, KeyStore } from '../keys.js';
import type { WorldStore } from '../state.js';
import type { ChangeTimes } from './change-times.js';
import type { CasingVariation } from './realism.js';
import type { ArmSettings } from './settings.js';

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

/** One authenticated request as a route handler sees it. */
export interface ArmCall {
  ctx: ArmContext;
  claims: AccessTokenClaims;
  /** The caller's object id, lower-cased. */
  oid: string;
  url: URL;
  settings: ArmSettings;
  /** The listing passes of this ARM (casing varies from one pass to the next). */
  casing: CasingVariation;
  /** createdTime / changedTime of the resources this ARM has served ($expand). */
  changeTimes: ChangeTimes;
}

/** The Entra authority ARM names in its challenges, without a trailing slash. */
export const authorityOf = (ctx: ArmContext): string =>
  (ctx.authorityHost?.() ?? 'https://login.windows.net').replace(/\/+$/, '');

/**
 * One ARM client per customer tenant, kept between sweeps for the most recently used tenants. A client
 * built per sweep costs its pipeline and a token lookup in MSAL's cache each time; a kept client's
 * bearer policy holds the tenant's token until it is close to expiry (and then asks again), so a sweep
 * that follows within the token's life sends no token request and builds nothing (docs/performance.md).
 */
import type { ResourceManagementClient } from '@azure/arm-resources';
import { resourceClient, type ArmOptions } from './arm.js';
import { BoundedCache } from './bounded-cache.js';
import type { CredentialChain } from './credentials.js';
import { parseTenantId } from './ids.js';

export class TenantArmClients {
  private readonly clients: BoundedCache<ResourceManagementClient>;

  constructor(
    private readonly chain: CredentialChain,
    /** The ARM options every tenant's client is built with (the retire path's clients take them too). */
    readonly options: ArmOptions,
    /** Tenants whose client is kept (the config's `cachedTenants`). */
    capacity: number,
  ) {
    this.clients = new BoundedCache(capacity);
  }

  /** The tenant's client (its id validated); built on first use or after it was dropped. */
  forTenant(tenantId: string): ResourceManagementClient {
    const id = parseTenantId(tenantId);
    return this.clients.getOrCreate(id, () => resourceClient(this.chain.forTenant(id), this.options));
  }

  /** How many tenants hold a kept client (for tests). */
  get size(): number {
    return this.clients.size;
  }
}

/**
 * The secretless credential chain.
 *
 *   user-assigned MI  --(token for the FIC audience, e.g. api://AzureADTokenExchange)-->  client_assertion
 *   client_assertion  --(client credentials at {authority}/{customerTenant})-->  access token in that tenant
 *
 * One ManagedIdentityCredential for the process and one ClientAssertionCredential per customer tenant:
 * @azure/identity caches tokens per credential instance, so a credential per call would ask Entra (and
 * the MI endpoint) again every time. The per-tenant ones are kept for the most recently used tenants
 * (`cachedTenants`), so a worker's memory does not grow with the fleet.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { ClientAssertionCredential, ManagedIdentityCredential } from '@azure/identity';
import { BoundedCache } from './bounded-cache.js';
import { sharedPipelineOptionsFor, type CloudProfile } from './cloud.js';
import { DEFAULT_CACHED_TENANTS } from './config.js';
import { parseTenantId } from './ids.js';

export interface CredentialChainOptions {
  cloud: CloudProfile;
  managedIdentityClientId: string;
  appClientId: string;
  /** For tests that count requests: a credential to use instead of the MI one. */
  managedIdentityCredential?: TokenCredential;
  /** Tenants whose credential is kept (least recently used dropped first); default 256. */
  cachedTenants?: number;
}

export class CredentialChain {
  readonly cloud: CloudProfile;
  readonly appClientId: string;
  private readonly managedIdentity: TokenCredential;
  private readonly perTenant: BoundedCache<ClientAssertionCredential>;

  constructor(options: CredentialChainOptions) {
    this.cloud = options.cloud;
    this.appClientId = options.appClientId;
    this.perTenant = new BoundedCache(options.cachedTenants ?? DEFAULT_CACHED_TENANTS);
    this.managedIdentity =
      options.managedIdentityCredential ??
      new ManagedIdentityCredential({
        clientId: options.managedIdentityClientId,
        ...sharedPipelineOptionsFor(options.cloud),
      });
  }

  /** The MI token request in flight, shared by every caller that needs it meanwhile. */
  private pendingAssertion: Promise<AccessToken | null> | undefined;

  /**
   * The MI token presented as client assertion. The MI credential caches it, so this costs one MI
   * endpoint request per token lifetime (24 h) for the whole process, whatever the number of tenants.
   * Callers that arrive while that request is in flight wait for it: the credential's cache fills only
   * when it answers, so the 16 tenants a worker instance starts at once would otherwise each ask.
   */
  async assertion(options?: GetTokenOptions): Promise<string> {
    this.pendingAssertion ??= this.managedIdentity
      .getToken(`${this.cloud.ficAudience}/.default`, options)
      .finally(() => {
        this.pendingAssertion = undefined;
      });
    const token = await this.pendingAssertion;
    if (!token) throw new Error('The managed identity endpoint returned no token for the FIC audience.');
    return token.token;
  }

  /** The credential acting as the multitenant app inside `tenantId` (validated, cached). */
  forTenant(tenantId: string): TokenCredential {
    const id = parseTenantId(tenantId);
    const pinned = this.perTenant.getOrCreate(
      id,
      () =>
        new ClientAssertionCredential(id, this.appClientId, () => this.assertion(), {
          authorityHost: this.cloud.authorityHost,
          disableInstanceDiscovery: this.cloud.disableInstanceDiscovery,
          ...sharedPipelineOptionsFor(this.cloud),
        }),
    );
    // A resource of another tenant answers 401 with a challenge naming its tenant. The credential
    // refuses that tenant, but the SDK's token cycler swallows the refusal and retries every 3 s until
    // the current token expires (an hour): the call hangs. Keep this tenant's token instead, so the
    // retried request fails at once with the service's own 401. The tenant a request names is dropped
    // even when it is this one: the credential compares it case-sensitively, so its own id in another
    // case would be refused (and hang) too.
    return {
      getToken: (scopes, options) => {
        const { tenantId: _named, ...rest } = options ?? {};
        return pinned.getToken(scopes, rest);
      },
    };
  }

  /** An ARM token in the tenant (used by diagnostics to check onboarding step by step). */
  armToken(tenantId: string, options?: GetTokenOptions): Promise<AccessToken | null> {
    return this.forTenant(tenantId).getToken(this.cloud.armScope, options);
  }

  /** How many tenants hold a cached credential (for progress and tests). */
  get tenantCount(): number {
    return this.perTenant.size;
  }
}

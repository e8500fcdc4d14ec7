/**
 * Callers of the API with real tokens: the sandbox's Entra registers the provider's API app in the
 * provider tenant and one operator client per role set, and each client gets its token through the
 * client-credentials grant with @azure/identity's ClientSecretCredential (the SDK an operator's script
 * would use). `mint` signs tokens Entra would not issue (expired, other audience, other issuer).
 */
import { ClientSecretCredential } from '@azure/identity';
import { worldFacts } from '../../sandbox/generator.js';
import type { Sandbox } from '../../sandbox/index.js';
import type { ApiRegistration, MintOptions } from '../../sandbox/api-tokens.js';

export interface ApiCallers {
  api: ApiRegistration;
  /** The provider tenant (issuer of the API's tokens). */
  tenantId: string;
  /** The app settings that point the app at this API registration. */
  settings: Record<string, string>;
  /** A token of an operator client holding exactly these app roles (cached per role set). */
  token(roles: readonly string[]): Promise<string>;
  /** `Authorization: Bearer ...` of such a client. */
  headers(roles: readonly string[]): Promise<Record<string, string>>;
  /** The client's object id (the token's oid) for a role set. */
  objectIdOf(roles: readonly string[]): string;
  mint(options?: MintOptions): Promise<string>;
}

export function registerApiCallers(sandbox: Sandbox, options: { tokenVersion?: 1 | 2 } = {}): ApiCallers {
  const tenantId = worldFacts(sandbox.store.world).homeTenantId;
  const api = sandbox.apiTokens.registerApi({
    tenantId,
    ...(options.tokenVersion ? { tokenVersion: options.tokenVersion } : {}),
  });
  const clients = new Map<string, { credential: ClientSecretCredential; objectId: string }>();
  const clientFor = (roles: readonly string[]) => {
    const key = [...roles].sort().join(',');
    let entry = clients.get(key);
    if (!entry) {
      const client = sandbox.apiTokens.registerClient({
        tenantId,
        roles: [...roles],
        displayName: `operator ${key || '(no roles)'}`,
      });
      entry = {
        objectId: client.objectId,
        credential: new ClientSecretCredential(tenantId, client.clientId, client.clientSecret, {
          authorityHost: sandbox.endpoints.authorityHost,
          disableInstanceDiscovery: true,
          tlsOptions: { ca: sandbox.caCertPem },
        }),
      };
      clients.set(key, entry);
    }
    return entry;
  };
  const token = async (roles: readonly string[]): Promise<string> => {
    const result = await clientFor(roles).credential.getToken(`${api.appIdUri}/.default`);
    return result.token;
  };
  return {
    api,
    tenantId,
    settings: {
      TENANT_FLEET_HTTP_AUTH: 'appservice',
      TENANT_FLEET_API_AUDIENCE: api.appIdUri,
      TENANT_FLEET_API_CLIENT_ID: api.appId,
      TENANT_FLEET_AUTH_TENANT_ID: tenantId,
    },
    token,
    headers: async (roles) => ({ authorization: `Bearer ${await token(roles)}` }),
    objectIdOf: (roles) => clientFor(roles).objectId,
    mint: (mintOptions) => sandbox.apiTokens.mint(mintOptions),
  };
}

/**
 * Test support for the sandbox's identity side: a world of the seed-003 shape built in code (a home
 * tenant with a user-assigned MI that is an FIC on a multitenant app, and N customer tenants), and
 * the MI endpoint (HTTP) and Entra (HTTPS) servers started on loopback ephemeral ports.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { request as httpsRequest } from 'node:https';
import { RequestCounters } from '../../sandbox/counters.js';
import { createEntraHandler } from '../../sandbox/entra.js';
import { close, listen } from '../../sandbox/http.js';
import { entraV2Issuer } from '../../sandbox/identity-context.js';
import type { IdentityContext } from '../../sandbox/identity-context.js';
import { KeyStore } from '../../sandbox/keys.js';
import { createManagedIdentityHandler } from '../../sandbox/managed-identity.js';
import { createSandboxTls } from '../../sandbox/tls.js';
import type { SandboxTls } from '../../sandbox/tls.js';
import { parseWorld } from '../../sandbox/world.js';
import type { World } from '../../sandbox/world.js';

/** A deterministic GUID: `kind` (one hex digit) tells what it is, `n` which one. */
export function testGuid(kind: number, n: number): string {
  return `${kind.toString(16)}0000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export interface IdentityWorldIds {
  homeTenantId: string;
  customerTenantIds: string[];
  miClientId: string;
  miPrincipalId: string;
  miResourceId: string;
  /** The provider's multitenant app (home tenant), with the MI as its FIC. */
  appId: string;
  /** Object id of the app's service principal in customer tenant i (when provisioned). */
  customerSpObjectIds: string[];
}

/**
 * Builds the world: home tenant `contoso.onmicrosoft.com`, one user-assigned MI there, the multitenant
 * app with an FIC (issuer = home tenant v2.0 issuer, subject = MI principal id, audience
 * `api://AzureADTokenExchange`), no SP in the home tenant (as in seed 003), and `customers` customer
 * tenants where the app is provisioned when `provisioned` (default true).
 */
export function identityWorld(options: { customers: number; provisioned?: boolean }): {
  world: World;
  ids: IdentityWorldIds;
} {
  const homeTenantId = testGuid(1, 0);
  const customerTenantIds = Array.from({ length: options.customers }, (_, i) => testGuid(1, i + 1));
  const subscriptionId = testGuid(2, 0);
  const ids: IdentityWorldIds = {
    homeTenantId,
    customerTenantIds,
    miClientId: testGuid(3, 1),
    miPrincipalId: testGuid(4, 1),
    miResourceId: `/subscriptions/${subscriptionId}/resourceGroups/rg-fleet/providers/Microsoft.ManagedIdentity/userAssignedIdentities/umi-fleet`,
    appId: testGuid(5, 1),
    customerSpObjectIds: customerTenantIds.map((_, i) => testGuid(6, i + 1)),
  };
  const world = parseWorld({
    tenants: [
      { id: homeTenantId, displayName: 'Contoso', domain: 'contoso.onmicrosoft.com' },
      ...customerTenantIds.map((id, i) => ({
        id,
        displayName: `Customer ${i + 1}`,
        domain: `customer${i + 1}.onmicrosoft.com`,
      })),
    ],
    managedIdentities: [
      {
        name: 'umi-fleet',
        tenantId: homeTenantId,
        clientId: ids.miClientId,
        principalId: ids.miPrincipalId,
        resourceId: ids.miResourceId,
      },
    ],
    applications: [
      {
        appId: ids.appId,
        displayName: 'Tenant Fleet',
        homeTenantId,
        signInAudience: 'AzureADMultipleOrgs',
        federatedIdentityCredentials: [
          {
            name: 'umi-fleet',
            issuer: entraV2Issuer(homeTenantId),
            subject: ids.miPrincipalId,
            audiences: ['api://AzureADTokenExchange'],
          },
        ],
      },
    ],
    servicePrincipals:
      options.provisioned === false
        ? []
        : customerTenantIds.map((tenantId, i) => ({
            appId: ids.appId,
            tenantId,
            objectId: ids.customerSpObjectIds[i]!,
          })),
  });
  return { world, ids };
}

export interface IdentityServers {
  ctx: IdentityContext;
  tls: SandboxTls;
  /** e.g. http://127.0.0.1:PORT/msi/token */
  identityEndpoint: string;
  identityHeader: string;
  /** e.g. https://127.0.0.1:PORT */
  authorityHost: string;
  /** Moves the sandbox clock (ms offset from the real clock); 0 restores it. */
  setClockOffset(ms: number): void;
  close(): Promise<void>;
}

/** Starts the MI endpoint (plain HTTP) and Entra (HTTPS, self-signed) over one shared context. */
export async function startIdentityServers(
  world: World,
  options: { assignedClientIds?: string[] } = {},
): Promise<IdentityServers> {
  let offset = 0;
  const ctx: IdentityContext = {
    world,
    keys: new KeyStore(),
    counters: new RequestCounters(),
    now: () => Date.now() + offset,
  };
  await ctx.keys.warm(world.tenants.map((tenant) => tenant.id));
  const tls = await createSandboxTls();
  const identityHeader = `sandbox-${Math.random().toString(36).slice(2)}`;
  const miServer = createHttpServer(
    createManagedIdentityHandler(ctx, {
      identityHeader,
      ...(options.assignedClientIds ? { assignedClientIds: options.assignedClientIds } : {}),
    }),
  );
  let authorityHost = '';
  const entraServer = createHttpsServer(
    { cert: tls.certPem, key: tls.keyPem },
    createEntraHandler(ctx, { authorityHost: () => authorityHost }),
  );
  const miPort = await listen(miServer);
  const entraPort = await listen(entraServer);
  authorityHost = `https://127.0.0.1:${entraPort}`;
  return {
    ctx,
    tls,
    identityEndpoint: `http://127.0.0.1:${miPort}/msi/token`,
    identityHeader,
    authorityHost,
    setClockOffset(ms: number) {
      offset = ms;
    },
    async close() {
      await Promise.all([close(miServer), close(entraServer)]);
    },
  };
}

export interface RawResponse {
  status: number;
  text: string;
  json: Record<string, unknown>;
}

function parse(status: number, text: string): RawResponse {
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: tests look at `text`
  }
  return { status, text, json };
}

/** A raw HTTP(S) request; HTTPS trusts only the given CA (the sandbox's self-signed certificate). */
export async function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; ca?: string } = {},
): Promise<RawResponse> {
  if (url.startsWith('http://')) {
    const response = await fetch(url, {
      method: options.method ?? 'GET',
      headers: options.headers ?? {},
      ...(options.body !== undefined ? { body: options.body } : {}),
    });
    return parse(response.status, await response.text());
  }
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve(parse(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/**
 * The sandbox cloud in one call: the managed identity endpoint (HTTP), Entra (HTTPS), ARM (HTTPS),
 * customer storage (HTTPS, Azurite behind an authorizing front) and the admin API (HTTP), all on
 * 127.0.0.1 ephemeral ports, sharing one live world, one key store and one set of counters.
 * A development and test tool, never deployed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminHandler } from './admin.js';
import {
  createArmHandler,
  DEFAULT_ARM_SETTINGS,
  mergeArmSettings,
  type ArmSettings,
  type ArmSettingsPatch,
} from './arm.js';
import { RequestCounters } from './counters.js';
import { ApiTokens } from './api-tokens.js';
import { createEntraHandler } from './entra.js';
import { close, listen } from './http.js';
import { KeyStore } from './keys.js';
import { Propagation } from './propagation.js';
import { createManagedIdentityHandler } from './managed-identity.js';
import { WorldStore, type WorldSnapshot } from './state.js';
import { startCustomerStorage, type CustomerStorage } from './storage-front.js';
import { createSandboxTls } from './tls.js';
import type { World, WorldInput } from './world.js';

export interface SandboxOptions {
  /** The world (a snapshot with generated drift works too). */
  world: WorldInput | World | WorldSnapshot;
  arm?: ArmSettingsPatch;
  /** Customer storage; enabled by default when the world has storage accounts. */
  storage?: { enabled?: boolean; location?: string };
  /** Where the certificate and key PEMs go (default: a fresh temp dir, removed on close). */
  stateDirectory?: string;
  /** The value the MI client must send as X-IDENTITY-HEADER (default: random). */
  identityHeader?: string;
}

export interface SandboxEndpoints {
  /** IDENTITY_ENDPOINT for the App Service MI source: http://127.0.0.1:PORT/msi/token */
  identityEndpoint: string;
  identityHeader: string;
  /** Entra authority host (https://127.0.0.1:PORT); tenants at /{tenantId}. */
  authorityHost: string;
  armEndpoint: string;
  /** Blob endpoint base; account `a` is at `${storageEndpoint}/a`. Absent when storage is off. */
  storageEndpoint?: string;
  adminEndpoint: string;
  /** The self-signed certificate (its own CA) to trust per client (`tlsOptions: { ca }`). */
  caCertPath: string;
}

export interface Sandbox {
  endpoints: SandboxEndpoints;
  caCertPem: string;
  store: WorldStore;
  counters: RequestCounters;
  keys: KeyStore;
  /** Operator clients and tokens for the provider's own API (api-tokens.ts). */
  apiTokens: ApiTokens;
  armSettings(): ArmSettings;
  /** Changes ARM's run-time settings (validated; throws WorldStoreError naming a bad field). */
  setArmSettings(patch: ArmSettingsPatch): void;
  close(): Promise<void>;
}

/** Starts every part of the sandbox; on failure, whatever already started is stopped again. */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const store = new WorldStore(options.world);
  const keys = new KeyStore();
  const counters = new RequestCounters();
  let armSettings = mergeArmSettings(DEFAULT_ARM_SETTINGS, options.arm ?? {});
  const identityHeader = options.identityHeader ?? randomBytes(24).toString('base64url');

  const ownDirectory = options.stateDirectory === undefined;
  const stateDirectory = options.stateDirectory ?? (await mkdtemp(join(tmpdir(), 'tenant-fleet-sandbox-')));
  const servers: Server[] = [];
  let storage: CustomerStorage | undefined;
  const propagation = new Propagation();
  const closeAll = async (): Promise<void> => {
    propagation.close();
    await Promise.all(servers.map((server) => close(server)));
    await storage?.close();
    if (ownDirectory) await rm(stateDirectory, { recursive: true, force: true });
  };

  try {
    // Key generation is the slow part of a first token request: do every tenant now, in parallel.
    const [tls] = await Promise.all([
      createSandboxTls(stateDirectory),
      keys.warm(store.world.tenants.map((t) => t.id)),
    ]);
    const endpoints: Partial<SandboxEndpoints> = {};
    const identityContext = { world: store.world, keys, counters };
    const apiTokens = new ApiTokens(identityContext, () => endpoints.authorityHost!);

    const identityServer = createHttpServer(
      createManagedIdentityHandler(identityContext, { identityHeader }),
    );
    const entraServer = createHttpsServer(
      { cert: tls.certPem, key: tls.keyPem },
      createEntraHandler(identityContext, { authorityHost: () => endpoints.authorityHost!, apiTokens }),
    );
    const armServer = createHttpsServer(
      { cert: tls.certPem, key: tls.keyPem },
      createArmHandler({
        store,
        keys,
        counters,
        settings: () => armSettings,
        armEndpoint: () => endpoints.armEndpoint!,
        authorityHost: () => endpoints.authorityHost!,
      }),
    );
    for (const server of [entraServer, armServer])
      server.on('secureConnection', () => counters.tlsConnections++);
    const setArmSettings = (patch: ArmSettingsPatch): ArmSettings =>
      (armSettings = mergeArmSettings(armSettings, patch));
    const adminServer = createHttpServer(
      createAdminHandler({
        store,
        counters,
        armSettings: () => armSettings,
        setArmSettings,
        propagation,
        apiTokens,
      }),
    );
    servers.push(identityServer, entraServer, armServer, adminServer);
    const [identityPort, entraPort, armPort, adminPort] = await Promise.all(
      servers.map((server) => listen(server)),
    );
    endpoints.identityEndpoint = `http://127.0.0.1:${identityPort!}/msi/token`;
    endpoints.identityHeader = identityHeader;
    endpoints.authorityHost = `https://127.0.0.1:${entraPort!}`;
    endpoints.armEndpoint = `https://127.0.0.1:${armPort!}`;
    endpoints.adminEndpoint = `http://127.0.0.1:${adminPort!}`;
    endpoints.caCertPath = tls.certPath!;

    const storageEnabled = options.storage?.enabled ?? store.world.storageAccounts.length > 0;
    if (storageEnabled) {
      storage = await startCustomerStorage(
        { world: store.world, keys, counters },
        { tls, ...(options.storage?.location ? { location: options.storage.location } : {}) },
      );
      endpoints.storageEndpoint = storage.endpoint;
    }

    let closed: Promise<void> | undefined;
    return {
      endpoints: endpoints as SandboxEndpoints,
      caCertPem: tls.certPem,
      store,
      counters,
      keys,
      apiTokens,
      armSettings: () => armSettings,
      setArmSettings: (patch) => void setArmSettings(patch),
      close: () => (closed ??= closeAll()),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

export { WorldStore } from './state.js';
export type { ArmSettings, ArmSettingsPatch } from './arm.js';
export { generateWorld, worldFacts } from './generator.js';

/**
 * A fleet for one phase of the suite: the sandbox cloud (in this process) with a world, the app's
 * runtime against the shared Azurite under a fresh prefix, the demo customers registered, and the
 * app's own queue handlers under the local host.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwardIdentityTo, SUITE_IDENTITY_HEADER } from './identity-forwarder.js';
import { startTokenProxy, type TokenProxy } from './token-proxy.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import { worldFacts } from '../sandbox/generator.js';
import type { WorldInput } from '../sandbox/world.js';
import { sandboxFleetSettings, applyPlatformIdentityEnvironment } from '../dev/sandbox-fleet.js';
import {
  LocalFunctionsHost,
  loadFunctionHandlers,
  readQueueSemantics,
  type MessageEvent,
} from '../dev/local-host.js';
import { loadConfig } from '../src/core/platform/config.js';
import { ConflictError } from '../src/core/platform/errors.js';
import { knownSecrets } from './secrets.js';
import { createRuntime, setRuntime, type FleetRuntime } from '../src/core/runtime.js';

export const ROOT = join(import.meta.dirname, '..');

export interface PhaseFleet {
  sandbox: Sandbox;
  runtime: FleetRuntime;
  prefix: string;
  /** The app settings (for worker processes). */
  settings: Record<string, string>;
  tokenProxy?: TokenProxy;
  /** Everything the runtime and the functions logged (for the secrets scan). */
  logs: string[];
  host(options?: {
    onMessage?: (event: MessageEvent) => void;
    leaseSeconds?: number;
  }): Promise<LocalFunctionsHost>;
  close(): Promise<void>;
}

export async function startPhaseFleet(
  world: WorldInput,
  connectionString: string,
  settings: Record<string, string> = {},
  options: { tokenFaults?: { rate: number; random: () => number } } = {},
): Promise<PhaseFleet> {
  const stateDirectory = await mkdtemp(join(tmpdir(), 'tenant-fleet-faults-sandbox-'));
  const sandbox = await startSandbox({ world, stateDirectory, identityHeader: SUITE_IDENTITY_HEADER });
  const tokenProxy = options.tokenFaults
    ? await startTokenProxy({
        upstream: sandbox.endpoints.authorityHost,
        certPath: join(stateDirectory, 'sandbox-cert.pem'),
        keyPath: join(stateDirectory, 'sandbox-key.pem'),
        ...options.tokenFaults,
      })
    : undefined;
  if (tokenProxy) settings = { ...settings, TENANT_FLEET_SANDBOX_AUTHORITY_HOST: tokenProxy.authorityHost };
  applyPlatformIdentityEnvironment(sandbox);
  process.env.IDENTITY_ENDPOINT = await forwardIdentityTo(sandbox.endpoints.identityEndpoint);
  knownSecrets.add(sandbox.endpoints.identityHeader);
  const prefix = `f${randomBytes(4).toString('hex')}`;
  const appSettings = {
    ...sandboxFleetSettings(sandbox, { providerConnectionString: connectionString, prefix, settings }),
    TENANT_FLEET_HTTP_AUTH: 'none',
  };
  const logs: string[] = [];
  const runtime = createRuntime(loadConfig(appSettings), {
    log: (level, message) => logs.push(`${level}: ${message}`),
  });
  await runtime.storage.ensureResources();
  setRuntime(runtime);
  return {
    sandbox,
    runtime,
    prefix,
    settings: appSettings,
    ...(tokenProxy ? { tokenProxy } : {}),
    logs,
    host: async (options = {}) =>
      new LocalFunctionsHost({
        runtime,
        handlers: await loadFunctionHandlers(),
        semantics: readQueueSemantics(join(ROOT, 'host.json')),
        retryDelaySeconds: 1,
        onLog: (level, text) => logs.push(`${level}: ${text}`),
        ...options,
      }),
    close: async () => {
      setRuntime(undefined);
      await tokenProxy?.close();
      await sandbox.close();
      await rm(stateDirectory, { recursive: true, force: true });
    },
  };
}

/** Registers every customer tenant of the world; returns their ids. */
export async function registerWorld(fleet: PhaseFleet): Promise<string[]> {
  const world = fleet.sandbox.store.world;
  const home = worldFacts(world).homeTenantId;
  const ids: string[] = [];
  const pending = world.tenants.filter((tenant) => tenant.id !== home);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < pending.length) {
        const tenant = pending[next++]!;
        ids.push(tenant.id.toLowerCase());
        try {
          await fleet.runtime.registry.add(
            { tenantId: tenant.id, displayName: tenant.displayName, tags: ['faults'] },
            'faults',
          );
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error;
        }
      }
    }),
  );
  return ids;
}

/**
 * Glue between the offline sandbox and the product: the settings the app would get in Azure (app
 * settings plus the platform's IDENTITY_ENDPOINT/IDENTITY_HEADER), pointed at the sandbox. Used by
 * `npm start`, the integration tests and the benchmark; never by the deployed app.
 */
import type { Sandbox } from '../sandbox/index.js';
import { worldFacts } from '../sandbox/generator.js';
import { loadConfig, type FleetConfig } from '../src/core/platform/config.js';

export interface SandboxFleetOptions {
  providerConnectionString: string;
  prefix?: string;
  /** Extra settings (concurrency, snapshots, ...). */
  settings?: Record<string, string>;
}

/** The app settings of a Tenant Fleet deployment whose cloud is this sandbox. */
export function sandboxFleetSettings(sandbox: Sandbox, options: SandboxFleetOptions): Record<string, string> {
  const facts = worldFacts(sandbox.store.world);
  const endpoints = sandbox.endpoints;
  if (!endpoints.storageEndpoint && sandbox.store.world.storageAccounts.length > 0) {
    throw new Error('the sandbox has storage accounts but no storage endpoint');
  }
  return {
    TENANT_FLEET_CLOUD: 'Sandbox',
    TENANT_FLEET_MI_CLIENT_ID: facts.miClientId,
    TENANT_FLEET_APP_CLIENT_ID: facts.appId,
    TENANT_FLEET_SANDBOX_AUTHORITY_HOST: endpoints.authorityHost,
    TENANT_FLEET_SANDBOX_ARM_ENDPOINT: endpoints.armEndpoint,
    // Without customer storage the profile still needs a base; nothing will call it.
    TENANT_FLEET_SANDBOX_STORAGE_ENDPOINT: endpoints.storageEndpoint ?? endpoints.armEndpoint,
    TENANT_FLEET_SANDBOX_CA_CERT: endpoints.caCertPath,
    TENANT_FLEET_HTTP_AUTH: 'none',
    AzureWebJobsStorage: options.providerConnectionString,
    ...(options.prefix ? { TENANT_FLEET_STORAGE_PREFIX: options.prefix } : {}),
    ...options.settings,
  };
}

/**
 * What the Functions platform sets for a user-assigned MI. @azure/identity reads these from the
 * process environment and picks its MI source once per process, so set them before the first token.
 */
export function applyPlatformIdentityEnvironment(sandbox: Sandbox): void {
  process.env.IDENTITY_ENDPOINT = sandbox.endpoints.identityEndpoint;
  process.env.IDENTITY_HEADER = sandbox.endpoints.identityHeader;
  for (const other of [
    'MSI_ENDPOINT',
    'MSI_SECRET',
    'IDENTITY_SERVER_THUMBPRINT',
    'AZURE_FEDERATED_TOKEN_FILE',
    'IMDS_ENDPOINT',
  ]) {
    delete process.env[other];
  }
}

export function sandboxFleetConfig(sandbox: Sandbox, options: SandboxFleetOptions): FleetConfig {
  applyPlatformIdentityEnvironment(sandbox);
  return loadConfig(sandboxFleetSettings(sandbox, options));
}

/**
 * The process-wide objects every entry point shares (Functions triggers, the CLI, tests): one config,
 * one credential chain (so tokens are reused across tenants and invocations), one storage client set.
 */
import type { TokenCredential } from '@azure/core-auth';
import { getConfig, type FleetConfig } from './platform/config.js';
import { CredentialChain } from './platform/credentials.js';
import { TenantArmClients } from './platform/tenant-arm.js';
import { ProviderStorage } from './storage/provider-storage.js';
import { TenantRegistry } from './sweep/registry.js';
import { RunStore } from './sweep/runs.js';

export type LogLevel = 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string) => void;

export interface FleetRuntime {
  config: FleetConfig;
  storage: ProviderStorage;
  chain: CredentialChain;
  /** Each customer tenant's ARM client, kept between sweeps (platform/tenant-arm.ts). */
  arm: TenantArmClients;
  registry: TenantRegistry;
  runs: RunStore;
  now(): Date;
  /** Messages only: never pass a token, an assertion or a key. */
  log: Logger;
}

export interface RuntimeOptions {
  now?: () => Date;
  log?: Logger;
  /** Replaces the managed identity credential (tests that count or fake the MI). */
  managedIdentityCredential?: TokenCredential;
  /** Credential for the provider's own storage when it is identity-based. */
  storageCredential?: TokenCredential;
}

const consoleLogger: Logger = (level, message) => {
  const line = `[${level}] ${message}`;
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
};

export function createRuntime(config: FleetConfig, options: RuntimeOptions = {}): FleetRuntime {
  const storage = new ProviderStorage(config, options.storageCredential);
  const now = options.now ?? (() => new Date());
  const chain = new CredentialChain({
    cloud: config.cloud,
    managedIdentityClientId: config.managedIdentityClientId,
    appClientId: config.appClientId,
    cachedTenants: config.sweep.cachedTenants,
    ...(options.managedIdentityCredential
      ? { managedIdentityCredential: options.managedIdentityCredential }
      : {}),
  });
  return {
    config,
    storage,
    chain,
    arm: new TenantArmClients(
      chain,
      { cloud: config.cloud, maxRetries: config.sweep.armMaxRetries },
      config.sweep.cachedTenants,
    ),
    registry: new TenantRegistry(storage.table(config.names.tenantsTable), {
      circuitBreakerThreshold: config.sweep.circuitBreakerThreshold,
      onboardingGraceMinutes: config.sweep.onboardingGraceMinutes,
      defaultCloud: config.cloud.name,
      now,
    }),
    runs: new RunStore(storage.table(config.names.runsTable), storage.table(config.names.runTenantsTable)),
    now,
    log: options.log ?? consoleLogger,
  };
}

let shared: FleetRuntime | undefined;

/** The process's runtime, built from the validated config on first use. */
export function getRuntime(): FleetRuntime {
  shared ??= createRuntime(getConfig());
  return shared;
}

/** Installs a runtime (the CLI and tests build theirs before any handler runs). */
export function setRuntime(runtime: FleetRuntime | undefined): void {
  shared = runtime;
}

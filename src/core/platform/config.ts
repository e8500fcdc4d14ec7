/**
 * Configuration: read once from the environment (app settings in Azure, `local.settings.json` under
 * the Functions host, the CLI's own environment locally), validated with a schema, and frozen.
 * A wrong or missing setting stops the process at start with a message naming the setting and the fix,
 * rather than failing later inside a sweep.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AZURE_CLOUDS, sandboxCloud, type CloudName, type CloudProfile } from './cloud.js';
import { ConfigError } from './errors.js';
import { GUID_PATTERN } from './ids.js';

export type ProviderStorageSetting =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'identity'; tableUrl: string; queueUrl: string; blobUrl: string; clientId?: string };

export interface ResourceNames {
  tenantsTable: string;
  runsTable: string;
  runTenantsTable: string;
  inventoryTable: string;
  changesTable: string;
  storageTable: string;
  /** Per-tenant counts written by each sweep for the fleet views (inventory/aggregates.ts). */
  aggregatesTable: string;
  sweepQueue: string;
  poisonQueue: string;
  snapshotsContainer: string;
}

export interface SweepSettings {
  schedule: string;
  subscriptionConcurrency: number;
  storageAccountConcurrency: number;
  circuitBreakerThreshold: number;
  runTimeoutMs: number;
  armMaxRetries: number;
  snapshots: boolean;
}

export interface FleetConfig {
  cloud: CloudProfile;
  managedIdentityClientId: string;
  appClientId: string;
  storage: ProviderStorageSetting;
  names: ResourceNames;
  sweep: SweepSettings;
  /** `appservice`: HTTP callers are authenticated by App Service Authentication and need app roles. */
  httpAuth: 'appservice' | 'none';
}

const guid = z
  .string()
  .trim()
  .regex(GUID_PATTERN, 'must be a GUID such as 00000000-0000-0000-0000-000000000000');
const loopbackHttps = z
  .string()
  .trim()
  .url()
  .refine((value) => /^https:\/\/(127\.0\.0\.1|localhost)(:\d+)?(\/.*)?$/.test(value), {
    message: 'must be an https URL on 127.0.0.1 or localhost (the sandbox never leaves this machine)',
  });
const https = z
  .string()
  .trim()
  .url()
  .refine((value) => value.startsWith('https://') || /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(value), {
    message: 'must be an https URL',
  });
const intSetting = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

/** The schema of every setting, keyed by its environment variable name. */
const envSchema = z.object({
  TENANT_FLEET_CLOUD: z
    .enum(['AzurePublicCloud', 'AzureUSGovernment', 'AzureChinaCloud', 'Sandbox'])
    .default('AzurePublicCloud'),
  TENANT_FLEET_MI_CLIENT_ID: guid,
  TENANT_FLEET_APP_CLIENT_ID: guid,
  TENANT_FLEET_SANDBOX_AUTHORITY_HOST: loopbackHttps.optional(),
  TENANT_FLEET_SANDBOX_ARM_ENDPOINT: loopbackHttps.optional(),
  TENANT_FLEET_SANDBOX_STORAGE_ENDPOINT: loopbackHttps.optional(),
  TENANT_FLEET_SANDBOX_CA_CERT: z.string().trim().min(1).optional(),
  AzureWebJobsStorage: z.string().trim().min(1).optional(),
  AzureWebJobsStorage__tableServiceUri: https.optional(),
  AzureWebJobsStorage__queueServiceUri: https.optional(),
  AzureWebJobsStorage__blobServiceUri: https.optional(),
  AzureWebJobsStorage__clientId: guid.optional(),
  TENANT_FLEET_STORAGE_PREFIX: z
    .string()
    .trim()
    .regex(
      /^([a-z][a-z0-9]{0,15})?$/,
      'must be empty or up to 16 lowercase letters and digits, starting with a letter',
    )
    .default(''),
  TENANT_FLEET_SWEEP_SCHEDULE: z
    .string()
    .trim()
    .regex(/^\S+( \S+){5}$/, 'must be a six-field NCRONTAB expression such as "0 0 */6 * * *"')
    .default('0 0 */6 * * *'),
  TENANT_FLEET_SUBSCRIPTION_CONCURRENCY: intSetting(4, 1, 64),
  TENANT_FLEET_STORAGE_CONCURRENCY: intSetting(4, 1, 64),
  TENANT_FLEET_CIRCUIT_BREAKER_THRESHOLD: intSetting(3, 1, 1000),
  TENANT_FLEET_RUN_TIMEOUT_MINUTES: intSetting(120, 1, 7 * 24 * 60),
  TENANT_FLEET_ARM_MAX_RETRIES: intSetting(8, 0, 20),
  TENANT_FLEET_SNAPSHOTS: z.enum(['true', 'false']).default('true'),
  TENANT_FLEET_HTTP_AUTH: z.enum(['appservice', 'none']).default('appservice'),
});

export type FleetEnvironment = z.input<typeof envSchema>;

/** Validates an environment into a config. Throws {@link ConfigError} naming the first bad setting. */
export function loadConfig(env: Record<string, string | undefined> = process.env): FleetConfig {
  // Empty strings are "unset" (local.settings.json templates often carry them).
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const setting = String(issue.path[0] ?? 'configuration');
    const message =
      issue.code === 'invalid_type' && present[setting] === undefined
        ? 'is required but not set'
        : issue.message;
    throw new ConfigError(setting, message);
  }
  const settings = parsed.data;
  const cloud = resolveCloud(settings.TENANT_FLEET_CLOUD, settings);
  if (settings.TENANT_FLEET_HTTP_AUTH === 'none' && cloud.name !== 'Sandbox') {
    throw new ConfigError(
      'TENANT_FLEET_HTTP_AUTH',
      "'none' is only allowed with TENANT_FLEET_CLOUD=Sandbox; use 'appservice' in Azure",
    );
  }
  return Object.freeze({
    cloud,
    managedIdentityClientId: settings.TENANT_FLEET_MI_CLIENT_ID.toLowerCase(),
    appClientId: settings.TENANT_FLEET_APP_CLIENT_ID.toLowerCase(),
    storage: resolveStorage(settings),
    names: resourceNames(settings.TENANT_FLEET_STORAGE_PREFIX),
    sweep: Object.freeze({
      schedule: settings.TENANT_FLEET_SWEEP_SCHEDULE,
      subscriptionConcurrency: settings.TENANT_FLEET_SUBSCRIPTION_CONCURRENCY,
      storageAccountConcurrency: settings.TENANT_FLEET_STORAGE_CONCURRENCY,
      circuitBreakerThreshold: settings.TENANT_FLEET_CIRCUIT_BREAKER_THRESHOLD,
      runTimeoutMs: settings.TENANT_FLEET_RUN_TIMEOUT_MINUTES * 60_000,
      armMaxRetries: settings.TENANT_FLEET_ARM_MAX_RETRIES,
      snapshots: settings.TENANT_FLEET_SNAPSHOTS === 'true',
    }),
    httpAuth: settings.TENANT_FLEET_HTTP_AUTH,
  });
}

/**
 * Names of the app's tables, queues and container. The prefix isolates test runs in one account;
 * it is empty in Azure, where the Bicep creates exactly these names.
 */
export function resourceNames(prefix = ''): ResourceNames {
  const sweepQueue = `${prefix}tenant-sweep`;
  return Object.freeze({
    tenantsTable: `${prefix}tenants`,
    runsTable: `${prefix}runs`,
    runTenantsTable: `${prefix}runtenants`,
    inventoryTable: `${prefix}inventory`,
    changesTable: `${prefix}changes`,
    storageTable: `${prefix}storage`,
    aggregatesTable: `${prefix}aggregates`,
    sweepQueue,
    poisonQueue: `${sweepQueue}-poison`,
    snapshotsContainer: `${prefix}snapshots`,
  });
}

function resolveCloud(name: CloudName, settings: z.output<typeof envSchema>): CloudProfile {
  if (name !== 'Sandbox') return AZURE_CLOUDS[name];
  const required = [
    'TENANT_FLEET_SANDBOX_AUTHORITY_HOST',
    'TENANT_FLEET_SANDBOX_ARM_ENDPOINT',
    'TENANT_FLEET_SANDBOX_STORAGE_ENDPOINT',
    'TENANT_FLEET_SANDBOX_CA_CERT',
  ] as const;
  for (const setting of required) {
    if (!settings[setting])
      throw new ConfigError(
        setting,
        'is required when TENANT_FLEET_CLOUD=Sandbox (npm run sandbox prints it)',
      );
  }
  let caCertPem: string;
  try {
    caCertPem = readFileSync(settings.TENANT_FLEET_SANDBOX_CA_CERT!, 'utf8');
  } catch {
    throw new ConfigError(
      'TENANT_FLEET_SANDBOX_CA_CERT',
      `cannot read the PEM file '${settings.TENANT_FLEET_SANDBOX_CA_CERT}'`,
    );
  }
  if (!caCertPem.includes('BEGIN CERTIFICATE')) {
    throw new ConfigError('TENANT_FLEET_SANDBOX_CA_CERT', 'the file is not a PEM certificate');
  }
  return sandboxCloud({
    authorityHost: settings.TENANT_FLEET_SANDBOX_AUTHORITY_HOST!,
    armEndpoint: settings.TENANT_FLEET_SANDBOX_ARM_ENDPOINT!,
    storageEndpoint: settings.TENANT_FLEET_SANDBOX_STORAGE_ENDPOINT!,
    caCertPem,
  });
}

function resolveStorage(settings: z.output<typeof envSchema>): ProviderStorageSetting {
  const table = settings.AzureWebJobsStorage__tableServiceUri;
  const queue = settings.AzureWebJobsStorage__queueServiceUri;
  const blob = settings.AzureWebJobsStorage__blobServiceUri;
  if (table || queue || blob) {
    if (!table)
      throw new ConfigError(
        'AzureWebJobsStorage__tableServiceUri',
        'is required with identity-based storage',
      );
    if (!queue)
      throw new ConfigError(
        'AzureWebJobsStorage__queueServiceUri',
        'is required with identity-based storage',
      );
    if (!blob)
      throw new ConfigError('AzureWebJobsStorage__blobServiceUri', 'is required with identity-based storage');
    return {
      kind: 'identity',
      tableUrl: table,
      queueUrl: queue,
      blobUrl: blob,
      clientId: settings.AzureWebJobsStorage__clientId,
    };
  }
  const connectionString = settings.AzureWebJobsStorage;
  if (!connectionString) {
    throw new ConfigError(
      'AzureWebJobsStorage',
      'is required: set AzureWebJobsStorage__tableServiceUri/__queueServiceUri/__blobServiceUri (+ __clientId) in Azure, or a connection string for Azurite locally',
    );
  }
  if (!/AccountName=|UseDevelopmentStorage=true/i.test(connectionString)) {
    throw new ConfigError('AzureWebJobsStorage', 'is not a storage connection string');
  }
  return { kind: 'connectionString', connectionString };
}

let cached: FleetConfig | undefined;

/** The process's config, read and validated on first use, then reused. */
export function getConfig(): FleetConfig {
  cached ??= loadConfig(process.env);
  return cached;
}

/** Replaces the process's config (the CLI and tests build theirs before any function runs). */
export function setConfig(config: FleetConfig | undefined): void {
  cached = config;
}

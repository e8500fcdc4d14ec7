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
import { ONBOARDING_GRACE_MINUTES } from './propagation.js';

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
  /** Append-only record of who did what (src/core/audit). */
  auditTable: string;
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
  /**
   * Minutes after a tenant's registration in which failures that look like Entra/RBAC propagation
   * (AADSTS700016, AuthorizationFailed, ...) do not count towards its circuit breaker; 0 turns it off.
   */
  onboardingGraceMinutes: number;
  runTimeoutMs: number;
  armMaxRetries: number;
  snapshots: boolean;
  /** Customer tenants whose credential and ARM client a worker keeps between sweeps (bounded-cache.ts). */
  cachedTenants: number;
}

export interface FleetConfig {
  cloud: CloudProfile;
  managedIdentityClientId: string;
  appClientId: string;
  storage: ProviderStorageSetting;
  names: ResourceNames;
  sweep: SweepSettings;
  /**
   * `appservice`: every HTTP caller is authenticated by the app itself (a bearer token it validates,
   * or App Service Authentication's principal where the platform declares it on) and needs app roles.
   * `none`: the local harness only; the local caller is an admin.
   */
  httpAuth: 'appservice' | 'none';
  /** What a bearer token must carry to be accepted (docs/trust.md). */
  apiAuth: ApiAuthSettings;
}

export interface ApiAuthSettings {
  /** Accepted `aud` values: the API's app id URI and/or its client id. Empty: bearer tokens are refused. */
  audiences: readonly string[];
  /** The provider tenant whose Entra issues the tokens (the JWKS and issuer come from it). */
  tenantId?: string;
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
/**
 * Customer tenants whose credential and ARM client a worker keeps between sweeps, unless
 * TENANT_FLEET_CACHED_TENANTS says otherwise: about 40 KB each, so 256 hold about 10 MB of the
 * deployed 128 MB heap; a worker sweeping more tenants than this asks Entra again for the least recent.
 */
export const DEFAULT_CACHED_TENANTS = 256;

const intSetting = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const storagePrefix = z
  .string()
  .trim()
  .regex(
    /^([a-z][a-z0-9]{0,15})?$/,
    'must be empty or up to 16 lowercase letters and digits, starting with a letter',
  )
  .default('');

/**
 * The setting that holds the sweep timer's schedule. The timer names it as a binding expression
 * (`%TENANT_FLEET_SWEEP_SCHEDULE%`, sweepTimer.ts), which the Functions host resolves itself; this
 * module validates the same value (test/functions/host-settings.test.ts checks both name it).
 */
export const SWEEP_SCHEDULE_SETTING = 'TENANT_FLEET_SWEEP_SCHEDULE';

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
  TENANT_FLEET_STORAGE_PREFIX: storagePrefix,
  [SWEEP_SCHEDULE_SETTING]: z
    .string()
    .trim()
    .regex(/^\S+( \S+){5}$/, 'must be a six-field NCRONTAB expression such as "0 0 */6 * * *"')
    .default('0 0 */6 * * *'),
  TENANT_FLEET_SUBSCRIPTION_CONCURRENCY: intSetting(4, 1, 64),
  TENANT_FLEET_STORAGE_CONCURRENCY: intSetting(4, 1, 64),
  TENANT_FLEET_CIRCUIT_BREAKER_THRESHOLD: intSetting(3, 1, 1000),
  TENANT_FLEET_ONBOARDING_GRACE_MINUTES: intSetting(ONBOARDING_GRACE_MINUTES, 0, 24 * 60),
  TENANT_FLEET_RUN_TIMEOUT_MINUTES: intSetting(120, 1, 7 * 24 * 60),
  TENANT_FLEET_ARM_MAX_RETRIES: intSetting(8, 0, 20),
  TENANT_FLEET_SNAPSHOTS: z.enum(['true', 'false']).default('true'),
  TENANT_FLEET_CACHED_TENANTS: intSetting(DEFAULT_CACHED_TENANTS, 1, 100_000),
  TENANT_FLEET_HTTP_AUTH: z.enum(['appservice', 'none']).default('appservice'),
  TENANT_FLEET_API_AUDIENCE: z
    .string()
    .trim()
    .max(256)
    .regex(/^(api:\/\/|https:\/\/)[\x21-\x7e]+$/, 'must be the API app id URI (api://... or https://...)')
    .optional(),
  TENANT_FLEET_API_CLIENT_ID: guid.optional(),
  TENANT_FLEET_AUTH_TENANT_ID: guid.optional(),
  /** Set by App Service on every site: the local bypass refuses to run where they are. */
  WEBSITE_SITE_NAME: z.string().optional(),
  WEBSITE_INSTANCE_ID: z.string().optional(),
});

export type FleetEnvironment = z.input<typeof envSchema>;

/** Every setting the app reads (local.settings.sample.json names each; a test checks it). */
/** Settings App Service sets itself: read to know where the app runs, never configured by an operator. */
const PLATFORM_SETTINGS = new Set(['WEBSITE_SITE_NAME', 'WEBSITE_INSTANCE_ID']);

/** The settings an operator configures (local.settings.sample.json names each). */
export const SETTING_NAMES: readonly string[] = Object.keys(envSchema.shape).filter(
  (name) => !PLATFORM_SETTINGS.has(name),
);

export interface LoadConfigOptions {
  /**
   * Under the Functions host the timer's schedule comes from the host, which resolves
   * `%TENANT_FLEET_SWEEP_SCHEDULE%` and has no default: the setting is then required, so the
   * validated schedule is the one the host runs.
   */
  functionsHost?: boolean;
}

/** Validates an environment into a config. Throws {@link ConfigError} naming the first bad setting. */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  options: LoadConfigOptions = {},
): FleetConfig {
  const present = presentSettings(env);
  if (options.functionsHost && present[SWEEP_SCHEDULE_SETTING] === undefined) {
    throw new ConfigError(
      SWEEP_SCHEDULE_SETTING,
      'is required under the Functions host (the timer reads it as %TENANT_FLEET_SWEEP_SCHEDULE%); set it to a six-field NCRONTAB expression such as "0 0 */6 * * *"',
    );
  }
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
  const storage = resolveStorage(settings);
  if (settings.TENANT_FLEET_HTTP_AUTH === 'none') refuseLocalBypassOutsideLocal(settings, cloud, storage);
  const apiAuth = resolveApiAuth(settings);
  return Object.freeze({
    cloud,
    managedIdentityClientId: settings.TENANT_FLEET_MI_CLIENT_ID.toLowerCase(),
    appClientId: settings.TENANT_FLEET_APP_CLIENT_ID.toLowerCase(),
    storage,
    names: resourceNames(settings.TENANT_FLEET_STORAGE_PREFIX),
    sweep: Object.freeze({
      schedule: settings[SWEEP_SCHEDULE_SETTING],
      subscriptionConcurrency: settings.TENANT_FLEET_SUBSCRIPTION_CONCURRENCY,
      storageAccountConcurrency: settings.TENANT_FLEET_STORAGE_CONCURRENCY,
      circuitBreakerThreshold: settings.TENANT_FLEET_CIRCUIT_BREAKER_THRESHOLD,
      onboardingGraceMinutes: settings.TENANT_FLEET_ONBOARDING_GRACE_MINUTES,
      runTimeoutMs: settings.TENANT_FLEET_RUN_TIMEOUT_MINUTES * 60_000,
      armMaxRetries: settings.TENANT_FLEET_ARM_MAX_RETRIES,
      snapshots: settings.TENANT_FLEET_SNAPSHOTS === 'true',
      cachedTenants: settings.TENANT_FLEET_CACHED_TENANTS,
    }),
    httpAuth: settings.TENANT_FLEET_HTTP_AUTH,
    apiAuth,
  });
}

/** Empty strings are "unset" (local.settings.json templates often carry them). */
function presentSettings(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '',
    ),
  );
}

/**
 * The resource names from TENANT_FLEET_STORAGE_PREFIX alone, validated as loadConfig does. The queue
 * functions need their queue names when they are registered, before (and without) the whole config.
 */
export function resourceNamesFromEnv(env: Record<string, string | undefined> = process.env): ResourceNames {
  const parsed = storagePrefix.safeParse(presentSettings(env).TENANT_FLEET_STORAGE_PREFIX);
  if (!parsed.success)
    throw new ConfigError('TENANT_FLEET_STORAGE_PREFIX', parsed.error.issues[0]?.message ?? 'invalid');
  return resourceNames(parsed.data);
}

/**
 * `TENANT_FLEET_HTTP_AUTH=none` turns every caller into an admin, so it must not be reachable by app
 * settings alone: it runs only off App Service, against the sandbox cloud and local provider storage.
 */
function refuseLocalBypassOutsideLocal(
  settings: z.output<typeof envSchema>,
  cloud: CloudProfile,
  storage: ProviderStorageSetting,
): void {
  const refuse = (why: string): never => {
    throw new ConfigError(
      'TENANT_FLEET_HTTP_AUTH',
      `'none' (no caller authentication) is for the local harness only, and ${why}; remove the setting or set 'appservice'`,
    );
  };
  if (settings.WEBSITE_SITE_NAME || settings.WEBSITE_INSTANCE_ID)
    refuse('this is an App Service environment (WEBSITE_SITE_NAME / WEBSITE_INSTANCE_ID are set)');
  if (cloud.name !== 'Sandbox') refuse(`the cloud is ${cloud.name}, not Sandbox`);
  if (!isLocalStorage(storage)) refuse('the provider storage is not local (Azurite on a loopback address)');
}

const LOOPBACK_URL = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/i;

/** UseDevelopmentStorage=true, or a connection string / service URLs whose endpoints are all loopback. */
export function isLocalStorage(storage: ProviderStorageSetting): boolean {
  if (storage.kind === 'identity')
    return [storage.tableUrl, storage.queueUrl, storage.blobUrl].every((url) => LOOPBACK_URL.test(url));
  const parts = storage.connectionString.split(';').map((part) => part.trim());
  if (parts.some((part) => /^UseDevelopmentStorage=true$/i.test(part))) return true;
  const endpoints = parts
    .filter((part) => /^(Blob|Queue|Table)Endpoint=/i.test(part))
    .map((part) => part.slice(part.indexOf('=') + 1));
  // Without explicit endpoints the SDKs go to <account>.*.core.windows.net: not local.
  return endpoints.length > 0 && endpoints.every((url) => LOOPBACK_URL.test(url));
}

function resolveApiAuth(settings: z.output<typeof envSchema>): ApiAuthSettings {
  const audiences = [
    settings.TENANT_FLEET_API_AUDIENCE,
    settings.TENANT_FLEET_API_CLIENT_ID?.toLowerCase(),
  ].filter((value): value is string => Boolean(value));
  const tenantId = settings.TENANT_FLEET_AUTH_TENANT_ID?.toLowerCase();
  // On App Service the API must be able to authenticate callers: fail at start, not at the first call.
  if (settings.TENANT_FLEET_HTTP_AUTH === 'appservice' && settings.WEBSITE_SITE_NAME) {
    if (audiences.length === 0)
      throw new ConfigError(
        'TENANT_FLEET_API_AUDIENCE',
        'is required on App Service (the API app id URI), or set TENANT_FLEET_API_CLIENT_ID',
      );
    if (!tenantId)
      throw new ConfigError(
        'TENANT_FLEET_AUTH_TENANT_ID',
        'is required on App Service (the provider tenant id)',
      );
  }
  return Object.freeze({ audiences: Object.freeze(audiences), ...(tenantId ? { tenantId } : {}) });
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
    auditTable: `${prefix}audit`,
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

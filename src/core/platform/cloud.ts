/**
 * Cloud profiles: the only thing that differs between Azure's clouds and the offline sandbox.
 * Product code never builds an endpoint from user input; it asks the profile.
 */
import { createDefaultHttpClient, type HttpClient } from '@azure/core-rest-pipeline';

export type CloudName = 'AzurePublicCloud' | 'AzureUSGovernment' | 'AzureChinaCloud' | 'Sandbox';

export interface CloudProfile {
  name: CloudName;
  /** Entra authority host, e.g. https://login.microsoftonline.com (no trailing slash). */
  authorityHost: string;
  /** Azure Resource Manager endpoint (no trailing slash). */
  armEndpoint: string;
  /** Token scope for ARM. Stays the public-cloud audience in the sandbox (it emulates public Azure). */
  armScope: string;
  /** Token scope for the Blob service. */
  storageScope: string;
  /** Audience of the MI token presented as client assertion (the FIC's audience). */
  ficAudience: string;
  /** The blob endpoint of a storage account; `accountName` must already be validated. */
  blobEndpoint(accountName: string): string;
  /** PEM of a certificate authority to trust for every call (sandbox only; never process-wide). */
  trustedCaPem?: string;
  /** True off Microsoft's hosts: MSAL's instance discovery would call out to the public cloud. */
  disableInstanceDiscovery: boolean;
}

const STORAGE_SCOPE = 'https://storage.azure.com/.default';

function azureCloud(
  name: Exclude<CloudName, 'Sandbox'>,
  authorityHost: string,
  armEndpoint: string,
  storageSuffix: string,
  ficAudience: string,
): CloudProfile {
  return {
    name,
    authorityHost,
    armEndpoint,
    armScope: `${armEndpoint}/.default`,
    storageScope: STORAGE_SCOPE,
    ficAudience,
    blobEndpoint: (accountName) => `https://${accountName}.blob.${storageSuffix}`,
    disableInstanceDiscovery: false,
  };
}

export const AZURE_CLOUDS: Record<Exclude<CloudName, 'Sandbox'>, CloudProfile> = {
  AzurePublicCloud: azureCloud(
    'AzurePublicCloud',
    'https://login.microsoftonline.com',
    'https://management.azure.com',
    'core.windows.net',
    'api://AzureADTokenExchange',
  ),
  AzureUSGovernment: azureCloud(
    'AzureUSGovernment',
    'https://login.microsoftonline.us',
    'https://management.usgovcloudapi.net',
    'core.usgovcloudapi.net',
    'api://AzureADTokenExchangeUSGov',
  ),
  AzureChinaCloud: azureCloud(
    'AzureChinaCloud',
    'https://login.chinacloudapi.cn',
    'https://management.chinacloudapi.cn',
    'core.chinacloudapi.cn',
    'api://AzureADTokenExchangeChina',
  ),
};

export interface SandboxEndpointsSetting {
  authorityHost: string;
  armEndpoint: string;
  /** Base of the customer storage front: account `a` is at `${storageEndpoint}/a` (path style). */
  storageEndpoint: string;
  caCertPem: string;
}

/**
 * The sandbox emulates the public cloud (same scopes and FIC audience, so tokens carry real-looking
 * claims) at loopback endpoints over HTTPS with its own certificate authority.
 */
export function sandboxCloud(endpoints: SandboxEndpointsSetting): CloudProfile {
  const trim = (url: string): string => url.replace(/\/+$/, '');
  const storage = trim(endpoints.storageEndpoint);
  return {
    name: 'Sandbox',
    authorityHost: trim(endpoints.authorityHost),
    armEndpoint: trim(endpoints.armEndpoint),
    armScope: 'https://management.azure.com/.default',
    storageScope: STORAGE_SCOPE,
    ficAudience: 'api://AzureADTokenExchange',
    blobEndpoint: (accountName) => `${storage}/${accountName}`,
    trustedCaPem: endpoints.caCertPem,
    disableInstanceDiscovery: true,
  };
}

const tlsPipelineOptions = new WeakMap<CloudProfile, { tlsOptions?: { ca: string } }>();
const sharedPipelineOptions = new WeakMap<
  CloudProfile,
  { tlsOptions?: { ca: string }; httpClient: HttpClient }
>();

/**
 * Pipeline options every Azure SDK client of a cloud gets (per-client trust of the sandbox CA). The
 * same object every time: an HTTP client picks its connection agent by the TLS options' identity.
 */
export function pipelineOptionsFor(cloud: CloudProfile): { tlsOptions?: { ca: string } } {
  let options = tlsPipelineOptions.get(cloud);
  if (!options) {
    options = cloud.trustedCaPem ? { tlsOptions: { ca: cloud.trustedCaPem } } : {};
    tlsPipelineOptions.set(cloud, options);
  }
  return options;
}

/**
 * {@link pipelineOptionsFor} plus one HTTP client (so one keep-alive connection pool) for the ARM
 * clients and credentials of the process. Each SDK client otherwise opens its own pool, and a sweep
 * creates a credential per tenant and a client per subscription: each would pay a TLS handshake and
 * its round trips again (measured in docs/performance.md).
 */
export function sharedPipelineOptionsFor(cloud: CloudProfile): {
  tlsOptions?: { ca: string };
  httpClient: HttpClient;
} {
  let options = sharedPipelineOptions.get(cloud);
  if (!options) {
    options = { ...pipelineOptionsFor(cloud), httpClient: createDefaultHttpClient() };
    sharedPipelineOptions.set(cloud, options);
  }
  return options;
}

/** The link a customer's admin opens to provision the app in their tenant (admin consent). */
export function adminConsentUrl(cloud: CloudProfile, tenantId: string, appClientId: string): string {
  const host = cloud.name === 'Sandbox' ? AZURE_CLOUDS.AzurePublicCloud.authorityHost : cloud.authorityHost;
  return `${host}/${encodeURIComponent(tenantId)}/adminconsent?client_id=${encodeURIComponent(appClientId)}`;
}

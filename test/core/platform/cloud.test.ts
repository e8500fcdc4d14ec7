/**
 * Cloud profiles on their own: each Azure cloud's endpoints, scopes and FIC audience, the sandbox's
 * profile built from its endpoints, the per-cloud pipeline options (the sandbox CA per client, the same
 * object every time) and the admin-consent link a customer's admin opens.
 */
import { describe, expect, it } from 'vitest';
import {
  adminConsentUrl,
  AZURE_CLOUDS,
  pipelineOptionsFor,
  sandboxCloud,
  sharedPipelineOptionsFor,
} from '../../../src/core/platform/cloud.js';

const sandbox = () =>
  sandboxCloud({
    authorityHost: 'https://127.0.0.1:4431//',
    armEndpoint: 'https://127.0.0.1:4432/',
    storageEndpoint: 'https://127.0.0.1:4433///',
    caCertPem: '-----BEGIN CERTIFICATE-----',
  });

describe('cloud profiles', () => {
  it("name each Azure cloud's endpoints, scopes and FIC audience", () => {
    expect(AZURE_CLOUDS.AzureUSGovernment).toMatchObject({
      name: 'AzureUSGovernment',
      authorityHost: 'https://login.microsoftonline.us',
      armEndpoint: 'https://management.usgovcloudapi.net',
      armScope: 'https://management.usgovcloudapi.net/.default',
      storageScope: 'https://storage.azure.com/.default',
      ficAudience: 'api://AzureADTokenExchangeUSGov',
      disableInstanceDiscovery: false,
    });
    expect(AZURE_CLOUDS.AzureChinaCloud.blobEndpoint('acct')).toBe('https://acct.blob.core.chinacloudapi.cn');
    expect(AZURE_CLOUDS.AzurePublicCloud.blobEndpoint('acct')).toBe('https://acct.blob.core.windows.net');
    expect(AZURE_CLOUDS.AzurePublicCloud.trustedCaPem).toBeUndefined();
  });

  it("build the sandbox's from its endpoints, without trailing slashes, emulating the public cloud", () => {
    expect(sandbox()).toMatchObject({
      name: 'Sandbox',
      authorityHost: 'https://127.0.0.1:4431',
      armEndpoint: 'https://127.0.0.1:4432',
      armScope: 'https://management.azure.com/.default',
      storageScope: 'https://storage.azure.com/.default',
      ficAudience: 'api://AzureADTokenExchange',
      trustedCaPem: '-----BEGIN CERTIFICATE-----',
      disableInstanceDiscovery: true,
    });
    expect(sandbox().blobEndpoint('acct')).toBe('https://127.0.0.1:4433/acct');
  });

  it('give every client of a cloud the same pipeline options, with the CA only where there is one', () => {
    const cloud = sandbox();
    const options = pipelineOptionsFor(cloud);
    expect(options).toEqual({ tlsOptions: { ca: '-----BEGIN CERTIFICATE-----' } });
    expect(pipelineOptionsFor(cloud)).toBe(options);
    expect(pipelineOptionsFor(AZURE_CLOUDS.AzurePublicCloud)).toEqual({});
    const shared = sharedPipelineOptionsFor(cloud);
    expect(shared.tlsOptions).toEqual({ ca: '-----BEGIN CERTIFICATE-----' });
    expect(typeof shared.httpClient.sendRequest).toBe('function');
    expect(sharedPipelineOptionsFor(cloud)).toBe(shared);
    expect(sharedPipelineOptionsFor(sandbox())).not.toBe(shared);
  });

  it("link a customer's admin to consent in the cloud's Entra (the public one for the sandbox)", () => {
    expect(adminConsentUrl(AZURE_CLOUDS.AzureUSGovernment, 'tenant/1', 'app&id')).toBe(
      'https://login.microsoftonline.us/tenant%2F1/adminconsent?client_id=app%26id',
    );
    expect(adminConsentUrl(sandbox(), 't', 'a')).toBe(
      'https://login.microsoftonline.com/t/adminconsent?client_id=a',
    );
  });
});

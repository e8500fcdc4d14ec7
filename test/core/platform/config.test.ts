import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/core/platform/config.js';
import { ConfigError } from '../../../src/core/platform/errors.js';

const base = {
  TENANT_FLEET_MI_CLIENT_ID: randomUUID(),
  TENANT_FLEET_APP_CLIENT_ID: randomUUID(),
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

function failure(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('reads a minimal public-cloud config with defaults', () => {
    const config = loadConfig(base);
    expect(config.cloud.name).toBe('AzurePublicCloud');
    expect(config.cloud.ficAudience).toBe('api://AzureADTokenExchange');
    expect(config.sweep.schedule).toBe('0 0 */6 * * *');
    expect(config.names.sweepQueue).toBe('tenant-sweep');
    expect(config.names.poisonQueue).toBe('tenant-sweep-poison');
    expect(config.httpAuth).toBe('appservice');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    ['TENANT_FLEET_MI_CLIENT_ID', { TENANT_FLEET_MI_CLIENT_ID: undefined }, 'is required'],
    ['TENANT_FLEET_APP_CLIENT_ID', { TENANT_FLEET_APP_CLIENT_ID: 'not-a-guid' }, 'GUID'],
    ['TENANT_FLEET_CLOUD', { TENANT_FLEET_CLOUD: 'Mars' }, 'expected one of "AzurePublicCloud"'],
    ['TENANT_FLEET_SWEEP_SCHEDULE', { TENANT_FLEET_SWEEP_SCHEDULE: '0 */6 * * *' }, 'six-field'],
    ['TENANT_FLEET_SUBSCRIPTION_CONCURRENCY', { TENANT_FLEET_SUBSCRIPTION_CONCURRENCY: '0' }, '>=1'],
    ['TENANT_FLEET_STORAGE_PREFIX', { TENANT_FLEET_STORAGE_PREFIX: 'Bad-Prefix' }, 'lowercase'],
    ['AzureWebJobsStorage', { AzureWebJobsStorage: undefined }, 'is required'],
    ['AzureWebJobsStorage', { AzureWebJobsStorage: 'hello' }, 'not a storage connection string'],
    ['TENANT_FLEET_HTTP_AUTH', { TENANT_FLEET_HTTP_AUTH: 'none' }, 'not Sandbox'],
    ['TENANT_FLEET_SANDBOX_AUTHORITY_HOST', { TENANT_FLEET_CLOUD: 'Sandbox' }, 'is required when'],
    [
      'TENANT_FLEET_SANDBOX_ARM_ENDPOINT',
      { TENANT_FLEET_CLOUD: 'Sandbox', TENANT_FLEET_SANDBOX_ARM_ENDPOINT: 'https://evil.example.com' },
      '127.0.0.1',
    ],
  ])('names %s when it is wrong', (setting, patch, text) => {
    const error = failure({ ...base, ...patch });
    expect(error.setting).toBe(setting);
    expect(error.message).toContain(setting);
    expect(error.message).toContain(text);
  });

  it('requires all three service URIs for identity-based storage', () => {
    const error = failure({
      ...base,
      AzureWebJobsStorage: undefined,
      AzureWebJobsStorage__tableServiceUri: 'https://acct.table.core.windows.net',
    });
    expect(error.setting).toBe('AzureWebJobsStorage__queueServiceUri');
  });

  it('builds the sandbox cloud from its endpoints and CA file, and fails on an unreadable CA', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const pem = join(dir, 'ca.pem');
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const sandbox = {
      ...base,
      TENANT_FLEET_CLOUD: 'Sandbox',
      TENANT_FLEET_SANDBOX_AUTHORITY_HOST: 'https://127.0.0.1:4431',
      TENANT_FLEET_SANDBOX_ARM_ENDPOINT: 'https://127.0.0.1:4432/',
      TENANT_FLEET_SANDBOX_STORAGE_ENDPOINT: 'https://localhost:4433',
      TENANT_FLEET_SANDBOX_CA_CERT: pem,
      TENANT_FLEET_HTTP_AUTH: 'none',
    };
    const config = loadConfig(sandbox);
    expect(config.cloud.armEndpoint).toBe('https://127.0.0.1:4432');
    expect(config.cloud.armScope).toBe('https://management.azure.com/.default');
    expect(config.cloud.blobEndpoint('litwaredata')).toBe('https://localhost:4433/litwaredata');
    expect(config.cloud.trustedCaPem).toContain('BEGIN CERTIFICATE');
    expect(failure({ ...sandbox, TENANT_FLEET_SANDBOX_CA_CERT: join(dir, 'missing.pem') }).setting).toBe(
      'TENANT_FLEET_SANDBOX_CA_CERT',
    );
  });

  describe('the local bypass (TENANT_FLEET_HTTP_AUTH=none)', () => {
    const localSandbox = () => {
      const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
      const pem = join(dir, 'ca.pem');
      writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
      return {
        ...base,
        TENANT_FLEET_CLOUD: 'Sandbox',
        TENANT_FLEET_SANDBOX_AUTHORITY_HOST: 'https://127.0.0.1:4431',
        TENANT_FLEET_SANDBOX_ARM_ENDPOINT: 'https://127.0.0.1:4432',
        TENANT_FLEET_SANDBOX_STORAGE_ENDPOINT: 'https://127.0.0.1:4433',
        TENANT_FLEET_SANDBOX_CA_CERT: pem,
        TENANT_FLEET_HTTP_AUTH: 'none',
      };
    };

    it('runs locally: sandbox cloud and Azurite (development storage or loopback endpoints)', () => {
      expect(loadConfig(localSandbox()).httpAuth).toBe('none');
      const azurite =
        'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;';
      expect(loadConfig({ ...localSandbox(), AzureWebJobsStorage: azurite }).httpAuth).toBe('none');
    });

    // Finding: the local bypass could be switched on in Azure by app settings alone.
    it.each<[string, Record<string, string>, string]>([
      [
        'on App Service (WEBSITE_SITE_NAME)',
        { WEBSITE_SITE_NAME: 'func-tenantfleet' },
        'App Service environment',
      ],
      ['on App Service (WEBSITE_INSTANCE_ID)', { WEBSITE_INSTANCE_ID: 'abc123' }, 'App Service environment'],
      [
        'with provider storage in Azure (connection string)',
        {
          AzureWebJobsStorage:
            'DefaultEndpointsProtocol=https;AccountName=stfleet;AccountKey=a2V5;EndpointSuffix=core.windows.net',
        },
        'not local',
      ],
      [
        'with provider storage in Azure (identity URLs)',
        {
          AzureWebJobsStorage: '',
          AzureWebJobsStorage__tableServiceUri: 'https://stfleet.table.core.windows.net',
          AzureWebJobsStorage__queueServiceUri: 'https://stfleet.queue.core.windows.net',
          AzureWebJobsStorage__blobServiceUri: 'https://stfleet.blob.core.windows.net',
        },
        'not local',
      ],
    ])('refuses to start %s', (_case, patch, reason) => {
      const error = failure({ ...localSandbox(), ...patch });
      expect(error.setting).toBe('TENANT_FLEET_HTTP_AUTH');
      expect(error.message).toContain(reason);
      expect(error.message).toContain("set 'appservice'");
    });
  });

  describe('API authentication settings', () => {
    it('collects the accepted audiences and the provider tenant', () => {
      const tenantId = '6f0e3a8e-52a8-4d6a-9a35-0d9c6f1b2a11';
      const clientId = '0B0B0B0B-1111-2222-3333-444444444444';
      const config = loadConfig({
        ...base,
        TENANT_FLEET_API_AUDIENCE: 'api://tenant-fleet',
        TENANT_FLEET_API_CLIENT_ID: clientId,
        TENANT_FLEET_AUTH_TENANT_ID: tenantId,
      });
      expect(config.apiAuth).toEqual({ audiences: ['api://tenant-fleet', clientId.toLowerCase()], tenantId });
    });

    it('requires them on App Service, naming the setting', () => {
      expect(failure({ ...base, WEBSITE_SITE_NAME: 'func' }).setting).toBe('TENANT_FLEET_API_AUDIENCE');
      expect(
        failure({ ...base, WEBSITE_SITE_NAME: 'func', TENANT_FLEET_API_AUDIENCE: 'api://tenant-fleet' })
          .setting,
      ).toBe('TENANT_FLEET_AUTH_TENANT_ID');
      expect(failure({ ...base, TENANT_FLEET_API_AUDIENCE: 'tenant fleet' }).setting).toBe(
        'TENANT_FLEET_API_AUDIENCE',
      );
    });
  });

  it('knows the sovereign clouds', () => {
    const gov = loadConfig({ ...base, TENANT_FLEET_CLOUD: 'AzureUSGovernment' });
    expect(gov.cloud.ficAudience).toBe('api://AzureADTokenExchangeUSGov');
    expect(gov.cloud.armScope).toBe('https://management.usgovcloudapi.net/.default');
    expect(gov.cloud.blobEndpoint('acct')).toBe('https://acct.blob.core.usgovcloudapi.net');
    const china = loadConfig({ ...base, TENANT_FLEET_CLOUD: 'AzureChinaCloud' });
    expect(china.cloud.ficAudience).toBe('api://AzureADTokenExchangeChina');
    expect(china.cloud.authorityHost).toBe('https://login.chinacloudapi.cn');
  });
});

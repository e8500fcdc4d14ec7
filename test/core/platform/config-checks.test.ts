/**
 * loadConfig's refusals that config.test.ts and config-values.test.ts do not reach: the sandbox's
 * endpoints must stay on this machine, its CA file must be a readable PEM, identity-based storage needs
 * all three service URIs, an empty setting counts as unset, and a value of the wrong kind is named
 * as wrong rather than as missing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/core/platform/config.js';
import { refusal } from '../../support/refusal.js';

const base = {
  TENANT_FLEET_MI_CLIENT_ID: randomUUID(),
  TENANT_FLEET_APP_CLIENT_ID: randomUUID(),
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

const directory = mkdtempSync(join(tmpdir(), 'fleet-config-'));
const pem = join(directory, 'ca.pem');
writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n');
const notPem = join(directory, 'ca.txt');
writeFileSync(notPem, 'not a certificate');

const sandbox = {
  ...base,
  TENANT_FLEET_CLOUD: 'Sandbox',
  TENANT_FLEET_SANDBOX_AUTHORITY_HOST: 'https://127.0.0.1:8443',
  TENANT_FLEET_SANDBOX_ARM_ENDPOINT: 'https://localhost/',
  TENANT_FLEET_SANDBOX_STORAGE_ENDPOINT: 'https://127.0.0.1:8443/storage',
  TENANT_FLEET_SANDBOX_CA_CERT: pem,
};

describe('loadConfig checks', () => {
  it('takes sandbox endpoints on 127.0.0.1 or localhost, with or without a port or path', () => {
    const config = loadConfig(sandbox);
    expect(config.cloud.name).toBe('Sandbox');
    expect(config.cloud.armEndpoint).toContain('https://localhost');
  });

  it.each([
    'https://localhost.example.com',
    'https://127.0.0.1.nip.io:8443',
    'https://example.com/https://127.0.0.1',
    'http://127.0.0.1:8443',
  ])('refuses a sandbox endpoint that could leave this machine: %s', (url) => {
    expect(refusal(() => loadConfig({ ...sandbox, TENANT_FLEET_SANDBOX_ARM_ENDPOINT: url }))).toMatchObject({
      setting: 'TENANT_FLEET_SANDBOX_ARM_ENDPOINT',
      message: expect.stringContaining('must be an https URL on 127.0.0.1 or localhost') as unknown,
    });
  });

  it('names a CA file it cannot read, and one that is no PEM certificate', () => {
    const missing = join(directory, 'nowhere.pem');
    expect(refusal(() => loadConfig({ ...sandbox, TENANT_FLEET_SANDBOX_CA_CERT: missing }))).toMatchObject({
      setting: 'TENANT_FLEET_SANDBOX_CA_CERT',
      message: `TENANT_FLEET_SANDBOX_CA_CERT: cannot read the PEM file '${missing}'`,
    });
    expect(refusal(() => loadConfig({ ...sandbox, TENANT_FLEET_SANDBOX_CA_CERT: notPem }))).toMatchObject({
      setting: 'TENANT_FLEET_SANDBOX_CA_CERT',
      message: 'TENANT_FLEET_SANDBOX_CA_CERT: the file is not a PEM certificate',
    });
  });

  it('needs all three service URIs for identity-based storage, https except on loopback', () => {
    const identity = {
      TENANT_FLEET_MI_CLIENT_ID: base.TENANT_FLEET_MI_CLIENT_ID,
      TENANT_FLEET_APP_CLIENT_ID: base.TENANT_FLEET_APP_CLIENT_ID,
      AzureWebJobsStorage__tableServiceUri: 'https://fleet.table.core.windows.net',
      AzureWebJobsStorage__queueServiceUri: 'https://fleet.queue.core.windows.net',
      AzureWebJobsStorage__blobServiceUri: 'https://fleet.blob.core.windows.net',
    };
    expect(loadConfig(identity).storage).toMatchObject({
      kind: 'identity',
      queueUrl: identity.AzureWebJobsStorage__queueServiceUri,
    });
    for (const setting of [
      'AzureWebJobsStorage__tableServiceUri',
      'AzureWebJobsStorage__queueServiceUri',
      'AzureWebJobsStorage__blobServiceUri',
    ] as const) {
      const { [setting]: _left, ...without } = identity;
      expect(refusal(() => loadConfig(without))).toMatchObject({
        setting,
        message: `${setting}: is required with identity-based storage`,
      });
    }
    expect(
      refusal(() =>
        loadConfig({
          ...identity,
          AzureWebJobsStorage__tableServiceUri: 'http://fleet.table.core.windows.net',
        }),
      ),
    ).toMatchObject({
      setting: 'AzureWebJobsStorage__tableServiceUri',
      message: expect.stringContaining('must be an https URL') as unknown,
    });
    // Azurite on loopback serves plain http.
    const local = {
      ...identity,
      AzureWebJobsStorage__tableServiceUri: 'http://127.0.0.1:10002/devstoreaccount1',
    };
    expect(loadConfig(local).storage).toMatchObject({ tableUrl: local.AzureWebJobsStorage__tableServiceUri });
  });

  it('treats a setting set to an empty string as not set', () => {
    const withDefault = loadConfig(base).sweep;
    expect(loadConfig({ ...base, TENANT_FLEET_SUBSCRIPTION_CONCURRENCY: '' }).sweep).toEqual(withDefault);
    expect(refusal(() => loadConfig({ ...base, TENANT_FLEET_APP_CLIENT_ID: '' }))).toMatchObject({
      setting: 'TENANT_FLEET_APP_CLIENT_ID',
      message: 'TENANT_FLEET_APP_CLIENT_ID: is required but not set',
    });
  });

  it('names a number that is no number as wrong, not as missing', () => {
    const error = refusal(() => loadConfig({ ...base, TENANT_FLEET_SUBSCRIPTION_CONCURRENCY: 'many' })) as
      { setting: string; message: string } | undefined;
    expect(error?.setting).toBe('TENANT_FLEET_SUBSCRIPTION_CONCURRENCY');
    expect(error?.message).not.toContain('is required but not set');
  });

  it('asks for the API settings on App Service only, and takes them when both are set', () => {
    // appservice mode off App Service (a local host): nothing required.
    expect(loadConfig({ ...base, TENANT_FLEET_HTTP_AUTH: 'appservice' }).apiAuth).toEqual({ audiences: [] });
    const tenantId = randomUUID();
    const onAppService = {
      ...base,
      WEBSITE_SITE_NAME: 'fleet',
      TENANT_FLEET_API_AUDIENCE: 'api://fleet',
      TENANT_FLEET_AUTH_TENANT_ID: tenantId.toUpperCase(),
    };
    expect(loadConfig(onAppService).apiAuth).toEqual({ audiences: ['api://fleet'], tenantId });
  });
});

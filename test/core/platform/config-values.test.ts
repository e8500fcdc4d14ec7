/**
 * What loadConfig returns beyond the defaults config.test.ts checks: the resource names of a prefix,
 * ids lower-cased, the numbers and switches as read, the Functions host's required schedule, and
 * which provider storage counts as local (the only place the local bypass may run).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  isLocalStorage,
  loadConfig,
  resourceNames,
  resourceNamesFromEnv,
} from '../../../src/core/platform/config.js';
import { refusal } from '../../support/refusal.js';

const base = {
  TENANT_FLEET_MI_CLIENT_ID: randomUUID().toUpperCase(),
  TENANT_FLEET_APP_CLIENT_ID: randomUUID().toUpperCase(),
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
};

describe('loadConfig values', () => {
  it('names every table, queue and container after the prefix', () => {
    expect(resourceNames('t1')).toEqual({
      tenantsTable: 't1tenants',
      runsTable: 't1runs',
      runTenantsTable: 't1runtenants',
      inventoryTable: 't1inventory',
      changesTable: 't1changes',
      storageTable: 't1storage',
      auditTable: 't1audit',
      aggregatesTable: 't1aggregates',
      sweepQueue: 't1tenant-sweep',
      poisonQueue: 't1tenant-sweep-poison',
      snapshotsContainer: 't1snapshots',
    });
    expect(resourceNames().tenantsTable).toBe('tenants');
    expect(resourceNamesFromEnv({ TENANT_FLEET_STORAGE_PREFIX: 'p2' }).sweepQueue).toBe('p2tenant-sweep');
    expect(refusal(() => resourceNamesFromEnv({ TENANT_FLEET_STORAGE_PREFIX: 'Bad' }))).toMatchObject({
      setting: 'TENANT_FLEET_STORAGE_PREFIX',
      message: expect.stringContaining('lowercase') as unknown,
    });
  });

  it('lower-cases the client ids and reads the numbers and switches as set', () => {
    const config = loadConfig({
      ...base,
      TENANT_FLEET_RUN_TIMEOUT_MINUTES: '3',
      TENANT_FLEET_SNAPSHOTS: 'false',
      TENANT_FLEET_ARM_MAX_RETRIES: '',
      TENANT_FLEET_CACHED_TENANTS: '1000',
    });
    expect(config.managedIdentityClientId).toBe(base.TENANT_FLEET_MI_CLIENT_ID.toLowerCase());
    expect(config.appClientId).toBe(base.TENANT_FLEET_APP_CLIENT_ID.toLowerCase());
    expect(config.sweep.runTimeoutMs).toBe(180_000);
    expect(config.sweep.snapshots).toBe(false);
    expect(config.sweep.armMaxRetries).toBe(8); // '' is unset: the default
    expect(config.sweep.cachedTenants).toBe(1000);
    expect(loadConfig(base).sweep.snapshots).toBe(true);
    expect(loadConfig(base).sweep.cachedTenants).toBe(256);
    expect(refusal(() => loadConfig({ ...base, TENANT_FLEET_CACHED_TENANTS: '0' }))).toMatchObject({
      setting: 'TENANT_FLEET_CACHED_TENANTS',
    });
  });

  it('requires the schedule under the Functions host, and names a bad value without calling it missing', () => {
    expect(refusal(() => loadConfig(base, { functionsHost: true }))).toMatchObject({
      setting: 'TENANT_FLEET_SWEEP_SCHEDULE',
      message: expect.stringContaining('is required under the Functions host') as unknown,
    });
    expect(
      loadConfig({ ...base, TENANT_FLEET_SWEEP_SCHEDULE: '0 0 1 * * *' }, { functionsHost: true }).sweep
        .schedule,
    ).toBe('0 0 1 * * *');
    const wrongType = refusal(() => loadConfig({ ...base, TENANT_FLEET_MI_CLIENT_ID: 'x' }));
    expect((wrongType as Error).message).not.toContain('is required but not set');
  });

  it('requires the API settings on App Service only in appservice mode, naming each', () => {
    const onAppService = { ...base, WEBSITE_SITE_NAME: 'fleet' };
    expect(refusal(() => loadConfig(onAppService))).toMatchObject({
      setting: 'TENANT_FLEET_API_AUDIENCE',
      message:
        'TENANT_FLEET_API_AUDIENCE: is required on App Service (the API app id URI), or set TENANT_FLEET_API_CLIENT_ID',
    });
    expect(
      refusal(() => loadConfig({ ...onAppService, TENANT_FLEET_API_AUDIENCE: 'api://fleet' })),
    ).toMatchObject({
      setting: 'TENANT_FLEET_AUTH_TENANT_ID',
      message: 'TENANT_FLEET_AUTH_TENANT_ID: is required on App Service (the provider tenant id)',
    });
    expect(loadConfig(base).apiAuth).toEqual({ audiences: [] });
  });
});

describe('isLocalStorage', () => {
  const identity = (url: string) => ({
    kind: 'identity' as const,
    tableUrl: url,
    queueUrl: url,
    blobUrl: url,
  });

  it('is local for development storage and loopback endpoints only, all of them', () => {
    const local = (connectionString: string) =>
      isLocalStorage({ kind: 'connectionString', connectionString });
    expect(local(' usedevelopmentstorage=TRUE ')).toBe(true);
    expect(local('UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://x')).toBe(true);
    expect(local('XUseDevelopmentStorage=true')).toBe(false);
    expect(local('UseDevelopmentStorage=trueish')).toBe(false);
    const account = 'DefaultEndpointsProtocol=http;AccountName=a;AccountKey=k';
    expect(
      local(
        `${account};BlobEndpoint=http://127.0.0.1:1/a;QueueEndpoint=http://localhost:2/a;TableEndpoint=http://[::1]:3/a`,
      ),
    ).toBe(true);
    expect(
      local(`${account};BlobEndpoint=http://127.0.0.1:1/a;TableEndpoint=https://a.table.core.windows.net`),
    ).toBe(false);
    expect(local(`${account};XBlobEndpoint=http://127.0.0.1:1/a`)).toBe(false);
    expect(local(account)).toBe(false);
    expect(isLocalStorage(identity('https://127.0.0.1:10002/a'))).toBe(true);
    expect(
      isLocalStorage({
        ...identity('https://127.0.0.1:10002/a'),
        blobUrl: 'https://a.blob.core.windows.net',
      }),
    ).toBe(false);
  });
});

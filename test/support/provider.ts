/** Per-file isolation in the shared Azurite: a unique prefix for every table, queue and container. */
import { randomBytes, randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { loadConfig, type FleetConfig } from '../../src/core/platform/config.js';
import { ProviderStorage } from '../../src/core/storage/provider-storage.js';

export function uniquePrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

export function providerConnectionString(): string {
  return inject('providerStorage');
}

/** Settings for a test: public cloud by default (no token is requested unless a test does). */
export function testSettings(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    TENANT_FLEET_MI_CLIENT_ID: randomUUID(),
    TENANT_FLEET_APP_CLIENT_ID: randomUUID(),
    AzureWebJobsStorage: providerConnectionString(),
    TENANT_FLEET_STORAGE_PREFIX: uniquePrefix(),
    ...overrides,
  };
}

export function testConfig(overrides: Record<string, string> = {}): FleetConfig {
  return loadConfig(testSettings(overrides));
}

/**
 * A test file's own inventory and change tables, and a fresh tenant with one subscription in them
 * (the setup of the inventory tests against Azurite).
 */
export function inventoryFixture() {
  const config = testConfig();
  const storage = new ProviderStorage(config);
  const tenantId = randomUUID();
  return {
    config,
    storage,
    tables: {
      inventory: storage.table(config.names.inventoryTable),
      changes: storage.table(config.names.changesTable),
    },
    tenantId,
    subscription: { subscriptionId: randomUUID(), displayName: 'Production', state: 'Enabled', tenantId },
  };
}

/**
 * Retiring a tenant's storage rows: only accounts that are gone from a subscription that was read
 * (or retired) lose their rows, by a range query per account that never touches an account whose
 * name merely starts the same way.
 */
import { randomUUID } from 'node:crypto';
import { odata } from '@azure/data-tables';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProviderStorage } from '../../../src/core/storage/provider-storage.js';
import {
  accountsToRetire,
  retireAccounts,
  storedAccounts,
  writeStorageResult,
  type StorageAccountResult,
} from '../../../src/core/inventory/storage-inventory.js';
import { testConfig } from '../../support/provider.js';

const config = testConfig();
const storage = new ProviderStorage(config);
const table = storage.table(config.names.storageTable);

beforeAll(async () => {
  await storage.ensureResources();
});

function account(name: string, subscriptionId: string, containers: string[]): StorageAccountResult {
  return {
    accountName: name,
    subscriptionId,
    resourceGroup: 'rg-data',
    reachable: true,
    containers: containers.map((container) => ({
      name: container,
      publicAccess: 'none',
      blobCount: 1,
      totalBytes: 10,
    })),
    blobCount: containers.length,
    totalBytes: 10 * containers.length,
  };
}

/** Writes an account's rows as a sweep does. */
function store(tenantId: string, result: StorageAccountResult): Promise<void> {
  return writeStorageResult(table, tenantId, 'run-1', '2026-11-23T10:00:00Z', result);
}

async function rowKeys(tenantId: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const row of table.listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${tenantId}`, select: ['RowKey'] },
  }))
    keys.push(row.rowKey!);
  return keys.sort();
}

describe('accountsToRetire', () => {
  const known = { stgone: 'sub-read', stfailed: 'sub-failed', stretired: 'sub-retired', stfound: 'sub-read' };
  it('retires accounts missing from a subscription that was read or retired, never those of a failed one', () => {
    const retired = accountsToRetire(
      known,
      new Set(['stfound']),
      new Set(['sub-read']),
      new Set(['sub-read', 'sub-failed']),
    );
    expect(retired.sort()).toEqual(['stgone', 'stretired']);
  });

  it('retires nothing when every known account was found', () => {
    expect(accountsToRetire(known, new Set(Object.keys(known)), new Set(['sub-read']), new Set())).toEqual(
      [],
    );
  });
});

describe('writeStorageResult against Azurite', () => {
  it('removes the row of a container deleted since the last sweep, and keeps the others', async () => {
    const tenantId = randomUUID();
    await store(tenantId, account('stdata', 's1', ['logs', 'reports', 'tmp']));
    await store(tenantId, account('stdatab', 's1', ['other']));
    expect(await rowKeys(tenantId)).toEqual([
      'stdata',
      'stdata:logs',
      'stdata:reports',
      'stdata:tmp',
      'stdatab',
      'stdatab:other',
    ]);

    await store(tenantId, account('stdata', 's1', ['reports']));
    expect(await rowKeys(tenantId)).toEqual(['stdata', 'stdata:reports', 'stdatab', 'stdatab:other']);
  });
});

describe('retireAccounts and storedAccounts against Azurite', () => {
  it('deletes an account and its containers, not an account whose name starts with it', async () => {
    const tenantId = randomUUID();
    await store(tenantId, account('stab', 's1', ['a', 'b']));
    await store(tenantId, account('stabc', 's2', ['c']));
    expect(await storedAccounts(table, tenantId)).toEqual({ stab: 's1', stabc: 's2' });

    await retireAccounts(table, tenantId, ['stab']);
    expect(await rowKeys(tenantId)).toEqual(['stabc', 'stabc:c']);
    expect(await storedAccounts(table, tenantId)).toEqual({ stabc: 's2' });
  });

  it('finds an account that has only container rows left (its subscription unknown)', async () => {
    const tenantId = randomUUID();
    await store(tenantId, account('storphan', 's1', ['x']));
    await table.deleteEntity(tenantId, 'storphan');
    expect(await storedAccounts(table, tenantId)).toEqual({ storphan: '' });
    // Unknown subscription: not among the current ones, so retired once it is not found.
    expect(accountsToRetire({ storphan: '' }, new Set(), new Set(['s1']), new Set(['s1']))).toEqual([
      'storphan',
    ]);
  });
});

/**
 * The provider's own storage (registry, queue, results, snapshots): identity-based in Azure
 * (AzureWebJobsStorage__*ServiceUri with the user-assigned MI), a connection string for Azurite locally.
 * Resources are created once per process, idempotently.
 */
import { ManagedIdentityCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/core-auth';
import { TableClient } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { FleetConfig } from '../platform/config.js';

export class ProviderStorage {
  private readonly credential: TokenCredential | undefined;
  private ensured: Promise<void> | undefined;

  constructor(
    readonly config: FleetConfig,
    credential?: TokenCredential,
  ) {
    const storage = config.storage;
    this.credential =
      storage.kind === 'identity'
        ? (credential ??
          new ManagedIdentityCredential({ clientId: storage.clientId ?? config.managedIdentityClientId }))
        : undefined;
  }

  table(name: string): TableClient {
    const storage = this.config.storage;
    if (storage.kind === 'connectionString') {
      // Azurite serves plain http on loopback; real accounts always use https.
      return TableClient.fromConnectionString(storage.connectionString, name, {
        allowInsecureConnection: true,
      });
    }
    return new TableClient(storage.tableUrl, name, this.credential!);
  }

  queue(name: string): QueueClient {
    const storage = this.config.storage;
    if (storage.kind === 'connectionString') return new QueueClient(storage.connectionString, name);
    return new QueueClient(`${storage.queueUrl.replace(/\/+$/, '')}/${name}`, this.credential);
  }

  container(name: string): ContainerClient {
    const storage = this.config.storage;
    const service =
      storage.kind === 'connectionString'
        ? BlobServiceClient.fromConnectionString(storage.connectionString)
        : new BlobServiceClient(storage.blobUrl, this.credential);
    return service.getContainerClient(name);
  }

  /** Creates every table, queue and container the app uses (once per process; idempotent). */
  ensureResources(): Promise<void> {
    this.ensured ??= (async () => {
      const names = this.config.names;
      const tables = [
        names.tenantsTable,
        names.runsTable,
        names.runTenantsTable,
        names.inventoryTable,
        names.changesTable,
        names.storageTable,
        names.auditTable,
        names.aggregatesTable,
      ];
      await Promise.all([
        ...tables.map((table) => this.table(table).createTable()),
        this.queue(names.sweepQueue).createIfNotExists(),
        this.queue(names.poisonQueue).createIfNotExists(),
        this.container(names.snapshotsContainer).createIfNotExists(),
      ]);
    })();
    this.ensured.catch(() => {
      this.ensured = undefined;
    });
    return this.ensured;
  }
}

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
  /**
   * One client per table, queue and container for the life of the process. A client holds its own
   * pipeline and, with an identity, its own token cycler: building one per call parsed the connection
   * string (or asked the credential for a token) again several times for every tenant a worker swept.
   * The clients keep no per-call state, so sharing them is safe.
   */
  private readonly tables = new Map<string, TableClient>();
  private readonly queues = new Map<string, QueueClient>();
  private readonly containers = new Map<string, ContainerClient>();
  private blobService: BlobServiceClient | undefined;

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
    let client = this.tables.get(name);
    if (!client) {
      client = this.newTableClient(name);
      this.tables.set(name, client);
    }
    return client;
  }

  queue(name: string): QueueClient {
    let client = this.queues.get(name);
    if (!client) {
      const storage = this.config.storage;
      client =
        storage.kind === 'connectionString'
          ? new QueueClient(storage.connectionString, name)
          : new QueueClient(`${storage.queueUrl.replace(/\/+$/, '')}/${name}`, this.credential);
      this.queues.set(name, client);
    }
    return client;
  }

  container(name: string): ContainerClient {
    let client = this.containers.get(name);
    if (!client) {
      const storage = this.config.storage;
      this.blobService ??=
        storage.kind === 'connectionString'
          ? BlobServiceClient.fromConnectionString(storage.connectionString)
          : new BlobServiceClient(storage.blobUrl, this.credential);
      client = this.blobService.getContainerClient(name);
      this.containers.set(name, client);
    }
    return client;
  }

  private newTableClient(name: string): TableClient {
    const storage = this.config.storage;
    if (storage.kind === 'connectionString') {
      // Azurite serves plain http on loopback; real accounts always use https.
      return TableClient.fromConnectionString(storage.connectionString, name, {
        allowInsecureConnection: true,
      });
    }
    return new TableClient(storage.tableUrl, name, this.credential!);
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

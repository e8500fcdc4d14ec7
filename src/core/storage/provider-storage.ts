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
    return once(this.tables, name, () => {
      const storage = this.config.storage;
      // Azurite serves plain http on loopback; real accounts always use https.
      return storage.kind === 'connectionString'
        ? TableClient.fromConnectionString(storage.connectionString, name, { allowInsecureConnection: true })
        : new TableClient(storage.tableUrl, name, this.credential!);
    });
  }

  queue(name: string): QueueClient {
    return once(this.queues, name, () => {
      const storage = this.config.storage;
      return storage.kind === 'connectionString'
        ? new QueueClient(storage.connectionString, name)
        : new QueueClient(`${storage.queueUrl.replace(/\/+$/, '')}/${name}`, this.credential);
    });
  }

  container(name: string): ContainerClient {
    return once(this.containers, name, () => {
      const storage = this.config.storage;
      this.blobService ??=
        storage.kind === 'connectionString'
          ? BlobServiceClient.fromConnectionString(storage.connectionString)
          : new BlobServiceClient(storage.blobUrl, this.credential);
      return this.blobService.getContainerClient(name);
    });
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

/** The client `clients` holds for `name`, built by `build` the first time it is asked for. */
function once<T>(clients: Map<string, T>, name: string, build: () => T): T {
  let client = clients.get(name);
  if (client === undefined) {
    client = build();
    clients.set(name, client);
  }
  return client;
}

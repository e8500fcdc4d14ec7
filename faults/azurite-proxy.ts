/**
 * Azurite behind fixed local ports, so that it can be stopped and started again mid-run (on new
 * ports, with the same data folder) while the fleet keeps one connection string. While Azurite is
 * down every connection is dropped, as a storage outage looks to a client.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { startAzurite, DEV_ACCOUNT, type AzuriteHandle } from '../sandbox/azurite.js';

type Service = 'blob' | 'queue' | 'table';

export interface RestartableAzurite {
  connectionString: string;
  /** Stops Azurite, waits `downMs`, and starts it again on the same data. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRestartableAzurite(location: string): Promise<RestartableAzurite> {
  let azurite: AzuriteHandle | undefined = await startAzurite({ location });
  const sockets = new Set<Socket>();
  const servers: Record<Service, Server> = {} as Record<Service, Server>;
  const ports: Record<Service, number> = {} as Record<Service, number>;
  for (const service of ['blob', 'queue', 'table'] as const) {
    const server = createServer((client) => {
      sockets.add(client);
      client.once('close', () => sockets.delete(client));
      const port = azurite?.[`${service}Port`];
      if (!port) {
        client.destroy();
        return;
      }
      const upstream = connect(port, '127.0.0.1');
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      client.pipe(upstream).pipe(client);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.once('error', end);
      upstream.once('error', end);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers[service] = server;
    ports[service] = (server.address() as { port: number }).port;
  }
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT.name};AccountKey=${DEV_ACCOUNT.key};` +
    `BlobEndpoint=http://127.0.0.1:${ports.blob}/${DEV_ACCOUNT.name};` +
    `QueueEndpoint=http://127.0.0.1:${ports.queue}/${DEV_ACCOUNT.name};` +
    `TableEndpoint=http://127.0.0.1:${ports.table}/${DEV_ACCOUNT.name};`;
  return {
    connectionString,
    async restart(downMs) {
      const running = azurite;
      azurite = undefined;
      for (const socket of sockets) socket.destroy();
      await running?.stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      azurite = await startAzurite({ location });
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await Promise.all(
        Object.values(servers).map((server) => new Promise((resolve) => server.close(resolve))),
      );
      await azurite?.stop();
    },
  };
}

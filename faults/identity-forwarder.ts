/**
 * One managed-identity endpoint for the whole suite. @azure/identity (MSAL) picks the platform's
 * identity source, endpoint included, once per process; each phase starts its own sandbox on new
 * ports, so the process keeps one endpoint here that forwards to the current phase's sandbox.
 */
import { createServer, request, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';

/** The X-IDENTITY-HEADER value every phase's sandbox is started with. */
export const SUITE_IDENTITY_HEADER = randomBytes(24).toString('base64url');

let server: Server | undefined;
let endpoint = '';
let target: URL | undefined;

/** Points the suite's endpoint at this sandbox's and returns the endpoint for IDENTITY_ENDPOINT. */
export async function forwardIdentityTo(identityEndpoint: string): Promise<string> {
  target = new URL(identityEndpoint);
  if (!server) {
    server = createServer((incoming, outgoing) => {
      const upstream = target!;
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: upstream.pathname + (incoming.url?.replace(/^[^?]*/, '') ?? ''),
          method: incoming.method,
          headers: { ...incoming.headers, host: upstream.host },
        },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forward.on('error', () => outgoing.destroy());
      incoming.pipe(forward);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    server.unref();
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}/msi/token`;
  }
  return endpoint;
}

export async function stopIdentityForwarder(): Promise<void> {
  const running = server;
  server = undefined;
  if (running) await new Promise((resolve) => running.close(resolve));
}

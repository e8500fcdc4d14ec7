/**
 * Token faults: an HTTPS front for the sandbox's Entra (same certificate) that fails a share of
 * token requests with 500 or 503, holds some until the connection times out, and drops others;
 * everything else is passed through, with the discovery documents pointing back at this front.
 */
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';

export type TokenFaultKind = '500' | '503' | 'timeout' | 'drop';

export interface TokenProxy {
  authorityHost: string;
  faults: Record<string, number>;
  tokenRequests: number;
  /** Share of token requests to fail (0 turns faults off). */
  rate: number;
  close(): Promise<void>;
}

export async function startTokenProxy(options: {
  upstream: string;
  certPath: string;
  keyPath: string;
  rate: number;
  random: () => number;
  holdMs?: number;
}): Promise<TokenProxy> {
  const [cert, key] = await Promise.all([
    readFile(options.certPath, 'utf8'),
    readFile(options.keyPath, 'utf8'),
  ]);
  const upstream = new URL(options.upstream);
  const kinds: TokenFaultKind[] = ['500', '503', 'timeout', 'drop'];
  const held = new Set<IncomingMessage>();
  let own = '';
  const proxy: TokenProxy = {
    authorityHost: '',
    faults: {},
    tokenRequests: 0,
    rate: options.rate,
    close: async () => {
      for (const request of held) request.socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const handler = (request: IncomingMessage, response: ServerResponse): void => {
    const isToken = /\/oauth2\/v2\.0\/token/.test(request.url ?? '');
    if (isToken) {
      proxy.tokenRequests++;
      if (options.random() < proxy.rate) {
        const kind = kinds[Math.floor(options.random() * kinds.length)]!;
        proxy.faults[kind] = (proxy.faults[kind] ?? 0) + 1;
        request.resume();
        if (kind === 'drop') return void request.socket.destroy();
        if (kind === 'timeout') {
          held.add(request);
          setTimeout(() => {
            held.delete(request);
            request.socket.destroy();
          }, options.holdMs ?? 10_000).unref();
          return;
        }
        response.writeHead(Number(kind), { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ error: 'temporarily_unavailable', error_description: 'injected fault' }),
        );
        return;
      }
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const forward = httpsRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: request.url,
          method: request.method,
          headers: { ...request.headers, host: upstream.host },
          ca: cert,
        },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => body.push(chunk));
          answer.on('end', () => {
            const text = Buffer.concat(body).toString('utf8').split(options.upstream).join(own);
            const headers = { ...answer.headers };
            delete headers['content-length'];
            delete headers['transfer-encoding'];
            response.writeHead(answer.statusCode ?? 502, headers);
            response.end(text);
          });
        },
      );
      forward.on('error', () => response.destroy());
      forward.end(Buffer.concat(chunks));
    });
  };
  const server: Server = createServer({ cert, key }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  own = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.authorityHost = own;
  return proxy;
}

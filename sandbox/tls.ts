/**
 * The sandbox's TLS identity: a self-signed certificate for 127.0.0.1 and localhost, generated at
 * start and never committed. Clients trust it per client (`tlsOptions: { ca }`), not process-wide.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface SandboxTls {
  /** PEM of the certificate; also the CA to trust (it is self-signed). */
  certPem: string;
  keyPem: string;
  /** Where the certificate and key were written (Azurite takes files), when a directory was given. */
  certPath?: string;
  keyPath?: string;
}

export async function createSandboxTls(directory?: string): Promise<SandboxTls> {
  const now = new Date();
  const notAfter = new Date(now.getTime() + 30 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'tenant-fleet-sandbox' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  const tls: SandboxTls = { certPem: pems.cert, keyPem: pems.private };
  if (directory) {
    await mkdir(directory, { recursive: true });
    tls.certPath = join(directory, 'sandbox-cert.pem');
    tls.keyPath = join(directory, 'sandbox-key.pem');
    await writeFile(tls.certPath, tls.certPem);
    await writeFile(tls.keyPath, tls.keyPem, { mode: 0o600 });
  }
  return tls;
}

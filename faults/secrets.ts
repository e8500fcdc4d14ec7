/**
 * The secrets scan: everything the suite saw or wrote (answers, function and runtime logs, every
 * table entity and blob in the provider storage, the report) searched for access tokens, client
 * assertions, the identity header values and storage keys.
 */
import { gunzipSync } from 'node:zlib';
import { BlobServiceClient } from '@azure/storage-blob';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { DEV_ACCOUNT } from '../sandbox/azurite.js';

/** Values the suite knows are secret (identity headers of every sandbox it started). */
export const knownSecrets = new Set<string>([DEV_ACCOUNT.key]);

const PATTERNS: Array<[string, RegExp]> = [
  ['a JWT (access token or client assertion)', /eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/],
  ['a client assertion parameter', /client_assertion=[^&\s"]{8,}/i],
  ['a bearer token', /bearer\s+[A-Za-z0-9._-]{20,}/i],
  ['an account key in a connection string', /AccountKey=[A-Za-z0-9+/=]{20,}/],
  ['a SAS signature', /[?&]sig=[A-Za-z0-9%+/=]{20,}/],
  ['a private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
];

export interface Leak {
  where: string;
  what: string;
  excerpt: string;
}

export function scanText(where: string, text: string, leaks: Leak[]): void {
  for (const [what, pattern] of PATTERNS) {
    const match = pattern.exec(text);
    if (match) leaks.push({ where, what, excerpt: `${match[0].slice(0, 12)}...` });
  }
  for (const secret of knownSecrets) {
    if (secret.length >= 8 && text.includes(secret))
      leaks.push({ where, what: 'a known secret value', excerpt: `${secret.slice(0, 4)}...` });
  }
}

/** Every table entity and every blob of the provider storage (all prefixes the suite used). */
export async function scanProviderStorage(connectionString: string, leaks: Leak[]): Promise<number> {
  let items = 0;
  const tables = TableServiceClient.fromConnectionString(connectionString, { allowInsecureConnection: true });
  for await (const table of tables.listTables()) {
    const client = TableClient.fromConnectionString(connectionString, table.name!, {
      allowInsecureConnection: true,
    });
    for await (const entity of client.listEntities()) {
      items++;
      scanText(`table ${table.name}`, JSON.stringify(entity), leaks);
    }
  }
  const blobs = BlobServiceClient.fromConnectionString(connectionString);
  for await (const container of blobs.listContainers()) {
    const client = blobs.getContainerClient(container.name);
    for await (const blob of client.listBlobsFlat()) {
      items++;
      const body = await client.getBlobClient(blob.name).downloadToBuffer();
      // Snapshots are gzip (multi-member): scanned as the text they hold.
      const text = body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : body;
      scanText(`blob ${container.name}/${blob.name}`, text.toString('utf8'), leaks);
    }
  }
  return items;
}

/** The scanner finds a planted token, assertion and identity header (so a clean scan means something). */
export function scannerSelfCheck(): boolean {
  const leaks: Leak[] = [];
  const jwt = ['eyJhbGciOiJSUzI1NiJ9', 'eyJzdWIiOiJjYW5hcnkifQ', 'c2lnbmF0dXJl'].join('.');
  scanText('canary', `{"token":"${jwt}"}`, leaks);
  scanText('canary', 'grant_type=x&client_assertion=abcdefghijklmnop', leaks);
  const header = [...knownSecrets].at(-1) ?? '';
  scanText('canary', `identity ${header}`, leaks);
  return leaks.length === 3;
}

/**
 * Starts Azurite, the real storage emulator, as a child process and reports its ports. Azurite has
 * no programmatic API, so it is spawned with port 0 and its "listening at" lines are parsed.
 * Used for the provider's own storage (tests, `npm start`) and, over HTTPS with `--oauth basic`,
 * for the customer storage accounts the sandbox serves.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdir } from 'node:fs/promises';

const require = createRequire(import.meta.url);

export interface AzuriteOptions {
  /** Folder for persistent data; in-memory when absent. */
  location?: string;
  /** HTTPS with this certificate and key (both file paths). */
  certPath?: string;
  keyPath?: string;
  /** `basic` makes Azurite accept bearer tokens (it checks only their shape). Needs HTTPS. */
  oauth?: 'basic';
  /** `name:key` pairs in Azurite's AZURITE_ACCOUNTS form; the default devstoreaccount1 otherwise. */
  accounts?: Array<{ name: string; key: string }>;
  /** Which services to expose; all three by default. */
  services?: Array<'blob' | 'queue' | 'table'>;
  /** Extra Node options for Azurite's process (heap size, `--cpu-prof` for the benchmark). */
  nodeArgs?: string[];
}

export interface AzuriteHandle {
  blobPort: number;
  queuePort: number;
  tablePort: number;
  scheme: 'http' | 'https';
  /** A connection string for the default account (devstoreaccount1), for the provider's local storage. */
  connectionString: string;
  stop(): Promise<void>;
}

/** Azurite's well-known development account (public, documented, not a secret). */
export const DEV_ACCOUNT = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};

export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteHandle> {
  const entry = require.resolve('azurite/dist/src/azurite.js');
  // @azure/storage-blob 12.34 sends API version 2026-10-06, newer than Azurite 3.37 knows: skip the check.
  const args = [
    ...(options.nodeArgs ?? []),
    entry,
    '--disableTelemetry',
    '--silent',
    '--skipApiVersionCheck',
    '--blobPort',
    '0',
    '--queuePort',
    '0',
    '--tablePort',
    '0',
  ];
  if (options.location) {
    await mkdir(options.location, { recursive: true });
    args.push('--location', options.location);
  } else {
    args.push('--inMemoryPersistence');
  }
  if (options.certPath && options.keyPath) args.push('--cert', options.certPath, '--key', options.keyPath);
  if (options.oauth) args.push('--oauth', options.oauth);
  const env = { ...process.env };
  if (options.accounts?.length) {
    env.AZURITE_ACCOUNTS = options.accounts.map((account) => `${account.name}:${account.key}`).join(';');
  }
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ports = await waitForPorts(child);
  const scheme = options.certPath ? 'https' : 'http';
  const account = options.accounts?.[0] ?? DEV_ACCOUNT;
  const connectionString =
    `DefaultEndpointsProtocol=${scheme};AccountName=${account.name};AccountKey=${account.key};` +
    `BlobEndpoint=${scheme}://127.0.0.1:${ports.blob}/${account.name};` +
    `QueueEndpoint=${scheme}://127.0.0.1:${ports.queue}/${account.name};` +
    `TableEndpoint=${scheme}://127.0.0.1:${ports.table}/${account.name};`;
  return {
    blobPort: ports.blob,
    queuePort: ports.queue,
    tablePort: ports.table,
    scheme,
    connectionString,
    stop: () => stopChild(child),
  };
}

function waitForPorts(child: ChildProcess): Promise<{ blob: number; queue: number; table: number }> {
  return new Promise((resolve, reject) => {
    const found: Partial<Record<'blob' | 'queue' | 'table', number>> = {};
    let output = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`Azurite did not start within 30 s. Output:\n${output}`));
    }, 30_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const match of output.matchAll(
        /Azurite (Blob|Queue|Table) service is successfully listening at https?:\/\/[^:]+:(\d+)/g,
      )) {
        found[match[1]!.toLowerCase() as 'blob' | 'queue' | 'table'] = Number(match[2]);
      }
      if (found.blob && found.queue && found.table) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        // Keep draining output so Azurite never blocks on a full pipe.
        child.stdout?.resume();
        child.stderr?.resume();
        resolve({ blob: found.blob, queue: found.queue, table: found.table });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code ?? 'null'} before listening. Output:\n${output}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

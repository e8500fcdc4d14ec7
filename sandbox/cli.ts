/**
 * `npm run sandbox -- --world <file>` or `npm run sandbox -- --generate tenants=20,subscriptions=2,resources=300,seed=1`
 *
 * Starts the sandbox cloud, prints ONE JSON line with its endpoints (and the local identity header
 * the MI client must send; never a token or a key), and runs until SIGINT/SIGTERM, then closes
 * cleanly. A bad flag or world file prints a one-line error naming the problem and the fix and exits 2;
 * `--help` prints the usage and exits 0.
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseFlags } from './flags.js';
import { generateWorld, worldFacts, type GenerateWorldOptions } from './generator.js';
import { startSandbox, type SandboxOptions } from './index.js';
import { WorldStore, WorldStoreError, type WorldSnapshot } from './state.js';

/** A usage error: the message names the problem and the fix. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

export interface CliOptions {
  worldFile?: string;
  generate?: GenerateWorldOptions;
  pageSize?: number;
  latencyMs?: number;
  throttle: boolean;
  storage?: boolean;
  stateDirectory?: string;
}

export const USAGE =
  'usage: npm run sandbox -- (--world <file> | --generate tenants=N,subscriptions=N,resources=N[,seed=N,storage=N,containers=N,blobs=N]) ' +
  '[--page-size N] [--latency-ms N] [--no-throttle] [--no-storage] [--state-dir DIR] [--help]';

const GENERATE_KEYS: Record<string, keyof GenerateWorldOptions> = {
  tenants: 'tenants',
  subscriptions: 'subscriptionsPerTenant',
  resources: 'resourcesPerSubscription',
  seed: 'seed',
  storage: 'storageAccountsPerTenant',
  containers: 'containersPerAccount',
  blobs: 'blobsPerContainer',
};

function integer(flag: string, text: string | undefined, min: number): number {
  if (
    text === undefined ||
    !/^-?\d+$/.test(text) ||
    Number(text) < min ||
    !Number.isSafeInteger(Number(text))
  ) {
    throw new CliError(`${flag} needs an integer >= ${min} (got '${text ?? ''}'). ${USAGE}`);
  }
  return Number(text);
}

function parseGenerate(spec: string | undefined): GenerateWorldOptions {
  if (!spec || spec.startsWith('--'))
    throw new CliError(
      `--generate needs a spec like tenants=20,subscriptions=2,resources=300,seed=1. ${USAGE}`,
    );
  const options: Partial<GenerateWorldOptions> = { seed: 1 };
  for (const pair of spec.split(',')) {
    const [key, value] = pair.split('=');
    const field = key ? GENERATE_KEYS[key.trim()] : undefined;
    if (!field) {
      throw new CliError(
        `--generate: unknown key '${key ?? ''}'; use ${Object.keys(GENERATE_KEYS).join(', ')} (e.g. tenants=20).`,
      );
    }
    options[field] = integer(
      `--generate ${key!}`,
      value?.trim(),
      field === 'seed' ? Number.MIN_SAFE_INTEGER : 0,
    );
  }
  for (const required of ['tenants', 'subscriptions', 'resources'] as const) {
    if (options[GENERATE_KEYS[required]!] === undefined) {
      throw new CliError(
        `--generate needs ${required}=N (e.g. --generate tenants=20,subscriptions=2,resources=300,seed=1).`,
      );
    }
  }
  return options as GenerateWorldOptions;
}

const FLAGS = {
  world: { type: 'string' },
  generate: { type: 'string' },
  'page-size': { type: 'string' },
  'latency-ms': { type: 'string' },
  throttle: { type: 'boolean', default: true },
  storage: { type: 'boolean', default: true },
  'state-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses the command line (without `node script`); `'help'` for --help; throws {@link CliError}. */
export function parseCliArgs(argv: readonly string[]): CliOptions | 'help' {
  const flags = parseFlags(
    argv,
    FLAGS,
    {
      world: 'a file path',
      generate: 'a spec like tenants=20,subscriptions=2,resources=300,seed=1',
      'page-size': 'an integer >= 1',
      'latency-ms': 'an integer >= 0',
      'state-dir': 'a directory',
    },
    (message) => new CliError(`${message}. ${USAGE}`),
  );
  if (flags.help) return 'help';
  const options: CliOptions = { throttle: flags.throttle };
  if (flags.world !== undefined) options.worldFile = flags.world;
  if (flags.generate !== undefined) options.generate = parseGenerate(flags.generate);
  if (flags['page-size'] !== undefined) options.pageSize = integer('--page-size', flags['page-size'], 1);
  if (flags['latency-ms'] !== undefined) options.latencyMs = integer('--latency-ms', flags['latency-ms'], 0);
  if (!flags.storage) options.storage = false;
  if (flags['state-dir'] !== undefined) options.stateDirectory = flags['state-dir'];
  if (!options.worldFile === !options.generate) {
    throw new CliError(`give exactly one of --world <file> or --generate <spec>. ${USAGE}`);
  }
  return options;
}

/** Reads and validates a world file; errors name the file, the problem and the fix. */
export async function loadWorldFile(file: string): Promise<WorldSnapshot> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(
      `cannot read world file '${file}' (${(error as NodeJS.ErrnoException).code ?? 'error'}); give the path of a world JSON file.`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(
      `world file '${file}' is not valid JSON (${(error as Error).message}); fix the file or use --generate.`,
    );
  }
  try {
    new WorldStore(json as WorldSnapshot);
  } catch (error) {
    if (error instanceof WorldStoreError) {
      throw new CliError(
        `world file '${file}' is invalid at ${error.message}; fix that field (schema: sandbox/world.ts).`,
      );
    }
    throw error;
  }
  return json as WorldSnapshot;
}

async function main(): Promise<void> {
  const cli = parseCliArgs(process.argv.slice(2));
  if (cli === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const world = cli.worldFile ? await loadWorldFile(cli.worldFile) : generateWorld(cli.generate!);
  const options: SandboxOptions = {
    world,
    arm: {
      ...(cli.pageSize !== undefined ? { pageSize: cli.pageSize } : {}),
      ...(cli.latencyMs !== undefined ? { latencyMs: cli.latencyMs } : {}),
      throttle: cli.throttle,
    },
    ...(cli.storage === false ? { storage: { enabled: false } } : {}),
    ...(cli.stateDirectory ? { stateDirectory: cli.stateDirectory } : {}),
  };
  const sandbox = await startSandbox(options);
  let facts: Record<string, unknown> = {};
  try {
    const { homeTenantId, miClientId, miPrincipalId, appId, customerTenantIds } = worldFacts(
      sandbox.store.world,
    );
    facts = { homeTenantId, miClientId, miPrincipalId, appId, customerTenantIds };
  } catch {
    // A hand-written world need not follow the provider/customer shape.
  }
  process.stdout.write(
    `${JSON.stringify({
      ...sandbox.endpoints,
      world: {
        tenants: sandbox.store.world.tenants.length,
        subscriptions: sandbox.store.world.subscriptions.length,
        ...facts,
      },
    })}\n`,
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    sandbox
      .close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        process.stderr.write(`sandbox: error while closing after ${signal}: ${(error as Error).message}\n`);
        process.exit(1);
      });
  };
  // `on`, not `once`: a second signal (a terminal delivers Ctrl-C to npx and to us) must not kill the
  // process halfway through closing.
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    if (error instanceof CliError || error instanceof RangeError) {
      process.stderr.write(`sandbox: ${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`sandbox: failed to start: ${(error as Error).message}\n`);
    process.exit(1);
  });
}

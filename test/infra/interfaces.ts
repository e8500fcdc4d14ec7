/**
 * Where the recorded interfaces of the modules and extension types the templates use live, and how they are
 * recorded. Run as a script to (re)record them from local clones of the public sources:
 *
 *   npx tsx test/infra/interfaces.ts <Azure/bicep-registry-modules git dir> <microsoftgraph/msgraph-bicep-types git dir>
 *
 * Each AVM fixture is read from the module's published main.json (the ARM template the registry serves,
 * compiled from main.bicep) at the module's release tag `avm/res/<module>/<version>`; the Graph fixture from
 * the extension's types.json at the repository tag `v<version>`. Both name the tag and the commit.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  armTemplateInterface,
  extensionResourceTypes,
  type ArmTemplate,
  type BicepTypeEntry,
  type ModuleInterface,
  type PropertyShape,
} from '../support/bicep.js';
import { infraDir, repoRoot } from './templates.js';

const fixturesDir = path.join(repoRoot, 'test', 'fixtures');

/** Where a fixture's facts were read. */
export interface FixtureSource {
  repository: string;
  tag: string;
  commit: string;
  file: string;
}

/** A recorded AVM module interface. */
export interface ModuleFixture extends ModuleInterface {
  module: string;
  version: string;
  source: FixtureSource;
}

/** Recorded Graph resource types at one extension version. */
export interface ExtensionFixture {
  extension: string;
  source: FixtureSource;
  resourceTypes: Record<string, Record<string, PropertyShape>>;
}

const AVM_REFERENCE = /^br\/public:(avm\/(?:res|ptn|utl)\/[a-z0-9/-]+):(\d+\.\d+\.\d+)$/;
const GRAPH_EXTENSION =
  /^br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/(v1\.0|beta):(\d+\.\d+\.\d+)$/;

/** The fixture file of a registry module reference, e.g. test/fixtures/avm/res/web/site@0.24.0.json. */
export function moduleFixturePath(reference: string): string | undefined {
  const match = AVM_REFERENCE.exec(reference);
  return match ? path.join(fixturesDir, `${match[1]!}@${match[2]!}.json`) : undefined;
}

/** The fixture file of a Graph extension reference from bicepconfig.json. */
export function extensionFixturePath(reference: string): string | undefined {
  const match = GRAPH_EXTENSION.exec(reference);
  return match ? path.join(fixturesDir, 'graph', `microsoftgraph-${match[1]!}@${match[2]!}.json`) : undefined;
}

/** The recorded interface of a registry module reference, or undefined when none is recorded. */
export function loadModuleFixture(reference: string): ModuleFixture | undefined {
  const file = moduleFixturePath(reference);
  return file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ModuleFixture) : undefined;
}

/** The recorded Graph types of an extension reference, or undefined when none is recorded. */
export function loadExtensionFixture(reference: string): ExtensionFixture | undefined {
  const file = extensionFixturePath(reference);
  return file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ExtensionFixture) : undefined;
}

const git = (gitDir: string, ...args: string[]): string =>
  execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

function writeJson(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** Records one AVM module's interface from a clone of Azure/bicep-registry-modules. */
export function recordModule(gitDir: string, reference: string): string {
  const match = AVM_REFERENCE.exec(reference);
  const file = moduleFixturePath(reference);
  if (!match || !file) throw new Error(`not a pinned AVM reference: ${reference}`);
  const [, module, version] = match as unknown as [string, string, string];
  const tag = `${module}/${version}`;
  const sourceFile = `${module}/main.json`;
  const armTemplate = JSON.parse(git(gitDir, 'show', `${tag}:${sourceFile}`)) as ArmTemplate;
  const fixture: ModuleFixture = {
    module,
    version,
    source: {
      repository: 'https://github.com/Azure/bicep-registry-modules',
      tag,
      commit: git(gitDir, 'rev-parse', `${tag}^{commit}`).trim(),
      file: sourceFile,
    },
    ...armTemplateInterface(armTemplate),
  };
  writeJson(file, fixture);
  return file;
}

/** Records the named Graph resource types from a clone of microsoftgraph/msgraph-bicep-types. */
export function recordExtension(gitDir: string, reference: string, typeNames: string[]): string {
  const match = GRAPH_EXTENSION.exec(reference);
  const file = extensionFixturePath(reference);
  if (!match || !file) throw new Error(`not a pinned Microsoft Graph extension: ${reference}`);
  const [, apiVersion, version] = match as unknown as [string, string, string];
  const tag = `v${version}`;
  const sourceFile = `generated/microsoftgraph/microsoft.graph/${apiVersion}/${version}/types.json`;
  const types = JSON.parse(git(gitDir, 'show', `${tag}:${sourceFile}`)) as BicepTypeEntry[];
  const fixture: ExtensionFixture = {
    extension: reference,
    source: {
      repository: 'https://github.com/microsoftgraph/msgraph-bicep-types',
      tag,
      commit: git(gitDir, 'rev-parse', `${tag}^{commit}`).trim(),
      file: sourceFile,
    },
    resourceTypes: extensionResourceTypes(types, typeNames),
  };
  writeJson(file, fixture);
  return file;
}

/** Registry module references used under infra/ (found by text, so this script needs no parser). */
function usedModuleReferences(): string[] {
  const found = execFileSync('grep', ['-rhoE', 'br/public:avm/[a-z0-9/-]+:[0-9.]+', infraDir], {
    encoding: 'utf8',
  });
  return [...new Set(found.split('\n').filter(Boolean))].sort();
}

/** Graph resource types used under infra/, child types qualified by hand-kept parents. */
function usedGraphTypes(): string[] {
  const found = execFileSync(
    'grep',
    ['-rhoE', "'(Microsoft\\.Graph/[A-Za-z/]+|federatedIdentityCredentials)@v1\\.0'", infraDir],
    {
      encoding: 'utf8',
    },
  );
  return [
    ...new Set(
      found
        .split('\n')
        .filter(Boolean)
        .map((quoted) => quoted.slice(1, -1))
        .map((type) => (type.startsWith('Microsoft.Graph/') ? type : `Microsoft.Graph/applications/${type}`)),
    ),
  ].sort();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [modulesGitDir, graphGitDir] = process.argv.slice(2);
  if (!modulesGitDir || !graphGitDir) {
    console.error(
      'usage: npx tsx test/infra/interfaces.ts <bicep-registry-modules git dir> <msgraph-bicep-types git dir>',
    );
    process.exit(2);
  }
  const written = usedModuleReferences().map((reference) => recordModule(modulesGitDir, reference));
  const config = readFileSync(path.join(infraDir, 'bicepconfig.json'), 'utf8');
  const extension = /"microsoftGraphV1":\s*"([^"]+)"/.exec(config)?.[1];
  if (!extension) throw new Error('bicepconfig.json declares no microsoftGraphV1 extension');
  written.push(recordExtension(graphGitDir, extension, usedGraphTypes()));
  // The repository's own formatting, so `prettier --check .` stays clean.
  execFileSync(path.join(repoRoot, 'node_modules', '.bin', 'prettier'), ['--write', ...written], {
    stdio: 'inherit',
  });
}

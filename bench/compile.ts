/**
 * The contenders run as compiled JavaScript, as the app does in Azure: under tsx, a process carries
 * the TypeScript loader's own thread and caches (about 70 MB of RSS measured here), which is not the
 * product's. tsc (the project's own compiler) emits them without type checking (npm run typecheck
 * does that) into dist/bench-contenders.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './sandbox-process.js';

const require = createRequire(import.meta.url);

/** Compiles the contender entry points and what they import; returns the output directory. */
export async function compileContenders(): Promise<string> {
  const tsc = require.resolve('typescript/bin/tsc');
  const child = spawn(process.execPath, [tsc, '-p', join(ROOT, 'bench', 'tsconfig.contenders.json')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0)
    throw new Error(`compiling the contenders failed (tsc exit ${String(code)}):\n${output.slice(-4000)}`);
  return join(ROOT, 'dist', 'bench-contenders');
}

/**
 * Builds the operator console into dist/console: one bundled, minified script and one stylesheet,
 * named by content hash (served with a year-long immutable cache), and an index.html without any
 * inline script or style (the console's CSP allows only 'self'). Preact and htm are bundled: no CDN.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildConsole(
  outDir = join(root, 'dist', 'console'),
): Promise<{ outDir: string; script: string; css: string; bytes: number }> {
  const result = await build({
    entryPoints: [join(root, 'src', 'console', 'main.ts')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    write: false,
    legalComments: 'none',
    sourcemap: false,
  });
  const script = result.outputFiles[0]!.contents;
  const css = await readFile(join(root, 'src', 'console', 'console.css'));
  const hash = (content: Uint8Array): string =>
    createHash('sha256').update(content).digest('hex').slice(0, 12);
  const scriptName = `app-${hash(script)}.js`;
  const cssName = `app-${hash(css)}.css`;
  await rm(outDir, { recursive: true, force: true });
  await mkdir(join(outDir, 'assets'), { recursive: true });
  await writeFile(join(outDir, 'assets', scriptName), script);
  await writeFile(join(outDir, 'assets', cssName), css);
  const index = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tenant Fleet</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/api/console/assets/${cssName}">
<script type="module" src="/api/console/assets/${scriptName}"></script>
</head>
<body>
<div id="app"><noscript>The Tenant Fleet console needs JavaScript. The API is at /api/ (see /api/openapi.json).</noscript></div>
</body>
</html>
`;
  await writeFile(join(outDir, 'index.html'), index);
  return { outDir, script: scriptName, css: cssName, bytes: script.length + css.length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const built = await buildConsole(process.argv[2]);
  console.log(
    `console built: ${built.outDir} (${built.script}, ${built.css}; ${Math.round(built.bytes / 1024)} KiB)`,
  );
}

/**
 * The documentation holds together: every relative link in README.md and docs/*.md points to a file or
 * folder that exists (anchors are not checked), and README.md stays short enough to read in five minutes.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The README's budget: a newcomer's five minutes. */
const README_MAX_BYTES = 12 * 1024;

/** Link targets of a Markdown text: inline links and images, and reference definitions; code is skipped. */
function linkTargets(markdown: string): string[] {
  const prose = markdown
    .replace(/^[ \t]*(```|~~~)[^\n]*\n[\s\S]*?^[ \t]*\1[^\n]*$/gm, '') // fenced code blocks
    .replace(/`[^`\n]*`/g, ''); // inline code spans
  const targets: string[] = [];
  for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
    targets.push(match[1]!);
  for (const match of prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm))
    targets.push(match[1]!);
  return targets;
}

/** The path part of a relative link (no scheme, no pure anchor), or undefined for anything else. */
function relativePath(target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#') || target.startsWith('//'))
    return undefined;
  const path = target.split('#')[0]!.split('?')[0]!;
  return path === '' ? undefined : decodeURIComponent(path);
}

const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

describe('linkTargets', () => {
  it('finds inline links, images and reference definitions, and skips code', () => {
    const markdown = [
      'See [the API](docs/api.md#errors) and ![a chart](img/chart.svg "Chart").',
      '[`src/core/`](../src/core) and [web](https://example.com).',
      'Inline `[not](a-link.md)` code.',
      '```md',
      '[also not](fenced.md)',
      '```',
      '  ```sh',
      '  [indented fence](not.md)',
      '  ```',
      '[ref]: docs/ref.md',
    ].join('\n');
    expect(linkTargets(markdown)).toEqual([
      'docs/api.md#errors',
      'img/chart.svg',
      '../src/core',
      'https://example.com',
      'docs/ref.md',
    ]);
  });
});

describe('documentation', () => {
  it.each(pages)('%s: every relative link points to a file that exists', (page) => {
    const text = readFileSync(join(root, page), 'utf8');
    const broken: string[] = [];
    for (const target of linkTargets(text)) {
      const path = relativePath(target);
      if (path === undefined) continue;
      const absolute = resolve(root, dirname(page), path);
      if (existsSync(absolute)) continue;
      broken.push(target);
    }
    expect(broken).toEqual([]);
  });

  it('README.md stays under 12 KB', () => {
    expect(statSync(join(root, 'README.md')).size).toBeLessThan(README_MAX_BYTES);
  });

  it('the docs folder holds the pages the README links to', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const linkedPages = linkTargets(readme)
      .map(relativePath)
      .filter((path): path is string => path?.startsWith('docs/') === true);
    expect(linkedPages.length).toBeGreaterThan(0);
    for (const page of pages.filter((name) => name !== 'README.md'))
      expect(linkedPages, `README.md links to ${page}`).toContain(page);
  });
});

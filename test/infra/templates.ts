/** What the infra tests share: where the templates are, how they are read, how violations are shown. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  declarations,
  nodesOfType,
  propertiesOf,
  type BicepParse,
  type BicepTemplate,
  type Violation,
} from '../support/bicep.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const infraDir = path.join(repoRoot, 'infra');

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return bicepFiles(full);
    return entry.name.endsWith('.bicep') ? [full] : [];
  });
}

/** Every .bicep file under infra/, parsed, labelled with its repository-relative path, in path order. */
export function loadInfraTemplates(parse: BicepParse): BicepTemplate[] {
  return bicepFiles(infraDir)
    .sort()
    .map((file) =>
      parse(readFileSync(file, 'utf8'), path.relative(repoRoot, file).split(path.sep).join('/')),
    );
}

/** One line per violation: file:line [rule] message. */
export function describeViolations(violations: Violation[]): string {
  return violations.map((v) => `${v.file}:${v.line} [${v.rule}] ${v.message}`).join('\n');
}

/** The object literal assigned to a top-level `var`, as key to value source text. */
export function variableObject(bicep: BicepTemplate, name: string): Map<string, string> {
  const declaration = declarations(bicep).find((d) => d.kind === 'var' && d.name === name);
  const object = declaration ? nodesOfType(declaration.node, 'object')[0] : undefined;
  if (!object) throw new Error(`var ${name} is not an object in ${bicep.file}`);
  return new Map([...propertiesOf(object)].map(([key, value]) => [key, value.text]));
}

/** The template parsed from `file` (repository-relative path). */
export function templateNamed(templates: BicepTemplate[], file: string): BicepTemplate {
  const found = templates.find((candidate) => candidate.file === file);
  if (!found) throw new Error(`${file} was not parsed`);
  return found;
}

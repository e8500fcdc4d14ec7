/**
 * Offline checks of Bicep templates. The Bicep compiler cannot run here, so templates are parsed with
 * tree-sitter-bicep (WebAssembly build) and checked by walking the syntax tree: security invariants
 * (no shared keys, no secrets, TLS, HTTPS), role assignment hygiene and pinned module versions.
 */
import { createRequire } from 'node:module';
import { Language, Parser, type Node } from 'web-tree-sitter';

/** A 1-based position in a template. */
export interface SourcePosition {
  line: number;
  column: number;
}

/** A place where tree-sitter could not parse the template. */
export interface SyntaxProblem extends SourcePosition {
  kind: 'error' | 'missing';
  /** The unparsed source text (first 80 characters). */
  text: string;
}

/** One parsed template. */
export interface BicepTemplate {
  /** Label used in messages, usually the path relative to the repository root. */
  file: string;
  source: string;
  root: Node;
  syntaxProblems: SyntaxProblem[];
  /**
   * Aliases of `extension <alias>` statements. tree-sitter-bicep 1.1.0 predates the `extension` keyword
   * (Bicep replaced `provider`/`import` with it in 0.30), so these lines are blanked before parsing and
   * reported here for the caller to check against bicepconfig.json.
   */
  extensionAliases: string[];
}

/** A broken rule, with where and why. */
export interface Violation {
  rule: string;
  file: string;
  line: number;
  message: string;
}

/** A key that must appear with exactly this value wherever it occurs (and at least `minCount` times). */
export interface RequiredSetting {
  key: string;
  /** Expected value as Bicep source text, whitespace-insensitive: `false`, `'TLS1_2'`. */
  value: string;
  minCount?: number;
  why: string;
}

/** Parses Bicep source into a {@link BicepTemplate}. */
export type BicepParse = (source: string, file: string) => BicepTemplate;

const EXTENSION_STATEMENT = /^([ \t]*)extension[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*(\/\/.*)?$/;

/** Loads the tree-sitter-bicep grammar and returns a parse function. */
export async function createBicepParser(wasmPath?: string): Promise<BicepParse> {
  const grammar =
    wasmPath ?? createRequire(import.meta.url).resolve('tree-sitter-bicep/tree-sitter-bicep.wasm');
  await Parser.init();
  const language = await Language.load(grammar);
  const parser = new Parser();
  parser.setLanguage(language);
  return (source, file) => {
    const extensionAliases: string[] = [];
    // Blank (not delete) extension lines so every other line and column keeps its position.
    const masked = source
      .split('\n')
      .map((line) => {
        const match = EXTENSION_STATEMENT.exec(line);
        if (!match) return line;
        extensionAliases.push(match[2]!);
        return ' '.repeat(line.length);
      })
      .join('\n');
    const tree = parser.parse(masked);
    if (!tree) throw new Error(`tree-sitter returned no tree for ${file}`);
    const root = tree.rootNode;
    return { file, source, root, syntaxProblems: syntaxProblems(root), extensionAliases };
  };
}

function position(node: Node): SourcePosition {
  return { line: node.startPosition.row + 1, column: node.startPosition.column + 1 };
}

function syntaxProblems(root: Node): SyntaxProblem[] {
  const problems: SyntaxProblem[] = [];
  const visit = (node: Node): void => {
    if (node.isError || node.isMissing) {
      problems.push({
        kind: node.isMissing ? 'missing' : 'error',
        ...position(node),
        text: node.text.slice(0, 80),
      });
      return;
    }
    if (!node.hasError) return;
    for (const child of node.children) if (child) visit(child);
  };
  visit(root);
  return problems;
}

/** Every node of the given types under `root`, in source order. */
export function nodesOfType(root: Node, ...types: string[]): Node[] {
  return root.descendantsOfType(types).filter((node): node is Node => node !== null);
}

function namedChildren(node: Node): Node[] {
  return node.namedChildren.filter((child): child is Node => child !== null && child.type !== 'comment');
}

/** The text of a string literal without quotes (interpolations keep their `${...}` source). */
export function stringValue(node: Node): string {
  if (node.type !== 'string') return node.text;
  const text = node.text;
  return text.startsWith("'''") ? text.slice(3, -3) : text.slice(1, -1);
}

/** One `key: value` pair of an object literal. */
export interface PropertyEntry {
  key: string;
  value: Node;
  line: number;
}

/** Every object property under `root` (nested objects included). */
export function objectProperties(root: Node): PropertyEntry[] {
  return nodesOfType(root, 'object_property').flatMap((property) => {
    const [keyNode, value] = namedChildren(property);
    if (!keyNode || !value) return [];
    const key = keyNode.type === 'string' ? stringValue(keyNode) : keyNode.text;
    return [{ key, value, line: position(property).line }];
  });
}

/** The direct properties of one object literal, by key. */
export function propertiesOf(object: Node): Map<string, Node> {
  const result = new Map<string, Node>();
  for (const property of namedChildren(object)) {
    if (property.type !== 'object_property') continue;
    const [keyNode, value] = namedChildren(property);
    if (keyNode && value) result.set(keyNode.type === 'string' ? stringValue(keyNode) : keyNode.text, value);
  }
  return result;
}

/** A top-level declaration with the decorators written above it. */
export interface Declaration {
  kind: 'param' | 'output' | 'var' | 'resource' | 'module' | 'type' | 'func';
  name: string;
  /** Decorator names without `@`, e.g. `description`, `secure`. */
  decorators: string[];
  /** The decorator calls themselves, e.g. `minValue(40)`, for their arguments. */
  decoratorCalls: CallSite[];
  node: Node;
  line: number;
}

const DECLARATION_KINDS: Record<string, Declaration['kind']> = {
  parameter_declaration: 'param',
  output_declaration: 'output',
  variable_declaration: 'var',
  resource_declaration: 'resource',
  module_declaration: 'module',
  type_declaration: 'type',
  user_defined_function: 'func',
};

/** Top-level declarations of a template. Decorators are sibling statements right before a declaration. */
export function declarations(template: BicepTemplate): Declaration[] {
  const result: Declaration[] = [];
  let pending: string[] = [];
  let pendingCalls: CallSite[] = [];
  for (const statement of namedChildren(template.root)) {
    if (statement.type === 'decorators') {
      const expressions = nodesOfType(statement, 'decorator').map((decorator) => namedChildren(decorator)[0]);
      pending = expressions.map((call) => {
        const callee = call?.type === 'call_expression' ? call.childForFieldName('function') : call;
        return (callee?.text ?? '').replace(/^sys\./, '');
      });
      pendingCalls = expressions.flatMap((call) => callOf(call) ?? []);
      continue;
    }
    const kind = DECLARATION_KINDS[statement.type];
    if (kind) {
      const nameNode = namedChildren(statement).find((child) => child.type === 'identifier');
      result.push({
        kind,
        name: nameNode?.text ?? '',
        decorators: pending,
        decoratorCalls: pendingCalls,
        node: statement,
        line: position(statement).line,
      });
    }
    pending = [];
    pendingCalls = [];
  }
  return result;
}

/** A function call: its name (last segment for `a.b()`), its arguments and where it is. */
export interface CallSite {
  name: string;
  args: Node[];
  node: Node;
  line: number;
}

/** The call a `call_expression` node makes, or undefined for any other node. */
export function callOf(node: Node | undefined): CallSite | undefined {
  if (node?.type !== 'call_expression') return undefined;
  const callee = node.childForFieldName('function');
  const name =
    callee?.type === 'member_expression'
      ? (callee.childForFieldName('property')?.text ?? '')
      : (callee?.text ?? '');
  const argumentList = node.childForFieldName('arguments');
  return { name, args: argumentList ? namedChildren(argumentList) : [], node, line: position(node).line };
}

/** Every function call under `root`. */
export function calls(root: Node): CallSite[] {
  return nodesOfType(root, 'call_expression').flatMap((node) => callOf(node) ?? []);
}

/** Every string literal (unquoted content) under `root`. */
export function stringLiterals(root: Node): { value: string; line: number }[] {
  return nodesOfType(root, 'string').map((node) => ({ value: stringValue(node), line: position(node).line }));
}

/** A `resource` declaration: symbolic name, type string and body object (loops and conditions unwrapped). */
export interface ResourceDeclaration {
  name: string;
  type: string;
  existing: boolean;
  body: Node | undefined;
  line: number;
}

/** Every resource declaration in the template, nested child resources included. */
export function resources(template: BicepTemplate): ResourceDeclaration[] {
  return nodesOfType(template.root, 'resource_declaration').map((node) => {
    const children = namedChildren(node);
    const typeNode = children.find((child) => child.type === 'string');
    return {
      name: children.find((child) => child.type === 'identifier')?.text ?? '',
      type: typeNode ? stringValue(typeNode) : '',
      existing: node.children.some((child) => child?.type === 'existing'),
      body: declarationBody(node),
      line: position(node).line,
    };
  });
}

/** Paths of `module` declarations (local files or registry references). */
export function moduleReferences(template: BicepTemplate): { path: string; line: number }[] {
  return nodesOfType(template.root, 'module_declaration').flatMap((node) => {
    const pathNode = namedChildren(node).find((child) => child.type === 'string');
    return pathNode ? [{ path: stringValue(pathNode), line: position(node).line }] : [];
  });
}

const compact = (text: string): string => text.replace(/\s+/g, '');

// Functions that return keys, SAS tokens or secrets: listKeys, listAccountSas, listSecrets, list*...
const LIST_FUNCTION = /^list[A-Z]?/;
// Key material or key-based connection strings written into a template.
const KEY_MATERIAL =
  /AccountKey=|SharedAccessSignature=|SharedAccessKey=|DefaultEndpointsProtocol=|InstrumentationKey=/i;
// Property keys that carry or point to secrets. AzureWebJobsStorage alone is a (key-based) connection string;
// the identity-based form uses AzureWebJobsStorage__* keys instead.
const SECRET_PROPERTY =
  /secret|password|^(key|password)Credentials$|^AzureWebJobsStorage$|connectionstring$|sasurl|accountkey|^WEBSITE_CONTENTAZUREFILECONNECTIONSTRING$/i;
// Parameter and output names that suggest a secret goes in or out.
const SECRET_NAME =
  /secret|password|accountkey|primarykey|secondarykey|connectionstring|sastoken|accesstoken|credential/i;
// Cloud-specific hosts: templates must use environment() so they deploy to every cloud.
const HARDCODED_CLOUD_HOST =
  /login\.microsoftonline\.(com|us)|login\.chinacloudapi\.cn|management\.(azure\.com|usgovcloudapi\.net|chinacloudapi\.cn)|\.core\.(windows\.net|usgovcloudapi\.net|chinacloudapi\.cn)/i;
// Registry modules must be pinned to an exact version: br/public:avm/res/web/site:0.24.0
const PINNED_MODULE = /^br\/public:avm\/(res|ptn|utl)\/[a-z0-9-]+(\/[a-z0-9-]+)+:\d+\.\d+\.\d+$/;
const ROLE_DEFINITION_FUNCTIONS = new Set([
  'subscriptionResourceId',
  'managementGroupResourceId',
  'tenantResourceId',
  'resourceId',
]);

/** Options of {@link checkTemplate}. */
export interface CheckOptions {
  /**
   * When set, every role assignment must have a `scope:` naming an `existing` resource of one of these
   * types (least privilege: no resource-group or subscription-wide grant on the provider side).
   */
  roleAssignmentScopeTypes?: string[];
}

/** Checks one template against the per-file rules. Returns every violation (empty when clean). */
export function checkTemplate(template: BicepTemplate, options: CheckOptions = {}): Violation[] {
  const violations: Violation[] = [];
  const add = (rule: string, line: number, message: string): void => {
    violations.push({ rule, file: template.file, line, message });
  };

  for (const problem of template.syntaxProblems) {
    add(
      'syntax',
      problem.line,
      `cannot parse at ${problem.line}:${problem.column} (${problem.kind}): ${problem.text}`,
    );
  }

  for (const call of calls(template.root)) {
    if (LIST_FUNCTION.test(call.name))
      add('no-list-functions', call.line, `${call.name}() reads keys or secrets`);
  }

  for (const literal of stringLiterals(template.root)) {
    if (KEY_MATERIAL.test(literal.value))
      add('no-key-material', literal.line, 'string literal with key material');
    if (HARDCODED_CLOUD_HOST.test(literal.value)) {
      add(
        'no-hardcoded-cloud-urls',
        literal.line,
        `cloud-specific host in '${literal.value}': use environment()`,
      );
    }
  }

  for (const property of objectProperties(template.root)) {
    if (SECRET_PROPERTY.test(property.key)) {
      add('no-secret-properties', property.line, `property '${property.key}' carries a secret`);
    }
  }

  for (const declaration of declarations(template)) {
    if (declaration.kind !== 'param' && declaration.kind !== 'output') continue;
    if (declaration.decorators.includes('secure')) {
      add(
        'no-secure-declarations',
        declaration.line,
        `@secure() ${declaration.kind} '${declaration.name}': nothing in Tenant Fleet is secret`,
      );
    }
    if (SECRET_NAME.test(declaration.name)) {
      add(
        'no-secret-names',
        declaration.line,
        `${declaration.kind} '${declaration.name}' is named like a secret`,
      );
    }
    if (declaration.kind === 'param' && !declaration.decorators.includes('description')) {
      add('param-description', declaration.line, `param '${declaration.name}' has no @description`);
    }
  }

  for (const reference of moduleReferences(template)) {
    if (reference.path.startsWith('br') && !PINNED_MODULE.test(reference.path)) {
      add(
        'pinned-module',
        reference.line,
        `registry module '${reference.path}' is not an AVM module pinned to an exact version`,
      );
    }
  }

  for (const violation of flexConsumptionViolations(template.root)) add('flex-consumption', ...violation);

  const resourceDeclarations = resources(template);
  const scopeTypes = new Map(resourceDeclarations.filter((r) => r.existing).map((r) => [r.name, r.type]));
  for (const resource of resourceDeclarations) {
    if (!resource.type.startsWith('Microsoft.Authorization/roleAssignments@')) continue;
    const body = resource.body ? propertiesOf(resource.body) : new Map<string, Node>();
    const name = body.get('name');
    const nameCall = callOf(name);
    if (nameCall?.name !== 'guid' || nameCall.args.length !== 3) {
      add(
        'role-assignment',
        resource.line,
        `role assignment '${resource.name}': name must be guid(scope, principal, role)`,
      );
    }
    const properties = body.get('properties');
    const props = properties?.type === 'object' ? propertiesOf(properties) : new Map<string, Node>();
    if (!props.has('principalType')) {
      add('role-assignment', resource.line, `role assignment '${resource.name}': principalType is not set`);
    }
    const roleDefinition = props.get('roleDefinitionId');
    const roleCall = callOf(roleDefinition);
    const [typeArgument, idArgument] = roleCall?.args ?? [];
    if (
      !roleCall ||
      !ROLE_DEFINITION_FUNCTIONS.has(roleCall.name) ||
      typeArgument?.type !== 'string' ||
      stringValue(typeArgument) !== 'Microsoft.Authorization/roleDefinitions' ||
      !idArgument ||
      idArgument.type === 'string'
    ) {
      add(
        'role-assignment',
        resource.line,
        `role assignment '${resource.name}': roleDefinitionId must be a *ResourceId('Microsoft.Authorization/roleDefinitions', <id from the role map>)`,
      );
    }
    if (options.roleAssignmentScopeTypes) {
      const scope = body.get('scope');
      const scopeType = scope?.type === 'identifier' ? scopeTypes.get(scope.text) : undefined;
      if (!scopeType || !options.roleAssignmentScopeTypes.some((type) => scopeType.startsWith(`${type}@`))) {
        add(
          'role-assignment-scope',
          resource.line,
          `role assignment '${resource.name}' must be scoped to an existing ${options.roleAssignmentScopeTypes.join(' or ')}`,
        );
      }
    }
  }
  return violations;
}

// Flex Consumption's documented range of functionAppConfig.scaleAndConcurrency.maximumInstanceCount.
const FLEX_MAXIMUM_INSTANCES = { min: 40, max: 1000 };

/**
 * Settings Flex Consumption refuses at deployment although other plans accept them: an object that carries a
 * `functionAppConfig` (only Flex apps have one) must not set `siteConfig.ftpsState` (error 51021) or
 * `siteConfig.alwaysOn: true`, and a literal maximumInstanceCount must lie in 40..1000.
 */
function flexConsumptionViolations(root: Node): [number, string][] {
  const found: [number, string][] = [];
  for (const object of nodesOfType(root, 'object')) {
    const properties = propertiesOf(object);
    const siteConfig = properties.get('siteConfig');
    if (!properties.has('functionAppConfig') || siteConfig?.type !== 'object') continue;
    for (const entry of objectProperties(siteConfig)) {
      if (entry.key === 'ftpsState')
        found.push([
          entry.line,
          'siteConfig.ftpsState is refused on Flex Consumption (51021): basic-auth publishing policies keep FTP off',
        ]);
      if (entry.key === 'alwaysOn' && entry.value.text === 'true')
        found.push([entry.line, 'siteConfig.alwaysOn: true is refused on Flex Consumption']);
    }
  }
  for (const entry of objectProperties(root)) {
    if (entry.key !== 'maximumInstanceCount' || entry.value.type !== 'number') continue;
    const count = Number(entry.value.text);
    if (count < FLEX_MAXIMUM_INSTANCES.min || count > FLEX_MAXIMUM_INSTANCES.max)
      found.push([
        entry.line,
        `maximumInstanceCount ${count} is outside Flex Consumption's ${FLEX_MAXIMUM_INSTANCES.min}..${FLEX_MAXIMUM_INSTANCES.max}`,
      ]);
  }
  return found;
}

/**
 * Checks that no template but the role map carries a built-in role id as a string literal: every role
 * assignment takes its id from the one map, so a wrong id can only live in one place.
 */
export function checkRoleIdsOutsideMap(
  templates: BicepTemplate[],
  roleIds: string[],
  mapFile: string,
): Violation[] {
  const known = new Set(roleIds.map((id) => id.toLowerCase()));
  const guids = (text: string): string[] =>
    [...text.toLowerCase().matchAll(/[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}/g)].map((match) => match[0]);
  return templates
    .filter((template) => template.file !== mapFile)
    .flatMap((template) =>
      stringLiterals(template.root)
        .filter((literal) => guids(literal.value).some((guid) => known.has(guid)))
        .map((literal) => ({
          rule: 'role-id-outside-map',
          file: template.file,
          line: literal.line,
          message: `built-in role id written outside ${mapFile}: import builtInRoleIds instead`,
        })),
    );
}

/**
 * Checks that each required setting appears at least `minCount` times (default 1) across `templates`
 * and never with another value.
 */
export function checkRequiredSettings(templates: BicepTemplate[], required: RequiredSetting[]): Violation[] {
  const violations: Violation[] = [];
  const occurrences = templates.flatMap((template) =>
    objectProperties(template.root).map((property) => ({ file: template.file, ...property })),
  );
  for (const setting of required) {
    const found = occurrences.filter((occurrence) => occurrence.key === setting.key);
    for (const occurrence of found) {
      if (compact(occurrence.value.text) !== compact(setting.value)) {
        violations.push({
          rule: 'required-setting',
          file: occurrence.file,
          line: occurrence.line,
          message: `${setting.key} is ${occurrence.value.text}, must be ${setting.value} (${setting.why})`,
        });
      }
    }
    const minCount = setting.minCount ?? 1;
    if (found.length < minCount) {
      violations.push({
        rule: 'required-setting',
        file: templates.map((template) => template.file).join(', '),
        line: 0,
        message: `${setting.key}: ${setting.value} appears ${found.length} time(s), expected at least ${minCount} (${setting.why})`,
      });
    }
  }
  return violations;
}

/** The provider-side security settings every deployment must carry. */
export const PROVIDER_REQUIRED_SETTINGS: RequiredSetting[] = [
  {
    key: 'allowSharedKeyAccess',
    value: 'false',
    why: 'no shared keys: storage accepts Entra ID tokens only',
  },
  { key: 'allowBlobPublicAccess', value: 'false', why: 'no anonymous blob access' },
  { key: 'publicAccess', value: "'None'", why: 'every container is private (set in the container loop)' },
  { key: 'supportsHttpsTrafficOnly', value: 'true', why: 'storage over HTTPS only' },
  { key: 'minimumTlsVersion', value: "'TLS1_2'", why: 'storage TLS 1.2 minimum' },
  { key: 'httpsOnly', value: 'true', why: 'the Function App redirects HTTP to HTTPS' },
  { key: 'minTlsVersion', value: "'1.2'", why: 'Function App TLS 1.2 minimum' },
  { key: 'scmMinTlsVersion', value: "'1.2'", why: 'deployment endpoint TLS 1.2 minimum' },
  { key: 'allow', value: 'false', minCount: 2, why: 'no basic-auth publishing credentials (FTP, SCM)' },
  {
    key: 'disableLocalAuth',
    value: 'true',
    minCount: 2,
    why: 'Log Analytics and Application Insights accept Entra auth only',
  },
  {
    key: 'requireAuthentication',
    value: 'false',
    why: 'the platform validates credentials when present and the app answers anonymous callers (401 or sign-in redirect)',
  },
  {
    key: 'unauthenticatedClientAction',
    value: "'AllowAnonymous'",
    why: 'a platform-wide 401 would block the console sign-in, a redirect would answer API callers with HTML',
  },
  { key: 'requireHttps', value: 'true', why: 'authentication over HTTPS only' },
  { key: 'AzureWebJobsStorage__credential', value: "'managedidentity'", why: 'identity-based host storage' },
];

/*
 * Module and resource-type interfaces. The compiler would check every module call against the module's
 * parameters and every Graph resource against the extension's types; offline, the same facts are recorded
 * in fixtures (read from the published sources at the pinned versions) and checked here.
 */

/** A literal value Bicep can write in a template. */
export type Literal = string | number | boolean;

/** What a value may be: its type, allowed values, bounds, and for objects and arrays their parts. */
export interface ValueShape {
  /** ARM type: string, int, bool, object, array, securestring, secureObject, or any. */
  type: string;
  allowed?: Literal[];
  minValue?: number;
  maxValue?: number;
  minLength?: number;
  maxLength?: number;
  /** Known properties; without `additionalProperties` no other key is accepted. */
  properties?: Record<string, PropertyShape>;
  additionalProperties?: boolean;
  items?: ValueShape;
  /** A tagged union: the value of `property` selects the shape. */
  discriminator?: { property: string; mapping: Record<string, ValueShape> };
  /** For values typed after a resource property (resourceInput<...>): where the type comes from. */
  derivedFrom?: string;
}

/** A parameter or object property: a shape plus whether it must be given or may not be set. */
export interface PropertyShape extends ValueShape {
  required: boolean;
  readOnly?: boolean;
}

/** The interface facts of a module: parameters and output names. */
export interface ModuleInterface {
  parameters: Record<string, PropertyShape>;
  outputs: string[];
}

interface ArmSchema {
  type?: string;
  $ref?: string;
  nullable?: boolean;
  defaultValue?: unknown;
  allowedValues?: Literal[];
  minValue?: number;
  maxValue?: number;
  minLength?: number;
  maxLength?: number;
  properties?: Record<string, ArmSchema>;
  additionalProperties?: boolean | ArmSchema;
  items?: ArmSchema | boolean;
  discriminator?: { propertyName: string; mapping: Record<string, ArmSchema> };
  metadata?: Record<string, unknown>;
}

/** A compiled ARM template (a module's published main.json): only what interfaces need. */
export interface ArmTemplate {
  definitions?: Record<string, ArmSchema>;
  parameters?: Record<string, ArmSchema>;
  outputs?: Record<string, unknown>;
}

const BOUNDS = ['minValue', 'maxValue', 'minLength', 'maxLength'] as const;

function armShape(schema: ArmSchema, definitions: Record<string, ArmSchema>, depth: number): ValueShape {
  const ref = schema.$ref?.replace('#/definitions/', '');
  const resolved: ArmSchema = ref ? { ...definitions[ref], ...schema, $ref: undefined } : schema;
  const shape: ValueShape = { type: resolved.type ?? (resolved.discriminator ? 'object' : 'any') };
  if (resolved.allowedValues) shape.allowed = resolved.allowedValues;
  for (const bound of BOUNDS) if (resolved[bound] !== undefined) shape[bound] = resolved[bound];
  const derived = resolved.metadata?.['__bicep_resource_derived_type!'] as { source?: string } | undefined;
  if (derived?.source) shape.derivedFrom = derived.source;
  if (depth <= 0) return shape;
  if (resolved.properties) {
    shape.properties = Object.fromEntries(
      Object.entries(resolved.properties).map(([key, value]) => [
        key,
        {
          ...armShape(value, definitions, depth - 1),
          required: !value.nullable && value.defaultValue === undefined,
        },
      ]),
    );
    if (resolved.additionalProperties) shape.additionalProperties = true;
  }
  if (resolved.items && typeof resolved.items === 'object')
    shape.items = armShape(resolved.items, definitions, depth - 1);
  if (resolved.discriminator) {
    shape.discriminator = {
      property: resolved.discriminator.propertyName,
      mapping: Object.fromEntries(
        Object.entries(resolved.discriminator.mapping).map(([key, value]) => [
          key,
          armShape(value, definitions, depth - 1),
        ]),
      ),
    };
  }
  return shape;
}

/** The interface of a compiled module (its main.json): parameters with types, enums, bounds, and outputs. */
export function armTemplateInterface(armTemplate: ArmTemplate, depth = 5): ModuleInterface {
  const definitions = armTemplate.definitions ?? {};
  return {
    parameters: Object.fromEntries(
      Object.entries(armTemplate.parameters ?? {}).map(([name, schema]) => [
        name,
        {
          ...armShape(schema, definitions, depth),
          required: !schema.nullable && schema.defaultValue === undefined,
        },
      ]),
    ),
    outputs: Object.keys(armTemplate.outputs ?? {}),
  };
}

/** One entry of a Bicep extension's types.json (bicep-types format): only what interfaces need. */
export interface BicepTypeEntry {
  $type: string;
  name?: string;
  body?: { $ref: string };
  value?: Literal;
  elements?: { $ref: string }[];
  itemType?: { $ref: string };
  properties?: Record<string, { type: { $ref: string }; flags: number }>;
  additionalProperties?: { $ref: string };
}

// bicep-types property flags.
const TYPE_FLAG_REQUIRED = 1;
const TYPE_FLAG_READ_ONLY = 2;

function extensionShape(types: BicepTypeEntry[], ref: string, depth: number, seen: Set<string>): ValueShape {
  const entry = types[Number(ref.replace('#/', ''))];
  if (!entry) return { type: 'any' };
  switch (entry.$type) {
    case 'StringType':
      return { type: 'string' };
    case 'IntegerType':
      return { type: 'int' };
    case 'BooleanType':
      return { type: 'bool' };
    case 'StringLiteralType':
      return { type: 'string', allowed: [entry.value ?? ''] };
    case 'UnionType': {
      const elements = (entry.elements ?? []).map((element) =>
        extensionShape(types, element.$ref, depth, seen),
      );
      // A union with a plain string member accepts any string; only an all-literal union is an enum.
      return elements.every((element) => element.allowed)
        ? { type: 'string', allowed: elements.flatMap((element) => element.allowed ?? []) }
        : { type: 'string' };
    }
    case 'ArrayType':
      return depth > 0 && entry.itemType
        ? { type: 'array', items: extensionShape(types, entry.itemType.$ref, depth - 1, seen) }
        : { type: 'array' };
    case 'ObjectType': {
      if (depth <= 0 || seen.has(ref)) return { type: 'object' };
      const inner = new Set(seen).add(ref);
      return {
        type: 'object',
        properties: Object.fromEntries(
          Object.entries(entry.properties ?? {}).map(([key, property]) => [
            key,
            {
              ...extensionShape(types, property.type.$ref, depth - 1, inner),
              required: (property.flags & TYPE_FLAG_REQUIRED) !== 0,
              ...((property.flags & TYPE_FLAG_READ_ONLY) !== 0 ? { readOnly: true } : {}),
            },
          ]),
        ),
        ...(entry.additionalProperties ? { additionalProperties: true } : {}),
      };
    }
    default:
      return { type: 'any' };
  }
}

/**
 * The body shapes of the named resource types (`Microsoft.Graph/applications@v1.0`) from an extension's
 * types.json. `type` and `apiVersion` are left out: they are written in the declaration, not the body.
 */
export function extensionResourceTypes(
  types: BicepTypeEntry[],
  names: string[],
  depth = 6,
): Record<string, Record<string, PropertyShape>> {
  const result: Record<string, Record<string, PropertyShape>> = {};
  for (const name of names) {
    const resource = types.find((entry) => entry.$type === 'ResourceType' && entry.name === name);
    if (!resource?.body) continue;
    const body = extensionShape(types, resource.body.$ref, depth, new Set());
    const { type: _type, apiVersion: _apiVersion, ...properties } = body.properties ?? {};
    result[name] = properties;
  }
  return result;
}

const PARAM_TYPES: Record<string, string> = {
  string: 'string',
  int: 'int',
  bool: 'bool',
  object: 'object',
  array: 'array',
};

/** The interface of a local module from its parsed source: params (type, @allowed, bounds, required) and outputs. */
export function templateInterface(template: BicepTemplate): ModuleInterface {
  const parameters: Record<string, PropertyShape> = {};
  const outputs: string[] = [];
  for (const declaration of declarations(template)) {
    if (declaration.kind === 'output') outputs.push(declaration.name);
    if (declaration.kind !== 'param') continue;
    const [, typeText = '', rest = ''] = /^param\s+\S+\s+([^\s=]+)\s*(=?)/.exec(declaration.node.text) ?? [];
    const nullable = typeText.endsWith('?');
    const bare = typeText.replace(/\?$/, '');
    const shape: PropertyShape = {
      type: bare.endsWith('[]') ? 'array' : (PARAM_TYPES[bare] ?? 'any'),
      required: rest !== '=' && !nullable,
    };
    for (const call of declaration.decoratorCalls) {
      const [argument] = call.args;
      if (call.name === 'allowed' && argument?.type === 'array') {
        shape.allowed = namedChildren(argument).flatMap((element) => literalValue(element) ?? []);
      }
      const bound = BOUNDS.find((name) => name === call.name);
      if (bound && argument?.type === 'number') shape[bound] = Number(argument.text);
    }
    parameters[declaration.name] = shape;
  }
  return { parameters, outputs };
}

/** The value of a literal node (string without interpolation, number, boolean), else undefined. */
export function literalValue(node: Node): Literal | undefined {
  if (node.type === 'string')
    return nodesOfType(node, 'interpolation').length ? undefined : stringValue(node);
  if (node.type === 'number') return Number(node.text);
  if (node.type === 'boolean') return node.text === 'true';
  return undefined;
}

const TYPE_OF_LITERAL: Record<string, string[]> = {
  string: ['string', 'securestring', 'any'],
  number: ['int', 'any'],
  boolean: ['bool', 'any'],
  object: ['object', 'secureObject', 'any'],
  array: ['array', 'any'],
  for_statement: ['array', 'any'],
};

/**
 * Checks a value written in a template against a shape: literal types, allowed values, bounds, unknown,
 * missing-required and read-only object keys, array items. Expressions (parameters, function calls, outputs)
 * cannot be evaluated offline and are passed; both branches of a `cond ? a : b` are checked.
 */
export function checkValue(
  node: Node,
  shape: ValueShape,
  where: string,
  report: (node: Node, message: string) => void,
  variables: ReadonlyMap<string, Node> = new Map(),
): void {
  const check = (child: Node, childShape: ValueShape, childWhere: string): void =>
    checkValue(child, childShape, childWhere, report, variables);
  // A top-level `var` is checked where it is used, as if written there.
  const variable = node.type === 'identifier' ? variables.get(node.text) : undefined;
  if (variable) {
    check(variable, shape, `${where} (var ${node.text})`);
    return;
  }
  if (node.type === 'parenthesized_expression') {
    const inner = namedChildren(node)[0];
    if (inner) check(inner, shape, where);
    return;
  }
  if (node.type === 'ternary_expression') {
    for (const field of ['consequence', 'alternative']) {
      const branch = node.childForFieldName(field);
      if (branch) check(branch, shape, where);
    }
    return;
  }
  const accepted = TYPE_OF_LITERAL[node.type];
  if (!accepted) return;
  if (!accepted.includes(shape.type)) {
    report(
      node,
      `${where} is ${shape.type}, got ${node.type === 'for_statement' ? 'array' : node.type} ${node.text.slice(0, 40)}`,
    );
    return;
  }
  const literal = literalValue(node);
  if (literal !== undefined) {
    if (shape.allowed && !shape.allowed.includes(literal)) {
      report(
        node,
        `${where}: ${JSON.stringify(literal)} is not one of ${shape.allowed.map((v) => JSON.stringify(v)).join(', ')}`,
      );
    }
    if (typeof literal === 'number') {
      if (shape.minValue !== undefined && literal < shape.minValue)
        report(node, `${where}: ${literal} is below ${shape.minValue}`);
      if (shape.maxValue !== undefined && literal > shape.maxValue)
        report(node, `${where}: ${literal} is above ${shape.maxValue}`);
    }
    if (typeof literal === 'string' && shape.maxLength !== undefined && literal.length > shape.maxLength) {
      report(node, `${where}: '${literal}' is longer than ${shape.maxLength}`);
    }
    return;
  }
  if (node.type === 'array' && shape.items) {
    for (const element of namedChildren(node)) check(element, shape.items, `${where}[]`);
    return;
  }
  if (node.type === 'for_statement' && shape.items) {
    const body = node.childForFieldName('body');
    if (body) check(body, shape.items, `${where}[]`);
    return;
  }
  if (node.type === 'object') checkObject(node, shape, where, report, variables);
}

function checkObject(
  node: Node,
  shape: ValueShape,
  where: string,
  report: (node: Node, message: string) => void,
  variables: ReadonlyMap<string, Node>,
): void {
  const given = propertiesOf(node);
  let effective = shape;
  if (shape.discriminator) {
    const tag = given.get(shape.discriminator.property);
    const selected = tag ? literalValue(tag) : undefined;
    if (selected === undefined) return; // the tag is an expression: nothing more can be known
    const mapped = shape.discriminator.mapping[String(selected)];
    if (!mapped) {
      const known = Object.keys(shape.discriminator.mapping).join(', ');
      report(tag!, `${where}.${shape.discriminator.property}: '${String(selected)}' is not one of ${known}`);
      return;
    }
    effective = mapped;
  }
  if (!effective.properties) return;
  for (const [key, value] of given) {
    const property = effective.properties[key];
    if (!property) {
      if (!effective.additionalProperties) report(value.parent ?? value, `${where} has no property '${key}'`);
      continue;
    }
    if (property.readOnly) report(value.parent ?? value, `${where}.${key} is read-only`);
    checkValue(value, property, `${where}.${key}`, report, variables);
  }
  for (const [key, property] of Object.entries(effective.properties)) {
    if (property.required && !property.readOnly && !given.has(key))
      report(node, `${where} lacks required property '${key}'`);
  }
}

/** The value of every top-level `var` of a template, by name. */
export function variableValues(template: BicepTemplate): Map<string, Node> {
  return new Map(
    declarations(template).flatMap((declaration) => {
      const value = declaration.kind === 'var' ? namedChildren(declaration.node).at(-1) : undefined;
      return value ? [[declaration.name, value] as const] : [];
    }),
  );
}

/** The object a `module` or `resource` declaration assigns (through `if (...)` and `[for ...]`). */
export function declarationBody(node: Node): Node | undefined {
  const holder = namedChildren(node).at(-1);
  if (holder?.type === 'object') return holder;
  return holder ? nodesOfType(holder, 'object')[0] : undefined;
}

/** A `module` declaration: symbolic name, path and body. */
export interface ModuleDeclaration {
  name: string;
  path: string;
  body: Node | undefined;
  node: Node;
  line: number;
}

/** Every module declaration of a template. */
export function modules(template: BicepTemplate): ModuleDeclaration[] {
  return nodesOfType(template.root, 'module_declaration').map((node) => {
    const children = namedChildren(node);
    const pathNode = children.find((child) => child.type === 'string');
    return {
      name: children.find((child) => child.type === 'identifier')?.text ?? '',
      path: pathNode ? stringValue(pathNode) : '',
      body: declarationBody(node),
      node,
      line: position(node).line,
    };
  });
}

/** Every `<symbol>.outputs.<name>` (also `<symbol>[i].outputs.<name>`) in a template. */
export function outputReferences(
  template: BicepTemplate,
): { symbol: string; output: string; line: number }[] {
  return nodesOfType(template.root, 'member_expression').flatMap((node) => {
    const object = node.childForFieldName('object');
    if (object?.type !== 'member_expression' || object.childForFieldName('property')?.text !== 'outputs')
      return [];
    let base = object.childForFieldName('object');
    if (base?.type === 'subscript_expression') base = base.childForFieldName('object');
    const output = node.childForFieldName('property')?.text;
    return base?.type === 'identifier' && output
      ? [{ symbol: base.text, output, line: position(node).line }]
      : [];
  });
}

/**
 * Checks every module call of a template against the called module's interface: unknown parameters, values
 * outside a parameter's type, allowed values or bounds, missing required parameters, and references to
 * outputs the module does not declare. `resolve` returns the interface of a module path (registry reference
 * or local file), or undefined when none is recorded, which is itself a violation.
 */
export function checkModuleCalls(
  template: BicepTemplate,
  resolve: (path: string) => ModuleInterface | undefined,
): Violation[] {
  const violations: Violation[] = [];
  const report = (node: Node, message: string): void => {
    violations.push({ rule: 'module-interface', file: template.file, line: position(node).line, message });
  };
  const interfaces = new Map<string, ModuleInterface>();
  const variables = variableValues(template);
  for (const declaration of modules(template)) {
    const known = resolve(declaration.path);
    if (!known) {
      violations.push({
        rule: 'module-interface',
        file: template.file,
        line: declaration.line,
        message: `module '${declaration.name}': no recorded interface for '${declaration.path}' (record one before using or bumping it)`,
      });
      continue;
    }
    interfaces.set(declaration.name, known);
    const params = declaration.body ? propertiesOf(declaration.body).get('params') : undefined;
    const shape: ValueShape = { type: 'object', properties: known.parameters };
    if (params) checkValue(params, shape, `module '${declaration.name}' params`, report, variables);
    else {
      for (const [name, parameter] of Object.entries(known.parameters)) {
        if (parameter.required)
          report(declaration.node, `module '${declaration.name}' params lacks required property '${name}'`);
      }
    }
  }
  for (const reference of outputReferences(template)) {
    const known = interfaces.get(reference.symbol);
    if (known && !known.outputs.includes(reference.output)) {
      violations.push({
        rule: 'module-interface',
        file: template.file,
        line: reference.line,
        message: `module '${reference.symbol}' has no output '${reference.output}'`,
      });
    }
  }
  return violations;
}

/** The full type of a resource declaration, nested child types qualified by their parent's type. */
function qualifiedResourceType(node: Node, type: string): string {
  let parent = node.parent;
  while (parent && parent.type !== 'resource_declaration') parent = parent.parent;
  if (!parent) return type;
  const parentTypeNode = namedChildren(parent).find((child) => child.type === 'string');
  const parentType = parentTypeNode ? qualifiedResourceType(parent, stringValue(parentTypeNode)) : '';
  return `${parentType.replace(/@.*$/, '')}/${type}`;
}

/**
 * Checks every resource whose type starts with `prefix` (e.g. `Microsoft.Graph/`) against recorded body shapes:
 * unknown types, unknown or read-only properties, values outside their types or enums, missing required ones.
 */
export function checkExtensionResources(
  template: BicepTemplate,
  prefix: string,
  resourceTypes: Record<string, Record<string, PropertyShape>>,
): Violation[] {
  const violations: Violation[] = [];
  const report = (node: Node, message: string): void => {
    violations.push({ rule: 'resource-type', file: template.file, line: position(node).line, message });
  };
  const variables = variableValues(template);
  for (const node of nodesOfType(template.root, 'resource_declaration')) {
    const typeNode = namedChildren(node).find((child) => child.type === 'string');
    const type = typeNode ? qualifiedResourceType(node, stringValue(typeNode)) : '';
    if (!type.startsWith(prefix)) continue;
    const properties = resourceTypes[type];
    if (!properties) {
      report(node, `resource type '${type}' is not among the recorded types`);
      continue;
    }
    const body = declarationBody(node);
    const existing = node.children.some((child) => child?.type === 'existing');
    const shape: ValueShape = existing
      ? {
          type: 'object',
          properties: Object.fromEntries(
            Object.entries(properties).map(([k, v]) => [k, { ...v, required: false, readOnly: false }]),
          ),
        }
      : { type: 'object', properties };
    if (body) checkValue(body, shape, type, report, variables);
  }
  return violations;
}

/**
 * Microsoft Graph refuses to pre-authorize a delegated scope in the request that creates it. Flags every
 * application declaration whose `api` defines oauth2PermissionScopes and pre-authorizes clients in the same
 * declaration unconditionally: the list must be `[]` or `cond ? clients : []`, so that a first pass creates
 * the scope and a later one (same uniqueName) adds the clients.
 */
export function checkPreAuthorization(template: BicepTemplate): Violation[] {
  const emptyList = (node: Node | null | undefined): boolean => !!node && compact(node.text) === '[]';
  return resources(template).flatMap((resource) => {
    if (!resource.type.startsWith('Microsoft.Graph/applications@') || !resource.body) return [];
    const api = propertiesOf(resource.body).get('api');
    const apiProperties = api?.type === 'object' ? propertiesOf(api) : new Map<string, Node>();
    const preAuthorized = apiProperties.get('preAuthorizedApplications');
    if (!apiProperties.has('oauth2PermissionScopes') || !preAuthorized || emptyList(preAuthorized)) return [];
    const staged =
      preAuthorized.type === 'ternary_expression' &&
      (emptyList(preAuthorized.childForFieldName('consequence')) ||
        emptyList(preAuthorized.childForFieldName('alternative')));
    if (staged) return [];
    return [
      {
        rule: 'graph-pre-authorization',
        file: template.file,
        line: position(preAuthorized).line,
        message: `application '${resource.name}' pre-authorizes clients for scopes it creates in the same request: Graph refuses that; add them in a later declaration`,
      },
    ];
  });
}

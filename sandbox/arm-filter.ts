/**
 * The OData `$filter` subset that ARM's list operations accept, compiled to a predicate, as documented
 * for Resources - List (https://learn.microsoft.com/rest/api/resources/resources/list, `$filter`):
 * `resourceType|name|location|resourceGroup eq|ne '...'`, `substringof('x', name|resourceGroup)`,
 * `tagName eq '...' [and tagValue eq '...']` and `startswith(tagName, 'x')`, joined with `and` / `or`
 * (`and` binds tighter); a `tagName` and a `tagValue` condition in the same `and` group mean one tag
 * with that value. Comparisons are case-insensitive, as ARM's are. Tag conditions are not combined with
 * other properties (the documented combinations are `substringof` with `resourceType`, and the
 * plan and identity families): such a filter is refused, as is anything else outside the subset, so
 * callers never get more than they asked for. Resources found by tag come back without their tags
 * ("When you filter by a tag name and value, the tags for each resource are not returned").
 */
import type { Resource } from './world.js';

export class InvalidFilterError extends Error {
  override readonly name = 'InvalidFilterError';
}

type Field = 'resourcetype' | 'name' | 'location' | 'resourcegroup' | 'tagname' | 'tagvalue';
const FIELDS: readonly Field[] = ['resourcetype', 'name', 'location', 'resourcegroup', 'tagname', 'tagvalue'];

type Condition =
  | { kind: 'eq'; field: Field; value: string; negated?: boolean }
  | { kind: 'substringof'; field: 'name' | 'resourcegroup'; value: string }
  | { kind: 'startswith-tag'; value: string };

type Token =
  | { type: 'word'; text: string }
  | { type: 'string'; text: string }
  | { type: 'punct'; text: '(' | ')' | ',' };

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const char = filter[i]!;
    if (/\s/.test(char)) {
      i++;
    } else if (char === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= filter.length) throw new InvalidFilterError('unterminated string');
        if (filter[i] === "'") {
          if (filter[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += filter[i];
        i++;
      }
      tokens.push({ type: 'string', text });
    } else if (char === '(' || char === ')' || char === ',') {
      tokens.push({ type: 'punct', text: char });
      i++;
    } else {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(filter.slice(i));
      if (!match) throw new InvalidFilterError(`unexpected '${char}'`);
      tokens.push({ type: 'word', text: match[0] });
      i += match[0].length;
    }
  }
  return tokens;
}

/** Parses a filter into OR-of-AND groups of conditions; throws {@link InvalidFilterError}. */
function parse(filter: string): Condition[][] {
  const tokens = tokenize(filter);
  let position = 0;
  const peekWord = (): string | undefined => {
    const token = tokens[position];
    return token?.type === 'word' ? token.text.toLowerCase() : undefined;
  };
  const expect = (type: Token['type'], text?: string): string => {
    const token = tokens[position++];
    if (!token || token.type !== type || (text !== undefined && token.text.toLowerCase() !== text)) {
      throw new InvalidFilterError(`expected ${text ?? type}`);
    }
    return token.text;
  };
  const condition = (): Condition => {
    const word = expect('word').toLowerCase();
    if (word === 'substringof') {
      expect('punct', '(');
      const value = expect('string');
      expect('punct', ',');
      const field = expect('word').toLowerCase();
      if (field !== 'name' && field !== 'resourcegroup')
        throw new InvalidFilterError('substringof works on name and resourceGroup only');
      expect('punct', ')');
      return { kind: 'substringof', field, value };
    }
    if (word === 'startswith') {
      expect('punct', '(');
      if (expect('word').toLowerCase() !== 'tagname')
        throw new InvalidFilterError('startswith works on tagName only');
      expect('punct', ',');
      const value = expect('string');
      expect('punct', ')');
      return { kind: 'startswith-tag', value };
    }
    if (!FIELDS.includes(word as Field)) throw new InvalidFilterError(`unknown field '${word}'`);
    const operator = expect('word').toLowerCase();
    const tagField = word === 'tagname' || word === 'tagvalue';
    if (operator !== 'eq' && (operator !== 'ne' || tagField))
      throw new InvalidFilterError('expected eq or ne');
    return { kind: 'eq', field: word as Field, value: expect('string'), negated: operator === 'ne' };
  };
  const groups: Condition[][] = [];
  let group: Condition[] = [condition()];
  while (position < tokens.length) {
    const joiner = peekWord();
    position++;
    if (joiner === 'and') group.push(condition());
    else if (joiner === 'or') {
      groups.push(group);
      group = [condition()];
    } else throw new InvalidFilterError('expected and/or');
  }
  groups.push(group);
  return groups;
}

const eq = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

function groupMatches(
  group: Condition[],
  resource: Pick<Resource, 'type' | 'name' | 'location' | 'resourceGroup' | 'tags'>,
): boolean {
  const tagName = group.find((c) => c.kind === 'eq' && c.field === 'tagname');
  const tagValue = group.find((c) => c.kind === 'eq' && c.field === 'tagvalue');
  const tags = Object.entries(resource.tags);
  if (tagName || tagValue) {
    const ok = tags.some(
      ([name, value]) => (!tagName || eq(name, tagName.value)) && (!tagValue || eq(value, tagValue.value)),
    );
    if (!ok) return false;
  }
  return group.every((c) => {
    switch (c.kind) {
      case 'substringof':
        return (c.field === 'name' ? resource.name : resource.resourceGroup)
          .toLowerCase()
          .includes(c.value.toLowerCase());
      case 'startswith-tag':
        return tags.some(([name]) => name.toLowerCase().startsWith(c.value.toLowerCase()));
      case 'eq': {
        const actual = {
          resourcetype: resource.type,
          name: resource.name,
          location: resource.location.replace(/\s+/g, ''),
          resourcegroup: resource.resourceGroup,
        }[c.field as Exclude<Field, 'tagname' | 'tagvalue'>] as string | undefined;
        if (actual === undefined) return true; // tags were checked together above
        return (
          eq(actual, c.field === 'location' ? c.value.replace(/\s+/g, '') : c.value) !== (c.negated ?? false)
        );
      }
    }
  });
}

const isTagCondition = (c: Condition): boolean =>
  c.kind === 'startswith-tag' || (c.kind === 'eq' && (c.field === 'tagname' || c.field === 'tagvalue'));

/** A compiled resources `$filter`: the predicate, and whether it filters by tag (tags are then not returned). */
export interface ResourceFilter {
  (resource: Resource): boolean;
  byTag: boolean;
}

/** Compiles a resources `$filter`; throws {@link InvalidFilterError} for anything outside the subset. */
export function compileResourceFilter(filter: string): ResourceFilter {
  const groups = parse(filter);
  const conditions = groups.flat();
  const byTag = conditions.some(isTagCondition);
  if (byTag && !conditions.every(isTagCondition)) {
    throw new InvalidFilterError('tag conditions cannot be combined with other properties');
  }
  const predicate = (resource: Resource): boolean => groups.some((group) => groupMatches(group, resource));
  return Object.assign(predicate, { byTag });
}

/**
 * Compiles a resource groups `$filter`: ARM accepts only tag conditions there
 * (`tagName eq 'x' and tagValue eq 'y'`).
 */
export function compileResourceGroupFilter(
  filter: string,
): (group: { name: string; location: string; tags: Record<string, string> }) => boolean {
  const groups = parse(filter);
  for (const group of groups) {
    for (const c of group) {
      if (!isTagCondition(c)) {
        throw new InvalidFilterError('resource groups filter on tags only');
      }
    }
  }
  return (rg) =>
    groups.some((group) =>
      groupMatches(group, { type: 'Microsoft.Resources/resourceGroups', resourceGroup: rg.name, ...rg }),
    );
}

/**
 * Safe Table storage keys. PartitionKey and RowKey may not contain / \ # ? or control characters,
 * and ARM resource ids are full of slashes; keys are therefore escaped (reversibly, so a key still
 * says which resource it is) and lower-cased (ARM ids are case-insensitive).
 */
import { odata } from '@azure/data-tables';

// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[%/\\#?\u0000-\u001f\u007f-\u009f]/g;

/** The forbidden characters other than / and % (rare in ARM ids). */
// eslint-disable-next-line no-control-regex
const RARE_FORBIDDEN = /[\\#?\u0000-\u001f\u007f-\u009f]/;

/** Percent-escapes the characters Table keys forbid (and % itself, so the escape is reversible). */
export function escapeKey(value: string): string {
  // ARM ids hold only / (and rarely %) of these: two plain replacements, the same result, without a
  // callback and a string per slash (a sweep escapes every resource id; docs/performance.md).
  if (!RARE_FORBIDDEN.test(value))
    return (value.includes('%') ? value.replaceAll('%', '%25') : value).replaceAll('/', '%2f');
  return value.replace(FORBIDDEN, (char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function unescapeKey(key: string): string {
  return key.replace(/%([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Row key of a resource within its subscription's partition: the id after `/subscriptions/{id}/`. */
export function resourceRowKey(resourceId: string): string {
  const lower = resourceId.toLowerCase();
  // As replacing /^\/subscriptions\/[^/]+\//, without a regular expression (every resource of a sweep).
  const end = lower.startsWith(SUBSCRIPTIONS) ? lower.indexOf('/', SUBSCRIPTIONS.length) : -1;
  return escapeKey(end > SUBSCRIPTIONS.length ? lower.slice(end + 1) : lower);
}

const SUBSCRIPTIONS = '/subscriptions/';

/** Row key of a resource across subscriptions (the whole id). */
export function resourceGlobalKey(resourceId: string): string {
  return escapeKey(resourceId.toLowerCase());
}

/** A 14-digit key that sorts newest first (Table queries return rows in key order). */
export function newestFirstKey(epochMs: number): string {
  return String(99_999_999_999_999 - epochMs).padStart(14, '0');
}

/**
 * An OData range matching every key that starts with `${prefix}_` (keys sort as strings, and the
 * backtick is the character after the underscore). Built with the `odata` template: values are escaped.
 */
export function underscorePrefixRange(column: 'PartitionKey' | 'RowKey', prefix: string): string {
  return column === 'PartitionKey'
    ? odata`PartitionKey ge ${`${prefix}_`} and PartitionKey lt ${`${prefix}\``}`
    : odata`RowKey ge ${`${prefix}_`} and RowKey lt ${`${prefix}\``}`;
}

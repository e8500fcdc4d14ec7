/**
 * ARM's paging: `$top`, an opaque `$skiptoken` bound to the path it was issued for, and an absolute
 * `nextLink` on this server that keeps the caller's api-version, `$filter`, `$top` and `$expand`.
 */
import type { ArmContext } from './context.js';
import { ArmError } from './errors.js';
import type { ArmSettings } from './settings.js';

/** Opaque continuation: the scan position, bound to the path it was issued for. */
function encodeSkipToken(path: string, cursor: number): string {
  return Buffer.from(JSON.stringify({ p: path.toLowerCase(), c: cursor })).toString('base64url');
}

function decodeSkipToken(token: string, path: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      p?: unknown;
      c?: unknown;
    };
    if (
      parsed.p === path.toLowerCase() &&
      typeof parsed.c === 'number' &&
      Number.isSafeInteger(parsed.c) &&
      parsed.c >= 0
    ) {
      return parsed.c;
    }
  } catch {
    // fall through to the error below
  }
  throw new ArmError(
    400,
    'InvalidSkipToken',
    `The $skiptoken '${token}' is invalid for '${path}'. Use the nextLink as returned.`,
  );
}

export function pageParameters(url: URL, settings: ArmSettings): { cursor: number; limit: number } {
  const top = url.searchParams.get('$top');
  let limit = settings.pageSize;
  if (top !== null) {
    const value = Number(top);
    if (!/^\d+$/.test(top) || value < 1) {
      throw new ArmError(
        400,
        'InvalidQueryParameterValue',
        `The value '${top}' of query parameter '$top' is invalid. It must be a positive integer.`,
      );
    }
    limit = Math.min(value, 1000);
  }
  const skipToken = url.searchParams.get('$skiptoken');
  return { cursor: skipToken ? decodeSkipToken(skipToken, url.pathname) : 0, limit };
}

/** Absolute nextLink on this server, keeping the caller's api-version, $filter, $top and $expand. */
export function nextLink(ctx: ArmContext, url: URL, cursor: number): string {
  const query = new URLSearchParams();
  for (const key of ['api-version', '$filter', '$top', '$expand']) {
    const value = url.searchParams.get(key);
    if (value !== null) query.set(key, value);
  }
  query.set('$skiptoken', encodeSkipToken(url.pathname, cursor));
  return `${ctx.armEndpoint().replace(/\/+$/, '')}${url.pathname}?${query.toString()}`;
}

/** Pages an in-memory list (subscriptions, groups): small by nature. */
export function pageOf<T>(
  ctx: ArmContext,
  items: T[],
  url: URL,
  settings: ArmSettings,
): { value: T[]; nextLink?: string } {
  const { cursor, limit } = pageParameters(url, settings);
  const value = items.slice(cursor, cursor + limit);
  return cursor + limit < items.length ? { value, nextLink: nextLink(ctx, url, cursor + limit) } : { value };
}

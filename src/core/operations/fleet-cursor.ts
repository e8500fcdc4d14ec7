/**
 * The fleet views' continuation token: where a cross-tenant listing stopped (which run, which tenant,
 * and the Table service's own token inside that tenant's query). Opaque to callers (base64url JSON);
 * one this API did not issue is refused with a 400, never silently restarted at page 1.
 */
import { z } from 'zod';
import { InputError } from '../platform/errors.js';

const cursorSchema = z
  .object({
    v: z.literal(1),
    /** Run id (the change feed walks runs, newest first). */
    r: z.string().max(64).optional(),
    /** Tenant id the listing resumes at. */
    t: z.string().max(64),
    /** The Table SDK's continuation token within that tenant's query. */
    k: z.string().max(4096).optional(),
  })
  .strict();

export type FleetCursor = z.infer<typeof cursorSchema>;

export function encodeCursor(cursor: FleetCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

export function decodeCursor(raw: string | undefined): FleetCursor | undefined {
  if (raw === undefined || raw === '') return undefined;
  let value: unknown;
  try {
    if (raw.length > 8192 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw new Error('shape');
    value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw new InputError('continuationToken', 'is not a token this API returned');
  }
  const parsed = cursorSchema.safeParse(value);
  if (!parsed.success) throw new InputError('continuationToken', 'is not a token this API returned');
  return parsed.data;
}

/** Table pages one request may read before it answers with what it has and a token (bounded work). */
export const PAGE_BUDGET = 8;

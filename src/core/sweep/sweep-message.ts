/**
 * The queue message of a sweep: one per tenant per run. Encoded as base64 JSON because the Functions
 * queue trigger's default `messageEncoding` is base64 (host.json).
 */
import { z } from 'zod';
import { GUID_PATTERN } from '../platform/ids.js';
import { isRunId } from './runs.js';

export const sweepMessageSchema = z.object({
  v: z.literal(1),
  runId: z.string().refine(isRunId, 'is not a run id'),
  tenantId: z
    .string()
    .regex(GUID_PATTERN, 'is not a tenant id')
    .transform((value) => value.toLowerCase()),
  /**
   * The ETag of the tenant's run row as the run wrote it (queued): a first delivery finishes the row
   * against it without reading or claiming it first. Absent from messages of older versions.
   */
  etag: z.string().min(1).max(200).optional(),
});
export type SweepMessage = z.output<typeof sweepMessageSchema>;

export function encodeSweepMessage(message: SweepMessage): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}

/**
 * Accepts what the Functions trigger hands over (already decoded and JSON-parsed into an object, or a
 * string) and what the local runner reads (base64 text). Returns undefined for anything else.
 */
export function parseSweepMessage(raw: unknown): SweepMessage | undefined {
  let value: unknown = raw;
  if (typeof raw === 'string') {
    const text =
      /^[A-Za-z0-9+/=\s]+$/.test(raw) && !raw.trim().startsWith('{')
        ? Buffer.from(raw, 'base64').toString('utf8')
        : raw;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
  }
  const parsed = sweepMessageSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

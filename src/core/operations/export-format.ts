/**
 * Exports as CSV (RFC 4180, one header line) or NDJSON, produced row by row from an async source: the
 * response streams while the rows are read, nothing holds the whole result.
 */
import { InputError } from '../platform/errors.js';

export type ExportFormat = 'csv' | 'ndjson';

export function parseExportFormat(value: string | null | undefined): ExportFormat {
  if (value === 'csv' || value === 'ndjson') return value;
  throw new InputError('format', 'must be csv or ndjson');
}

/** One CSV field: quoted when it holds a quote, comma or line break; objects as JSON. */
export function csvField(value: unknown): string {
  const text =
    value === undefined || value === null
      ? ''
      : typeof value === 'object'
        ? JSON.stringify(value)
        : typeof value === 'string'
          ? value
          : JSON.stringify(value);
  // A leading = + - @ would be run as a formula by spreadsheet programs: prefix it (OWASP CSV injection).
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Encodes rows as the chosen format, batching small rows into chunks of about 64 KiB. */
export async function* encodeRows<T extends object>(
  rows: AsyncIterable<T> | Iterable<T>,
  format: ExportFormat,
  columns: ReadonlyArray<keyof T>,
): AsyncGenerator<Uint8Array> {
  let buffer = format === 'csv' ? `${columns.map(String).join(',')}\r\n` : '';
  for await (const row of rows) {
    buffer +=
      format === 'csv'
        ? `${columns.map((column) => csvField(row[column])).join(',')}\r\n`
        : `${JSON.stringify(row)}\n`;
    if (buffer.length >= 64 * 1024) {
      yield Buffer.from(buffer);
      buffer = '';
    }
  }
  if (buffer) yield Buffer.from(buffer);
}

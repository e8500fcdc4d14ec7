/**
 * Digests of what must not change under abuse: every table of the fleet's prefix (registry,
 * inventory, changes, ...) and the customer blobs as the API lists them. Two equal digests mean
 * not one entity or blob was written, changed or removed (ETags and timestamps are part of them).
 */
import { createHash } from 'node:crypto';
import { TableClient, TableServiceClient } from '@azure/data-tables';

export interface Digests {
  tables: Record<string, string>;
  /** Entities read per table (so a digest over nothing does not look like a pass). */
  entities: Record<string, number>;
  /** The rows themselves, to name what changed. */
  rows: Record<string, string[]>;
}

export async function tableDigests(
  connectionString: string,
  prefix: string,
  only?: (table: string) => boolean,
): Promise<Digests> {
  const service = TableServiceClient.fromConnectionString(connectionString, {
    allowInsecureConnection: true,
  });
  const digests: Digests = { tables: {}, entities: {}, rows: {} };
  for await (const table of service.listTables()) {
    const name = table.name ?? '';
    if (!name.startsWith(prefix) || (only && !only(name))) continue;
    const client = TableClient.fromConnectionString(connectionString, name, {
      allowInsecureConnection: true,
    });
    const rows: string[] = [];
    for await (const entity of client.listEntities()) rows.push(JSON.stringify(entity));
    rows.sort();
    digests.tables[name] = createHash('sha256').update(rows.join('\n')).digest('hex');
    digests.entities[name] = rows.length;
    digests.rows[name] = rows;
  }
  return digests;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Names of tables whose digests differ (or that appeared or vanished). */
export function changedTables(before: Digests, after: Digests): string[] {
  const names = new Set([...Object.keys(before.tables), ...Object.keys(after.tables)]);
  return [...names].filter((name) => before.tables[name] !== after.tables[name]).sort();
}

/** The rows that differ between two digests of a table, by key and field (for a failure message). */
export function firstDifference(before: Digests, after: Digests, table: string): string {
  const keyed = (rows: string[] = []) =>
    new Map(
      rows.map((row) => {
        const entity = JSON.parse(row) as Record<string, unknown>;
        return [`${String(entity.partitionKey)}/${String(entity.rowKey)}`, entity] as const;
      }),
    );
  const old = keyed(before.rows[table]);
  const now = keyed(after.rows[table]);
  const notes: string[] = [];
  for (const key of new Set([...old.keys(), ...now.keys()])) {
    const a = old.get(key);
    const b = now.get(key);
    if (!a || !b) notes.push(`${key} ${a ? 'removed' : 'added'}`);
    else {
      const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
        (field) =>
          field !== 'etag' && field !== 'timestamp' && JSON.stringify(a[field]) !== JSON.stringify(b[field]),
      );
      if (fields.length)
        notes.push(
          `${key}: ${fields.map((f) => `${f} ${JSON.stringify(a[f])} -> ${JSON.stringify(b[f])}`).join(', ')}`,
        );
    }
  }
  return notes.slice(0, 5).join('; ').slice(0, 1500);
}

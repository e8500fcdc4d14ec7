/**
 * A subscription too large for the inventory manifest (src/core/inventory/inventory-manifest.ts,
 * MANIFEST_MAX_ENTRIES): through the public sync path it keeps no manifest, and its next sweep reads the
 * partition instead and still records each change exactly. Its own file: on Azurite it takes minutes.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionSync } from '../../../src/core/inventory/subscription-sync.js';
import { MANIFEST_MAX_ENTRIES } from '../../../src/core/inventory/inventory-manifest.js';
import { manifestSyncFixture } from '../../support/manifest-sync.js';

const {
  config,
  storage,
  tables,
  tenantId,
  countRequests,
  newSubscription,
  resource,
  stream,
  sweep,
  marker,
  storedRows,
  changesOf,
} = manifestSyncFixture();

beforeAll(async () => {
  await storage.ensureResources();
});

describe('a subscription too large for a manifest', () => {
  const LARGE = MANIFEST_MAX_ENTRIES + 1;

  it(
    `keeps no manifest for ${LARGE} rows; the next sweep queries the partition and finds each change`,
    { timeout: 600_000 },
    async () => {
      const target = newSubscription();
      const items = Array.from({ length: LARGE }, (_, i) => resource(i, {}, target));
      const baseline = await sweep(`run-${randomUUID()}`, items, undefined, target);
      expect(baseline.result).toMatchObject({ items: LARGE, baselined: LARGE });
      const row = await marker(target);
      expect(row.manifestVersion).toBeUndefined();
      expect(row.manifestEntries).toBeUndefined();
      expect(row.manifest0).toBeUndefined();

      // disk-0 gone, disk-1 retagged, one new disk: the same number of rows, still too many.
      const current = items.slice(1);
      current[0] = { ...current[0]!, tags: { env: 'dev' } };
      current.push(resource(LARGE + 10, {}, target));
      const counting = { inventory: storage.table(config.names.inventoryTable), changes: tables.changes };
      const counts = countRequests(counting.inventory);
      const runId = `run-${randomUUID()}`;
      const result = await new SubscriptionSync(counting).syncSubscription(
        { tenantId, runId, now: new Date().toISOString() },
        target,
        stream(current),
      );
      expect(result).toMatchObject({ items: LARGE, added: 1, removed: 1, modified: 1 });
      // No manifest to read: the previous state came from the partition, at most 1,000 rows a page.
      expect(counts.queries).toBeGreaterThanOrEqual(Math.ceil(LARGE / 1000));
      const changes = await changesOf(runId);
      expect(changes.map((change) => `${String(change.changeType)}:${String(change.name)}`).sort()).toEqual(
        ['added:disk-' + String(LARGE + 10), 'modified:disk-1', 'removed:disk-0'].sort(),
      );
      expect(await storedRows(target)).toBe(LARGE);
      expect((await marker(target)).manifestEntries).toBeUndefined();
    },
  );
});

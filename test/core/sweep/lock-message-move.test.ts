/**
 * Edges of three small sweep helpers that the sweep tests reach only on their happy path: the sweep
 * lock's release when the row changed or vanished, the sweep message's base64 forms, and reading the
 * tenant a subscription moved to from ARM's refusal.
 */
import { randomUUID } from 'node:crypto';
import { SubscriptionClient } from '@azure/arm-resources-subscriptions';
import type { AccessToken } from '@azure/core-auth';
import { createHttpHeaders, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { newRunId } from '../../../src/core/sweep/run-records.js';
import { encodeSweepMessage, parseSweepMessage } from '../../../src/core/sweep/sweep-message.js';
import { SweepLock } from '../../../src/core/sweep/sweep-lock.js';
import { tenantMovedTo } from '../../../src/core/sweep/subscription-states.js';
import { refusingTable } from '../../support/refusing-table.js';

describe('the sweep lock, when its row changes under it', () => {
  it('releases with the ETag it read, and leaves a lock another run took in between', async () => {
    const wired = await refusingTable();
    const lock = new SweepLock(wired.table);
    await lock.acquire('run-a', '2030-01-01T00:00:00Z');
    // Between release's read and its delete, run-a's row is replaced by run-b's (a new ETag).
    wired.refuse = (request) => {
      if (request.method !== 'DELETE') return undefined;
      wired.refuse = undefined;
      return 412;
    };
    await lock.release('run-a');
    expect(wired.sent.filter((method) => method === 'DELETE')).toHaveLength(1);
    expect((await lock.holder())?.runId).toBe('run-a'); // the refused delete removed nothing
    // A row already gone is released too.
    wired.refuse = (request) => (request.method === 'DELETE' ? 404 : undefined);
    await expect(lock.release('run-a')).resolves.toBeUndefined();
    // Any other refusal is the caller's to see.
    wired.refuse = (request) => (request.method === 'DELETE' ? 503 : undefined);
    await expect(lock.release('run-a')).rejects.toMatchObject({ statusCode: 503 });
    wired.refuse = undefined;
    await lock.release('run-a');
    expect(await lock.holder()).toBeUndefined();
  });

  it('deletes only the row it read: a stale ETag is refused by the service', async () => {
    const wired = await refusingTable();
    const lock = new SweepLock(wired.table);
    await lock.acquire('run-a', '2030-01-01T00:00:00Z');
    // Another writer touches the row after release reads it: the delete carries the old ETag.
    const original = wired.table.deleteEntity.bind(wired.table);
    wired.table.deleteEntity = async (partitionKey, rowKey, options) => {
      await wired.table.updateEntity({ partitionKey, rowKey, acquiredAt: 'later' }, 'Merge');
      return original(partitionKey, rowKey, options);
    };
    await lock.release('run-a');
    expect(await lock.holder()).toMatchObject({ runId: 'run-a', acquiredAt: 'later' });
  });

  it('says who holds it when refused, and passes a failed read of the holder through', async () => {
    const wired = await refusingTable();
    const lock = new SweepLock(wired.table);
    await lock.acquire('run-a', 'now');
    wired.refuse = (request) => (request.method === 'GET' ? 503 : undefined);
    await expect(lock.holder()).rejects.toMatchObject({ statusCode: 503 });
  });
});

describe('sweep messages in their text forms', () => {
  const message = {
    v: 1 as const,
    runId: newRunId(new Date('2030-12-31T23:59:59Z')),
    tenantId: randomUUID(),
  };

  it('reads base64 wrapped over lines or padded with blanks, and JSON text as it is', () => {
    const encoded = encodeSweepMessage(message);
    const wrapped = encoded.replace(/(.{20})/g, '$1\n');
    expect(wrapped).toContain('\n');
    expect(parseSweepMessage(wrapped)).toEqual(message);
    expect(parseSweepMessage(`  ${encoded}\n`)).toEqual(message);
    expect(parseSweepMessage(`  ${JSON.stringify(message)}\n`)).toEqual(message);
  });
});

describe('the tenant a subscription moved to', () => {
  const tenantId = randomUUID();
  const subscriptionId = randomUUID();
  const credential = {
    getToken: (): Promise<AccessToken> =>
      Promise.resolve({ token: 'test', expiresOnTimestamp: Date.now() + 3_600_000 }),
  };

  /** A subscription client whose ARM answers every request with the given status and error. */
  function armAnswering(status: number, body: unknown): SubscriptionClient {
    const httpClient: HttpClient = {
      sendRequest: (request: PipelineRequest) =>
        Promise.resolve({
          request,
          status,
          headers: createHttpHeaders({ 'content-type': 'application/json' }),
          bodyAsText: JSON.stringify(body),
        }),
    };
    return new SubscriptionClient(credential, { httpClient, retryOptions: { maxRetries: 0 } });
  }

  const refusal = (code: string, message: string) => ({ error: { code, message } });
  const named = (tenant: string) =>
    `The access token is from the wrong issuer 'https://sts.windows.net/${tenantId}/'. It must match the tenant 'https://sts.windows.net/${tenant}/' associated with this subscription.`;

  it("reads the new tenant from ARM's InvalidAuthenticationTokenTenant, lower-cased", async () => {
    const newTenant = randomUUID();
    const client = armAnswering(
      401,
      refusal('InvalidAuthenticationTokenTenant', named(newTenant.toUpperCase())),
    );
    expect(await tenantMovedTo(client, subscriptionId, tenantId)).toBe(newTenant);
  });

  it('answers undefined for the same tenant, another code, a message naming no tenant, or a subscription still here', async () => {
    const same = armAnswering(401, refusal('InvalidAuthenticationTokenTenant', named(tenantId)));
    expect(await tenantMovedTo(same, subscriptionId, tenantId)).toBeUndefined();
    const other = armAnswering(401, refusal('InvalidAuthenticationToken', named(randomUUID())));
    expect(await tenantMovedTo(other, subscriptionId, tenantId)).toBeUndefined();
    const unnamed = armAnswering(401, refusal('InvalidAuthenticationTokenTenant', 'wrong issuer'));
    expect(await tenantMovedTo(unnamed, subscriptionId, tenantId)).toBeUndefined();
    const here = armAnswering(200, {
      id: `/subscriptions/${subscriptionId}`,
      subscriptionId,
      state: 'Enabled',
    });
    expect(await tenantMovedTo(here, subscriptionId, tenantId)).toBeUndefined();
  });
});

/**
 * Subscription states and transfers in the sandbox ARM. Sources:
 * - states Enabled, Warned, PastDue, Disabled (read-only), Deleted:
 *   https://learn.microsoft.com/azure/cost-management-billing/manage/subscription-states
 * - a transferred subscription answers a token of its old tenant with 401 InvalidAuthenticationTokenTenant
 *   naming its new tenant ("if the subscription is transferred to another tenant ... information about
 *   new tenant could take time to propagate"):
 *   https://learn.microsoft.com/azure/role-based-access-control/transfer-subscription
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quirksWorld } from '../support/quirks-world.js';
import { testGuid } from '../support/identity-world.js';
import { armClaims, rawGet, startArm, type ArmFixture } from './arm.fixture.js';

const { world, ids } = quirksWorld();
const otherTenant = testGuid(1, 62);
world.tenants.push({ id: otherTenant, displayName: 'Other' });
let arm: ArmFixture;

const token = () =>
  arm.keys.sign(ids.tenantId, armClaims({ tenantId: ids.tenantId, objectId: ids.readerObjectId }));
const list = (path: string) => `/subscriptions/${ids.subscriptionId}${path}?api-version=2025-04-01`;

beforeAll(async () => {
  arm = await startArm(world);
  await arm.keys.warm([otherTenant]);
});
afterAll(async () => {
  await arm.close();
});

describe('sandbox subscription states and transfers', () => {
  it('lists the state, keeps a Disabled subscription readable and answers a Deleted one 404 below it', async () => {
    arm.store.updateSubscription(ids.subscriptionId, { state: 'Disabled' });
    const subscriptions = await rawGet(arm, '/subscriptions?api-version=2022-12-01', await token());
    expect(subscriptions.body.value).toEqual([expect.objectContaining({ state: 'Disabled' })]);
    expect((await rawGet(arm, list('/resources'), await token())).status).toBe(200);

    arm.store.updateSubscription(ids.subscriptionId, { state: 'Deleted' });
    const gone = await rawGet(arm, list('/resources'), await token());
    expect(gone.status).toBe(404);
    expect(gone.body.error?.code).toBe('SubscriptionNotFound');
    const itself = await rawGet(
      arm,
      `/subscriptions/${ids.subscriptionId}?api-version=2022-12-01`,
      await token(),
    );
    expect(itself.body.state).toBe('Deleted');
    arm.store.updateSubscription(ids.subscriptionId, { state: 'Enabled' });
  });

  it("answers the old tenant's token for a transferred subscription with 401 naming the new tenant", async () => {
    arm.store.updateSubscription(ids.subscriptionId, { tenantId: otherTenant });
    try {
      const moved = await rawGet(arm, list('/resources'), await token());
      expect(moved.status).toBe(401);
      expect(moved.body.error?.code).toBe('InvalidAuthenticationTokenTenant');
      expect(moved.body.error?.message).toContain(
        `must match the tenant 'https://sts.windows.net/${otherTenant}/'`,
      );
    } finally {
      arm.store.updateSubscription(ids.subscriptionId, { tenantId: ids.tenantId });
    }
  });
});

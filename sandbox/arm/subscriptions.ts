/** Tenant-level routes (GET /tenants, GET /subscriptions) and GET /subscriptions/{id}. */
import type { AccessTokenClaims } from '../keys.js';
import type { Subscription } from '../world.js';
import { accessIn, hasAnyAccess } from './access.js';
import { authorityOf, type ArmCall, type ArmContext } from './context.js';
import { ArmError, authorizationFailed } from './errors.js';
import { subscriptionJson } from './json.js';
import { pageOf } from './paging.js';

/** The subscription a route names, checked against the token's tenant (ARM's 404 and 401 otherwise). */
export function requireSubscription(
  ctx: ArmContext,
  subscriptionId: string,
  claims: AccessTokenClaims,
  /** GET of the subscription itself still answers a Deleted one (with its state); reads below it do not. */
  allowDeleted = false,
): Subscription {
  const subscription = ctx.store.subscription(subscriptionId);
  if (!subscription) {
    throw new ArmError(
      404,
      'SubscriptionNotFound',
      `The subscription '${subscriptionId}' could not be found.`,
    );
  }
  if (subscription.tenantId !== claims.tid.toLowerCase()) {
    const authority = authorityOf(ctx);
    throw new ArmError(
      401,
      'InvalidAuthenticationTokenTenant',
      `The access token is from the wrong issuer '${claims.iss}'. It must match the tenant ` +
        `'https://sts.windows.net/${subscription.tenantId}/' associated with this subscription. Please use the authority ` +
        `(URL) '${authority}/${subscription.tenantId}' to get the token. Note, if the subscription is transferred to ` +
        'another tenant there is no impact to the services, but information about new tenant could take time to ' +
        'propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.',
      {},
      subscription.tenantId,
    );
  }
  // A Deleted subscription's resources are gone; a Disabled one stays readable (read-only):
  // https://learn.microsoft.com/azure/cost-management-billing/manage/subscription-states
  if (subscription.state === 'Deleted' && !allowDeleted) {
    throw new ArmError(
      404,
      'SubscriptionNotFound',
      `The subscription '${subscriptionId}' could not be found.`,
    );
  }
  return subscription;
}

export function listTenants({ ctx, claims }: ArmCall): unknown {
  const tenant = ctx.store.world.tenants.find((t) => t.id === claims.tid.toLowerCase());
  const value = tenant
    ? [
        {
          id: `/tenants/${tenant.id}`,
          tenantId: tenant.id,
          tenantCategory: 'Home',
          displayName: tenant.displayName,
          ...(tenant.domain ? { domains: [tenant.domain], defaultDomain: tenant.domain } : {}),
          tenantType: 'AAD',
        },
      ]
    : [];
  return { value };
}

export function listSubscriptions({ ctx, claims, oid, url, settings }: ArmCall): unknown {
  const visible = ctx.store
    .subscriptionsOfTenant(claims.tid)
    .filter((s) => hasAnyAccess(accessIn(ctx.store, oid, s.subscriptionId)))
    .map(subscriptionJson);
  return { ...pageOf(ctx, visible, url, settings), count: { type: 'Total', value: visible.length } };
}

export function getSubscription({ ctx, claims, oid }: ArmCall, subscriptionId: string): unknown {
  const subscription = requireSubscription(ctx, subscriptionId, claims, true);
  if (!hasAnyAccess(accessIn(ctx.store, oid, subscription.subscriptionId))) {
    throw authorizationFailed(
      oid,
      'Microsoft.Resources/subscriptions/read',
      `/subscriptions/${subscription.subscriptionId}`,
    );
  }
  return subscriptionJson(subscription);
}

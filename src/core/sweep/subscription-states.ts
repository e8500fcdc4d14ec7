/**
 * The rule for subscription states and moves (https://learn.microsoft.com/azure/cost-management-billing/manage/subscription-states):
 * - Enabled, Warned, PastDue: fully usable; swept as usual.
 * - Disabled: read-only and possibly deallocated; not swept, its rows are KEPT as last seen (a
 *   re-enabled subscription goes on from them, and a disabled one's resources are not "removed"),
 *   and it is reported (SubscriptionDisabled).
 * - Deleted: its resources are gone; its rows are RETIRED (each recorded as removed), reported once
 *   (SubscriptionDeleted).
 * - Moved to another tenant: it leaves this tenant's list; its rows here are retired with removal
 *   records (this tenant's change history keeps everything it recorded), the move is reported with
 *   the tenant it went to (SubscriptionMoved, read from ARM's answer to this tenant's token), and the
 *   new tenant's first sweep of it is a baseline there.
 */
import type { SubscriptionClient } from '@azure/arm-resources-subscriptions';
import { diagnosisFor, type DiagnosisContext } from '../platform/diagnosis.js';
import { errorCodeOf } from '../platform/errors.js';
import type { VisibleSubscription } from '../platform/arm.js';
import type { TenantWarning } from './tenant-sweep.js';

export interface ClassifiedSubscriptions {
  /** To sweep. */
  swept: VisibleSubscription[];
  /** Disabled: kept as they are (neither swept nor retired). */
  kept: string[];
}

/** Applies the state rule to the visible subscriptions; reports Disabled ones, and Deleted ones that had rows. */
export function classifySubscriptions(
  visible: VisibleSubscription[],
  known: ReadonlySet<string>,
  context: DiagnosisContext,
  warnings: TenantWarning[],
): ClassifiedSubscriptions {
  const result: ClassifiedSubscriptions = { swept: [], kept: [] };
  for (const subscription of visible) {
    const id = subscription.subscriptionId;
    if (subscription.state === 'Disabled') {
      result.kept.push(id);
      warnings.push({
        scope: 'subscription',
        id,
        diagnosis: diagnosisFor('SubscriptionDisabled', context, id),
      });
    } else if (subscription.state === 'Deleted') {
      if (known.has(id))
        warnings.push({
          scope: 'subscription',
          id,
          diagnosis: diagnosisFor('SubscriptionDeleted', context, id),
        });
    } else {
      result.swept.push(subscription);
    }
  }
  return result;
}

/**
 * The tenant a subscription that left this tenant now belongs to, if it moved: ARM answers this
 * tenant's token with 401 InvalidAuthenticationTokenTenant naming the subscription's tenant.
 */
export async function tenantMovedTo(
  client: SubscriptionClient,
  subscriptionId: string,
  tenantId: string,
): Promise<string | undefined> {
  try {
    await client.subscriptions.get(subscriptionId);
    return undefined;
  } catch (error) {
    if (errorCodeOf(error) !== 'InvalidAuthenticationTokenTenant') return undefined;
    // "... It must match the tenant 'https://sts.windows.net/{tenant}/' associated with this subscription."
    const named = /must match the tenant 'https:\/\/sts\.windows\.net\/([0-9a-f-]{36})\//i
      .exec((error as Error).message)?.[1]
      ?.toLowerCase();
    return named && named !== tenantId ? named : undefined;
  }
}

/** Poison queue: a tenant message that failed every delivery is recorded as a failed tenant of its run. */
import { app, type InvocationContext } from '@azure/functions';
import { resourceNamesFromEnv } from '../core/platform/config.js';
import { getRuntime } from '../core/runtime.js';
import { recordPoisonMessage } from '../core/sweep/sweep.js';

export async function sweepPoison(message: unknown, context: InvocationContext): Promise<void> {
  const outcome = await recordPoisonMessage(getRuntime(), message);
  context.warn(`poison sweep message: ${outcome}`);
}

app.storageQueue('sweepPoison', {
  queueName: resourceNamesFromEnv().poisonQueue,
  connection: 'AzureWebJobsStorage',
  handler: sweepPoison,
});

/**
 * Queue worker: sweeps one tenant. Retryable failures are rethrown so the host redelivers the message
 * (host.json: visibilityTimeout, maxDequeueCount); everything else is recorded by the core.
 */
import { app, type InvocationContext } from '@azure/functions';
import { resourceNamesFromEnv } from '../core/platform/config.js';
import { getRuntime } from '../core/runtime.js';
import { processTenantMessage } from '../core/sweep/sweep.js';

export async function sweepWorker(message: unknown, context: InvocationContext): Promise<void> {
  const dequeueCount = Number(context.triggerMetadata?.dequeueCount ?? 1);
  const outcome = await processTenantMessage(getRuntime(), message, { dequeueCount });
  context.log(`sweep message (delivery ${dequeueCount}): ${outcome}`);
}

app.storageQueue('sweepWorker', {
  queueName: resourceNamesFromEnv().sweepQueue,
  connection: 'AzureWebJobsStorage',
  handler: sweepWorker,
});

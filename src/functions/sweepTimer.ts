/** Timer: starts a scheduled sweep (one queue message per tenant). Schedule: TENANT_FLEET_SWEEP_SCHEDULE. */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { ConflictError } from '../core/platform/errors.js';
import { getRuntime } from '../core/runtime.js';
import { startSweep } from '../core/sweep/sweep.js';

export async function sweepTimer(timer: Timer, context: InvocationContext): Promise<void> {
  try {
    const result = await startSweep(getRuntime(), { trigger: 'timer' });
    context.log(
      `run ${result.runId}: ${result.queued} tenants queued, ${result.skipped} skipped, ${result.invalid} invalid rows${timer.isPastDue ? ' (timer was past due)' : ''}`,
    );
  } catch (error) {
    // Another run still going is normal on a short schedule: skip this tick, do not fail it.
    if (error instanceof ConflictError && error.kind === 'busy') {
      context.warn(`sweep skipped: ${error.message}`);
      return;
    }
    throw error;
  }
}

app.timer('sweepTimer', {
  schedule: '%TENANT_FLEET_SWEEP_SCHEDULE%',
  runOnStartup: false,
  handler: sweepTimer,
});

/**
 * Timer: starts a scheduled sweep (one queue message per tenant). The schedule is the app setting
 * TENANT_FLEET_SWEEP_SCHEDULE, resolved by the host (a binding expression: an operator changes it
 * without a deployment); config.ts validates the same setting at app start (appStart.ts).
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { SWEEP_SCHEDULE_SETTING } from '../core/platform/config.js';
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
  schedule: `%${SWEEP_SCHEDULE_SETTING}%`,
  runOnStartup: false,
  handler: sweepTimer,
});

/** GET /api/runs (newest first) and POST /api/runs (an on-demand sweep, optionally of some tenants). */
import { z } from 'zod';
import { InputError } from '../core/platform/errors.js';
import { GUID_PATTERN } from '../core/platform/ids.js';
import { startSweep } from '../core/sweep/sweep.js';
import { httpRoute } from './shared/routes.js';
import { handle, intQuery, json, readJson } from './shared/http.js';
import { roleForMethod } from './shared/auth.js';

const startSchema = z
  .object({
    tenantIds: z
      .array(z.string().regex(GUID_PATTERN, 'must be tenant ids (GUIDs)'))
      .min(1)
      .max(1000)
      .optional(),
  })
  .strict();

export const runs = handle(
  roleForMethod,
  async (request, { runtime, audit }) => {
    if (request.method === 'POST') {
      const parsed = startSchema.safeParse(await readJson(request, { optional: true }));
      if (!parsed.success)
        throw new InputError(
          parsed.error.issues[0]!.path.join('.') || 'body',
          parsed.error.issues[0]!.message,
        );
      const result = await startSweep(runtime, {
        trigger: 'http',
        ...(parsed.data.tenantIds ? { tenantIds: parsed.data.tenantIds } : {}),
      });
      audit({ target: `runs/${result.runId}` });
      return json(202, result, { location: `/api/runs/${result.runId}` });
    }
    const top = intQuery(request, 'top') ?? 20;
    if (top < 1 || top > 200) throw new InputError('top', 'must be from 1 to 200');
    // The table's ETag is internal (GET /api/runs/{runId} leaves it out too).
    const items = (await runtime.runs.listRuns(top)).map(({ etag: _etag, ...run }) => run);
    return json(200, { items });
  },
  { audit: (request) => (request.method === 'POST' ? { action: 'run.start', target: 'runs' } : undefined) },
);

httpRoute('runs', { route: 'runs', methods: ['GET', 'POST'], handler: runs });

/**
 * GET /api/audit?tenantId=&actor=&action=&from=&to=&top=&continuationToken= : the audit log, newest
 * first, page by page (Fleet.Admin). Filters are OData built with the `odata` template (src/core/audit).
 */
import { InputError } from '../core/platform/errors.js';
import { httpRoute } from './shared/routes.js';
import { auditLogOf, handle, intQuery, json } from './shared/http.js';

const FILTERS = ['tenantId', 'actor', 'action', 'from', 'to'] as const;

export const audit = handle('Fleet.Admin', async (request, { runtime }) => {
  const top = intQuery(request, 'top');
  const continuationToken = request.query.get('continuationToken');
  if (continuationToken !== null && continuationToken.length > 1024)
    throw new InputError(
      'continuationToken',
      'is longer than 1024 characters: not a token this API returned',
    );
  const filters = Object.fromEntries(
    FILTERS.map((name) => [name, request.query.get(name)] as const).filter(
      (entry): entry is [(typeof FILTERS)[number], string] => entry[1] !== null && entry[1] !== '',
    ),
  );
  const page = await auditLogOf(runtime).list({
    ...filters,
    ...(top !== undefined ? { top } : {}),
    ...(continuationToken ? { continuationToken } : {}),
  });
  return json(200, page);
});

httpRoute('audit', { route: 'audit', methods: ['GET'], handler: audit });

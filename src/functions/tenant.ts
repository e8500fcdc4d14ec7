/** GET, PATCH (If-Match) and DELETE /api/tenants/{tenantId}. */
import type { HttpRequest } from '@azure/functions';
import { InputError, PreconditionRequiredError } from '../core/platform/errors.js';
import { httpRoute } from './shared/routes.js';
import { handle, header, json, readJson, type AuditTarget } from './shared/http.js';
import { roleForMethod } from './shared/auth.js';

/** `*` or one weak entity tag (RFC 9110), the form of the `W/"datetime'...'"` ETags this API returns. */
const IF_MATCH_PATTERN = /^(\*|W\/"[^"]{1,1024}")$/;

/**
 * The If-Match header, checked before it reaches the Table service: a malformed one is the caller's
 * mistake (400), where the service would answer InvalidOperation and the API a 500.
 */
function ifMatchOf(request: HttpRequest): string | undefined {
  const value = header(request, 'if-match');
  if (!value) return undefined;
  if (!IF_MATCH_PATTERN.test(value))
    throw new InputError('If-Match', 'must be * or the ETag of the tenant as returned by this API');
  return value;
}

function tenantAudit(request: HttpRequest): AuditTarget | undefined {
  if (request.method !== 'PATCH' && request.method !== 'DELETE') return undefined;
  const tenantId = (request.params.tenantId ?? '').toLowerCase();
  return {
    action: request.method === 'PATCH' ? 'tenant.update' : 'tenant.delete',
    tenantId,
    target: `tenants/${tenantId}`,
  };
}

export const tenant = handle(
  roleForMethod,
  async (request, { runtime, actor, audit }) => {
    const tenantId = request.params.tenantId ?? '';
    const ifMatch = ifMatchOf(request);
    if (request.method === 'PATCH') {
      const before = ifMatch ?? (await runtime.registry.get(tenantId)).etag;
      audit({ etagBefore: before });
      const record = await runtime.registry.update(tenantId, await readJson(request), actor, before);
      audit({ etagAfter: record.etag });
      return json(200, record, { etag: record.etag });
    }
    if (request.method === 'DELETE') {
      // Deleting a tenant forgets its registration: the caller must name the version it means.
      if (!ifMatch)
        throw new PreconditionRequiredError(
          'If-Match',
          'deleting a tenant needs If-Match with its ETag (GET it first), or If-Match: * to delete whatever version is stored',
        );
      audit({ etagBefore: ifMatch });
      await runtime.registry.remove(tenantId, ifMatch);
      return { status: 204 };
    }
    const record = await runtime.registry.get(tenantId);
    return json(
      200,
      { ...record, circuitOpen: runtime.registry.isCircuitOpen(record) },
      { etag: record.etag },
    );
  },
  { audit: tenantAudit },
);

httpRoute('tenant', { route: 'tenants/{tenantId}', methods: ['GET', 'PATCH', 'DELETE'], handler: tenant });

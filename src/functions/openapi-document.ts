/**
 * The API's OpenAPI 3.1 description, built from one table of operations (kept next to the routes:
 * test/functions/openapi.test.ts checks it against `httpRoutes()` both ways, and docs/openapi.json is
 * this document as written by `npm run openapi`).
 */
const guid = { type: 'string', format: 'uuid' };
const error = {
  description:
    'Refused: `error.code` and `error.message` say what is wrong (and `fix` when someone must act)',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};

type Param = [name: string, where: 'path' | 'query' | 'header', description: string, schema?: object];

interface Operation {
  route: string;
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  operationId: string;
  summary: string;
  role: 'Fleet.Read' | 'Fleet.CustomerData.Read' | 'Fleet.Admin' | 'authenticated';
  /** Recorded in the audit log before it runs (refused with 503 when the log cannot be written). */
  audited?: boolean;
  /** The precondition header it needs: 428 without it, 412 when stale. `optional`: 412 only. */
  precondition?: 'required' | 'optional';
  params?: Param[];
  body?: string;
  ok: [status: string, description: string, contentType?: string];
}

const tenantId: Param = ['tenantId', 'path', 'Customer tenant id', guid];
const runId: Param = ['runId', 'path', 'Run id such as 20261123T063000123Z-3f9a1c'];
const account: Param = ['account', 'path', 'Storage account name'];
const container: Param = ['container', 'path', 'Container name'];
const paging: Param[] = [
  ['top', 'query', 'Page size', { type: 'integer', minimum: 1, maximum: 1000 }],
  ['continuationToken', 'query', 'Token of the previous page (opaque)'],
];
const inventoryFilters: Param[] = [
  ['tenantId', 'query', 'Only this tenant', guid],
  ['subscriptionId', 'query', 'Only this subscription', guid],
  ['resourceGroup', 'query', 'Resource group name (case-insensitive)'],
  ['type', 'query', 'Resource type, e.g. Microsoft.Compute/virtualMachines'],
  ['location', 'query', 'Location, e.g. westeurope'],
  ['tag', 'query', '`key` or `key=value`'],
  ['q', 'query', 'Text in the name, resource group or id'],
];
const changeFilters: Param[] = [
  ['tenantId', 'query', 'Only this tenant', guid],
  ['kind', 'query', 'Change kind', { type: 'string', enum: ['added', 'removed', 'modified', 'baseline'] }],
  ['since', 'query', 'Runs started at or after (ISO 8601)', { type: 'string', format: 'date-time' }],
  ['until', 'query', 'Runs started at or before (ISO 8601)', { type: 'string', format: 'date-time' }],
];

export const OPERATIONS: Operation[] = [
  {
    route: 'me',
    method: 'get',
    operationId: 'me',
    summary: "The caller's name, object id and app roles",
    role: 'authenticated',
    ok: ['200', 'The caller'],
  },
  {
    route: 'tenants',
    method: 'get',
    operationId: 'listTenants',
    summary: 'Registered tenants (unreadable registry rows reported apart)',
    role: 'Fleet.Read',
    params: [
      ['enabled', 'query', '`true`: enabled ones only'],
      ['tag', 'query', 'Only tenants with this tag'],
    ],
    ok: ['200', 'Tenants'],
  },
  {
    route: 'tenants',
    method: 'post',
    operationId: 'registerTenant',
    summary: 'Register a customer tenant',
    role: 'Fleet.Admin',
    audited: true,
    body: 'NewTenant',
    ok: ['201', 'Registered'],
  },
  {
    route: 'tenants/{tenantId}',
    method: 'get',
    operationId: 'getTenant',
    summary: 'One tenant (ETag in the header)',
    role: 'Fleet.Read',
    params: [tenantId],
    ok: ['200', 'The tenant'],
  },
  {
    route: 'tenants/{tenantId}',
    method: 'patch',
    operationId: 'updateTenant',
    summary: 'Change a tenant: enable, disable with a reason, tags, subscription scope',
    role: 'Fleet.Admin',
    audited: true,
    precondition: 'optional',
    params: [tenantId, ['If-Match', 'header', 'ETag from GET, or * (optional)']],
    body: 'TenantPatch',
    ok: ['200', 'Updated'],
  },
  {
    route: 'tenants/{tenantId}',
    method: 'delete',
    operationId: 'removeTenant',
    summary: 'Remove a tenant from the registry',
    role: 'Fleet.Admin',
    audited: true,
    precondition: 'required',
    params: [
      tenantId,
      ['If-Match', 'header', 'ETag from GET, or * for whatever version is stored (required)'],
    ],
    ok: ['204', 'Removed'],
  },
  {
    route: 'tenants/{tenantId}/reset',
    method: 'post',
    operationId: 'resetCircuit',
    summary: 'Close the circuit breaker after the cause was fixed',
    role: 'Fleet.Admin',
    audited: true,
    params: [tenantId],
    ok: ['200', 'The tenant'],
  },
  {
    route: 'tenants/{tenantId}/diagnose',
    method: 'post',
    operationId: 'diagnoseTenant',
    summary: 'Onboarding checks step by step, each failure with its code and fix',
    role: 'Fleet.Admin',
    audited: true,
    params: [tenantId],
    ok: ['200', 'The report'],
  },
  {
    route: 'tenants/{tenantId}/inventory',
    method: 'get',
    operationId: 'tenantInventory',
    summary: "A tenant's inventory",
    role: 'Fleet.Read',
    params: [
      tenantId,
      ['subscriptionId', 'query', 'Only this subscription', guid],
      ['type', 'query', 'Resource type'],
      ...paging,
    ],
    ok: ['200', 'A page of resources'],
  },
  {
    route: 'tenants/{tenantId}/changes',
    method: 'get',
    operationId: 'tenantChanges',
    summary: "A tenant's change history",
    role: 'Fleet.Read',
    params: [tenantId, ['runId', 'query', 'Only this run'], ...paging],
    ok: ['200', 'A page of changes'],
  },
  {
    route: 'tenants/{tenantId}/storage',
    method: 'get',
    operationId: 'tenantStorage',
    summary: "A tenant's storage inventory (accounts, containers, refusals)",
    role: 'Fleet.Read',
    params: [tenantId],
    ok: ['200', 'Accounts'],
  },
  {
    route: 'tenants/{tenantId}/storage/{account}/containers',
    method: 'get',
    operationId: 'listContainers',
    summary: "Containers of a customer's storage account",
    role: 'Fleet.CustomerData.Read',
    audited: true,
    params: [tenantId, account],
    ok: ['200', 'Containers'],
  },
  {
    route: 'tenants/{tenantId}/storage/{account}/containers/{container}/blobs/{blobName}',
    method: 'get',
    operationId: 'readBlobs',
    summary: 'List blobs (no blob name) or read one blob (at most 4 MiB); the name may contain slashes',
    role: 'Fleet.CustomerData.Read',
    audited: true,
    params: [
      tenantId,
      account,
      container,
      ['blobName', 'path', 'Blob name (empty to list)'],
      ['prefix', 'query', 'Name prefix (listing)'],
      ...paging,
    ],
    ok: ['200', 'Blobs, or the blob content', 'application/octet-stream'],
  },
  {
    route: 'tenants/{tenantId}/storage/{account}/containers/{container}/blobs/{blobName}',
    method: 'put',
    operationId: 'writeBlob',
    summary: 'Write a blob (at most 4 MiB)',
    role: 'Fleet.Admin',
    audited: true,
    precondition: 'required',
    params: [
      tenantId,
      account,
      container,
      ['blobName', 'path', 'Blob name'],
      ['If-None-Match', 'header', '`*`: create only (send this or If-Match)'],
      ['If-Match', 'header', 'ETag of the blob to replace (`*` refused)'],
    ],
    body: 'bytes',
    ok: ['201', 'Written'],
  },
  {
    route: 'tenants/{tenantId}/storage/{account}/containers/{container}/blobs/{blobName}',
    method: 'delete',
    operationId: 'deleteBlob',
    summary: 'Delete a blob',
    role: 'Fleet.Admin',
    audited: true,
    precondition: 'required',
    params: [
      tenantId,
      account,
      container,
      ['blobName', 'path', 'Blob name'],
      ['If-Match', 'header', 'ETag of the blob to delete (required; `*` refused)'],
      [
        'deleteSnapshots',
        'query',
        '`include`: delete the blob with its snapshots',
        { type: 'string', enum: ['include'] },
      ],
    ],
    ok: ['204', 'Deleted'],
  },
  {
    route: 'runs',
    method: 'get',
    operationId: 'listRuns',
    summary: 'Runs, newest first',
    role: 'Fleet.Read',
    params: [['top', 'query', 'How many (1-200)', { type: 'integer', minimum: 1, maximum: 200 }]],
    ok: ['200', 'Runs'],
  },
  {
    route: 'runs',
    method: 'post',
    operationId: 'startRun',
    summary: 'Start a sweep of all enabled tenants, or of `tenantIds`',
    role: 'Fleet.Admin',
    audited: true,
    body: 'StartRun',
    ok: ['202', 'Started (Location: the run)'],
  },
  {
    route: 'runs/{runId}',
    method: 'get',
    operationId: 'getRun',
    summary: 'A run and each of its tenants (status, counts, diagnosis and fix)',
    role: 'Fleet.Read',
    params: [runId],
    ok: ['200', 'The run'],
  },
  {
    route: 'runs/{runId}/tenants/{tenantId}/snapshot',
    method: 'get',
    operationId: 'getSnapshot',
    summary: "A tenant's inventory snapshot of a run (gzip NDJSON), streamed",
    role: 'Fleet.Read',
    params: [runId, tenantId],
    ok: ['200', 'The snapshot', 'application/gzip'],
  },
  {
    route: 'fleet/overview',
    method: 'get',
    operationId: 'fleetOverview',
    summary: 'Every tenant by state with the diagnosis and fix of failures; last and next sweep; totals',
    role: 'Fleet.Read',
    ok: ['200', 'The overview'],
  },
  {
    route: 'fleet/inventory',
    method: 'get',
    operationId: 'fleetInventory',
    summary: 'Resources across tenants, filtered, one page at a time',
    role: 'Fleet.Read',
    params: [...inventoryFilters, ...paging],
    ok: ['200', 'A page of resources'],
  },
  {
    route: 'fleet/inventory/facets',
    method: 'get',
    operationId: 'fleetInventoryFacets',
    summary: 'Counts by type and location (from the per-tenant aggregates)',
    role: 'Fleet.Read',
    params: [['tenantId', 'query', 'Only this tenant', guid]],
    ok: ['200', 'Counts'],
  },
  {
    route: 'fleet/inventory/history',
    method: 'get',
    operationId: 'resourceHistory',
    summary: "A resource's change history",
    role: 'Fleet.Read',
    params: [
      ['tenantId', 'query', 'Tenant id', guid],
      ['resourceId', 'query', 'ARM resource id'],
    ],
    ok: ['200', 'Changes, newest first'],
  },
  {
    route: 'fleet/changes',
    method: 'get',
    operationId: 'fleetChanges',
    summary: 'Changes across tenants, newest run first',
    role: 'Fleet.Read',
    params: [...changeFilters, ...paging],
    ok: ['200', 'A page of changes'],
  },
  {
    route: 'fleet/storage',
    method: 'get',
    operationId: 'fleetStorage',
    summary: 'Customer storage accounts across tenants',
    role: 'Fleet.Read',
    params: [
      ['tenantId', 'query', 'Only this tenant', guid],
      ['public', 'query', '`true`: accounts with public containers'],
      ['refused', 'query', '`true`: accounts that refused the app'],
    ],
    ok: ['200', 'Accounts'],
  },
  {
    route: 'fleet/export/{dataset}',
    method: 'get',
    operationId: 'fleetExport',
    summary: 'Inventory, changes or storage as CSV or NDJSON, with the same filters as the views, streamed',
    role: 'Fleet.Read',
    params: [
      ['dataset', 'path', 'What to export', { type: 'string', enum: ['inventory', 'changes', 'storage'] }],
      ['format', 'query', 'csv (default) or ndjson', { type: 'string', enum: ['csv', 'ndjson'] }],
      ...inventoryFilters.slice(1),
      ...changeFilters,
    ],
    ok: ['200', 'The rows', 'text/csv'],
  },
  {
    route: 'onboarding/{tenantId}',
    method: 'get',
    operationId: 'onboardingGuide',
    summary: "Admin-consent link, the customer's commands and template parameters",
    role: 'Fleet.Read',
    params: [tenantId],
    ok: ['200', 'The guide'],
  },
  {
    route: 'audit',
    method: 'get',
    operationId: 'listAudit',
    summary: 'The audit log (who did what, with the outcome), newest first',
    role: 'Fleet.Admin',
    params: [
      ['tenantId', 'query', 'Only this tenant', guid],
      ['actor', 'query', 'Object id, app id or UPN of the actor'],
      ['action', 'query', 'Only this action, e.g. tenant.delete or blob.read'],
      ['from', 'query', 'At or after (ISO 8601)', { type: 'string', format: 'date-time' }],
      ['to', 'query', 'At or before (ISO 8601)', { type: 'string', format: 'date-time' }],
      ...paging,
    ],
    ok: ['200', 'A page of audit records'],
  },
  {
    route: 'console/{path}',
    method: 'get',
    operationId: 'console',
    summary:
      'The operator console: the page needs sign-in (a browser without a session is sent to sign in); `assets/…` are public',
    role: 'authenticated',
    params: [['path', 'path', 'View or asset path (may contain slashes)']],
    ok: ['200', 'The console', 'text/html'],
  },
  {
    route: 'openapi.json',
    method: 'get',
    operationId: 'openapi',
    summary: 'This document',
    role: 'authenticated',
    ok: ['200', 'OpenAPI 3.1'],
  },
];

function parameter([name, where, description, schema]: Param): object {
  return { name, in: where, required: where === 'path', description, schema: schema ?? { type: 'string' } };
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const path = `/api/${op.route}`;
    const [status, description, contentType] = op.ok;
    paths[path] ??= {};
    paths[path][op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      description: [
        op.role === 'authenticated'
          ? 'Any signed-in caller.'
          : op.role === 'Fleet.Read'
            ? 'Needs the app role Fleet.Read (Fleet.Admin implies it).'
            : `Needs the app role ${op.role}${op.role === 'Fleet.CustomerData.Read' ? ' (Fleet.Admin does not imply it)' : ''}.`,
        ...(op.audited ? ['Audited: recorded before it runs.'] : []),
      ].join(' '),
      'x-required-role': op.role,
      ...(op.audited ? { 'x-audited': true } : {}),
      ...(op.params?.length ? { parameters: op.params.map(parameter) } : {}),
      ...(op.body
        ? {
            requestBody: {
              required: op.body !== 'StartRun',
              content:
                op.body === 'bytes'
                  ? {
                      'application/octet-stream': {
                        schema: { type: 'string', contentMediaType: 'application/octet-stream' },
                      },
                    }
                  : { 'application/json': { schema: { $ref: `#/components/schemas/${op.body}` } } },
            },
          }
        : {}),
      responses: {
        [status]: {
          description,
          ...(status === '204'
            ? {}
            : {
                content: {
                  [contentType ?? 'application/json']: {
                    schema:
                      contentType && contentType !== 'application/json'
                        ? { type: 'string' }
                        : { type: 'object' },
                  },
                },
              }),
        },
        ...(op.route.startsWith('console')
          ? { '302': { description: 'A browser without a session: sent to /.auth/login/aad' } }
          : {}),
        '400': error,
        '401': error,
        ...(op.role !== 'authenticated' ? { '403': error } : {}),
        ...(op.params?.some(([, where]) => where === 'path') ? { '404': error } : {}),
        ...(op.method !== 'get' ? { '409': error } : {}),
        ...(op.precondition
          ? { '412': { ...error, description: 'Precondition failed: the ETag is stale' } }
          : {}),
        ...(op.body
          ? { '413': { ...error, description: 'The body is larger than the operation accepts' } }
          : {}),
        ...(op.precondition === 'required'
          ? { '428': { ...error, description: 'Precondition required: send the header the operation names' } }
          : {}),
        '503': {
          ...error,
          description: op.audited
            ? 'The signing keys or the audit log are unavailable: nothing was done; retry later'
            : 'The signing keys are unavailable; retry later',
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tenant Fleet API',
      version: '0.1.0',
      description:
        'Secretless cross-tenant automation for service providers. Callers present an Entra ID access token for the API app (validated by the app itself), or come through App Service Authentication; the app checks app roles: Fleet.Read, Fleet.CustomerData.Read, Fleet.Admin. Without a valid credential: 401; without the role: 403. Changes and reads of customer data are audited (GET /api/audit).',
    },
    servers: [{ url: '/' }],
    security: [{ entra: [] }],
    paths,
    components: {
      securitySchemes: {
        entra: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'An Entra ID access token for the API app (or, through App Service Authentication, its session)',
        },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                field: { type: 'string' },
                fix: { type: 'string' },
                owner: { type: 'string' },
                retryable: { type: 'boolean' },
              },
            },
          },
        },
        NewTenant: {
          type: 'object',
          required: ['tenantId', 'displayName'],
          additionalProperties: false,
          properties: {
            tenantId: guid,
            displayName: { type: 'string', maxLength: 256 },
            enabled: { type: 'boolean', default: true },
            tags: { type: 'array', items: { type: 'string' }, maxItems: 50 },
            subscriptions: { $ref: '#/components/schemas/SubscriptionScope' },
            cloud: {
              type: 'string',
              enum: ['AzurePublicCloud', 'AzureUSGovernment', 'AzureChinaCloud', 'Sandbox'],
            },
          },
        },
        TenantPatch: {
          type: 'object',
          additionalProperties: false,
          properties: {
            displayName: { type: 'string', maxLength: 256 },
            enabled: { type: 'boolean' },
            reason: { type: 'string', description: 'Required when disabling', maxLength: 1024 },
            tags: { type: 'array', items: { type: 'string' } },
            subscriptions: { $ref: '#/components/schemas/SubscriptionScope' },
          },
        },
        SubscriptionScope: {
          type: 'object',
          additionalProperties: false,
          properties: {
            mode: { type: 'string', enum: ['all', 'list'] },
            include: { type: 'array', items: guid, maxItems: 400 },
            exclude: { type: 'array', items: guid, maxItems: 400 },
          },
        },
        StartRun: {
          type: 'object',
          additionalProperties: false,
          properties: { tenantIds: { type: 'array', items: guid, minItems: 1, maxItems: 1000 } },
        },
      },
    },
  };
}

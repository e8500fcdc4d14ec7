/** GET /api/openapi.json: the API described (OpenAPI 3.1), for any signed-in caller. */
import { openApiDocument } from './openapi-document.js';
import { httpRoute } from './shared/routes.js';
import { handle, json } from './shared/http.js';

export const openapi = handle(null, () =>
  Promise.resolve(json(200, openApiDocument(), { 'cache-control': 'no-cache' })),
);

httpRoute('openapi', { route: 'openapi.json', methods: ['GET'], handler: openapi });

/** GET /api/me: who the API takes the caller to be, and its roles (the console shows only allowed actions). */
import { httpRoute } from './shared/routes.js';
import { handle, json } from './shared/http.js';

export const me = handle(null, (_request, { caller }) =>
  Promise.resolve(json(200, { name: caller.name, objectId: caller.objectId ?? null, roles: caller.roles })),
);

httpRoute('me', { route: 'me', methods: ['GET'], handler: me });

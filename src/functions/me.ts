/** GET /api/me: the caller's name, object id and app roles (the console decides which actions to show). */
import { httpRoute } from './shared/routes.js';
import { handleSignedIn, json } from './shared/http.js';

export const me = handleSignedIn((_request, principal) => json(200, principal));

httpRoute('me', { route: 'me', methods: ['GET'], handler: me });

/** GET /api/me: the caller's name, object id and app roles (the console decides which actions to show). */
import { principalOf } from './shared/auth.js';
import { httpRoute } from './shared/routes.js';
import { errorResponse, json } from './shared/http.js';
import { getRuntime } from '../core/runtime.js';
import type { HttpRequest, InvocationContext } from '@azure/functions';

/** Any authenticated caller may ask who they are: no role is required. */
export async function me(request: HttpRequest, context: InvocationContext) {
  try {
    return Promise.resolve(json(200, principalOf(request, getRuntime().config.httpAuth)));
  } catch (error) {
    return Promise.resolve(errorResponse(error, context));
  }
}

httpRoute('me', { route: 'me', methods: ['GET'], handler: me });

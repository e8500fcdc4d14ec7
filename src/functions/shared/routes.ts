/**
 * Every HTTP function registers through `httpRoute`, which records it before handing it to the host.
 * The record is the app's own list of routes: the auth matrix and the OpenAPI check read it, so a new
 * route cannot be forgotten by either.
 */
import { app, type HttpHandler, type HttpMethod } from '@azure/functions';

export interface HttpRouteRecord {
  /** The function's name (unique in the app). */
  readonly name: string;
  /** The route below `/api`, in the host's template syntax (`tenants/{tenantId}`). */
  readonly route: string;
  readonly methods: readonly HttpMethod[];
  readonly handler: HttpHandler;
}

// Exports stream their rows as they are read (fleetExport.ts, runSnapshot.ts): the host must not buffer them.
app.setup({ enableHttpStream: true });

const registered: HttpRouteRecord[] = [];

/** The HTTP routes registered so far (import the function modules first). */
export function httpRoutes(): readonly HttpRouteRecord[] {
  return registered;
}

/**
 * Registers an HTTP function. Functions-level keys are not used (`authLevel: 'anonymous'`): callers are
 * authenticated by the app itself in `handle` (shared/http.ts), whatever sits in front of it.
 */
export function httpRoute(
  name: string,
  options: { route: string; methods: HttpMethod[]; handler: HttpHandler },
): void {
  if (registered.some((record) => record.name === name))
    throw new Error(`HTTP function ${name} is registered twice`);
  registered.push({ name, route: options.route, methods: options.methods, handler: options.handler });
  app.http(name, {
    route: options.route,
    methods: options.methods,
    authLevel: 'anonymous',
    handler: options.handler,
  });
}

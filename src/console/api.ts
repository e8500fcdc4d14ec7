/**
 * The console's only way to the server: the app's own API, same origin, with the operator's session
 * cookie (App Service Authentication) or nothing (local serve mode). A 401 sends the browser to sign in.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fix?: string,
  ) {
    super(message);
  }
}

export function signIn(): void {
  const back = `${location.pathname}${location.search}`;
  location.assign(`/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(back)}`);
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<T> {
  const response = await fetch(`/api/${path}`, {
    method: init.method ?? 'GET',
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string; fix?: string } } | undefined)?.error;
    if (response.status === 401) signIn();
    throw new ApiError(
      response.status,
      error?.code ?? String(response.status),
      error?.message ?? response.statusText,
      error?.fix,
    );
  }
  return body as T;
}

/** Query string of the non-empty values. */
export function query(values: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}

export interface Me {
  name: string;
  objectId: string;
  roles: string[];
}

export const canAdmin = (me: Me | undefined): boolean => !!me?.roles.includes('Fleet.Admin');
/** Fleet.Admin does not imply it (docs/trust.md): an admin without the role would only get 403s. */
export const canReadCustomerData = (me: Me | undefined): boolean =>
  !!me?.roles.includes('Fleet.CustomerData.Read');

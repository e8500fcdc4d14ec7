/**
 * Validation of identifiers that reach URLs or storage keys. Anything from a caller, the registry or a
 * queue message passes through here before it is used.
 */
import { InputError } from './errors.js';

export const GUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID_PATTERN.test(value);
}

/** A tenant id: a GUID, returned lower-cased (Entra ids are case-insensitive; keys must not be). */
export function parseTenantId(value: unknown, field = 'tenantId'): string {
  if (!isGuid(value))
    throw new InputError(field, 'must be a tenant id (GUID), e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47');
  return value.toLowerCase();
}

export function parseSubscriptionId(value: unknown, field = 'subscriptionId'): string {
  if (!isGuid(value)) throw new InputError(field, 'must be a subscription id (GUID)');
  return value.toLowerCase();
}

const STORAGE_ACCOUNT_PATTERN = /^[a-z0-9]{3,24}$/;
const CONTAINER_PATTERN = /^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$/;

export function parseStorageAccountName(value: unknown, field = 'account'): string {
  if (typeof value !== 'string' || !STORAGE_ACCOUNT_PATTERN.test(value)) {
    throw new InputError(field, 'must be a storage account name: 3-24 lowercase letters and digits');
  }
  return value;
}

export function parseContainerName(value: unknown, field = 'container'): string {
  if (typeof value !== 'string' || !CONTAINER_PATTERN.test(value)) {
    throw new InputError(
      field,
      'must be a container name: 3-63 lowercase letters, digits and single hyphens',
    );
  }
  return value;
}

/** Blob names: 1-1024 characters, no control characters, not ending in a dot or slash. */
export function parseBlobName(value: unknown, field = 'blob'): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > 1024 ||
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f]/.test(value) ||
    // Some clients and the storage front end turn `\` into `/`: the name would not be the blob meant.
    value.includes('\\') ||
    /[./\\]$/.test(value) ||
    // A "." or ".." segment is resolved by the URL parser: `invoices` + `../exports/x` reads exports/x.
    /(^|\/)\.\.?(\/|$)/.test(value)
  ) {
    throw new InputError(
      field,
      'must be a blob name of 1-1024 characters without control characters, backslashes, "." or ".." segments, or a trailing dot or slash',
    );
  }
  return value;
}

/**
 * Entity group transactions (`$batch`) for the inventory's batch writer, with the body built here and
 * the request sent through the TableClient's own pipeline (its authentication, retry and logging
 * policies, exactly as the SDK sends its own transactions).
 *
 * Why not `TableClient.submitTransaction`: @azure/data-tables assembles a transaction by running every
 * operation through a whole client pipeline of its own (URL templating, mappers, a tracing span, a
 * request id, headers) on a new TableClient per transaction, only to capture the request text. That was
 * the largest part of the fleet's CPU in the benchmark's first sweep (docs/performance.md). Built
 * directly, a row costs a JSON.stringify.
 *
 * Risk, and why it is contained: the body is the documented OData multipart format ("Performing entity
 * group transactions", Table service REST API, version 2019-02-02 as the SDK sends); this module writes
 * only what the inventory writes (Replace and Merge upserts and unconditional deletes of flat entities whose
 * values are strings, numbers, booleans, binary or dates) and refuses anything else. A failed operation
 * fails the whole transaction with the status and error code the service gave it, as a RestError, as
 * the SDK does.
 */
import { randomUUID } from 'node:crypto';
import { RestError, type TableClient, type TableEntity } from '@azure/data-tables';
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
} from '@azure/core-rest-pipeline';

/**
 * `upsert` replaces the whole row (or inserts it); `merge` sets only the properties it names, keeping the
 * others (or inserts the row); `delete` removes the row.
 */
export type BatchAction =
  ['upsert', TableEntity] | ['merge', TableEntity] | ['delete', { partitionKey: string; rowKey: string }];

const CRLF = '\r\n';
/** The Table REST API version the SDK's own transactions use. */
const TABLE_API_VERSION = '2019-02-02';
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** One HTTP client (one keep-alive pool) for every transaction of the process. */
let sharedHttpClient: HttpClient | undefined;

/** The table service's URL (the account's), without a trailing slash. */
function serviceUrl(table: Pick<TableClient, 'url'>): string {
  return table.url.replace(/\/+$/, '');
}

/** An OData entity key in a URL: quotes doubled, then percent-encoded (as the SDK does). */
function keyInUrl(value: string): string {
  return encodeURIComponent(value.includes("'") ? value.replaceAll("'", "''") : value);
}

/** A value the Table service takes without a type annotation: a string, a boolean, an Int32. */
function plainValue(value: unknown): boolean {
  return (
    value === undefined ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX)
  );
}

/**
 * An entity whose keys come first and whose values need no annotation (every inventory and change
 * row): one JSON.stringify of the entity itself, the two keys renamed in its text. The same text as
 * the general way, without an intermediate object per row.
 */
function plainEntityJson(entity: TableEntity): string | undefined {
  const names = Object.keys(entity);
  const keysFirst = names[0] === 'partitionKey' && names[1] === 'rowKey';
  if (!keysFirst || typeof entity.partitionKey !== 'string' || typeof entity.rowKey !== 'string')
    return undefined;
  for (let i = 2; i < names.length; i++) {
    const name = names[i]!;
    if (name === 'PartitionKey' || name === 'RowKey' || !plainValue(entity[name])) return undefined;
  }
  const text = JSON.stringify(entity);
  const partitionKey = JSON.stringify(entity.partitionKey);
  // text is {"partitionKey":<partitionKey>,"rowKey":<the rest>
  const rest = text.slice('{"partitionKey":'.length + partitionKey.length + ',"rowKey":'.length);
  return `{"PartitionKey":${partitionKey},"RowKey":${rest}`;
}

/** A flat entity as the Table service's JSON, with the type annotations OData needs. */
export function entityJson(entity: TableEntity): string {
  const plain = plainEntityJson(entity);
  if (plain !== undefined) return plain;
  const body: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(entity)) {
    if (value === undefined) continue;
    const property = name === 'partitionKey' ? 'PartitionKey' : name === 'rowKey' ? 'RowKey' : name;
    if (typeof value === 'string' || typeof value === 'boolean') {
      body[property] = value;
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new TypeError(`property ${name}: ${value} cannot be stored`);
      body[property] = value;
      // Integers in range are Int32 without an annotation; anything else must say it is a Double.
      if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX)
        body[`${property}@odata.type`] = 'Edm.Double';
    } else if (value instanceof Uint8Array) {
      body[property] = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      body[`${property}@odata.type`] = 'Edm.Binary';
    } else if (value instanceof Date) {
      body[property] = value.toISOString();
      body[`${property}@odata.type`] = 'Edm.DateTime';
    } else if (typeof value === 'bigint') {
      body[property] = value.toString();
      body[`${property}@odata.type`] = 'Edm.Int64';
    } else {
      throw new TypeError(`property ${name}: only flat values can be written in a batch`);
    }
  }
  return JSON.stringify(body);
}

/**
 * The multipart body of one changeset holding `actions`, as bytes: each operation's request line and
 * headers as @azure/data-tables writes them (test/core/storage/table-transaction-service.test.ts compares
 * the two part by part).
 *
 * Why bytes and not a string: the HTTP client measures a string body by encoding it whole (its
 * Content-Length), then encodes it again to send it; a transaction of 100 rows is 100+ KB, and these
 * copies were the largest share of a first sweep's garbage (docs/performance.md). The pieces are joined
 * once and encoded once: writing each piece into the buffer on its own allocates less, but its two
 * native calls per piece (measure, write) cost more CPU than the joined string's copy (195 against 320
 * us for 100 rows).
 */
export function transactionBody(
  table: Pick<TableClient, 'url' | 'tableName'>,
  actions: readonly BatchAction[],
  ids: { batch: string; changeset: string },
): Buffer {
  const pieces: string[] = [
    `--batch_${ids.batch}${CRLF}Content-Type: multipart/mixed; boundary=changeset_${ids.changeset}${CRLF}`,
  ];
  const base = `${serviceUrl(table)}/${table.tableName}`;
  const head = `${CRLF}--changeset_${ids.changeset}${CRLF}Content-Type: application/http${CRLF}Content-Transfer-Encoding: binary${CRLF}${CRLF}`;
  // The pieces each operation shares with the one before (a transaction is one partition): built once.
  let partitionKey: string | undefined;
  let keyPrefix = '';
  for (const [kind, entity] of actions) {
    if (entity.partitionKey !== partitionKey) {
      partitionKey = entity.partitionKey;
      keyPrefix = `${base}(PartitionKey='${keyInUrl(partitionKey)}',RowKey='`;
    }
    const method = kind === 'upsert' ? 'PUT ' : kind === 'merge' ? 'PATCH ' : 'DELETE ';
    pieces.push(head, method, keyPrefix, keyInUrl(entity.rowKey));
    if (kind === 'upsert' || kind === 'merge') {
      // As the SDK sends upsertEntity: PUT to replace, PATCH (without If-Match: insert or merge) to merge.
      pieces.push(UPSERT_HEADERS, entityJson(entity));
    } else {
      pieces.push(DELETE_HEADERS);
    }
  }
  pieces.push(`${CRLF}--changeset_${ids.changeset}--${CRLF}--batch_${ids.batch}--${CRLF}`);
  return Buffer.from(pieces.join(''));
}

/** What follows an upsert's or a merge's row key: the rest of its request line and its headers. */
const UPSERT_HEADERS = `') HTTP/1.1${CRLF}Content-Type: application/json${CRLF}DataServiceVersion: 3.0${CRLF}Accept: application/json${CRLF}${CRLF}`;
/** What follows a delete's row key. */
const DELETE_HEADERS = `') HTTP/1.1${CRLF}Accept: application/json;odata=minimalmetadata${CRLF}DataServiceVersion: 3.0${CRLF}If-Match: *${CRLF}`;

/** The service's error in a response body: `odata.error` (JSON), its code and message, if present. */
function serviceError(text: string | undefined): { code?: string; message?: string } | undefined {
  const json = text ? /\{[\s\S]*\}/.exec(text)?.[0] : undefined;
  if (!json) return undefined;
  try {
    const parsed = JSON.parse(json) as { 'odata.error'?: { code?: unknown; message?: { value?: unknown } } };
    const error = parsed['odata.error'];
    if (!error) return undefined;
    return {
      ...(typeof error.code === 'string' ? { code: error.code } : {}),
      ...(typeof error.message?.value === 'string' ? { message: error.message.value } : {}),
    };
  } catch {
    return undefined; // not JSON: the status says enough
  }
}

/**
 * The first failed operation of a transaction response, if any (the service stops at it), with the
 * service's error code (`PropertyValueTooLarge`, `ResourceNotFound`, ...): from `odata.error` in its
 * body, else from its `x-ms-error-code` header.
 */
export function failedOperation(
  body: string,
): { status: number; message: string; code?: string } | undefined {
  for (const match of body.matchAll(/^HTTP\/1\.1 (\d{3})[^\r\n]*$/gm)) {
    const status = Number(match[1]);
    if (status < 400) continue;
    const rest = body.slice(match.index);
    const error = serviceError(rest);
    const code = error?.code ?? /^x-ms-error-code:\s*(\S+)\s*$/im.exec(rest)?.[1];
    const message = error
      ? `${code ?? status}: ${error.message ?? ''}`.trim()
      : `operation failed with status ${status}`;
    return { status, message, ...(code ? { code } : {}) };
  }
  return undefined;
}

/**
 * The ETag of every operation of a successful transaction response, in the order of the operations
 * (the service answers them in order; a delete's answer has none: '').
 */
export function operationEtags(body: string): string[] {
  const etags: string[] = [];
  const parts = body.split(/^HTTP\/1\.1 \d{3}[^\r\n]*$/m).slice(1);
  for (const part of parts) etags.push(/^ETag:\s*(.+?)\s*$/im.exec(part)?.[1] ?? '');
  return etags;
}

/**
 * Submits `actions` (at most 100, one partition) as one entity group transaction; with `etags`, returns
 * each operation's ETag (operationEtags), else nothing is parsed and the list is empty. Throws a
 * RestError with the failing operation's status (e.g. 404 for a delete whose row is gone) when the
 * service refused it: then nothing of the transaction was written.
 */
export async function submitBatch(
  table: TableClient,
  actions: readonly BatchAction[],
  options: { etags?: boolean } = {},
): Promise<string[]> {
  const ids = { batch: randomUUID(), changeset: randomUUID() };
  const url = `${serviceUrl(table)}/$batch`;
  const request = createPipelineRequest({
    url,
    method: 'POST',
    body: transactionBody(table, actions, ids),
    headers: createHttpHeaders({
      accept: 'application/json',
      'x-ms-version': TABLE_API_VERSION,
      DataServiceVersion: '3.0;',
      MaxDataServiceVersion: '3.0;NetFx',
      'Content-Type': `multipart/mixed; boundary=batch_${ids.batch}`,
    }),
    // Plain HTTP only where the client itself was built for it (the local emulator's connection string).
    allowInsecureConnection: new URL(url).protocol === 'http:',
  });
  sharedHttpClient ??= createDefaultHttpClient();
  const response = await table.pipeline.sendRequest(sharedHttpClient, request);
  const text = response.bodyAsText ?? '';
  if (response.status < 200 || response.status >= 300) {
    // The service's code (as the SDK reports it, RestError.code) lets diagnosis name the cause.
    const error = serviceError(text);
    const code = response.headers.get('x-ms-error-code') ?? error?.code;
    throw new RestError(
      `transaction refused with status ${response.status}${code ? `: ${code}` : ''}${error?.message ? `: ${error.message}` : ''}`,
      { statusCode: response.status, request, response, ...(code ? { code } : {}) },
    );
  }
  const failed = failedOperation(text);
  if (failed)
    throw new RestError(failed.message, {
      statusCode: failed.status,
      request,
      response,
      ...(failed.code ? { code: failed.code } : {}),
    });
  return options.etags ? operationEtags(text) : [];
}

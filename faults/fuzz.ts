/**
 * A seeded HTTP fuzzer over every registered route (httpRoutes(), so a new route is fuzzed without
 * a change here). Each request is malformed in one or more ways: bad JSON, wrong types, huge and
 * deeply nested bodies, path traversal and control characters in names, OData-looking strings,
 * invalid and edge-case GUIDs, unicode normalisation tricks, wrong methods and content types,
 * oversized headers and continuation tokens. Mutating requests never name a registered tenant, so a
 * well-formed-by-chance request cannot legitimately change what the suite compares afterwards.
 */
import type { HttpMethod } from '@azure/functions';
import type { HttpRouteRecord } from '../src/functions/shared/routes.js';
import { invoke, type Answer, type Invocation } from './invoke.js';

export interface FuzzTargets {
  /** Registered tenants (read-only requests may name them). */
  tenantIds: string[];
  accounts: string[];
  containers: string[];
  runIds: string[];
}

export interface FuzzResult {
  requests: number;
  byStatus: Record<string, number>;
  /** Requests answered with a 5xx: what was sent and the answer's start. */
  serverErrors: Array<{ route: string; method: string; status: number; request: string; answer: string }>;
  hangs: Array<{ route: string; method: string; request: string }>;
  /** Every answer body and log line (for the secrets scan), capped. */
  transcript: string[];
}

/** mulberry32: small, fast and reproducible from one seed. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODATA = [
  "' or 1 eq 1 or PartitionKey eq '",
  "x' or RowKey ne '",
  '$filter=PartitionKey ne null',
  "PartitionKey eq 'tenants'",
  "') or true or ('",
  '$top=999999&$skip=-1',
  '%27%20or%20%271%27%20eq%20%271',
];
const TRAVERSAL = [
  '../../etc/passwd',
  '..%2f..%2fsecret',
  '..\\..\\windows',
  '/',
  '//',
  '.',
  '..',
  '%2e%2e/',
];
const CONTROL = ['\u0000', '\r\nX-Injected: 1', '\u001b[31m', '\t', '\u007f', '\u2028', '\ufeff'];
const UNICODE = [
  'caf\u00e9',
  'cafe\u0301',
  '\u212a', // Kelvin sign, normalises to K
  '\uff41\uff42\uff43', // full-width abc
  '\u0130',
  '\ud800', // lone surrogate
  '\u202e' + 'gnp.exe',
  'e\u0300\u0301\u0302\u0303'.repeat(20),
  '\ud83d\ude00',
];
const GUIDS = [
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  '{72f988bf-86f1-41af-91ab-2d7cd011db47}',
  '72f988bf86f141af91ab2d7cd011db47',
  '72f988bf-86f1-41af-91ab-2d7cd011db4',
  '72f988bf-86f1-41af-91ab-2d7cd011db477',
  '72f988bg-86f1-41af-91ab-2d7cd011db47',
  ' 72f988bf-86f1-41af-91ab-2d7cd011db47',
  '72f988bf-86f1-41af-91ab-2d7cd011db47\n',
  '72f988bf\u201086f1-41af-91ab-2d7cd011db47', // unicode hyphen
  '\uff17\uff12f988bf-86f1-41af-91ab-2d7cd011db47', // full-width digits
  '12345678-1234-1234-1234-123456789abc',
];
const SCALARS: unknown[] = [null, true, false, 0, -1, 1e308, -0, 1.5, '', ' ', [], {}, [null], 'true', '1'];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function nested(depth: number, array: boolean): string {
  return array ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** A name-like value that is wrong in some way. */
function badName(random: () => number, size: number): string {
  switch (Math.floor(random() * 9)) {
    case 0:
      return pick(random, TRAVERSAL);
    case 1:
      return `name${pick(random, CONTROL)}x`;
    case 2:
      return pick(random, ODATA);
    case 3:
      return pick(random, UNICODE);
    case 4:
      return pick(random, GUIDS);
    case 5:
      return 'a'.repeat(Math.floor(random() * size) + 1);
    case 6:
      return `${pick(random, ['', 'A', '-', 'x'])}${pick(random, ['abc', 'ABC', 'a--b', 'a_b', 'a.b', ' '])}`;
    case 7:
      return encodeURIComponent(pick(random, [...TRAVERSAL, ...CONTROL]));
    default:
      return '';
  }
}

function badBody(random: () => number, size: number, forbidEmpty: boolean): string | undefined {
  const choice = Math.floor(random() * 12);
  switch (choice) {
    case 0:
      return forbidEmpty ? '{' : undefined;
    case 1:
      return '{"tenantId": ';
    case 2: {
      // `{}` is a valid on-demand run request: the fuzzer sends only malformed ones.
      const scalar = JSON.stringify(pick(random, SCALARS)) ?? 'null';
      return forbidEmpty && scalar === '{}' ? '{"tenantIds": {}}' : scalar;
    }
    case 3:
      return nested(Math.floor(random() * 5000) + 100, random() < 0.5);
    case 4:
      return `{"displayName":"${'x'.repeat(size)}"}`;
    case 5:
      return JSON.stringify({
        tenantId: pick(random, GUIDS),
        displayName: pick(random, [...UNICODE, ...CONTROL, ...ODATA]),
        tags: pick(random, [[pick(random, ODATA)], 'tag', [1, 2], [{}], Array(300).fill('t')]),
        enabled: pick(random, SCALARS),
      });
    case 6:
      return JSON.stringify({
        tenantIds: pick(random, [[], 'x', [pick(random, GUIDS)], [1], Array(2000).fill(pick(random, GUIDS))]),
      });
    case 7:
      return '{"__proto__": {"admin": true}, "constructor": {"prototype": {"x": 1}}, "enabled": "yes"}';
    case 8:
      return '\ufeff{"a":1}';
    case 9:
      return Buffer.from([0xff, 0xfe, 0x00, 0x41, 0xc3, 0x28]).toString('latin1');
    case 10:
      return `{"a":"${'\\u0000'.repeat(50)}", "a": 2, "exclusion": {"reason": ${JSON.stringify(pick(random, UNICODE))}}}`;
    default:
      return JSON.stringify({ [pick(random, ODATA)]: pick(random, SCALARS), enabled: false, tags: null });
  }
}

// TRACE and CONNECT, CR/LF or NUL in a header value never reach a function: the host refuses them.
const METHODS: HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const CONTENT_TYPES = [
  'application/json',
  'text/plain',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'application/x-www-form-urlencoded',
  '',
  'application/json; \u00e9=\u00ff',
];

function paramNames(route: string): string[] {
  return [...route.matchAll(/\{\*?([A-Za-z]+)\}/g)].map((match) => match[1]!);
}

/** One malformed request for a route. */
export function fuzzRequest(
  random: () => number,
  route: HttpRouteRecord,
  targets: FuzzTargets,
  sizes: { name: number; body: number; header: number },
): Invocation {
  const wrongMethod = random() < 0.1;
  const method = wrongMethod ? pick(random, METHODS) : pick(random, route.methods);
  // A method the route does not list never reaches it behind the host; called in-process it is
  // treated as a write, so it never names a registered tenant either.
  const mutating = MUTATING.has(method) || !route.methods.includes(method);
  const params: Record<string, string> = {};
  for (const name of paramNames(route.route)) {
    const good = (): string => {
      switch (name) {
        case 'tenantId':
          // Mutating requests never name a registered tenant: see the module comment.
          return mutating ? pick(random, GUIDS) : pick(random, targets.tenantIds);
        case 'account':
          return pick(random, targets.accounts);
        case 'container':
          return pick(random, targets.containers);
        case 'runId':
          return pick(random, targets.runIds);
        default:
          return 'x';
      }
    };
    params[name] = random() < 0.5 ? badName(random, sizes.name) : good();
    if (name === 'tenantId' && mutating && targets.tenantIds.includes(params[name].toLowerCase()))
      params[name] = pick(random, GUIDS);
  }
  const query: Record<string, string> = {};
  for (const name of [
    'top',
    'continuationToken',
    'runId',
    'subscriptionId',
    'type',
    'prefix',
    'enabled',
    'tag',
    '$filter',
  ]) {
    if (random() < 0.3) {
      query[name] = pick(random, [
        badName(random, sizes.name),
        pick(random, ODATA),
        String(pick(random, SCALARS)),
        '-1',
        '1e3',
        '99999999999999999999',
        // Oversized and forged continuation tokens.
        Buffer.from(
          JSON.stringify({ nextPartitionKey: pick(random, ODATA), nextRowKey: 'x'.repeat(sizes.name) }),
        ).toString('base64url'),
        'A'.repeat(sizes.header),
      ]);
    }
  }
  const headers: Record<string, string> = {};
  if (random() < 0.5) headers['content-type'] = pick(random, CONTENT_TYPES);
  if (random() < 0.2)
    headers['if-match'] = pick(random, [
      '*',
      'W/"x"',
      '"',
      'W/"' + 'x'.repeat(sizes.header) + '"',
      pick(random, ODATA),
    ]);
  if (random() < 0.1) headers['x-oversized'] = 'h'.repeat(sizes.header);
  if (random() < 0.05)
    headers['x-ms-client-principal'] = pick(random, [
      'not-base64!',
      'e30=',
      'W10=',
      'x'.repeat(sizes.header),
    ]);
  const body =
    method === 'GET' || method === 'HEAD'
      ? random() < 0.1
        ? badBody(random, sizes.body, false)
        : undefined
      : badBody(random, sizes.body, route.name === 'runs');
  return { method, params, query, headers, ...(body !== undefined ? { body } : {}) };
}

function describe(call: Invocation): string {
  const text = JSON.stringify({ ...call, body: call.body?.slice(0, 200) });
  return text.length > 600 ? `${text.slice(0, 600)}...` : text;
}

export async function fuzz(
  routes: readonly HttpRouteRecord[],
  targets: FuzzTargets,
  options: {
    seed: number;
    requests: number;
    timeoutMs: number;
    concurrency: number;
    onProgress?: (done: number) => void;
  },
): Promise<FuzzResult> {
  const random = seeded(options.seed);
  const result: FuzzResult = { requests: 0, byStatus: {}, serverErrors: [], hangs: [], transcript: [] };
  const sizes = { name: 2048, body: 300 * 1024, header: 16 * 1024 };
  const calls: Array<{ route: HttpRouteRecord; call: Invocation }> = [];
  for (let index = 0; index < options.requests; index++) {
    const route = routes[index % routes.length]!;
    calls.push({ route, call: fuzzRequest(random, route, targets, sizes) });
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < calls.length) {
      const { route, call } = calls[next++]!;
      let timer: NodeJS.Timeout | undefined;
      const hang = new Promise<'hang'>(
        (resolve) => (timer = setTimeout(() => resolve('hang'), options.timeoutMs)),
      );
      let answer: Answer | 'hang';
      try {
        answer = await Promise.race([invoke(route.handler, call), hang]);
      } catch (error) {
        answer = { status: 599, text: `the handler threw: ${String(error)}`, logs: [] };
      } finally {
        clearTimeout(timer);
      }
      result.requests++;
      options.onProgress?.(result.requests);
      if (answer === 'hang') {
        result.hangs.push({ route: route.name, method: call.method, request: describe(call) });
        continue;
      }
      result.byStatus[answer.status] = (result.byStatus[answer.status] ?? 0) + 1;
      if (answer.status >= 500)
        result.serverErrors.push({
          route: route.name,
          method: call.method,
          status: answer.status,
          request: describe(call),
          answer: answer.text.slice(0, 300),
        });
      if (result.transcript.length < 50_000)
        result.transcript.push(answer.text.slice(0, 4096), ...answer.logs);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return result;
}

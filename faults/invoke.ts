/**
 * Calls an HTTP function in-process as the Functions host would: a real HttpRequest and
 * InvocationContext in, the handler's answer serialised through a real HttpResponse out.
 */
import { randomUUID } from 'node:crypto';
// @azure/functions is CommonJS: under ESM its classes are reachable only through the default export.
import azureFunctions, { type HttpHandler } from '@azure/functions';

export interface Invocation {
  method: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: string;
}

export interface Answer {
  status: number;
  text: string;
  logs: string[];
}

export async function invoke(handler: HttpHandler, call: Invocation): Promise<Answer> {
  const url = new URL('http://127.0.0.1:7071/api/fuzz');
  for (const [name, value] of Object.entries(call.query)) url.searchParams.set(name, value);
  const request = new azureFunctions.HttpRequest({
    method: call.method,
    url: url.toString(),
    headers: call.headers,
    query: call.query,
    params: call.params,
    ...(call.body !== undefined ? { body: { string: call.body } } : {}),
  });
  const logs: string[] = [];
  const context = new azureFunctions.InvocationContext({
    invocationId: randomUUID(),
    functionName: 'faults',
    logHandler: (level, ...args) => logs.push(`${level}: ${args.map(String).join(' ')}`),
  });
  const init = await handler(request, context);
  const response = new azureFunctions.HttpResponse(init);
  const text = Buffer.from(await response.arrayBuffer()).toString('utf8');
  return { status: response.status, text, logs };
}

/**
 * A sweep's captured storage requests in a file (the CPU floor's process reads them; they are too
 * large for its environment): per request a length-prefixed JSON head and a length-prefixed body.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { CapturedRequest } from './storage-proxy.js';

export async function writeCapture(path: string, requests: readonly CapturedRequest[]): Promise<void> {
  const parts: Buffer[] = [];
  for (const { body, ...head } of requests) {
    const json = Buffer.from(JSON.stringify(head), 'utf8');
    const lengths = Buffer.alloc(8);
    lengths.writeUInt32LE(json.length, 0);
    lengths.writeUInt32LE(body.length, 4);
    parts.push(lengths, json, body);
  }
  await writeFile(path, Buffer.concat(parts));
}

/** The requests of a capture file; bodies are views of one buffer (outside the JavaScript heap). */
export async function readCapture(path: string): Promise<CapturedRequest[]> {
  const data = await readFile(path);
  const requests: CapturedRequest[] = [];
  let offset = 0;
  while (offset < data.length) {
    const headLength = data.readUInt32LE(offset);
    const bodyLength = data.readUInt32LE(offset + 4);
    offset += 8;
    const head = JSON.parse(data.toString('utf8', offset, offset + headLength)) as Omit<
      CapturedRequest,
      'body'
    >;
    offset += headLength;
    requests.push({ ...head, body: data.subarray(offset, offset + bodyLength) });
    offset += bodyLength;
  }
  return requests;
}

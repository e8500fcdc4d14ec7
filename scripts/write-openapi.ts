/** `npm run openapi`: writes docs/openapi.json from the app's own description (src/functions/openapi-document.ts). */
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../src/functions/openapi-document.js';

const path = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'openapi.json');
await writeFile(path, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
console.log(`wrote ${path}`);

/**
 * One Azurite (the provider's storage) for the whole test run; each test file isolates itself with its
 * own table/queue/container prefix (TENANT_FLEET_STORAGE_PREFIX). Sandboxes are per file.
 */
import type { TestProject } from 'vitest/node';
import { startAzurite, type AzuriteHandle } from '../sandbox/azurite.js';

let azurite: AzuriteHandle | undefined;

export async function setup(project: TestProject): Promise<void> {
  azurite = await startAzurite();
  project.provide('providerStorage', azurite.connectionString);
}

export async function teardown(): Promise<void> {
  await azurite?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    providerStorage: string;
  }
}

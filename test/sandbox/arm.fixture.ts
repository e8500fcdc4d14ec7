/**
 * Shared set-up of the sandbox ARM tests: an ARM server on its own (no identity side needed), a
 * TokenCredential that mints ARM tokens with the sandbox's keys exactly as its Entra would (v1
 * claims), and a raw HTTPS helper for checking headers and bodies the SDK hides.
 */
import { request as httpsRequest, createServer } from 'node:https';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import {
  createArmHandler,
  DEFAULT_ARM_SETTINGS,
  mergeArmSettings,
  type ArmSettings,
  type ArmSettingsPatch,
} from '../../sandbox/arm.js';
import { RequestCounters } from '../../sandbox/counters.js';
import { close, listen } from '../../sandbox/http.js';
import { KeyStore } from '../../sandbox/keys.js';
import { WorldStore } from '../../sandbox/state.js';
import { createSandboxTls } from '../../sandbox/tls.js';
import type { WorldInput } from '../../sandbox/world.js';

export interface ArmFixture {
  endpoint: string;
  caCertPem: string;
  store: WorldStore;
  keys: KeyStore;
  counters: RequestCounters;
  settings(): ArmSettings;
  setSettings(patch: ArmSettingsPatch): void;
  close(): Promise<void>;
}

export async function startArm(world: WorldInput, patch: ArmSettingsPatch = {}): Promise<ArmFixture> {
  const store = new WorldStore(world);
  const keys = new KeyStore();
  const counters = new RequestCounters();
  const tls = await createSandboxTls();
  await keys.warm(store.world.tenants.map((t) => t.id));
  let settings = mergeArmSettings(DEFAULT_ARM_SETTINGS, patch);
  let endpoint = '';
  const server = createServer(
    { cert: tls.certPem, key: tls.keyPem },
    createArmHandler({ store, keys, counters, settings: () => settings, armEndpoint: () => endpoint }),
  );
  endpoint = `https://127.0.0.1:${await listen(server)}`;
  return {
    endpoint,
    caCertPem: tls.certPem,
    store,
    keys,
    counters,
    settings: () => settings,
    setSettings: (p) => {
      settings = mergeArmSettings(settings, p);
    },
    close: () => close(server),
  };
}

export interface MintOptions {
  tenantId: string;
  objectId: string;
  appId?: string;
  audience?: string;
  lifetimeSeconds?: number;
}

/** Claims of an Entra v1 app-only token for ARM (seed 003). */
export function armClaims(options: MintOptions): Record<string, string> {
  return {
    aud: options.audience ?? 'https://management.azure.com',
    iss: `https://sts.windows.net/${options.tenantId}/`,
    tid: options.tenantId,
    oid: options.objectId,
    sub: options.objectId,
    appid: options.appId ?? '00000000-0000-0000-0000-000000000001',
    idtyp: 'app',
    ver: '1.0',
  };
}

/** A TokenCredential minting tokens with the sandbox keys; records the scopes the SDK asked for. */
export class MintingCredential implements TokenCredential {
  readonly scopesRequested: string[][] = [];
  constructor(
    private readonly keys: KeyStore,
    private readonly options: MintOptions,
  ) {}

  async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    this.scopesRequested.push(Array.isArray(scopes) ? [...scopes] : [scopes]);
    const lifetime = this.options.lifetimeSeconds ?? 3600;
    const token = await this.keys.sign(this.options.tenantId, armClaims(this.options), lifetime);
    return { token, expiresOnTimestamp: Date.now() + lifetime * 1000 };
  }
}

/** A pipeline policy (placed after the retry policies) recording the status of every attempt. */
export function statusRecorder(): { policy: PipelinePolicy; statuses: number[]; errors: string[] } {
  const statuses: number[] = [];
  const errors: string[] = [];
  return {
    statuses,
    errors,
    policy: {
      name: 'statusRecorder',
      async sendRequest(request, next) {
        try {
          const response = await next(request);
          statuses.push(response.status);
          return response;
        } catch (error) {
          errors.push((error as { code?: string }).code ?? (error as Error).message);
          throw error;
        }
      },
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { error?: { code: string; message: string }; value?: unknown[]; nextLink?: string } & Record<
    string,
    unknown
  >;
}

/** A plain HTTPS GET trusting the sandbox certificate, for what the SDK does not expose. */
export function rawGet(
  fixture: Pick<ArmFixture, 'endpoint' | 'caCertPem'>,
  path: string,
  token?: string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, fixture.endpoint);
    const req = httpsRequest(
      url,
      { method: 'GET', ca: fixture.caCertPem, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: JSON.parse(text) as RawResponse['body'],
          });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

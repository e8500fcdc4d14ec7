/**
 * Every way the secretless chain can break, provoked THROUGH the product's `CredentialChain` against
 * the full sandbox (real @azure/identity, real MSAL, real wire protocol), each checked twice: the
 * AADSTS number Entra answered (MSAL's parsed `errorNo`, so it came from the token endpoint and not
 * from our own text), and what `diagnose` tells the operator (code, category, owner, fix, retryable).
 * One sandbox for the file: @azure/identity reads IDENTITY_ENDPOINT once per process.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenCredential } from '@azure/core-auth';
import { startSandbox, type Sandbox } from '../../../sandbox/index.js';
import { entraV2Issuer } from '../../../sandbox/identity-context.js';
import { TOKEN_EXCHANGE_APP_ID } from '../../../sandbox/world.js';
import { sandboxFleetConfig } from '../../../dev/sandbox-fleet.js';
import type { CloudProfile } from '../../../src/core/platform/cloud.js';
import { CredentialChain } from '../../../src/core/platform/credentials.js';
import { diagnose, type Diagnosis } from '../../../src/core/platform/diagnosis.js';
import { JWT_LIKE } from '../../support/http.js';
import { providerConnectionString, uniquePrefix } from '../../support/provider.js';
import {
  failureOf,
  failureWorld,
  fixedAssertion,
  type FailureWorldIds,
} from '../../support/sandbox-world.js';

/** A tenant id that no tenant of the world has. */
const UNKNOWN_TENANT = '0badc0de-0000-4000-8000-000000000001';
/** A client id of no managed identity assigned to the function app. */
const UNASSIGNED_MI = '0badc0de-0000-4000-8000-0000000000aa';

let sandbox: Sandbox;
let ids: FailureWorldIds;
let cloud: CloudProfile;

beforeAll(async () => {
  const built = failureWorld();
  ids = built.ids;
  sandbox = await startSandbox({ world: built.world });
  cloud = sandboxFleetConfig(sandbox, {
    providerConnectionString: providerConnectionString(),
    prefix: uniquePrefix(),
  }).cloud;
});

afterAll(async () => {
  await sandbox?.close();
});

function chain(options: { appClientId?: string; miClientId?: string; mi?: TokenCredential } = {}) {
  return new CredentialChain({
    cloud,
    managedIdentityClientId: options.miClientId ?? ids.miClientId,
    appClientId: options.appClientId ?? ids.appId,
    ...(options.mi ? { managedIdentityCredential: options.mi } : {}),
  });
}

/** The claims of a real MI token of Contoso's MI (for crafted assertions). */
function miClaims(): Record<string, string> {
  return {
    aud: TOKEN_EXCHANGE_APP_ID,
    iss: entraV2Issuer(ids.homeTenantId),
    sub: ids.miPrincipalId,
    oid: ids.miPrincipalId,
    azp: ids.miClientId,
    idtyp: 'app',
    tid: ids.homeTenantId,
    ver: '2.0',
  };
}

interface ExpectedEntraFailure {
  code: number;
  /** The OAuth error and HTTP status Entra answers with. */
  oauthError: string;
  status: number;
  diagnosis: Partial<Diagnosis>;
}

/**
 * Runs `call` (which must fail at the token endpoint of `tenantId`) and checks the answer Entra gave,
 * MSAL's parse of it, the diagnosis, and that no assertion leaks into the diagnosis.
 */
async function expectEntraFailure(
  call: () => Promise<unknown>,
  tenantId: string,
  expected: ExpectedEntraFailure,
  context: { appClientId?: string; assertion?: string } = {},
): Promise<Diagnosis> {
  const before = sandbox.counters.tokenByTenant.get(tenantId) ?? 0;
  const error = await failureOf(call());
  expect(error.name).toBe('AuthenticationRequiredError');
  expect(error.cause).toMatchObject({
    errorNo: expected.code,
    errorCode: expected.oauthError,
    status: expected.status,
  });
  expect(error.message).toContain(`AADSTS${expected.code}:`);
  // Exactly one token request reached the tenant's token endpoint (MSAL does not retry a 4xx).
  expect(sandbox.counters.tokenByTenant.get(tenantId)).toBe(before + 1);

  const diagnosis = diagnose(error, { cloud, appClientId: context.appClientId ?? ids.appId, tenantId });
  expect(diagnosis).toMatchObject({ code: `AADSTS${expected.code}`, ...expected.diagnosis });
  expect(diagnosis.detail).toContain(`AADSTS${expected.code}`);
  expectNoSecret(error, diagnosis, context.assertion);
  return diagnosis;
}

/**
 * Neither the error the product surfaces nor its diagnosis carries a token or assertion: none that
 * looks like a JWT, and not the assertion presented, where the test made it.
 */
function expectNoSecret(error: Error, diagnosis: Diagnosis, assertion?: string): void {
  const texts = { message: error.message, diagnosis: JSON.stringify(diagnosis) };
  for (const [where, text] of Object.entries(texts)) {
    expect(text, where).not.toMatch(JWT_LIKE);
    if (assertion) expect(text, where).not.toContain(assertion);
  }
}

describe('credential failures through the product chain', () => {
  it('control: the correctly configured chain gets an ARM token in the customer tenant', async () => {
    const token = await chain().armToken(ids.customerTenantId);
    expect(decodeJwt(token!.token)).toMatchObject({ tid: ids.customerTenantId, appid: ids.appId });
  });

  it('AADSTS700016: the provider app has no service principal in the tenant', async () => {
    const diagnosis = await expectEntraFailure(
      () => chain().armToken(ids.unprovisionedTenantId),
      ids.unprovisionedTenantId,
      {
        code: 700016,
        oauthError: 'unauthorized_client',
        status: 400,
        diagnosis: { category: 'onboarding', owner: 'customer', retryable: false },
      },
    );
    // Written out from the documented format, not built by the product's own function.
    expect(diagnosis.fix).toContain(
      `https://login.microsoftonline.com/${ids.unprovisionedTenantId}/adminconsent?client_id=${ids.appId}`,
    );
    expect(diagnosis.fix).toContain(`az ad sp create --id ${ids.appId}`);
  });

  it('AADSTS700236: the FIC sits on an app registered in the customer tenant (seed 003)', async () => {
    const diagnosis = await expectEntraFailure(
      () => chain({ appClientId: ids.customerRegisteredAppId }).armToken(ids.customerTenantId),
      ids.customerTenantId,
      {
        code: 700236,
        oauthError: 'invalid_client',
        status: 401,
        diagnosis: { category: 'configuration', owner: 'provider', retryable: false },
      },
      { appClientId: ids.customerRegisteredAppId },
    );
    expect(diagnosis.fix).toMatch(/multitenant app/);
  });

  it('AADSTS70021: the app has no federated identity credential at all', async () => {
    const diagnosis = await expectEntraFailure(
      () => chain({ appClientId: ids.noFicAppId }).armToken(ids.customerTenantId),
      ids.customerTenantId,
      {
        code: 70021,
        oauthError: 'invalid_client',
        status: 401,
        diagnosis: { category: 'configuration', owner: 'provider', retryable: false },
      },
      { appClientId: ids.noFicAppId },
    );
    expect(diagnosis.fix).toMatch(/Add the FIC/);
  });

  it("AADSTS700211: the app's FIC trusts another issuer", async () => {
    const diagnosis = await expectEntraFailure(
      () => chain({ appClientId: ids.otherIssuerAppId }).armToken(ids.customerTenantId),
      ids.customerTenantId,
      {
        code: 700211,
        oauthError: 'invalid_client',
        status: 401,
        diagnosis: { category: 'configuration', owner: 'provider', retryable: false },
      },
      { appClientId: ids.otherIssuerAppId },
    );
    expect(diagnosis.fix).toMatch(/FIC issuer/);
    expect(diagnosis.detail).toContain(entraV2Issuer(ids.homeTenantId));
  });

  it('AADSTS700213: the chain is configured with another managed identity than the FIC subject', async () => {
    const diagnosis = await expectEntraFailure(
      () => chain({ miClientId: ids.otherMiClientId }).armToken(ids.customerTenantId),
      ids.customerTenantId,
      {
        code: 700213,
        oauthError: 'invalid_client',
        status: 401,
        diagnosis: { category: 'configuration', owner: 'provider', retryable: false },
      },
    );
    expect(diagnosis.fix).toContain('TENANT_FLEET_MI_CLIENT_ID');
    expect(diagnosis.detail).toContain(ids.otherMiPrincipalId);
  });

  it("AADSTS700212: the app's FIC expects another audience", async () => {
    const diagnosis = await expectEntraFailure(
      () => chain({ appClientId: ids.otherAudienceAppId }).armToken(ids.customerTenantId),
      ids.customerTenantId,
      {
        code: 700212,
        oauthError: 'invalid_client',
        status: 401,
        diagnosis: { category: 'configuration', owner: 'provider', retryable: false },
      },
      { appClientId: ids.otherAudienceAppId },
    );
    expect(diagnosis.fix).toMatch(/FIC audience/);
    expect(diagnosis.detail).toContain(TOKEN_EXCHANGE_APP_ID);
  });

  it('AADSTS700024: an expired assertion is diagnosed transient and retryable', async () => {
    const twoHoursAgo = Math.floor(Date.now() / 1000) - 7200;
    const expired = await sandbox.keys.sign(ids.homeTenantId, miClaims(), 3600, twoHoursAgo);
    await expectEntraFailure(
      () => chain({ mi: fixedAssertion(expired) }).armToken(ids.customerTenantId),
      ids.customerTenantId,
      {
        code: 700024,
        oauthError: 'invalid_client',
        status: 401,
        diagnosis: { category: 'transient', owner: 'none', retryable: true },
      },
      { assertion: expired },
    );
  });

  it('AADSTS50027: a malformed assertion (not a JWT, or a JWT without an issuer)', async () => {
    const notAJwt = 'not-a-jwt';
    await expectEntraFailure(
      () => chain({ mi: fixedAssertion(notAJwt) }).armToken(ids.customerTenantId),
      ids.customerTenantId,
      {
        code: 50027,
        oauthError: 'invalid_request',
        status: 400,
        diagnosis: { category: 'configuration', owner: 'provider', retryable: false },
      },
      { assertion: notAJwt },
    );
    const { iss: _issuer, ...withoutIssuer } = miClaims();
    const noIssuer = await sandbox.keys.sign(ids.homeTenantId, withoutIssuer, 3600);
    const diagnosis = await expectEntraFailure(
      () => chain({ mi: fixedAssertion(noIssuer) }).armToken(ids.customerTenantId),
      ids.customerTenantId,
      {
        code: 50027,
        oauthError: 'invalid_request',
        status: 400,
        diagnosis: { category: 'configuration', owner: 'provider', retryable: false },
      },
      { assertion: noIssuer },
    );
    expect(diagnosis.meaning).toMatch(/assertion is invalid/);
  });

  it("AADSTS7000272: an assertion signed by another tenant's key while claiming Contoso's issuer", async () => {
    const forged = await sandbox.keys.sign(ids.customerTenantId, miClaims(), 3600);
    const diagnosis = await expectEntraFailure(
      () => chain({ mi: fixedAssertion(forged) }).armToken(ids.customerTenantId),
      ids.customerTenantId,
      {
        code: 7000272,
        oauthError: 'invalid_client',
        status: 401,
        diagnosis: { category: 'configuration', owner: 'provider', retryable: false },
      },
      { assertion: forged },
    );
    expect(diagnosis.meaning).toMatch(/signature validation/);
  });

  it("AADSTS700027: an assertion with Contoso's key id whose signature does not verify", async () => {
    const genuine = await sandbox.keys.sign(ids.homeTenantId, miClaims(), 3600);
    const [header, payload, signature] = genuine.split('.') as [string, string, string];
    // Flip the first signature character: same kid (the key is found), signature invalid.
    const tampered = `${header}.${payload}.${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    await expectEntraFailure(
      () => chain({ mi: fixedAssertion(tampered) }).armToken(ids.customerTenantId),
      ids.customerTenantId,
      {
        code: 700027,
        oauthError: 'invalid_client',
        status: 401,
        diagnosis: { category: 'configuration', owner: 'provider', retryable: false },
      },
      { assertion: tampered },
    );
  });

  it('AADSTS90002: an unknown tenant fails discovery before any token request', async () => {
    const before = sandbox.counters.snapshot();
    const error = await failureOf(chain().armToken(UNKNOWN_TENANT));
    // Entra answers 90002 on the tenant's OpenID configuration; MSAL reports only that it could not
    // resolve the endpoints, so the AADSTS number never reaches the product.
    expect(error.name).toBe('CredentialUnavailableError');
    expect(error.message).toContain('endpoints_resolution_error');
    const after = sandbox.counters.snapshot();
    expect(after.discovery).toBeGreaterThan(before.discovery);
    expect(after.token).toBe(before.token);
    expect(sandbox.counters.tokenByTenant.has(UNKNOWN_TENANT)).toBe(false);

    const diagnosis = diagnose(error, { cloud, appClientId: ids.appId, tenantId: UNKNOWN_TENANT });
    expect(diagnosis).toMatchObject({
      code: 'AADSTS90002',
      category: 'input',
      owner: 'provider',
      retryable: false,
    });
    expect(diagnosis.fix).toMatch(/tenant id/);
    expectNoSecret(error, diagnosis);
  });

  it('AADSTS500011: a scope whose resource the tenant does not have', async () => {
    const diagnosis = await expectEntraFailure(
      () => chain().forTenant(ids.customerTenantId).getToken('https://unknown.example/.default'),
      ids.customerTenantId,
      {
        code: 500011,
        oauthError: 'invalid_resource',
        status: 400,
        diagnosis: { category: 'configuration', owner: 'provider', retryable: false },
      },
    );
    expect(diagnosis.detail).toContain('https://unknown.example');
  });

  it('ManagedIdentityUnavailable: the configured MI is not assigned to the app', async () => {
    const unassigned = chain({ miClientId: UNASSIGNED_MI });
    const before = sandbox.counters.snapshot();

    const direct = await failureOf(unassigned.assertion());
    expect(direct.name).toBe('CredentialUnavailableError');
    expect(direct.message).toContain('No User Assigned or Delegated Managed Identity found');
    const directDiagnosis = diagnose(direct, { cloud, appClientId: ids.appId });
    expect(directDiagnosis).toMatchObject({
      code: 'ManagedIdentityUnavailable',
      category: 'configuration',
      owner: 'provider',
      retryable: false,
    });
    expectNoSecret(direct, directDiagnosis);

    // Through the tenant credential the MI failure surfaces wrapped; still the same diagnosis.
    const viaTenant = await failureOf(unassigned.armToken(ids.customerTenantId));
    const diagnosis = diagnose(viaTenant, { cloud, appClientId: ids.appId, tenantId: ids.customerTenantId });
    expect(diagnosis).toMatchObject({ code: 'ManagedIdentityUnavailable', owner: 'provider' });
    expect(diagnosis.fix).toContain('TENANT_FLEET_MI_CLIENT_ID');
    expectNoSecret(viaTenant, diagnosis);

    const after = sandbox.counters.snapshot();
    // Both calls asked the MI endpoint; no assertion was ever presented to Entra.
    expect(after.managedIdentity - before.managedIdentity).toBe(2);
    expect(after.token).toBe(before.token);
  });
});

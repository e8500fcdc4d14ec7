/**
 * What a tenant registry row holds: the record, the input an operator may give (new tenant, patch),
 * the stored flat shape (Table storage has no arrays or objects) and how a row is read back. Rows that
 * do not parse are reported as InvalidTenantRow, never thrown, so one bad row cannot stop a sweep.
 */
import { z } from 'zod';
import type { CloudName } from '../platform/cloud.js';
import { GUID_PATTERN, isGuid } from '../platform/ids.js';

/** Partition of every registry row. */
export const REGISTRY_PARTITION = 'tenant';

export type OnboardingState = 'pending' | 'verified' | 'failed';
export type SweepOutcomeStatus = 'succeeded' | 'partial' | 'failed';

export interface SubscriptionScope {
  /** `all`: every subscription the service principal sees; `list`: only `include`. */
  mode: 'all' | 'list';
  include: string[];
  exclude: string[];
}

export interface TenantRecord {
  tenantId: string;
  displayName: string;
  enabled: boolean;
  /** Who excluded the tenant, when and why (present while `enabled` is false). */
  exclusion?: { by: string; at: string; reason: string };
  tags: string[];
  subscriptions: SubscriptionScope;
  cloud: CloudName;
  onboardingState: OnboardingState;
  lastSweep?: { runId: string; status: SweepOutcomeStatus; at: string };
  consecutiveFailures: number;
  lastError?: { code: string; message: string; at: string };
  createdAt: string;
  updatedAt: string;
  etag: string;
}

/** A registry row that could not be read as a tenant (kept in the table, reported to the operator). */
export interface InvalidTenantRow {
  rowKey: string;
  problem: string;
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const displayName = z
  .string()
  .trim()
  .min(1)
  .max(256)
  .refine((value) => !CONTROL_CHARACTERS.test(value), 'must not contain control characters');

const subscriptionId = z
  .string()
  .regex(GUID_PATTERN, 'must be a subscription id (GUID)')
  .transform((s) => s.toLowerCase());
const tag = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[\w.:-]+$/, 'tags are letters, digits and . _ : -');

const subscriptionScopeInput = z
  .object({
    mode: z.enum(['all', 'list']).default('all'),
    // Stored as one JSON string property (at most 32K characters): 2 x 400 ids is about 31.2K.
    include: z.array(subscriptionId).max(400).default([]),
    exclude: z.array(subscriptionId).max(400).default([]),
  })
  .strict()
  .refine((scope) => scope.mode === 'all' || scope.include.length > 0, {
    message: "mode 'list' needs at least one subscription in include",
    path: ['include'],
  });

export const newTenantSchema = z
  .object({
    tenantId: z
      .string()
      .regex(GUID_PATTERN, 'must be a tenant id (GUID)')
      .transform((s) => s.toLowerCase()),
    displayName: displayName,
    enabled: z.boolean().default(true),
    tags: z.array(tag).max(50).default([]),
    subscriptions: subscriptionScopeInput.default({ mode: 'all', include: [], exclude: [] }),
    cloud: z.enum(['AzurePublicCloud', 'AzureUSGovernment', 'AzureChinaCloud', 'Sandbox']).optional(),
  })
  .strict();
export type NewTenant = z.input<typeof newTenantSchema>;

export const tenantPatchSchema = z
  .object({
    displayName: displayName.optional(),
    enabled: z.boolean().optional(),
    /** Why the tenant is excluded; required when disabling. */
    reason: z.string().trim().min(1).max(1024).optional(),
    tags: z.array(tag).max(50).optional(),
    subscriptions: subscriptionScopeInput.optional(),
  })
  .strict()
  .refine((patch) => patch.enabled !== false || patch.reason !== undefined, {
    message: 'a reason is required to exclude a tenant',
    path: ['reason'],
  });
export type TenantPatch = z.input<typeof tenantPatchSchema>;

/** The stored shape: flat properties (Table storage has no arrays or objects). */
const rowSchema = z.object({
  rowKey: z.string().regex(GUID_PATTERN, 'the row key is not a tenant id (GUID)'),
  displayName: z.string().min(1),
  enabled: z.boolean(),
  excludedBy: z.string().optional(),
  excludedAt: z.string().optional(),
  excludedReason: z.string().optional(),
  tags: z.string().default('[]'),
  subscriptionScope: z.string().default('{"mode":"all","include":[],"exclude":[]}'),
  cloud: z.string().default('AzurePublicCloud'),
  onboardingState: z.enum(['pending', 'verified', 'failed']).default('pending'),
  lastSweepRunId: z.string().optional(),
  lastSweepStatus: z.enum(['succeeded', 'partial', 'failed']).optional(),
  lastSweepAt: z.string().optional(),
  consecutiveFailures: z.number().int().nonnegative().default(0),
  lastErrorCode: z.string().optional(),
  lastErrorMessage: z.string().optional(),
  lastErrorAt: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** The stored tags (built once: a zod schema costs more to build than to run). */
const tagList = z.array(z.string());

function parseJson<T>(schema: z.ZodType<T>, text: string, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${what} is not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${what}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

export type Row = Record<string, unknown> & { partitionKey?: string; rowKey?: string; etag?: string };

/** Reads one stored row into a record, or explains why it cannot. */
export function parseTenantRow(entity: Row): TenantRecord | InvalidTenantRow {
  const rowKey = String(entity.rowKey ?? '');
  const parsed = rowSchema.safeParse(entity);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { rowKey, problem: `${issue.path.join('.') || 'row'}: ${issue.message}` };
  }
  const row = parsed.data;
  try {
    const tags = parseJson(tagList, row.tags, 'tags');
    const subscriptions = parseJson(subscriptionScopeInput, row.subscriptionScope, 'subscriptionScope');
    const record: TenantRecord = {
      tenantId: row.rowKey.toLowerCase(),
      displayName: row.displayName,
      enabled: row.enabled,
      tags,
      subscriptions,
      cloud: row.cloud as CloudName,
      onboardingState: row.onboardingState,
      consecutiveFailures: row.consecutiveFailures,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      etag: String(entity.etag ?? ''),
    };
    if (!row.enabled && row.excludedAt) {
      record.exclusion = {
        by: row.excludedBy ?? 'unknown',
        at: row.excludedAt,
        reason: row.excludedReason ?? '',
      };
    }
    if (row.lastSweepRunId && row.lastSweepStatus && row.lastSweepAt) {
      record.lastSweep = { runId: row.lastSweepRunId, status: row.lastSweepStatus, at: row.lastSweepAt };
    }
    if (row.lastErrorCode) {
      record.lastError = {
        code: row.lastErrorCode,
        message: row.lastErrorMessage ?? '',
        at: row.lastErrorAt ?? '',
      };
    }
    return record;
  } catch (error) {
    return { rowKey, problem: (error as Error).message };
  }
}

export function isInvalidRow(value: TenantRecord | InvalidTenantRow): value is InvalidTenantRow {
  return 'problem' in value;
}

/** True when a registry row key is a tenant id; used to report invalid rows by key only. */
/** Whether a subscription is in a tenant's scope (listed when the mode is `list`, never excluded). */
export function inSubscriptionScope(scope: SubscriptionScope, subscriptionId: string): boolean {
  const id = subscriptionId.toLowerCase();
  if (scope.exclude.includes(id)) return false;
  return scope.mode === 'all' || scope.include.includes(id);
}

export function looksLikeTenantId(value: string): boolean {
  return isGuid(value);
}

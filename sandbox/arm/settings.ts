/**
 * The sandbox ARM's settings (page size, latency, throttling, faults; changeable while it runs) and
 * the protocol constants every route checks: accepted token audiences and api-versions.
 */
import { z } from 'zod';
import type { FaultRule } from '../faults.js';
import { parseOrThrow } from '../state.js';
import { DEFAULT_THROTTLE, type ThrottleSettings } from '../throttle.js';
import { DEFAULT_REALISM, type RealismSettings } from './realism.js';

/** Run-time settings of the sandbox's ARM (changeable while it runs). */
export interface ArmSettings {
  /** Items per page of every list (ARM's own page sizes vary; 100 keeps paging visible). */
  pageSize: number;
  /** Added delay per request, in milliseconds. */
  latencyMs: number;
  throttle: ThrottleSettings;
  faults: FaultRule[];
  /** Real ARM's quirks (casing, see realism.ts); `realism: false` in a patch gives a tidy world. */
  realism: RealismSettings;
}

export const DEFAULT_ARM_SETTINGS: ArmSettings = {
  pageSize: 100,
  latencyMs: 0,
  throttle: { ...DEFAULT_THROTTLE },
  faults: [],
  realism: { ...DEFAULT_REALISM },
};

const faultRuleSchema = z
  .object({
    kind: z.enum(['500', '503', '429', '403', 'drop']),
    match: z
      .object({ subscriptionId: z.string().min(1).optional(), pathIncludes: z.string().min(1).optional() })
      .strict()
      .optional(),
    count: z.number().int().positive().optional(),
    probability: z.number().min(0).max(1).optional(),
    retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
    omitRetryAfter: z.boolean().optional(),
  })
  .strict();

/** A partial update of {@link ArmSettings}; `throttle: false` turns throttling off, `true` on. */
export const armSettingsPatchSchema = z
  .object({
    pageSize: z.number().int().min(1).max(5000).optional(),
    latencyMs: z.number().int().min(0).max(60_000).optional(),
    throttle: z
      .union([
        z.boolean(),
        z
          .object({
            enabled: z.boolean().optional(),
            burst: z.number().int().min(1).max(1_000_000).optional(),
            refillPerSecond: z.number().min(0).max(1_000_000).optional(),
          })
          .strict(),
      ])
      .optional(),
    faults: z.array(faultRuleSchema).optional(),
    realism: z
      .union([
        z.boolean(),
        z
          .object({
            casing: z.boolean().optional(),
            seed: z.number().int().optional(),
            propagationDelayMs: z.number().int().min(0).max(3_600_000).optional(),
          })
          .strict(),
      ])
      .optional(),
  })
  .strict();

export type ArmSettingsPatch = z.input<typeof armSettingsPatchSchema>;

/** Applies a validated patch (throws WorldStoreError naming the bad field). Returns a new object. */
export function mergeArmSettings(current: ArmSettings, patch: ArmSettingsPatch): ArmSettings {
  const valid = parseOrThrow(armSettingsPatchSchema, patch);
  const throttle =
    valid.throttle === undefined
      ? current.throttle
      : typeof valid.throttle === 'boolean'
        ? { ...current.throttle, enabled: valid.throttle }
        : { ...current.throttle, ...valid.throttle };
  return {
    pageSize: valid.pageSize ?? current.pageSize,
    latencyMs: valid.latencyMs ?? current.latencyMs,
    throttle,
    faults: valid.faults ?? current.faults,
    realism:
      valid.realism === undefined
        ? current.realism
        : typeof valid.realism === 'boolean'
          ? valid.realism
            ? { ...DEFAULT_REALISM, seed: current.realism.seed }
            : { ...current.realism, casing: false, propagationDelayMs: 0 }
          : { ...current.realism, ...valid.realism },
  };
}

/** Token audiences ARM accepts (its own error message lists these). */
export const ARM_AUDIENCES = [
  'https://management.core.windows.net/',
  'https://management.core.windows.net',
  'https://management.azure.com/',
  'https://management.azure.com',
];

/**
 * api-versions accepted per operation family: what the pinned SDKs send first (2022-12-01 for
 * subscriptions, 2025-04-01 for resources and groups, read from their sources), then older
 * versions Microsoft.Resources still serves.
 */
export const ARM_API_VERSIONS = {
  subscriptions: ['2022-12-01', '2022-09-01', '2021-01-01', '2020-01-01', '2019-11-01', '2016-06-01'],
  resources: [
    '2025-04-01',
    '2024-11-01',
    '2024-08-01',
    '2024-07-01',
    '2024-03-01',
    '2023-07-01',
    '2022-09-01',
    '2021-04-01',
    '2021-01-01',
    '2020-06-01',
    '2019-10-01',
  ],
} as const;

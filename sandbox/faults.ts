/**
 * Fault injection for the sandbox's ARM: rules that turn matching requests into 500s, 503s, 429s, 403s or
 * dropped connections, so retry and resilience paths of the real SDK clients can be exercised. A 403
 * is ARM's AuthorizationFailed, as when a customer removes the app's role while a sweep runs (or a new
 * assignment has not reached every ARM instance yet): a failure the SDK does not retry.
 */

export type FaultKind = '500' | '503' | '429' | '403' | 'drop';

export interface FaultRule {
  kind: FaultKind;
  /** Only requests matching every given field (subscription id case-insensitive, path substring). */
  match?: { subscriptionId?: string; pathIncludes?: string };
  /** Fire at most this many times (unlimited when absent). */
  count?: number;
  /** Chance in [0, 1] that a matching request is hit (1 when absent). */
  probability?: number;
  /** Retry-After seconds on 429/503 answers (429 default 1; 503 default none, as ARM often omits it). */
  retryAfterSeconds?: number;
  /** A 429 or 503 without any Retry-After header (the SDK alone does not retry such a 429). */
  omitRetryAfter?: boolean;
}

export interface FaultRequest {
  subscriptionId?: string;
  /** The request path and query as received. */
  path: string;
}

export class FaultInjector {
  /** How often each rule has fired, keyed by the rule object (new settings start afresh). */
  private readonly fired = new WeakMap<FaultRule, number>();

  constructor(private readonly random: () => number = Math.random) {}

  /** The first rule that fires for this request (and records that it fired), or undefined. */
  pick(rules: readonly FaultRule[], request: FaultRequest): FaultRule | undefined {
    for (const rule of rules) {
      if (!matches(rule, request)) continue;
      const fired = this.fired.get(rule) ?? 0;
      if (rule.count !== undefined && fired >= rule.count) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      this.fired.set(rule, fired + 1);
      return rule;
    }
    return undefined;
  }
}

function matches(rule: FaultRule, request: FaultRequest): boolean {
  const match = rule.match;
  if (!match) return true;
  if (match.subscriptionId && match.subscriptionId.toLowerCase() !== request.subscriptionId?.toLowerCase())
    return false;
  if (match.pathIncludes && !request.path.toLowerCase().includes(match.pathIncludes.toLowerCase()))
    return false;
  return true;
}

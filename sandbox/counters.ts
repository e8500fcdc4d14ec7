/**
 * Request counters of the sandbox cloud, read by tests (token reuse: 1 MI request, 1 token request
 * per tenant) and by the benchmark. Counting happens at each server's front door.
 */
export class RequestCounters {
  managedIdentity = 0;
  token = 0;
  discovery = 0;
  arm = 0;
  storage = 0;
  /** ARM answers of 429 (throttled or an injected 429 fault): a client that paces itself causes none. */
  armThrottled = 0;
  /** TLS connections accepted by Entra and ARM (a client that reuses its connections opens few). */
  tlsConnections = 0;
  /** Token-endpoint requests per tenant path segment (lower-cased). */
  readonly tokenByTenant = new Map<string, number>();
  /** ARM requests per subscription id (lower-cased); `tenant` for /subscriptions itself. */
  readonly armBySubscription = new Map<string, number>();

  /** Faults injected into ARM answers, by kind (`429`, `503+retry-after`, `drop`, ...). */
  readonly faults = new Map<string, number>();

  countFault(kind: string): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
  }

  countToken(tenant: string): void {
    this.token++;
    const key = tenant.toLowerCase();
    this.tokenByTenant.set(key, (this.tokenByTenant.get(key) ?? 0) + 1);
  }

  countArm(subscriptionId: string | undefined): void {
    this.arm++;
    const key = subscriptionId?.toLowerCase() ?? 'tenant';
    this.armBySubscription.set(key, (this.armBySubscription.get(key) ?? 0) + 1);
  }

  snapshot(): {
    managedIdentity: number;
    token: number;
    discovery: number;
    arm: number;
    storage: number;
    tlsConnections: number;
  } {
    return {
      managedIdentity: this.managedIdentity,
      token: this.token,
      discovery: this.discovery,
      arm: this.arm,
      storage: this.storage,
      tlsConnections: this.tlsConnections,
    };
  }

  reset(): void {
    this.managedIdentity = this.token = this.discovery = this.arm = this.storage = this.tlsConnections = 0;
    this.armThrottled = 0;
    this.tokenByTenant.clear();
    this.faults.clear();
    this.armBySubscription.clear();
  }
}

/**
 * The live world of the sandbox: ONE mutable {@link World} object that every server (MI endpoint,
 * Entra, ARM, storage front) reads, plus the admin operations that change it while the sandbox runs
 * (provisioning, role grants, resource drift). Mutations happen in place so that a server holding
 * `store.world` always sees the current state.
 *
 * Generated resources are never materialised: drift on them is an overlay (removed indices,
 * modified resources, added resources) whose memory is proportional to the overlay only.
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import {
  blockContext,
  driftAddedResource,
  generatedResource,
  generatedResourceGroupName,
  indexFromGeneratedName,
  mix,
  hashString,
  seededRandom,
  type BlockContext,
} from './generated.js';
import { storageAccountId } from './rbac.js';
import {
  BUILT_IN_ROLES,
  worldSchema,
  resourceGroupSchema,
  resourceSchema,
  roleAssignmentSchema,
  storageAccountSchema,
  subscriptionSchema,
  type BuiltInRoleName,
  type Resource,
  type ResourceGroup,
  type RoleAssignment,
  type StorageAccount,
  type Subscription,
  type World,
  type WorldInput,
} from './world.js';

/** Why an admin operation was refused: bad input (HTTP 400) or a missing thing (HTTP 404). */
export class WorldStoreError extends Error {
  override readonly name = 'WorldStoreError';
  constructor(
    readonly kind: 'invalid' | 'not-found',
    /** The field or path at fault, e.g. `scope` or `resources[3].subscriptionId`. */
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export type ResourceInput = z.input<typeof resourceSchema>;
export type ResourceGroupInput = z.input<typeof resourceGroupSchema>;
export type StorageAccountInput = z.input<typeof storageAccountSchema>;

/** Drift of the generated blocks of one subscription, as persisted in a snapshot. */
export interface GeneratedDriftSnapshot {
  subscriptionId: string;
  /** Ids of generated resources that were deleted. */
  removed: string[];
  /** Generated resources as they are after modification (same ids as generated). */
  modified: ResourceInput[];
  /** Resources added next to the generated ones. */
  added: ResourceInput[];
}

/**
 * A world as JSON, with the drift of generated blocks. `parseWorld` ignores `generatedDrift` (so a
 * snapshot still loads as a plain world); {@link WorldStore} restores it.
 */
export type WorldSnapshot = WorldInput & { generatedDrift?: GeneratedDriftSnapshot[] };

export interface DriftRequest {
  /** Seed of the deterministic choices: the same seed on the same state picks the same resources. */
  seed: number;
  add?: number;
  modify?: number;
  remove?: number;
}

export interface DriftResult {
  added: string[];
  modified: string[];
  removed: string[];
}

/** One page of a resource scan: the matches and where to continue (undefined at the end). */
export interface ResourceScan {
  items: Resource[];
  next?: number;
}

interface SubscriptionDrift {
  /** Removed generated indices per block ordinal. */
  removed: Map<number, Set<number>>;
  /** `${ordinal}:${index}` -> the resource as modified. */
  modified: Map<string, Resource>;
  added: Resource[];
  /** Serial of the next added resource (names stay unique even after removals). */
  nextSerial: number;
}

/** `/subscriptions/{s}/resourceGroups/{rg}/providers/{type}/{name}`, child types interleaved with name segments. */
export function resourceId(
  resource: Pick<Resource, 'subscriptionId' | 'resourceGroup' | 'type' | 'name'>,
): string {
  const [namespace, ...types] = resource.type.split('/');
  const names = resource.name.split('/');
  const path =
    types.length === names.length
      ? types.map((type, i) => `${type}/${names[i]!}`).join('/')
      : `${types.join('/')}/${resource.name}`;
  return `/subscriptions/${resource.subscriptionId}/resourceGroups/${resource.resourceGroup}/providers/${namespace!}/${path}`;
}

/** A storage account as ARM lists it: a Microsoft.Storage/storageAccounts resource. */
export function storageAccountResource(account: StorageAccount): Resource {
  return {
    subscriptionId: account.subscriptionId,
    resourceGroup: account.resourceGroup,
    name: account.name,
    type: 'Microsoft.Storage/storageAccounts',
    location: account.location,
    tags: { ...account.tags },
    sku: { ...account.sku },
    kind: account.kind,
  };
}

/** Parses `/subscriptions/{s}/resourceGroups/{rg}/providers/...` into its subscription and group. */
export function parseResourceId(id: string): { subscriptionId: string; resourceGroup: string } | undefined {
  const match = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/[^/]+\/.+$/i.exec(id);
  if (!match) return undefined;
  return { subscriptionId: match[1]!.toLowerCase(), resourceGroup: decodeURIComponent(match[2]!) };
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** How many candidates one scan call looks at before returning a (possibly short) page, as ARM does. */
const SCAN_BUDGET = 100_000;

function issuePath(issue: z.core.$ZodIssue): string {
  return issue.path
    .map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`))
    .join('')
    .replace(/^\./, '');
}

/** Parses with a zod schema, turning the first issue into a {@link WorldStoreError} naming the field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, prefix = ''): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issuePath(issue);
  const field = prefix && path ? `${prefix}.${path}` : prefix || path || '(body)';
  throw new WorldStoreError('invalid', field, `${field}: ${issue.message}`);
}

export class WorldStore {
  /** The live world. Never replaced: servers keep this reference. */
  readonly world: World;
  private readonly drift = new Map<string, SubscriptionDrift>();
  private readonly blockCache = new Map<string, BlockContext[]>();

  constructor(input: WorldInput | World | WorldSnapshot) {
    this.world = parseOrThrow(worldSchema, input);
    checkReferences(this.world);
    const snapshotDrift = (input as WorldSnapshot).generatedDrift;
    if (snapshotDrift) this.restoreDrift(snapshotDrift);
  }

  // ---- reads ------------------------------------------------------------------------------------

  subscription(subscriptionId: string): Subscription | undefined {
    return this.world.subscriptions.find((s) => same(s.subscriptionId, subscriptionId));
  }

  subscriptionsOfTenant(tenantId: string): Subscription[] {
    return this.world.subscriptions.filter((s) => same(s.tenantId, tenantId));
  }

  /** The generated blocks of a subscription with their precomputed context (cached; blocks are immutable). */
  blocksOf(subscriptionId: string): BlockContext[] {
    const key = subscriptionId.toLowerCase();
    let contexts = this.blockCache.get(key);
    if (!contexts) {
      contexts = this.world.generatedResources
        .filter((block) => same(block.subscriptionId, key))
        .map((block, ordinal) => blockContext(block, ordinal));
      this.blockCache.set(key, contexts);
    }
    return contexts;
  }

  /**
   * Resource groups of a subscription: declared ones, the rg-NNN groups of generated blocks, and any
   * group a resource or storage account sits in (ARM would not let it exist without one).
   */
  resourceGroups(subscriptionId: string): ResourceGroup[] {
    const groups = new Map<string, ResourceGroup>();
    const add = (group: ResourceGroup): void => {
      const key = group.name.toLowerCase();
      if (!groups.has(key)) groups.set(key, group);
    };
    for (const group of this.world.resourceGroups) if (same(group.subscriptionId, subscriptionId)) add(group);
    for (const { block } of this.blocksOf(subscriptionId)) {
      for (let i = 0; i < block.resourceGroupCount; i++) {
        add({
          subscriptionId: block.subscriptionId,
          name: generatedResourceGroupName(i),
          location: block.location,
          tags: {},
        });
      }
    }
    const implied = (r: { subscriptionId: string; resourceGroup: string; location: string }): void => {
      if (same(r.subscriptionId, subscriptionId)) {
        add({ subscriptionId: r.subscriptionId, name: r.resourceGroup, location: r.location, tags: {} });
      }
    };
    this.world.resources.forEach(implied);
    this.world.storageAccounts.forEach(implied);
    this.drift.get(subscriptionId.toLowerCase())?.added.forEach(implied);
    return [...groups.values()];
  }

  resourceGroup(subscriptionId: string, name: string): ResourceGroup | undefined {
    return this.resourceGroups(subscriptionId).find((group) => same(group.name, name));
  }

  /**
   * Scans the resources of a subscription from `cursor` (0 = start) in a stable order: declared
   * resources, storage accounts, each generated block by index, then drift additions. Generated
   * resources are computed one at a time and dropped once checked, so memory does not grow with the
   * subscription. Returns at most `limit` matches; `next` is where the following scan starts.
   */
  scanResources(
    subscriptionId: string,
    options: { cursor: number; limit: number; include?: (resource: Resource) => boolean },
  ): ResourceScan {
    const include = options.include ?? (() => true);
    const items: Resource[] = [];
    const sub = subscriptionId.toLowerCase();
    const drift = this.drift.get(sub);
    const declared = this.world.resources.filter((r) => r.subscriptionId === sub);
    const accounts = this.world.storageAccounts.filter((a) => a.subscriptionId === sub);
    const blocks = this.blocksOf(sub);
    const added = drift?.added ?? [];

    let position = Math.max(0, options.cursor);
    let budget = SCAN_BUDGET;
    let offset = 0;
    const take = (resource: Resource): boolean => {
      if (include(resource)) items.push(resource);
      return items.length >= options.limit;
    };

    // Fixed-length segments first; the cursor is a position in their concatenation.
    const segments: Array<{ length: number; at: (i: number) => Resource | undefined }> = [
      { length: declared.length, at: (i) => declared[i] },
      { length: accounts.length, at: (i) => storageAccountResource(accounts[i]!) },
      ...blocks.map((context) => ({
        length: context.block.count,
        at: (i: number) => this.generatedAt(drift, context, i),
      })),
      { length: added.length, at: (i) => added[i] },
    ];
    for (const segment of segments) {
      const end = offset + segment.length;
      while (position < end) {
        if (budget-- <= 0) return { items, next: position };
        const resource = segment.at(position - offset);
        position++;
        if (resource && take(resource))
          return { items, next: position < this.totalLength(segments) ? position : undefined };
      }
      offset = end;
    }
    return { items };
  }

  /** Finds any resource (declared, storage account, generated, added) by its id, case-insensitively. */
  findResource(id: string): Resource | undefined {
    const parsed = parseResourceId(id);
    if (!parsed) return undefined;
    const sub = parsed.subscriptionId;
    const matches = (r: Resource): boolean => same(resourceId(r), id);
    const declared = this.world.resources.find((r) => r.subscriptionId === sub && matches(r));
    if (declared) return declared;
    const account = this.world.storageAccounts.find(
      (a) =>
        a.subscriptionId === sub && same(storageAccountId(a.subscriptionId, a.resourceGroup, a.name), id),
    );
    if (account) return storageAccountResource(account);
    const drift = this.drift.get(sub);
    const addedMatch = drift?.added.find(matches);
    if (addedMatch) return addedMatch;
    const generated = this.locateGenerated(id);
    return generated ? this.generatedAt(drift, generated.context, generated.index) : undefined;
  }

  /** Total resources a subscription lists (declared + storage + generated - removed + added), O(blocks). */
  resourceCount(subscriptionId: string): number {
    const sub = subscriptionId.toLowerCase();
    const drift = this.drift.get(sub);
    let count = this.world.resources.filter((r) => r.subscriptionId === sub).length;
    count += this.world.storageAccounts.filter((a) => a.subscriptionId === sub).length;
    for (const context of this.blocksOf(sub)) {
      count += context.block.count - (drift?.removed.get(context.ordinal)?.size ?? 0);
    }
    return count + (drift?.added.length ?? 0);
  }

  // ---- admin operations -------------------------------------------------------------------------

  /**
   * Provisions the app's service principal in a tenant (what `New-AzADServicePrincipal -ApplicationId`
   * does) and returns its object id. Idempotent: an existing one is returned as is.
   */
  provisionServicePrincipal(appId: string, tenantId: string): string {
    const app = this.world.applications.find((a) => same(a.appId, appId));
    if (!app)
      throw new WorldStoreError('not-found', 'appId', `No application with appId '${appId}' is registered.`);
    const tenant = this.world.tenants.find((t) => same(t.id, tenantId));
    if (!tenant) throw new WorldStoreError('not-found', 'tenantId', `Tenant '${tenantId}' does not exist.`);
    if (app.signInAudience === 'AzureADMyOrg' && !same(app.homeTenantId, tenant.id)) {
      throw new WorldStoreError(
        'invalid',
        'appId',
        `Application '${app.appId}' is single-tenant (AzureADMyOrg): it cannot be provisioned outside its home tenant.`,
      );
    }
    const existing = this.world.servicePrincipals.find(
      (sp) => same(sp.appId, app.appId) && same(sp.tenantId, tenant.id),
    );
    if (existing) return existing.objectId;
    const objectId = randomUUID();
    this.world.servicePrincipals.push({ appId: app.appId, tenantId: tenant.id, objectId });
    return objectId;
  }

  /**
   * Deletes the app's service principal from a tenant. Its role assignments stay, orphaned, as in
   * Azure ("Identity not found"); a new service principal gets a new object id, so they never apply again.
   */
  removeServicePrincipal(appId: string, tenantId: string): boolean {
    const index = this.world.servicePrincipals.findIndex(
      (sp) => same(sp.appId, appId) && same(sp.tenantId, tenantId),
    );
    if (index < 0) return false;
    this.world.servicePrincipals.splice(index, 1);
    return true;
  }

  /**
   * Enables or disables the app's service principal in a tenant (the customer's "Enabled for users to
   * sign in"); a disabled one makes Entra refuse tokens there with AADSTS7000112. False when none exists.
   */
  setServicePrincipalEnabled(appId: string, tenantId: string, enabled: boolean): boolean {
    const servicePrincipal = this.world.servicePrincipals.find(
      (sp) => same(sp.appId, appId) && same(sp.tenantId, tenantId),
    );
    if (!servicePrincipal) return false;
    servicePrincipal.accountEnabled = enabled;
    return true;
  }

  /** Grants a built-in role at a scope (idempotent). The scope's subscription must exist. */
  grantRole(principalId: string, roleDefinitionName: string, scope: string): RoleAssignment {
    const assignment = parseOrThrow(roleAssignmentSchema, { principalId, roleDefinitionName, scope });
    const subscriptionId = /^\/subscriptions\/([^/]+)/i.exec(assignment.scope)?.[1];
    if (!subscriptionId || !this.subscription(subscriptionId)) {
      throw new WorldStoreError(
        'not-found',
        'scope',
        `The subscription of scope '${assignment.scope}' does not exist.`,
      );
    }
    const existing = this.findAssignment(assignment);
    if (existing) return existing;
    this.world.roleAssignments.push(assignment);
    return assignment;
  }

  /** Removes a role assignment; false when there was none. */
  revokeRole(principalId: string, roleDefinitionName: string, scope: string): boolean {
    const assignment = parseOrThrow(roleAssignmentSchema, { principalId, roleDefinitionName, scope });
    const existing = this.findAssignment(assignment);
    if (!existing) return false;
    this.world.roleAssignments.splice(this.world.roleAssignments.indexOf(existing), 1);
    return true;
  }

  /**
   * Creates or replaces a resource. A generated resource becomes a modification in the overlay; a
   * storage account's ARM view (tags, sku, kind, location) is updated in place.
   */
  upsertResource(input: ResourceInput): Resource {
    const resource = parseOrThrow(resourceSchema, input);
    this.requireSubscription(resource.subscriptionId, 'subscriptionId');
    const id = resourceId(resource);
    const sub = resource.subscriptionId;
    const declaredIndex = this.world.resources.findIndex(
      (r) => r.subscriptionId === sub && same(resourceId(r), id),
    );
    if (declaredIndex >= 0) {
      this.world.resources[declaredIndex] = resource;
      return resource;
    }
    const account = this.world.storageAccounts.find((a) =>
      same(storageAccountId(a.subscriptionId, a.resourceGroup, a.name), id),
    );
    if (account) {
      Object.assign(account, { location: resource.location, tags: resource.tags });
      if (resource.sku) account.sku = resource.sku;
      if (resource.kind) account.kind = resource.kind;
      return storageAccountResource(account);
    }
    const drift = this.driftOf(sub);
    const addedIndex = drift.added.findIndex((r) => same(resourceId(r), id));
    if (addedIndex >= 0) {
      drift.added[addedIndex] = resource;
      return resource;
    }
    const generated = this.locateGenerated(id);
    if (generated && !drift.removed.get(generated.context.ordinal)?.has(generated.index)) {
      drift.modified.set(`${generated.context.ordinal}:${generated.index}`, resource);
      return resource;
    }
    this.world.resources.push(resource);
    return resource;
  }

  /** Deletes any resource by id (a generated one joins the overlay's removed set). False when absent. */
  deleteResource(id: string): boolean {
    const parsed = parseResourceId(id);
    if (!parsed)
      throw new WorldStoreError(
        'invalid',
        'id',
        `'${id}' is not a resource id (/subscriptions/{s}/resourceGroups/{rg}/providers/...).`,
      );
    const declaredIndex = this.world.resources.findIndex((r) => same(resourceId(r), id));
    if (declaredIndex >= 0) {
      this.world.resources.splice(declaredIndex, 1);
      return true;
    }
    const accountIndex = this.world.storageAccounts.findIndex((a) =>
      same(storageAccountId(a.subscriptionId, a.resourceGroup, a.name), id),
    );
    if (accountIndex >= 0) {
      this.world.storageAccounts.splice(accountIndex, 1);
      return true;
    }
    const drift = this.drift.get(parsed.subscriptionId);
    const addedIndex = drift?.added.findIndex((r) => same(resourceId(r), id)) ?? -1;
    if (drift && addedIndex >= 0) {
      drift.added.splice(addedIndex, 1);
      return true;
    }
    const generated = this.locateGenerated(id);
    if (!generated) return false;
    return this.removeGenerated(this.driftOf(parsed.subscriptionId), generated.context, generated.index);
  }

  /**
   * Changes a subscription's state (Enabled, Warned, PastDue, Disabled, Deleted) or moves it to another
   * tenant (its role assignments stay behind, as a transfer's do; grant the new tenant's principals).
   */
  updateSubscription(subscriptionId: string, change: { state?: string; tenantId?: string }): Subscription {
    const subscription = this.requireSubscription(subscriptionId, 'subscriptionId');
    const next = parseOrThrow(subscriptionSchema, { ...subscription, ...change });
    if (!this.world.tenants.some((t) => t.id === next.tenantId))
      throw new WorldStoreError('not-found', 'tenantId', `Tenant '${next.tenantId}' does not exist.`);
    Object.assign(subscription, { state: next.state, tenantId: next.tenantId });
    return subscription;
  }

  /** Creates or replaces a declared resource group. */
  upsertResourceGroup(input: ResourceGroupInput): ResourceGroup {
    const group = parseOrThrow(resourceGroupSchema, input);
    this.requireSubscription(group.subscriptionId, 'subscriptionId');
    const index = this.world.resourceGroups.findIndex(
      (g) => g.subscriptionId === group.subscriptionId && same(g.name, group.name),
    );
    if (index >= 0) this.world.resourceGroups[index] = group;
    else this.world.resourceGroups.push(group);
    return group;
  }

  /** Adds (or replaces, by name) a storage account; the storage front serves it from now on. */
  addStorageAccount(input: StorageAccountInput): StorageAccount {
    const account = parseOrThrow(storageAccountSchema, input);
    this.requireSubscription(account.subscriptionId, 'subscriptionId');
    const index = this.world.storageAccounts.findIndex((a) => a.name === account.name);
    if (index >= 0) this.world.storageAccounts[index] = account;
    else this.world.storageAccounts.push(account);
    return account;
  }

  /**
   * Drifts the generated resources of a subscription: removes, modifies (tags and sku) and adds
   * resources chosen by a PRNG seeded from (seed, subscription), so the same request on the same
   * state always picks the same resources. Costs O(add + modify + remove) memory.
   */
  driftGenerated(subscriptionId: string, request: DriftRequest): DriftResult {
    const sub = this.requireSubscription(subscriptionId, 'subscriptionId').subscriptionId;
    const blocks = this.blocksOf(sub);
    const counts = { add: request.add ?? 0, modify: request.modify ?? 0, remove: request.remove ?? 0 };
    for (const [field, value] of Object.entries(counts)) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new WorldStoreError('invalid', field, `${field} must be a non-negative integer.`);
      }
    }
    if (!Number.isSafeInteger(request.seed))
      throw new WorldStoreError('invalid', 'seed', 'seed must be an integer.');
    if (blocks.length === 0 && counts.add + counts.modify + counts.remove > 0) {
      throw new WorldStoreError(
        'invalid',
        'subscriptionId',
        `Subscription '${sub}' has no generated resources to drift.`,
      );
    }
    const drift = this.driftOf(sub);
    const available = blocks.reduce(
      (total, c) => total + c.block.count - (drift.removed.get(c.ordinal)?.size ?? 0),
      0,
    );
    if (counts.remove + counts.modify > available) {
      throw new WorldStoreError(
        'invalid',
        'remove',
        `remove + modify (${counts.remove + counts.modify}) exceeds the ${available} generated resources left in '${sub}'.`,
      );
    }
    const random = seededRandom(mix(request.seed, hashString(sub)));
    const picked = this.pickGenerated(drift, blocks, counts.remove + counts.modify, random);
    const result: DriftResult = { added: [], modified: [], removed: [] };
    picked.slice(0, counts.remove).forEach(({ context, index }) => {
      result.removed.push(resourceId(this.generatedAt(drift, context, index)!));
      this.removeGenerated(drift, context, index);
    });
    picked.slice(counts.remove).forEach(({ context, index }) => {
      const current = this.generatedAt(drift, context, index)!;
      const modified: Resource = {
        ...current,
        tags: { ...current.tags, environment: 'prod', driftSeed: String(request.seed), modifiedBy: 'drift' },
      };
      // Redundancy upgrades are a typical out-of-band change (LRS -> ZRS).
      if (current.sku?.name.endsWith('_LRS'))
        modified.sku = { ...current.sku, name: current.sku.name.replace(/_LRS$/, '_ZRS') };
      drift.modified.set(`${context.ordinal}:${index}`, modified);
      result.modified.push(resourceId(modified));
    });
    for (let i = 0; i < counts.add; i++) {
      const context = blocks[Math.floor(random() * blocks.length)]!;
      const resource = driftAddedResource(context, request.seed, drift.nextSerial++);
      drift.added.push(resource);
      result.added.push(resourceId(resource));
    }
    return result;
  }

  /** The world as JSON (deep copy), with the drift of generated blocks, for persisting to disk. */
  snapshot(): WorldSnapshot {
    const world = structuredClone(this.world) as WorldSnapshot;
    const generatedDrift: GeneratedDriftSnapshot[] = [];
    for (const [subscriptionId, drift] of this.drift) {
      const blocks = this.blocksOf(subscriptionId);
      const removed: string[] = [];
      for (const [ordinal, indices] of drift.removed) {
        const context = blocks[ordinal]!;
        for (const index of indices) removed.push(resourceId(generatedResource(context, index)));
      }
      if (removed.length + drift.modified.size + drift.added.length === 0) continue;
      generatedDrift.push({
        subscriptionId,
        removed,
        modified: structuredClone([...drift.modified.values()]),
        added: structuredClone(drift.added),
      });
    }
    if (generatedDrift.length) world.generatedDrift = generatedDrift;
    return world;
  }

  /** True when the role exists among the built-ins (helper for callers validating names). */
  static isBuiltInRole(name: string): name is BuiltInRoleName {
    return Object.hasOwn(BUILT_IN_ROLES, name);
  }

  // ---- internals --------------------------------------------------------------------------------

  private totalLength(segments: Array<{ length: number }>): number {
    return segments.reduce((total, segment) => total + segment.length, 0);
  }

  private requireSubscription(subscriptionId: string, field: string): Subscription {
    const subscription = this.subscription(subscriptionId);
    if (!subscription)
      throw new WorldStoreError('not-found', field, `Subscription '${subscriptionId}' does not exist.`);
    return subscription;
  }

  private findAssignment(assignment: RoleAssignment): RoleAssignment | undefined {
    return this.world.roleAssignments.find(
      (a) =>
        a.principalId === assignment.principalId &&
        a.roleDefinitionName === assignment.roleDefinitionName &&
        same(a.scope.replace(/\/+$/, ''), assignment.scope.replace(/\/+$/, '')),
    );
  }

  private driftOf(subscriptionId: string): SubscriptionDrift {
    const key = subscriptionId.toLowerCase();
    let drift = this.drift.get(key);
    if (!drift) {
      drift = { removed: new Map(), modified: new Map(), added: [], nextSerial: 0 };
      this.drift.set(key, drift);
    }
    return drift;
  }

  /** Generated resource `index` of a block as it currently is (undefined when removed). */
  private generatedAt(
    drift: SubscriptionDrift | undefined,
    context: BlockContext,
    index: number,
  ): Resource | undefined {
    if (!drift) return generatedResource(context, index);
    if (drift.removed.get(context.ordinal)?.has(index)) return undefined;
    return drift.modified.get(`${context.ordinal}:${index}`) ?? generatedResource(context, index);
  }

  private removeGenerated(drift: SubscriptionDrift, context: BlockContext, index: number): boolean {
    let removed = drift.removed.get(context.ordinal);
    if (!removed) {
      removed = new Set();
      drift.removed.set(context.ordinal, removed);
    }
    if (removed.has(index)) return false;
    removed.add(index);
    drift.modified.delete(`${context.ordinal}:${index}`);
    return true;
  }

  /** Maps a resource id to the generated block and index that produce it (regenerating to confirm). */
  private locateGenerated(id: string): { context: BlockContext; index: number } | undefined {
    const parsed = parseResourceId(id);
    if (!parsed) return undefined;
    const name = id.split('/').at(-1)!;
    const index = indexFromGeneratedName(name);
    if (index === undefined) return undefined;
    for (const context of this.blocksOf(parsed.subscriptionId)) {
      if (index < context.block.count && same(resourceId(generatedResource(context, index)), id))
        return { context, index };
    }
    return undefined;
  }

  /** Picks `wanted` distinct live generated resources at random (then linearly if the draws run dry). */
  private pickGenerated(
    drift: SubscriptionDrift,
    blocks: BlockContext[],
    wanted: number,
    random: () => number,
  ): Array<{ context: BlockContext; index: number }> {
    const total = blocks.reduce((sum, c) => sum + c.block.count, 0);
    const chosen = new Set<number>();
    const picks: Array<{ context: BlockContext; index: number }> = [];
    const locate = (position: number): { context: BlockContext; index: number } => {
      let rest = position;
      for (const context of blocks) {
        if (rest < context.block.count) return { context, index: rest };
        rest -= context.block.count;
      }
      throw new Error('position out of range');
    };
    const tryPick = (position: number): void => {
      if (chosen.has(position)) return;
      const pick = locate(position);
      if (drift.removed.get(pick.context.ordinal)?.has(pick.index)) return;
      chosen.add(position);
      picks.push(pick);
    };
    for (let attempt = 0; picks.length < wanted && attempt < wanted * 20 + 100; attempt++) {
      tryPick(Math.floor(random() * total));
    }
    for (let position = 0; picks.length < wanted && position < total; position++) tryPick(position);
    return picks;
  }

  private restoreDrift(entries: GeneratedDriftSnapshot[]): void {
    entries.forEach((entry, i) => {
      const field = `generatedDrift[${i}]`;
      const sub = this.requireSubscription(entry.subscriptionId, `${field}.subscriptionId`).subscriptionId;
      const drift = this.driftOf(sub);
      for (const id of entry.removed) {
        const generated = this.locateGenerated(id);
        if (!generated)
          throw new WorldStoreError(
            'invalid',
            `${field}.removed`,
            `'${id}' is not a generated resource of '${sub}'.`,
          );
        this.removeGenerated(drift, generated.context, generated.index);
      }
      entry.modified.forEach((input, j) => {
        const resource = parseOrThrow(resourceSchema, input, `${field}.modified[${j}]`);
        const generated = this.locateGenerated(resourceId(resource));
        if (!generated) {
          throw new WorldStoreError(
            'invalid',
            `${field}.modified[${j}]`,
            `'${resourceId(resource)}' is not a generated resource.`,
          );
        }
        drift.modified.set(`${generated.context.ordinal}:${generated.index}`, resource);
      });
      entry.added.forEach((input, j) =>
        drift.added.push(parseOrThrow(resourceSchema, input, `${field}.added[${j}]`)),
      );
      drift.nextSerial = drift.added.length;
    });
  }
}

/** Rejects worlds whose parts point at tenants or subscriptions that do not exist, naming the path. */
function checkReferences(world: World): void {
  const tenants = new Set(world.tenants.map((t) => t.id));
  const subscriptions = new Set(world.subscriptions.map((s) => s.subscriptionId));
  const need = (set: Set<string>, value: string, field: string, what: string): void => {
    if (!set.has(value))
      throw new WorldStoreError('invalid', field, `${field}: ${what} '${value}' is not in the world.`);
  };
  world.managedIdentities.forEach((mi, i) =>
    need(tenants, mi.tenantId, `managedIdentities[${i}].tenantId`, 'tenant'),
  );
  world.applications.forEach((app, i) =>
    need(tenants, app.homeTenantId, `applications[${i}].homeTenantId`, 'tenant'),
  );
  world.servicePrincipals.forEach((sp, i) =>
    need(tenants, sp.tenantId, `servicePrincipals[${i}].tenantId`, 'tenant'),
  );
  world.subscriptions.forEach((s, i) => need(tenants, s.tenantId, `subscriptions[${i}].tenantId`, 'tenant'));
  for (const [key, items] of [
    ['resourceGroups', world.resourceGroups],
    ['resources', world.resources],
    ['generatedResources', world.generatedResources],
    ['storageAccounts', world.storageAccounts],
  ] as const) {
    items.forEach((item, i) =>
      need(subscriptions, item.subscriptionId, `${key}[${i}].subscriptionId`, 'subscription'),
    );
  }
}

/**
 * Generated resources: resource i of a `generatedResources` block is a pure function of
 * (seed, subscriptionId, block ordinal, i), so a subscription of a million resources costs nothing
 * until someone lists it, and listing streams by index. Nothing here allocates per block.
 */
import type { GeneratedResources, Resource } from './world.js';

/** A realistic resource type with how its names and optional sku/kind are made. */
interface GeneratedType {
  type: string;
  /** Name prefix (Azure's recommended abbreviations). */
  prefix: string;
  /** Storage-style names: lowercase letters and digits only, at most 24 characters. */
  compactName?: boolean;
  /** Child resource: the name has a parent segment (`server/db`). */
  parentPrefix?: string;
  skus?: Array<{ name: string; tier?: string }>;
  kinds?: string[];
}

/** Weighted towards what real estates hold most of (disks and NICs follow VMs). */
const GENERATED_TYPES: readonly GeneratedType[] = [
  { type: 'Microsoft.Compute/virtualMachines', prefix: 'vm' },
  {
    type: 'Microsoft.Compute/disks',
    prefix: 'disk',
    skus: [
      { name: 'Premium_LRS', tier: 'Premium' },
      { name: 'StandardSSD_LRS', tier: 'Standard' },
      { name: 'Standard_LRS', tier: 'Standard' },
    ],
  },
  { type: 'Microsoft.Network/networkInterfaces', prefix: 'nic' },
  { type: 'Microsoft.Network/virtualNetworks', prefix: 'vnet' },
  {
    type: 'Microsoft.Network/publicIPAddresses',
    prefix: 'pip',
    skus: [
      { name: 'Standard', tier: 'Regional' },
      { name: 'Basic', tier: 'Regional' },
    ],
  },
  { type: 'Microsoft.Network/networkSecurityGroups', prefix: 'nsg' },
  // No storage accounts here: every account ARM lists must be served by the storage front too, so they
  // come only from the world's `storageAccounts` (generateWorld's storageAccountsPerTenant).
  { type: 'Microsoft.KeyVault/vaults', prefix: 'kv' },
  { type: 'Microsoft.Web/sites', prefix: 'app', kinds: ['app', 'functionapp', 'app,linux'] },
  {
    type: 'Microsoft.Web/serverFarms',
    prefix: 'asp',
    skus: [
      { name: 'P1v3', tier: 'PremiumV3' },
      { name: 'S1', tier: 'Standard' },
      { name: 'Y1', tier: 'Dynamic' },
    ],
    kinds: ['app', 'linux', 'functionapp'],
  },
  { type: 'Microsoft.Sql/servers', prefix: 'sql', kinds: ['v12.0'] },
  {
    type: 'Microsoft.Sql/servers/databases',
    prefix: 'sqldb',
    parentPrefix: 'sql',
    skus: [
      { name: 'GP_S_Gen5', tier: 'GeneralPurpose' },
      { name: 'S0', tier: 'Standard' },
    ],
    kinds: ['v12.0,user', 'v12.0,user,vcore,serverless'],
  },
];

/** The weighted draw over {@link GENERATED_TYPES} (indices; VMs, disks and NICs are the most common). */
const TYPE_WEIGHTS = [3, 4, 4, 1, 2, 2, 1, 2, 1, 1, 1];
const WEIGHTED_TYPES: readonly number[] = TYPE_WEIGHTS.flatMap((weight, index) =>
  Array.from({ length: weight }, () => index),
);

const WORKLOADS = ['web', 'api', 'data', 'etl', 'crm', 'erp', 'batch', 'portal', 'ml', 'hr', 'pay', 'ops'];
const ENVIRONMENTS = ['prod', 'dev', 'test', 'staging'];
const TEAMS = ['platform', 'finance', 'marketing', 'sales', 'research', 'security'];

/** The resource types generated blocks draw from (for tests and filters). */
export const GENERATED_RESOURCE_TYPES: readonly string[] = GENERATED_TYPES.map((entry) => entry.type);

/** 32-bit FNV-1a of a string: stable across runs and platforms. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Mixes integers into one well-spread 32-bit value (murmur3's finaliser over a running combination). */
export function mix(...values: number[]): number {
  let hash = 0x9e3779b9;
  for (const value of values) {
    hash = Math.imul(hash ^ (value | 0), 0x85ebca6b);
    hash ^= hash >>> 13;
    hash = Math.imul(hash, 0xc2b2ae35);
    hash ^= hash >>> 16;
  }
  return hash >>> 0;
}

/** Names of the resource groups a block spreads over: rg-000 .. rg-{n-1}. */
export function generatedResourceGroupName(index: number): string {
  return `rg-${String(index).padStart(3, '0')}`;
}

/** A block with the per-block constants precomputed (the subscription id's hash). */
export interface BlockContext {
  block: GeneratedResources;
  /** Position of the block among the generated blocks of its subscription (0 for the first). */
  ordinal: number;
  subscriptionHash: number;
}

export function blockContext(block: GeneratedResources, ordinal: number): BlockContext {
  return { block, ordinal, subscriptionHash: hashString(block.subscriptionId.toLowerCase()) };
}

/**
 * Resource `index` of a block. The name ends with the index in decimal digits (so an id can be
 * mapped back to its index) and carries the block ordinal when it is not the first block of the
 * subscription (so two blocks never collide).
 */
export function generatedResource(context: BlockContext, index: number): Resource {
  const { block, ordinal, subscriptionHash } = context;
  const h = mix(block.seed, subscriptionHash, ordinal, index);
  const kind = GENERATED_TYPES[WEIGHTED_TYPES[h % WEIGHTED_TYPES.length]!]!;
  const h2 = mix(h, 0x5bd1e995);
  const workload = WORKLOADS[h2 % WORKLOADS.length]!;
  const blockPart = ordinal > 0 ? `b${ordinal}` : '';
  let name: string;
  if (kind.compactName) {
    // 3-24 lowercase letters and digits, globally unique in Azure: st + a tag of the subscription and
    // seed + workload + (b1z) + index; the workload's letters (or `z`) keep the index digits apart.
    const tag = (mix(subscriptionHash, block.seed) % 1_679_616).toString(36).padStart(4, '0');
    name = `${kind.prefix}${tag}${workload}${blockPart ? `${blockPart}z` : ''}${index}`;
  } else {
    const base = `${workload}-${blockPart ? `${blockPart}-` : ''}${String(index).padStart(6, '0')}`;
    name = kind.parentPrefix
      ? `${kind.parentPrefix}-${base}/${kind.prefix}-${base}`
      : `${kind.prefix}-${base}`;
  }
  const resource: Resource = {
    subscriptionId: block.subscriptionId,
    resourceGroup: generatedResourceGroupName(index % block.resourceGroupCount),
    name,
    type: kind.type,
    location: block.location,
    tags: {},
  };
  // About two in three resources carry tags, as in estates with a tagging policy that is not enforced.
  const h3 = mix(h2, 0x27d4eb2f);
  if (h3 % 3 !== 0) {
    resource.tags = { environment: ENVIRONMENTS[h3 % ENVIRONMENTS.length]!, workload };
    if (h3 % 5 === 0) resource.tags.owner = TEAMS[(h3 >>> 8) % TEAMS.length]!;
  }
  if (kind.skus) resource.sku = { ...kind.skus[(h3 >>> 4) % kind.skus.length]! };
  if (kind.kinds) resource.kind = kind.kinds[(h3 >>> 12) % kind.kinds.length]!;
  return resource;
}

/**
 * The index encoded in a generated resource's name (the trailing digits of its last segment), or
 * undefined when the name cannot be one. Callers confirm by regenerating the resource.
 */
export function indexFromGeneratedName(name: string): number | undefined {
  const match = /(\d+)$/.exec(name);
  if (!match) return undefined;
  const index = Number(match[1]);
  return Number.isSafeInteger(index) ? index : undefined;
}

/**
 * A resource that drift adds next to a generated block (`serial` numbers the additions of the
 * subscription). Its name says it came from drift and cannot collide with generated names.
 */
export function driftAddedResource(context: BlockContext, seed: number, serial: number): Resource {
  const h = mix(context.block.seed, context.subscriptionHash, seed, serial, 0x68e31da4);
  const kind = GENERATED_TYPES[WEIGHTED_TYPES[h % WEIGHTED_TYPES.length]!]!;
  const tag = (h >>> 8).toString(36).slice(0, 4);
  let name: string;
  if (kind.compactName) name = `${kind.prefix}drift${tag}x${serial}`.slice(0, 24);
  else if (kind.parentPrefix)
    name = `${kind.parentPrefix}-drift-${tag}-${serial}/${kind.prefix}-drift-${tag}-${serial}`;
  else name = `${kind.prefix}-drift-${tag}-${serial}`;
  const resource: Resource = {
    subscriptionId: context.block.subscriptionId,
    resourceGroup: generatedResourceGroupName((h >>> 4) % context.block.resourceGroupCount),
    name,
    type: kind.type,
    location: context.block.location,
    tags: { environment: 'prod', createdBy: 'drift' },
  };
  if (kind.skus) resource.sku = { ...kind.skus[0]! };
  if (kind.kinds) resource.kind = kind.kinds[0]!;
  return resource;
}

/** A small seeded PRNG (mulberry32): deterministic choices for drift. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

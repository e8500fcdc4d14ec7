/**
 * The sandbox world: every tenant, identity, app, role assignment, subscription, resource and storage
 * account the offline cloud knows. A world is a JSON file validated by {@link worldSchema}; it is the
 * one contract shared by the sandbox's identity side (MI endpoint, Entra) and its data side (ARM,
 * storage). It is a development and test tool, never deployed.
 */
import { z } from 'zod';

const guid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID')
  .transform((value) => value.toLowerCase());

const tags = z.record(z.string(), z.string()).default({});

export const tenantSchema = z.object({
  id: guid,
  displayName: z.string().min(1),
  /** The initial domain, e.g. `litware.onmicrosoft.com`. Informational. */
  domain: z.string().optional(),
});

/** A user-assigned managed identity (only user-assigned MIs can be FICs). */
export const managedIdentitySchema = z.object({
  name: z.string().min(1),
  tenantId: guid,
  clientId: guid,
  /** Object (principal) id: the `sub` and `oid` of its tokens, and the subject of an FIC. */
  principalId: guid,
  /** ARM id: /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name} */
  resourceId: z.string().min(1),
});

export const federatedIdentityCredentialSchema = z.object({
  name: z.string().min(1),
  issuer: z.string().min(1),
  subject: z.string().min(1),
  audiences: z.array(z.string().min(1)).min(1),
});

/** An app registration (the application object lives in its home tenant). */
export const applicationSchema = z.object({
  appId: guid,
  displayName: z.string().min(1),
  homeTenantId: guid,
  signInAudience: z.enum(['AzureADMyOrg', 'AzureADMultipleOrgs']),
  federatedIdentityCredentials: z.array(federatedIdentityCredentialSchema).max(20).default([]),
});

/** A service principal: an app's instance in one tenant (the home tenant or a customer's). */
export const servicePrincipalSchema = z.object({
  appId: guid,
  tenantId: guid,
  objectId: guid,
  /** false: disabled in its tenant ("Enabled for users to sign in" = No); Entra answers AADSTS7000112. */
  accountEnabled: z.boolean().optional(),
});

/** Built-in roles the sandbox understands; ids are the documented built-in role definition ids. */
export const BUILT_IN_ROLES = {
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  'Storage Blob Data Reader': '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
} as const;
export type BuiltInRoleName = keyof typeof BUILT_IN_ROLES;

export const roleAssignmentSchema = z.object({
  /** Object id of the service principal (or MI principal) the role is granted to. */
  principalId: guid,
  roleDefinitionName: z.enum(Object.keys(BUILT_IN_ROLES) as [BuiltInRoleName, ...BuiltInRoleName[]]),
  /** ARM scope: /subscriptions/{id}, /subscriptions/{id}/resourceGroups/{rg}, or a resource id. */
  scope: z.string().startsWith('/subscriptions/'),
});

export const subscriptionSchema = z.object({
  subscriptionId: guid,
  tenantId: guid,
  displayName: z.string().min(1),
  state: z.enum(['Enabled', 'Disabled', 'Warned', 'PastDue', 'Deleted']).default('Enabled'),
});

export const resourceGroupSchema = z.object({
  subscriptionId: guid,
  name: z.string().min(1).max(90),
  location: z.string().min(1),
  tags,
});

export const resourceSchema = z.object({
  subscriptionId: guid,
  resourceGroup: z.string().min(1),
  name: z.string().min(1),
  /** e.g. Microsoft.Compute/virtualMachines */
  type: z.string().regex(/^[A-Za-z0-9.]+\/[A-Za-z0-9/]+$/, 'must look like Namespace/type'),
  location: z.string().min(1),
  tags,
  sku: z.object({ name: z.string(), tier: z.string().optional() }).optional(),
  kind: z.string().optional(),
});

export const blobSchema = z.object({
  name: z.string().min(1),
  /** Size in bytes of generated content (ignored when `content` is given). */
  size: z.number().int().nonnegative().default(0),
  content: z.string().optional(),
});

export const containerSchema = z.object({
  name: z.string().regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'invalid container name'),
  publicAccess: z.enum(['none', 'blob', 'container']).default('none'),
  blobs: z.array(blobSchema).default([]),
});

/**
 * A storage account. It is also listed by ARM as a Microsoft.Storage/storageAccounts resource
 * (kind StorageV2, sku Standard_LRS unless given) and served by the sandbox's storage front.
 */
export const storageAccountSchema = z.object({
  subscriptionId: guid,
  resourceGroup: z.string().min(1),
  name: z.string().regex(/^[a-z0-9]{3,24}$/, 'storage account names are 3-24 lowercase letters and digits'),
  location: z.string().min(1),
  tags,
  sku: z
    .object({ name: z.string(), tier: z.string().optional() })
    .default({ name: 'Standard_LRS', tier: 'Standard' }),
  kind: z.string().default('StorageV2'),
  /** `Deny` emulates a firewall that refuses the caller's network (403 AuthorizationFailure). */
  networkDefaultAction: z.enum(['Allow', 'Deny']).default('Allow'),
  containers: z.array(containerSchema).default([]),
});

/**
 * A generated block of resources in one subscription, computed on demand from (seed, index) so that
 * worlds of a million resources never materialise in memory. Resource i is deterministic.
 */
export const generatedResourcesSchema = z.object({
  subscriptionId: guid,
  /** Resource groups to spread the resources over (created as rg-000 .. rg-{n-1}). */
  resourceGroupCount: z.number().int().positive().default(4),
  count: z.number().int().nonnegative(),
  seed: z.number().int().default(1),
  location: z.string().default('westeurope'),
});

export const worldSchema = z.object({
  /** Free text shown by the sandbox CLI. */
  description: z.string().optional(),
  tenants: z.array(tenantSchema).min(1),
  managedIdentities: z.array(managedIdentitySchema).default([]),
  applications: z.array(applicationSchema).default([]),
  servicePrincipals: z.array(servicePrincipalSchema).default([]),
  roleAssignments: z.array(roleAssignmentSchema).default([]),
  subscriptions: z.array(subscriptionSchema).default([]),
  resourceGroups: z.array(resourceGroupSchema).default([]),
  resources: z.array(resourceSchema).default([]),
  generatedResources: z.array(generatedResourcesSchema).default([]),
  storageAccounts: z.array(storageAccountSchema).default([]),
});

export type WorldInput = z.input<typeof worldSchema>;
export type World = z.output<typeof worldSchema>;
export type Tenant = World['tenants'][number];
export type ManagedIdentity = World['managedIdentities'][number];
export type Application = World['applications'][number];
export type ServicePrincipal = World['servicePrincipals'][number];
export type RoleAssignment = World['roleAssignments'][number];
export type Subscription = World['subscriptions'][number];
export type ResourceGroup = World['resourceGroups'][number];
export type Resource = World['resources'][number];
export type GeneratedResources = World['generatedResources'][number];
export type StorageAccount = World['storageAccounts'][number];

/** Parses and validates a world; throws a ZodError naming the bad path. */
export function parseWorld(input: unknown): World {
  return worldSchema.parse(input);
}

/** The well-known app id behind `api://AzureADTokenExchange` (the `aud` of MI tokens for FIC, seed 003). */
export const TOKEN_EXCHANGE_APP_ID = 'fb60f99c-7a34-4190-8149-302f77469936';

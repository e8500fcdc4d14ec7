// Tenant Fleet onboarding, customer side, one subscription: grants the provider's multitenant app (through
// its service principal in YOUR tenant) read access to this subscription, and optionally blob data access.
// Nothing else: no identity, no secret, no resource is created. Revoke by deleting these role assignments
// or the service principal (see docs/onboarding.md).
targetScope = 'subscription'

import { builtInRoleIds } from '../shared/built-in-roles.bicep'

@minLength(36)
@maxLength(36)
@description('Object id of the provider app\'s service principal in your tenant (az ad sp show --id <app id> --query id -o tsv).')
param providerServicePrincipalObjectId string

@allowed([
  'None'
  'Reader'
  'Contributor'
])
@description('Blob data access for the provider: None, Reader (Storage Blob Data Reader: list and read blobs) or Contributor (Storage Blob Data Contributor: also write and delete blobs).')
param blobDataAccess string = 'None'

@minLength(1)
@description('Name shown in the role assignment descriptions, so your auditors know whom the grant is for.')
param providerName string = 'Tenant Fleet'

@description('Resource ids of storage accounts (/subscriptions/.../resourceGroups/.../providers/Microsoft.Storage/storageAccounts/<name>) to grant the blob data role on, one by one, instead of on the whole subscription. Empty (default): blob access, if any, covers the whole subscription.')
param blobDataStorageAccountIds string[] = []

// Reader always; at most one blob data role on top.
var blobRoleIds = {
  None: []
  Reader: [
    builtInRoleIds.storageBlobDataReader
  ]
  Contributor: [
    builtInRoleIds.storageBlobDataContributor
  ]
}
// With storage accounts listed, the blob role goes on each of them instead of on the whole scope.
var perAccount = !empty(blobDataStorageAccountIds)
var roleIds = concat([builtInRoleIds.reader], perAccount ? [] : blobRoleIds[blobDataAccess])
var accountBlobRoleId = perAccount && blobDataAccess == 'None'
  ? fail('blobDataStorageAccountIds needs blobDataAccess Reader or Contributor')
  : perAccount ? blobRoleIds[blobDataAccess][0] : ''

resource grants 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in roleIds: {
    // guid(scope, principal, role): re-running the onboarding is idempotent.
    name: guid(subscription().id, providerServicePrincipalObjectId, roleId)
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: providerServicePrincipalObjectId
      // Set explicitly: a service principal created seconds ago may not have replicated yet.
      principalType: 'ServicePrincipal'
      description: '${providerName} (multitenant app, secretless): onboarding grant'
    }
  }
]

// One deployment per listed account, in its own resource group (and subscription): the grant sits on the account.
module accountGrants 'storage-account-grant.bicep' = [
  for (accountId, i) in blobDataStorageAccountIds: {
    name: 'tenant-fleet-blob-${i}'
    scope: resourceGroup(split(accountId, '/')[2], split(accountId, '/')[4])
    params: {
      storageAccountName: contains(toLower(accountId), '/providers/microsoft.storage/storageaccounts/')
        ? last(split(accountId, '/'))
        : fail('not a storage account resource id: ${accountId}')
      providerServicePrincipalObjectId: providerServicePrincipalObjectId
      roleId: accountBlobRoleId
      providerName: providerName
    }
  }
]

@description('Role definition ids granted to the provider at this subscription.')
output grantedRoleDefinitionIds string[] = roleIds

@description('Resource ids of the role assignments (delete them to revoke).')
output roleAssignmentIds string[] = concat(
  [for (roleId, i) in roleIds: grants[i].id],
  [for (accountId, i) in blobDataStorageAccountIds: accountGrants[i].outputs.roleAssignmentId]
)

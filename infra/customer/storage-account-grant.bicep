// Tenant Fleet onboarding, customer side, one storage account: grants the provider's multitenant app a blob
// data role on this account only (used by subscription.bicep and management-group.bicep when you list storage
// accounts instead of granting blob access on whole subscriptions).
targetScope = 'resourceGroup'

@description('Name of the storage account in this resource group.')
param storageAccountName string

@minLength(36)
@maxLength(36)
@description('Object id of the provider app\'s service principal in your tenant.')
param providerServicePrincipalObjectId string

@minLength(36)
@maxLength(36)
@description('Role definition id of the blob data role (Storage Blob Data Reader or Contributor).')
param roleId string

@minLength(1)
@description('Name shown in the role assignment description.')
param providerName string

resource account 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: storageAccountName
}

resource grant 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  // guid(scope, principal, role): re-running the onboarding is idempotent.
  name: guid(account.id, providerServicePrincipalObjectId, roleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: providerServicePrincipalObjectId
    // Set explicitly: a service principal created seconds ago may not have replicated yet.
    principalType: 'ServicePrincipal'
    description: '${providerName} (multitenant app, secretless): blob data on this storage account only'
  }
}

@description('Resource id of the role assignment (delete it to revoke).')
output roleAssignmentId string = grant.id

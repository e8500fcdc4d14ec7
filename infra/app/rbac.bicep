// Least-privilege role assignments of the managed identity on the provider's own resources: data-plane
// roles scoped to the one storage account, and metrics publishing scoped to the one Application Insights
// component. No control-plane role, no subscription- or resource-group-wide grant.
import { builtInRoleIds } from '../shared/built-in-roles.bicep'

@description('Name of the provider storage account (the scope of the data roles).')
param storageAccountName string

@description('Name of the Application Insights component (the scope of Monitoring Metrics Publisher).')
param applicationInsightsName string

@description('Principal (object) id of the user-assigned managed identity receiving the roles.')
param identityPrincipalId string

// Why each storage data role, each the least that does the job, all scoped to this one account:
// - Blob Data Owner, not Contributor: the Functions host requires it when AzureWebJobsStorage is identity-based
//   (Microsoft, "Connecting to host storage with an identity": the host keeps coordination blobs, timer locks
//   and its default key store in blob storage and creates its containers; Blob Data Owner is the documented
//   minimum for the host). The Flex deployment container and the snapshots container live in the same account
//   and need no more than that.
// - Queue Data Contributor: the tenant-sweep queue trigger and its poison queue.
// - Table Data Contributor: the registry and results tables (and the host's diagnostic events).
var storageDataRoleIds = [
  builtInRoleIds.storageBlobDataOwner
  builtInRoleIds.storageQueueDataContributor
  builtInRoleIds.storageTableDataContributor
]

resource storageAccount 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource storageDataRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in storageDataRoleIds: {
    // guid(scope, principal, role): stable across redeployments, unique per grant.
    name: guid(storageAccount.id, identityPrincipalId, roleId)
    scope: storageAccount
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: identityPrincipalId
      // Set explicitly: a just-created identity may not have replicated yet, and ARM would fail to look it up.
      principalType: 'ServicePrincipal'
      description: 'Tenant Fleet managed identity: provider storage data access'
    }
  }
]

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, builtInRoleIds.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      builtInRoleIds.monitoringMetricsPublisher
    )
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'Tenant Fleet managed identity: Entra-authenticated telemetry'
  }
}

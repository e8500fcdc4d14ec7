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

// Why each storage data role:
// - Blob Data Owner: the Functions host (leases, timer state), the Flex deployment container, snapshots.
// - Queue Data Contributor: the tenant-sweep queue trigger and its poison queue.
// - Table Data Contributor: the registry and results tables.
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

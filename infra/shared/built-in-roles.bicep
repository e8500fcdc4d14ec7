metadata description = 'The one map of Azure built-in role definition ids that Tenant Fleet templates assign.'

// Built-in role ids are the same GUIDs in every tenant and every cloud (public, US Gov, China).
// Source: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
// Every template imports this map instead of repeating GUIDs, so a wrong id can only live in one place
// (test/infra/infra.test.ts checks each id against the documented table and that no other file carries one).
@export()
@description('Azure built-in role definition ids (GUIDs) used by Tenant Fleet, keyed by role.')
var builtInRoleIds = {
  // Reader: view every control-plane resource, change nothing. Customers grant it so the sweep can inventory.
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
  // Storage Blob Data Owner: full blob data access. The provider identity needs it on its own account for the
  // Functions host (leases, keys, timers), the Flex Consumption deployment container and the snapshots container.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Storage Blob Data Contributor: read, write and delete blobs. Optional customer grant for Fleet.Admin blob writes.
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  // Storage Blob Data Reader: read and list blobs. Optional customer grant for blob inventory.
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  // Storage Queue Data Contributor: the sweep queue and its poison queue on the provider account.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Storage Table Data Contributor: the registry and results tables on the provider account.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Monitoring Metrics Publisher: lets the identity send telemetry to Application Insights with local auth disabled.
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

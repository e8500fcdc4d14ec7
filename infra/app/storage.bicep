// The provider's storage account: Functions host storage, the Flex Consumption deployment container, and
// the app's own tables, queues and containers. Shared key access is disabled, so every caller (the host,
// the app, azd's deployment) authenticates with Entra ID; no account key is ever read or handed out.

@description('Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region of the account.')
param location string

@description('Tags applied to the account.')
param tags object

@description('Blob container Flex Consumption deploys the app package from.')
param deploymentContainerName string

@description('Resource id of the Log Analytics workspace that receives the blob, queue and table logs.')
param logAnalyticsWorkspaceResourceId string

@description('Close the account to public networks: reachable only through the private endpoints in privateEndpointsSubnetId.')
param restrictPublicNetworkAccess bool

@description('Subnet for the blob, queue and table private endpoints (restrictPublicNetworkAccess only; empty otherwise).')
param privateEndpointsSubnetId string

@description('Private DNS zone ids { blob, queue, table } for the private endpoints (restrictPublicNetworkAccess only; empty strings otherwise).')
param privateDnsZoneIds object

// Names fixed by the app (src/core/config.ts): registry and results tables, the sweep queue and its
// poison queue, and the snapshots container. The app also creates them at start (idempotently).
var tableNames = [
  'tenants'
  'runs'
  'runtenants'
  'inventory'
  'changes'
  'storage'
  'aggregates'
]
var queueNames = [
  'tenant-sweep'
  'tenant-sweep-poison'
]
var containerNames = [
  deploymentContainerName
  'snapshots'
]

// Every read, write and delete on blobs, queues and tables goes to the workspace (who touched what, as which
// identity): the audit trail of the provider's data.
var dataLogs = [
  {
    name: 'to-log-analytics'
    workspaceResourceId: logAnalyticsWorkspaceResourceId
    logCategoriesAndGroups: [
      { category: 'StorageRead' }
      { category: 'StorageWrite' }
      { category: 'StorageDelete' }
    ]
  }
]

// One private endpoint per service the app uses (restrictPublicNetworkAccess only).
var privateEndpoints = [
  for service in ['blob', 'queue', 'table']: {
    service: service
    subnetResourceId: privateEndpointsSubnetId
    privateDnsZoneGroup: {
      privateDnsZoneGroupConfigs: [
        { privateDnsZoneResourceId: privateDnsZoneIds[service] }
      ]
    }
  }
]

module account 'br/public:avm/res/storage/storage-account:0.33.0' = {
  name: 'storage-account'
  params: {
    name: name
    location: location
    tags: tags
    kind: 'StorageV2'
    skuName: 'Standard_LRS'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    dnsEndpointType: 'Standard'
    // By default the Function App reaches the account over its public endpoint; access is still Entra-only (no
    // shared key), TLS 1.2+, and limited to the roles granted in rbac.bicep. With restrictPublicNetworkAccess the
    // public endpoint is off and the app (VNet-integrated) uses the private endpoints.
    publicNetworkAccess: restrictPublicNetworkAccess ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: restrictPublicNetworkAccess ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
    privateEndpoints: restrictPublicNetworkAccess ? privateEndpoints : []
    blobServices: {
      deleteRetentionPolicyEnabled: true
      deleteRetentionPolicyDays: 7
      containerDeleteRetentionPolicyEnabled: true
      containerDeleteRetentionPolicyDays: 7
      containers: [
        for containerName in containerNames: {
          name: containerName
          publicAccess: 'None'
        }
      ]
      diagnosticSettings: dataLogs
    }
    queueServices: {
      queues: [for queueName in queueNames: { name: queueName }]
      diagnosticSettings: dataLogs
    }
    tableServices: {
      tables: [for tableName in tableNames: { name: tableName }]
      diagnosticSettings: dataLogs
    }
  }
}

@description('Name of the storage account.')
output name string = account.outputs.name

@description('Service endpoints (https URLs) of the account; identifiers, not credentials.')
output endpoints object = {
  blob: account.outputs.serviceEndpoints.blob
  queue: account.outputs.serviceEndpoints.queue
  table: account.outputs.serviceEndpoints.table
}

// Private networking for restrictPublicNetworkAccess (main.bicep): a virtual network with one subnet the Function
// App integrates with (outbound: it reaches its storage through private endpoints) and one for the private
// endpoints of the storage account and of the Function App (inbound), plus the private DNS zones that make the
// usual host names resolve to those endpoints inside the network. Customer tenants, Entra ID, ARM and Azure
// Monitor are still reached over their public endpoints: only the provider's own resources are closed.

@description('Azure region of the virtual network.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the virtual network.')
param name string

@description('Private DNS zone of Function App private endpoints in this cloud (privatelink.azurewebsites.net in AzureCloud).')
param sitePrivateDnsZone string

@description('Address space of the virtual network; the two subnets take its first two /24 blocks.')
param addressPrefix string = '10.40.0.0/16'

// Storage zones follow the cloud's storage suffix (core.windows.net, core.usgovcloudapi.net, core.chinacloudapi.cn).
var storageZones = {
  blob: 'privatelink.blob.${environment().suffixes.storage}'
  queue: 'privatelink.queue.${environment().suffixes.storage}'
  table: 'privatelink.table.${environment().suffixes.storage}'
}
var zoneNames = [
  storageZones.blob
  storageZones.queue
  storageZones.table
  sitePrivateDnsZone
]

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'functions'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 0)
          // Flex Consumption integrates with a subnet delegated to Microsoft.App/environments.
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 1)
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zoneName in zoneNames: {
    name: zoneName
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (zoneName, i) in zoneNames: {
    parent: zones[i]
    name: '${name}-link'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

@description('Resource id of the subnet the Function App integrates with.')
output functionsSubnetId string = vnet.properties.subnets[0].id

@description('Resource id of the subnet that holds the private endpoints.')
output privateEndpointsSubnetId string = vnet.properties.subnets[1].id

@description('Resource ids of the private DNS zones: { blob, queue, table, sites }.')
output privateDnsZoneIds object = {
  blob: zones[0].id
  queue: zones[1].id
  table: zones[2].id
  sites: zones[3].id
}

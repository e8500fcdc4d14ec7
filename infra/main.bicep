// Tenant Fleet, provider side: everything `azd up` creates in the provider's subscription and tenant.
// Secretless by design: the only credential is the user-assigned managed identity, which is a federated
// identity credential (FIC) on the multitenant app registration. No key, secret or connection string is
// created, stored or output anywhere in these templates.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; seeds the unique suffix of every resource name and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Azure region for every resource. It must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Optional override of the resource group name (default rg-<environmentName>).')
param resourceGroupName string = ''

@description('Object id of the person or pipeline running azd (azd fills AZURE_PRINCIPAL_ID). It becomes owner of the API app registration and gets every Fleet app role; leave empty to assign roles yourself.')
param principalId string = ''

@description('NCRONTAB schedule (six fields, UTC) of the sweep timer; the app reads it as TENANT_FLEET_SWEEP_SCHEDULE.')
param sweepSchedule string = '0 0 */6 * * *'

@minLength(1)
@maxLength(120)
@description('Display name of the multitenant app registration: this is the name customers see in their tenant.')
param appDisplayName string = 'Tenant Fleet'

@description('Optional https redirect URI for the admin-consent link sent to customers (a page of yours that says thanks). Empty: no redirect URI is registered and customers onboard with the CLI script.')
param consentRedirectUri string = ''

@description('Optional service tree / CMDB reference that some tenants require on every app registration (Entra serviceManagementReference).')
param serviceManagementReference string = ''

@description('Client (app) ids allowed to request user tokens for the HTTP API without a consent prompt. The default is the Azure CLI, so operators can call the API with az account get-access-token.')
param apiPreAuthorizedClientIds string[] = [
  '04b07795-8ddb-461a-bbee-02f9e1bf7b46' // Azure CLI (first-party Microsoft app)
]

@allowed([
  512
  2048
  4096
])
@description('Memory per Flex Consumption instance in MB.')
param instanceMemoryMB int = 2048

// Flex Consumption accepts 40 to 1000; a smaller value is refused at deployment.
@minValue(40)
@maxValue(1000)
@description('Upper bound of Flex Consumption instances (40 to 1000); caps cost and the request rate against customer tenants.')
param maximumInstanceCount int = 40

@minValue(30)
@maxValue(730)
@description('Retention in days of the Log Analytics workspace (the first 31 days are included in the ingestion price).')
param logRetentionInDays int = 30

@description('Close the provider storage account and the Function App to public networks: a virtual network, VNet integration and private endpoints (docs/deploy.md, "Private networking"). Deploying code then needs a runner inside that network.')
param restrictPublicNetworkAccess bool = false

// FunctionAppLogs (function and host logs) and AppServiceAuthenticationLogs (sign-in and token validation) are
// what docs/deploy.md lists for function apps; AppServiceHTTPLogs can be added where the app offers it.
@description('Resource log categories of the Function App sent to Log Analytics (az monitor diagnostic-settings categories list shows what the app offers).')
param functionAppLogCategories string[] = [
  'FunctionAppLogs'
  'AppServiceAuthenticationLogs'
]

@description('Outside the public cloud only (Microsoft Graph Bicep is public-cloud only): client id of the multitenant app that infra/sovereign/entra-apps.sh created. Ignored in AzureCloud.')
param existingFleetAppClientId string = ''

@description('Outside the public cloud only: client id of the API app that infra/sovereign/entra-apps.sh created. Ignored in AzureCloud.')
param existingApiAppClientId string = ''

@description('Outside the public cloud only: identifier URI of that API app (api://<tenant id>/tenant-fleet-...). Ignored in AzureCloud.')
param existingApiIdentifierUri string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
// Flex Consumption pulls the app package from this container with the user-assigned identity.
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

// The FIC audience and the app's cloud name both follow the cloud the template is deployed to: a FIC
// works across tenants but never across clouds.
var clouds = {
  AzureCloud: {
    fleetCloud: 'AzurePublicCloud'
    ficAudience: 'api://AzureADTokenExchange'
    sitePrivateDnsZone: 'privatelink.azurewebsites.net'
  }
  AzureUSGovernment: {
    fleetCloud: 'AzureUSGovernment'
    ficAudience: 'api://AzureADTokenExchangeUSGov'
    sitePrivateDnsZone: 'privatelink.azurewebsites.us'
  }
  AzureChinaCloud: {
    fleetCloud: 'AzureChinaCloud'
    ficAudience: 'api://AzureADTokenExchangeChina'
    sitePrivateDnsZone: 'privatelink.chinacloudsites.cn'
  }
}
var cloud = contains(clouds, environment().name)
  ? clouds[environment().name]
  : fail('Tenant Fleet supports AzureCloud, AzureUSGovernment and AzureChinaCloud, not ${environment().name}.')
// The issuer of managed identity tokens: the home tenant's v2.0 authority of this cloud (the FIC's issuer).
var ficIssuer = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'

// The Microsoft Graph Bicep extension works in the public cloud only. In US Government and China the Entra
// part is done beforehand by infra/sovereign/entra-apps.sh (docs/deploy.md, "Sovereign clouds"), which prints
// the three ids this template then takes as parameters; without them the deployment stops here, before
// anything is created.
var graphBicep = environment().name == 'AzureCloud'
var sovereignEntraReady = !empty(existingFleetAppClientId) && !empty(existingApiAppClientId) && !empty(existingApiIdentifierUri)
var sovereignEntra = graphBicep || sovereignEntraReady
  ? {}
  : fail('Microsoft Graph Bicep is not available in ${environment().name}: run infra/sovereign/entra-apps.sh create first, then set the ids it prints (azd env set TENANT_FLEET_EXISTING_FLEET_APP_CLIENT_ID / _API_APP_CLIENT_ID / _API_IDENTIFIER_URI) and provision again. See docs/deploy.md, "Sovereign clouds".')

resource rg 'Microsoft.Resources/resourceGroups@2024-11-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  // union() with sovereignEntra ({} or fail()): the resource group is the first thing deployed, so a sovereign
  // deployment without the script's ids stops here, before anything is created.
  tags: union(tags, sovereignEntra)
}

// The only credential of the system: the Function App runs as this identity, reaches its own storage and
// monitoring with it, and presents its token (audience api://AzureADTokenExchange) as client assertion of
// the multitenant app in each customer tenant.
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.6.0' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    retentionInDays: logRetentionInDays
  }
}

module network 'app/network.bicep' = if (restrictPublicNetworkAccess) {
  name: 'network'
  scope: rg
  params: {
    name: '${abbrs.networkVirtualNetworks}${resourceToken}'
    location: location
    tags: tags
    sitePrivateDnsZone: cloud.sitePrivateDnsZone
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    logAnalyticsWorkspaceResourceId: monitoring.outputs.logAnalyticsWorkspaceResourceId
    restrictPublicNetworkAccess: restrictPublicNetworkAccess
    privateEndpointsSubnetId: restrictPublicNetworkAccess ? network.outputs.privateEndpointsSubnetId : ''
    // Without the network the ids are empty strings, never missing: storage.bicep indexes them by service.
    privateDnsZoneIds: restrictPublicNetworkAccess
      ? network.outputs.privateDnsZoneIds
      : {
          blob: ''
          queue: ''
          table: ''
        }
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    identityPrincipalId: identity.outputs.principalId
  }
}

// Entra stage 1 (public cloud): both apps, the API scope and app roles, the FIC, the role assignments.
module entra 'app/entra.bicep' = if (graphBicep) {
  name: 'entra'
  scope: rg
  params: {
    stage: 'create'
    resourceToken: resourceToken
    appDisplayName: appDisplayName
    identityPrincipalId: identity.outputs.principalId
    ficAudience: cloud.ficAudience
    ficIssuer: ficIssuer
    consentRedirectUri: consentRedirectUri
    serviceManagementReference: serviceManagementReference
    apiPreAuthorizedClientIds: apiPreAuthorizedClientIds
    adminPrincipalId: principalId
  }
}

// The Entra ids the rest of the deployment uses, from stage 1 or, outside the public cloud, from the script.
var fleetAppClientId = graphBicep ? entra.outputs.fleetAppClientId : existingFleetAppClientId
var apiAppClientId = graphBicep ? entra.outputs.apiAppClientId : existingApiAppClientId
var apiIdentifierUri = graphBicep ? entra.outputs.apiIdentifierUri : existingApiIdentifierUri

module plan 'br/public:avm/res/web/serverfarm:0.7.0' = {
  name: 'plan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    skuName: 'FC1' // Flex Consumption: scales to zero, billed per execution.
    kind: 'functionapp'
    reserved: true // Linux
    zoneRedundant: false
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    planResourceId: plan.outputs.resourceId
    identityResourceId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageEndpoints: storage.outputs.endpoints
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    logAnalyticsWorkspaceResourceId: monitoring.outputs.logAnalyticsWorkspaceResourceId
    logCategories: functionAppLogCategories
    restrictPublicNetworkAccess: restrictPublicNetworkAccess
    functionsSubnetId: restrictPublicNetworkAccess ? network.outputs.functionsSubnetId : ''
    privateEndpointsSubnetId: restrictPublicNetworkAccess ? network.outputs.privateEndpointsSubnetId : ''
    sitePrivateDnsZoneId: restrictPublicNetworkAccess ? network.outputs.privateDnsZoneIds.sites : ''
    fleetSettings: {
      TENANT_FLEET_CLOUD: cloud.fleetCloud
      TENANT_FLEET_MI_CLIENT_ID: identity.outputs.clientId
      TENANT_FLEET_APP_CLIENT_ID: fleetAppClientId
      TENANT_FLEET_SWEEP_SCHEDULE: sweepSchedule
      // How the app authenticates HTTP callers: App Service Authentication validates, the app decides (api.bicep).
      TENANT_FLEET_HTTP_AUTH: 'appservice'
      TENANT_FLEET_API_AUDIENCE: apiIdentifierUri
      TENANT_FLEET_API_CLIENT_ID: apiAppClientId
      TENANT_FLEET_AUTH_TENANT_ID: tenant().tenantId
    }
    authClientId: apiAppClientId
    authAllowedAudiences: [
      apiIdentifierUri
      apiAppClientId
    ]
  }
  // The host starts with identity-based storage: give it its data roles first.
  dependsOn: [
    rbac
  ]
}

// Entra stage 2 (public cloud), after the Function App exists: the same API app upserted with the pre-authorized
// clients (their scope now exists) and the console's sign-in redirect URI on the app's real host name.
module entraComplete 'app/entra.bicep' = if (graphBicep) {
  name: 'entra-complete'
  scope: rg
  params: {
    stage: 'complete'
    siteHostName: api.outputs.defaultHostname
    resourceToken: resourceToken
    appDisplayName: appDisplayName
    identityPrincipalId: identity.outputs.principalId
    ficAudience: cloud.ficAudience
    ficIssuer: ficIssuer
    consentRedirectUri: consentRedirectUri
    serviceManagementReference: serviceManagementReference
    apiPreAuthorizedClientIds: apiPreAuthorizedClientIds
    adminPrincipalId: principalId
  }
}

// Outputs land in .azure/<env>/.env; the postprovision hook prints what to send to customers.
// Identifiers only: nothing here is a secret.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = 'https://${api.outputs.defaultHostname}'
output TENANT_FLEET_CLOUD string = cloud.fleetCloud
output TENANT_FLEET_APP_CLIENT_ID string = fleetAppClientId
output TENANT_FLEET_APP_DISPLAY_NAME string = appDisplayName
output TENANT_FLEET_MI_CLIENT_ID string = identity.outputs.clientId
output TENANT_FLEET_MI_PRINCIPAL_ID string = identity.outputs.principalId
output TENANT_FLEET_FIC_ISSUER string = ficIssuer
output TENANT_FLEET_FIC_AUDIENCE string = cloud.ficAudience
output TENANT_FLEET_API_CLIENT_ID string = apiAppClientId
output TENANT_FLEET_API_IDENTIFIER_URI string = apiIdentifierUri
output TENANT_FLEET_AUTH_TENANT_ID string = tenant().tenantId
@description('Admin-consent URL for customers; replace {customer-tenant-id} with the customer\'s tenant id.')
output TENANT_FLEET_ADMIN_CONSENT_URL_TEMPLATE string = '${environment().authentication.loginEndpoint}{customer-tenant-id}/adminconsent?client_id=${fleetAppClientId}${empty(consentRedirectUri) ? '' : '&redirect_uri=${uriComponent(consentRedirectUri)}'}'

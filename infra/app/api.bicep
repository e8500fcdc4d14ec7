// The Function App (Flex Consumption, Linux, Node 22) that runs Tenant Fleet, running as the user-assigned
// managed identity. Storage, deployment and telemetry are all identity-based; the HTTP API and the console sit
// behind App Service Authentication, which validates Entra tokens and sign-ins for the API app registration
// (no client secret) and passes the caller's roles to the code in x-ms-client-principal.

@description('Name of the Function App (also its default host name prefix).')
param name string

@description('Azure region of the Function App.')
param location string

@description('Tags applied to the Function App; azd-service-name is added here.')
param tags object

@description('azd service name this app hosts (must match azure.yaml).')
param serviceName string = 'api'

@description('Resource id of the Flex Consumption (FC1) plan.')
param planResourceId string

@description('Resource id of the user-assigned managed identity the app runs as.')
param identityResourceId string

@description('Client id of that identity (selects it for storage, telemetry and the FIC token).')
param identityClientId string

@description('https endpoints of the provider storage account: { blob, queue, table }.')
param storageEndpoints object

@description('Blob container the app package is deployed to.')
param deploymentContainerName string

@description('Name of the Application Insights component in this resource group.')
param applicationInsightsName string

@description('Memory per instance in MB.')
param instanceMemoryMB int

@minValue(40)
@maxValue(1000)
@description('Upper bound of instances (Flex Consumption accepts 40 to 1000).')
param maximumInstanceCount int

@description('Resource id of the Log Analytics workspace that receives the Function App\'s logs.')
param logAnalyticsWorkspaceResourceId string

@description('Resource log categories sent to the workspace. Check what the app offers with az monitor diagnostic-settings categories list --resource <app id>; a category the app does not offer fails the deployment.')
param logCategories string[]

@description('Close the Function App to public networks: inbound only through its private endpoint, outbound through the VNet.')
param restrictPublicNetworkAccess bool

@description('Subnet (delegated to Microsoft.App/environments) the app integrates with (restrictPublicNetworkAccess only; empty otherwise).')
param functionsSubnetId string

@description('Subnet for the app\'s private endpoint (restrictPublicNetworkAccess only; empty otherwise).')
param privateEndpointsSubnetId string

@description('Private DNS zone id for the app\'s private endpoint (restrictPublicNetworkAccess only; empty otherwise).')
param sitePrivateDnsZoneId string

@description('The TENANT_FLEET_* app settings the code reads (identifiers and a schedule; nothing secret).')
param fleetSettings object

@description('Client id of the API app registration App Service Authentication validates tokens for.')
param authClientId string

@description('Audiences App Service Authentication accepts (the API app\'s client id and identifier URI).')
param authAllowedAudiences string[]

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// The Node.js worker's heap limit, shared with the benchmark (why and the measurements: node-worker.json).
var nodeWorker = loadJsonContent('node-worker.json')

// Identity-based host storage: no AzureWebJobsStorage connection string, only service URIs plus the
// identity to use. Telemetry is sent with an Entra token of the same identity (local auth is disabled).
var hostSettings = {
  languageWorkers__node__arguments: '--max-old-space-size=${nodeWorker.maxOldSpaceSizeMB}'
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storageEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storageEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storageEndpoints.table
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// App Service Authentication (authsettingsV2), one configuration for the API and the console:
// - The platform validates what a request carries (a bearer token for the API app, or the console's session
//   cookie from a browser sign-in) and passes the caller on in the x-ms-client-principal* headers.
// - It lets requests without credentials through (AllowAnonymous, requireAuthentication false) so that the APP
//   decides: API routes answer 401, the console route redirects browsers to /.auth/login/aad. A platform-wide
//   Return401 would stop the browser sign-in, a RedirectToLoginPage would answer API callers with HTML.
//   A request with an invalid token is still refused by the platform.
// - No client secret: browser sign-in uses the implicit ID-token flow the API app registration allows
//   (entra.bicep, stage complete); the token store keeps the signed-in user's tokens for /.auth/me and refresh.
var authSettings = {
  platform: {
    enabled: true
  }
  globalValidation: {
    requireAuthentication: false
    unauthenticatedClientAction: 'AllowAnonymous'
  }
  httpSettings: {
    requireHttps: true
  }
  identityProviders: {
    azureActiveDirectory: {
      enabled: true
      registration: {
        clientId: authClientId
        openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
      }
      validation: {
        allowedAudiences: authAllowedAudiences
      }
    }
  }
  login: {
    tokenStore: {
      enabled: true
    }
  }
}

module site 'br/public:avm/res/web/site:0.24.0' = {
  name: 'function-app'
  params: {
    name: name
    location: location
    kind: 'functionapp,linux'
    tags: union(tags, {
      'azd-service-name': serviceName
    })
    serverFarmResourceId: planResourceId
    managedIdentities: {
      userAssignedResourceIds: [
        identityResourceId
      ]
    }
    httpsOnly: true
    clientAffinityEnabled: false
    // With restrictPublicNetworkAccess: no public inbound (the API, the console and the SCM/deployment endpoint
    // answer only through the private endpoint), and outbound through the integrated subnet so the app reaches
    // its storage over the private endpoints.
    publicNetworkAccess: restrictPublicNetworkAccess ? 'Disabled' : 'Enabled'
    virtualNetworkSubnetResourceId: restrictPublicNetworkAccess ? functionsSubnetId : null
    privateEndpoints: restrictPublicNetworkAccess
      ? [
          {
            service: 'sites'
            subnetResourceId: privateEndpointsSubnetId
            privateDnsZoneGroup: {
              privateDnsZoneGroupConfigs: [
                { privateDnsZoneResourceId: sitePrivateDnsZoneId }
              ]
            }
          }
        ]
      : []
    // Function execution logs and sign-in (authentication) logs go to the workspace, next to the storage logs.
    diagnosticSettings: [
      {
        name: 'to-log-analytics'
        workspaceResourceId: logAnalyticsWorkspaceResourceId
        logCategoriesAndGroups: [for category in logCategories: { category: category }]
        metricCategories: [
          { category: 'AllMetrics' }
        ]
      }
    ]
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityResourceId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
    siteConfig: {
      alwaysOn: false // not applicable to Flex Consumption; the AVM default (true) would be rejected
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
    }
    // No siteConfig.ftpsState: Flex Consumption refuses the property (error 51021). FTP stays off because
    // basic-auth publishing (FTP and SCM user/password) is off here: azd deploys with an Entra token.
    basicPublishingCredentialsPolicies: [
      {
        name: 'ftp'
        allow: false
      }
      {
        name: 'scm'
        allow: false
      }
    ]
    configs: [
      {
        name: 'appsettings'
        // The template is the single source of truth for settings.
        retainCurrentAppSettings: false
        properties: union(hostSettings, fleetSettings)
      }
      {
        name: 'authsettingsV2'
        properties: authSettings
      }
    ]
  }
}

@description('Name of the Function App.')
output name string = site.outputs.name

@description('Default host name of the Function App (without scheme).')
output defaultHostname string = site.outputs.defaultHostname

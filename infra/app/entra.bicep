// Entra ID objects, through the Microsoft Graph Bicep extension (public cloud only, see docs/deploy.md):
// 1. The multitenant "fleet" app that acts in customer tenants. Its only credential is a federated identity
//    credential (FIC) trusting the user-assigned managed identity: the FIC must live on this app in the
//    provider's home tenant (an app created in the customer tenant fails with AADSTS700236).
// 2. The single-tenant "API" app that App Service Authentication validates tokens against; it defines the
//    app roles the HTTP API checks (Fleet.Read, Fleet.Admin).
extension microsoftGraphV1

@description('Unique suffix of the environment; makes uniqueName and the identifier URI unique per deployment.')
param resourceToken string

@description('Display name of the multitenant app (what customers see); the API app gets the same name plus " API".')
param appDisplayName string

@description('Principal (object) id of the user-assigned managed identity: the subject of the FIC.')
param identityPrincipalId string

@description('FIC audience of the current cloud (api://AzureADTokenExchange, ...USGov or ...China).')
param ficAudience string

@description('Optional https redirect URI registered on the multitenant app for the admin-consent link; empty for none.')
param consentRedirectUri string

@description('Optional serviceManagementReference put on both app registrations; empty for none.')
param serviceManagementReference string

@description('Client ids pre-authorized to request user tokens for the API scope (default: Azure CLI).')
param apiPreAuthorizedClientIds string[]

@description('Object id made owner of the API app and given Fleet.Admin; empty to skip.')
param adminPrincipalId string

// The issuer of managed identity tokens is the home tenant's v2.0 authority of this cloud.
var ficIssuer = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
// api://{tenantId}/{string} is one of the identifier URI patterns Entra accepts under its secure-URI policy.
var apiIdentifierUri = 'api://${tenant().tenantId}/tenant-fleet-${resourceToken}'
var managementReference = empty(serviceManagementReference) ? null : serviceManagementReference
var redirectUris = empty(consentRedirectUri)
  ? []
  : startsWith(consentRedirectUri, 'https://')
      ? [consentRedirectUri]
      : fail('consentRedirectUri must be an https URL, got: ${consentRedirectUri}')
var owners = empty(adminPrincipalId) ? [] : [adminPrincipalId]

// The app roles the HTTP API checks in the roles claim of x-ms-client-principal. Role ids are derived
// deterministically so redeployments keep them (assignments reference the id, not the value).
var apiAppRoles = [
  {
    value: 'Fleet.Read'
    displayName: 'Tenant Fleet reader'
    description: 'Read the tenant registry, run results and diagnostics.'
  }
  {
    value: 'Fleet.Admin'
    displayName: 'Tenant Fleet administrator'
    description: 'Change the tenant registry, start runs and write blobs in customer tenants.'
  }
]
var adminRoleId = guid(tenant().tenantId, resourceToken, 'Fleet.Admin')
var userImpersonationScopeId = guid(tenant().tenantId, resourceToken, 'user_impersonation')

resource fleetApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: 'tenant-fleet-${resourceToken}'
  displayName: appDisplayName
  signInAudience: 'AzureADMultipleOrgs'
  serviceManagementReference: managementReference
  web: {
    redirectUris: redirectUris
  }
  // Customers' admins cannot add secrets or certificates to this app's service principal in their tenant.
  servicePrincipalLockConfiguration: {
    isEnabled: true
    allProperties: true
  }

  // The one credential of the app. No password or certificate credential is ever created.
  resource managedIdentityFic 'federatedIdentityCredentials@v1.0' = {
    name: '${fleetApp.uniqueName}/tenant-fleet-managed-identity'
    description: 'Trusts the Tenant Fleet user-assigned managed identity as the credential of this app.'
    audiences: [
      ficAudience
    ]
    issuer: ficIssuer
    subject: identityPrincipalId
  }
}

// The home-tenant service principal (customers create their own from the app id when they onboard).
resource fleetServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: fleetApp.appId
}

resource apiApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: 'tenant-fleet-api-${resourceToken}'
  displayName: '${appDisplayName} API'
  signInAudience: 'AzureADMyOrg'
  serviceManagementReference: managementReference
  identifierUris: [
    apiIdentifierUri
  ]
  api: {
    // v2 tokens: aud is the client id, iss is {loginEndpoint}{tenant}/v2.0 (what App Service Auth validates).
    requestedAccessTokenVersion: 2
    oauth2PermissionScopes: [
      {
        id: userImpersonationScopeId
        value: 'user_impersonation'
        type: 'User'
        isEnabled: true
        adminConsentDisplayName: 'Call the Tenant Fleet API'
        adminConsentDescription: 'Lets the app call the Tenant Fleet API as the signed-in user (the user still needs a Fleet app role).'
        userConsentDisplayName: 'Call the Tenant Fleet API'
        userConsentDescription: 'Lets the app call the Tenant Fleet API as you.'
      }
    ]
    preAuthorizedApplications: [
      for clientId in apiPreAuthorizedClientIds: {
        appId: clientId
        delegatedPermissionIds: [
          userImpersonationScopeId
        ]
      }
    ]
  }
  appRoles: [
    for role in apiAppRoles: {
      id: guid(tenant().tenantId, resourceToken, role.value)
      value: role.value
      displayName: role.displayName
      description: role.description
      allowedMemberTypes: [
        'User'
        'Application'
      ]
      isEnabled: true
    }
  ]
  owners: {
    relationships: owners
  }
}

resource apiServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: apiApp.appId
  // Only users, groups and apps holding a Fleet role get a token for the API at all.
  appRoleAssignmentRequired: true
  owners: {
    relationships: owners
  }
}

resource adminRoleAssignment 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (!empty(adminPrincipalId)) {
  appRoleId: adminRoleId
  principalId: adminPrincipalId
  resourceId: apiServicePrincipal.id
}

@description('Application (client) id of the multitenant app: what customers consent to and grant roles to.')
output fleetAppClientId string = fleetApp.appId

@description('Object id of the multitenant app\'s service principal in the provider\'s home tenant.')
output fleetServicePrincipalId string = fleetServicePrincipal.id

@description('Issuer of the FIC (the home tenant\'s v2.0 authority).')
output ficIssuer string = ficIssuer

@description('Application (client) id of the API app (App Service Authentication client id, v2 token audience).')
output apiAppClientId string = apiApp.appId

@description('Identifier URI of the API app (scope prefix: <uri>/user_impersonation or <uri>/.default).')
output apiIdentifierUri string = apiIdentifierUri

@description('Admin-consent URL for customers; replace {customer-tenant-id} with the customer\'s tenant id.')
output adminConsentUrlTemplate string = '${environment().authentication.loginEndpoint}{customer-tenant-id}/adminconsent?client_id=${fleetApp.appId}${empty(consentRedirectUri) ? '' : '&redirect_uri=${uriComponent(consentRedirectUri)}'}'

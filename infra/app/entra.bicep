// Entra ID objects, through the Microsoft Graph Bicep extension (public cloud only, see docs/deploy.md):
// 1. The multitenant "fleet" app that acts in customer tenants. Its only credential is a federated identity
//    credential (FIC) trusting the user-assigned managed identity: the FIC must live on this app in the
//    provider's home tenant (an app created in the customer tenant fails with AADSTS700236).
// 2. The single-tenant "API" app that App Service Authentication validates tokens and browser sign-ins against;
//    it defines the app roles the HTTP API and the console check (Fleet.Read, Fleet.CustomerData.Read, Fleet.Admin).
//
// main.bicep deploys this file twice, because Microsoft Graph refuses to pre-authorize a scope created in the
// same request (preAuthorizedApplications naming a scope that does not exist yet):
//   stage 'create'   creates both apps, the API's user_impersonation scope and its app roles, with no
//                    pre-authorized client and no sign-in redirect (the Function App does not exist yet);
//   stage 'complete' runs after the Function App exists and upserts the same API app (same uniqueName, same
//                    ids) adding the pre-authorized clients and the console's sign-in redirect URI.
// Every object is an upsert keyed by its uniqueName, so running both stages (and redeploying) is idempotent.
// On a redeploy the API app is without pre-authorized clients and redirect URI between the two stages (the
// minute the Function App update takes): az CLI tokens for the API and browser sign-ins may fail meanwhile.
extension microsoftGraphV1

@allowed([
  'create'
  'complete'
])
@description('create: apps, scope and roles only; complete: also pre-authorized clients and the sign-in redirect (needs the scope to exist and the Function App host name).')
param stage string

@description('Host name of the Function App (stage complete): its /.auth/login/aad/callback is the sign-in redirect URI of the API app. Empty in stage create.')
param siteHostName string = ''

@description('Unique suffix of the environment; makes uniqueName and the identifier URI unique per deployment.')
param resourceToken string

@description('Display name of the multitenant app (what customers see); the API app gets the same name plus " API".')
param appDisplayName string

@description('Principal (object) id of the user-assigned managed identity: the subject of the FIC.')
param identityPrincipalId string

@description('FIC audience of the current cloud (api://AzureADTokenExchange, ...USGov or ...China).')
param ficAudience string

@description('Issuer of the managed identity\'s tokens: the home tenant\'s v2.0 authority of this cloud.')
param ficIssuer string

@description('Optional https redirect URI registered on the multitenant app for the admin-consent link; empty for none.')
param consentRedirectUri string

@description('Optional serviceManagementReference put on both app registrations; empty for none.')
param serviceManagementReference string

@description('Client ids pre-authorized to request user tokens for the API scope (default: Azure CLI).')
param apiPreAuthorizedClientIds string[]

@description('Object id made owner of the API app and given every Fleet role; empty to skip.')
param adminPrincipalId string

var complete = stage == 'complete'
// api://{tenantId}/{string} is one of the identifier URI patterns Entra accepts under its secure-URI policy.
var apiIdentifierUri = 'api://${tenant().tenantId}/tenant-fleet-${resourceToken}'
var managementReference = empty(serviceManagementReference) ? null : serviceManagementReference
var redirectUris = empty(consentRedirectUri)
  ? []
  : startsWith(consentRedirectUri, 'https://')
      ? [consentRedirectUri]
      : fail('consentRedirectUri must be an https URL, got: ${consentRedirectUri}')
var owners = empty(adminPrincipalId) ? [] : [adminPrincipalId]

// The app roles the HTTP API and the console check in the roles claim of x-ms-client-principal. Role ids are
// derived from the value, so redeployments keep them (assignments reference the id, not the value) and the
// ids of Fleet.Read and Fleet.Admin are the ones earlier deployments created.
var apiAppRoles = [
  {
    value: 'Fleet.Read'
    displayName: 'Tenant Fleet reader'
    description: 'Read the fleet: the tenant registry, runs, run results and diagnoses.'
  }
  {
    value: 'Fleet.CustomerData.Read'
    displayName: 'Tenant Fleet customer data reader'
    description: 'Read customer data: list blobs and read blob contents in customer tenants.'
  }
  {
    value: 'Fleet.Admin'
    displayName: 'Tenant Fleet administrator'
    description: 'Change the tenant registry, write and delete blobs, reset tenants, start runs and diagnose.'
  }
]
var userImpersonationScopeId = guid(tenant().tenantId, resourceToken, 'user_impersonation')
// Clients that get user tokens for the API scope without a consent prompt (stage complete only, see above).
var preAuthorizedClients = [
  for clientId in apiPreAuthorizedClientIds: {
    appId: clientId
    delegatedPermissionIds: [
      userImpersonationScopeId
    ]
  }
]
// Browser sign-in to the console: App Service Authentication has no client secret, so it signs users in with
// the implicit flow (an ID token posted to this callback), which the app registration must allow.
var consoleSignIn = complete && !empty(siteHostName)
  ? {
      redirectUris: [
        'https://${siteHostName}/.auth/login/aad/callback'
      ]
      implicitGrantSettings: {
        enableIdTokenIssuance: true
      }
    }
  : {
      redirectUris: []
    }

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
    // Only in stage complete: Graph refuses to pre-authorize a scope created in the same request.
    preAuthorizedApplications: complete ? preAuthorizedClients : []
  }
  web: consoleSignIn
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

// The person or pipeline that deployed gets every role, explicitly (the app may or may not let Fleet.Admin
// imply the read roles): they can use the console and API right away and assign roles to others.
resource adminRoleAssignments 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [
  for role in apiAppRoles: if (!empty(adminPrincipalId)) {
    appRoleId: guid(tenant().tenantId, resourceToken, role.value)
    principalId: adminPrincipalId
    resourceId: apiServicePrincipal.id
  }
]

@description('Application (client) id of the multitenant app: what customers consent to and grant roles to.')
output fleetAppClientId string = fleetApp.appId

@description('Object id of the multitenant app\'s service principal in the provider\'s home tenant.')
output fleetServicePrincipalId string = fleetServicePrincipal.id

@description('Application (client) id of the API app (App Service Authentication client id, v2 token audience).')
output apiAppClientId string = apiApp.appId

@description('Identifier URI of the API app (scope prefix: <uri>/user_impersonation or <uri>/.default).')
output apiIdentifierUri string = apiIdentifierUri

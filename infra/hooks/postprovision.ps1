# azd postprovision hook (Windows): same message as postprovision.sh. azd passes the deployment outputs
# (infra/main.bicep) as environment variables. Everything printed is an identifier: there is no secret.
$ErrorActionPreference = 'Stop'

$names = @(
  'AZURE_TENANT_ID', 'SERVICE_API_URI', 'TENANT_FLEET_APP_CLIENT_ID', 'TENANT_FLEET_APP_DISPLAY_NAME',
  'TENANT_FLEET_ADMIN_CONSENT_URL_TEMPLATE', 'TENANT_FLEET_MI_PRINCIPAL_ID', 'TENANT_FLEET_FIC_ISSUER',
  'TENANT_FLEET_FIC_AUDIENCE', 'TENANT_FLEET_API_IDENTIFIER_URI'
)
$missing = @($names | Where-Object { -not [Environment]::GetEnvironmentVariable($_) })
if ($missing.Count -gt 0) {
  [Console]::Error.WriteLine("postprovision: missing azd outputs: $($missing -join ' '). Run 'azd provision' (or 'azd up') first.")
  exit 1
}
$v = @{}
foreach ($name in $names) { $v[$name] = [Environment]::GetEnvironmentVariable($name) }
$appId = $v['TENANT_FLEET_APP_CLIENT_ID']

@"

Tenant Fleet is provisioned (no secret was created; there is nothing to rotate).
  API:                  $($v['SERVICE_API_URI']) (App Service Authentication, app roles Fleet.Read / Fleet.CustomerData.Read / Fleet.Admin)
  Multitenant app:      $($v['TENANT_FLEET_APP_DISPLAY_NAME']), app (client) id $appId
  Federated credential: issuer $($v['TENANT_FLEET_FIC_ISSUER'])
                        subject $($v['TENANT_FLEET_MI_PRINCIPAL_ID']) (the managed identity), audience $($v['TENANT_FLEET_FIC_AUDIENCE'])

Send each new customer:
  1. The app (client) id: $appId ("$($v['TENANT_FLEET_APP_DISPLAY_NAME'])").
  2. The onboarding script (folders infra/customer and infra/shared of this repository), to run in Azure Cloud Shell:
       ./infra/customer/onboard.sh --app-id $appId --subscription <subscription-id>
     or, for every subscription under a management group:
       ./infra/customer/onboard.sh --app-id $appId --management-group <management-group-id>
     (add --blob-access Reader or --blob-access Contributor if they grant blob data access, and
     --blob-storage-account <resource id> to limit it to chosen storage accounts).
     An admin who prefers a link can consent first (replace {customer-tenant-id}), then assign roles in the portal:
       $($v['TENANT_FLEET_ADMIN_CONSENT_URL_TEMPLATE'])
  3. Ask them to send back what the script prints: tenant id, subscriptions or management group, roles granted.
Then add the tenant to the registry (needs Fleet.Admin; token scope $($v['TENANT_FLEET_API_IDENTIFIER_URI'])/user_impersonation).

"@ | Write-Output

#!/usr/bin/env bash
# Tenant Fleet, provider side, Entra part for clouds without Microsoft Graph Bicep (Azure US Government,
# Azure operated by 21Vianet / China): the same objects infra/app/entra.bicep creates in the public cloud,
# made with the Azure CLI. Run it signed in to the provider's home tenant in that cloud
# (az cloud set --name AzureUSGovernment|AzureChinaCloud; az login --tenant <home tenant id>).
#
#   1. entra-apps.sh create  ...  before `azd provision`: creates the API app (identifier URI, user_impersonation
#      scope, app roles Fleet.Read / Fleet.CustomerData.Read / Fleet.Admin, assignment required) and the
#      multitenant automation app with their service principals, and prints the `azd env set` lines that
#      hand their ids to infra/main.bicep.
#   2. entra-apps.sh trust   ...  after `azd provision`: adds the federated identity credential (FIC) that
#      trusts the user-assigned managed identity (audience of this cloud), pre-authorizes the Azure CLI on the
#      API scope (the scope exists by then: Graph refuses both in one request), registers the console's
#      sign-in callback on the Function App host, and gives the administrator every Fleet app role.
# No secret or certificate is created on either app. Needs: Azure CLI, Application Administrator (or
# Cloud Application Administrator) in the home tenant, bash, and no other tool.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: entra-apps.sh create --env-suffix <suffix> [--display-name <name>]
       entra-apps.sh trust  --fleet-app-id <id> --api-app-id <id> --mi-principal-id <id> --site-host <host>
                            [--admin-object-id <id>]

  create
    --env-suffix        Short unique suffix of the environment (letters and digits): the API identifier URI is
                        api://<tenant id>/tenant-fleet-<suffix>.
    --display-name      Name of the multitenant app, what customers see (default: Tenant Fleet). The API app is
                        called "<name> API".
  trust
    --fleet-app-id      TENANT_FLEET_APP_CLIENT_ID (printed by create).
    --api-app-id        TENANT_FLEET_API_CLIENT_ID (printed by create).
    --mi-principal-id   TENANT_FLEET_MI_PRINCIPAL_ID: the managed identity's principal (object) id, an output of
                        azd provision. It is the FIC's subject.
    --site-host         Host name of the Function App (SERVICE_API_URI without https://).
    --admin-object-id   Object id of the user or group given every Fleet role (optional).
USAGE
}

fail() {
  echo "entra-apps.sh: $1" >&2
  exit 2
}

guid_pattern='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
# The Azure CLI, first-party: pre-authorized so operators get API tokens with az account get-access-token.
azure_cli_app_id='04b07795-8ddb-461a-bbee-02f9e1bf7b46'

new_guid() {
  if command -v uuidgen >/dev/null 2>&1; then uuidgen | tr 'A-Z' 'a-z'; else cat /proc/sys/kernel/random/uuid; fi
}

# The FIC audience of the cloud az is set to: a FIC works across tenants, never across clouds.
fic_audience() {
  case "$1" in
    AzureUSGovernment) echo 'api://AzureADTokenExchangeUSGov' ;;
    AzureChinaCloud) echo 'api://AzureADTokenExchangeChina' ;;
    AzureCloud) echo 'api://AzureADTokenExchange' ;;
    *) fail "unsupported cloud: $1 (AzureUSGovernment, AzureChinaCloud or AzureCloud)" ;;
  esac
}

command="${1:-}"
[ $# -gt 0 ] && shift
env_suffix=''
display_name='Tenant Fleet'
fleet_app_id=''
api_app_id=''
mi_principal_id=''
site_host=''
admin_object_id=''
while [ $# -gt 0 ]; do
  case "$1" in
    --env-suffix | --display-name | --fleet-app-id | --api-app-id | --mi-principal-id | --site-host | --admin-object-id)
      [ $# -ge 2 ] && [ -n "$2" ] || fail "$1 needs a value"
      case "$1" in
        --env-suffix) env_suffix="$2" ;;
        --display-name) display_name="$2" ;;
        --fleet-app-id) fleet_app_id="$2" ;;
        --api-app-id) api_app_id="$2" ;;
        --mi-principal-id) mi_principal_id="$2" ;;
        --site-host) site_host="$2" ;;
        --admin-object-id) admin_object_id="$2" ;;
      esac
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      fail "unknown argument: $1"
      ;;
  esac
done

case "$command" in
  create)
    [[ "$env_suffix" =~ ^[a-z0-9]{1,20}$ ]] || fail "--env-suffix must be 1-20 lowercase letters or digits, got: '$env_suffix'"
    ;;
  trust)
    for pair in "--fleet-app-id:$fleet_app_id" "--api-app-id:$api_app_id" "--mi-principal-id:$mi_principal_id"; do
      [[ "${pair#*:}" =~ $guid_pattern ]] || fail "${pair%%:*} must be a GUID, got: '${pair#*:}'"
    done
    [ -z "$admin_object_id" ] || [[ "$admin_object_id" =~ $guid_pattern ]] || fail "--admin-object-id must be a GUID, got: $admin_object_id"
    [[ "$site_host" =~ ^[A-Za-z0-9.-]+$ ]] || fail "--site-host must be a host name such as func-abc.azurewebsites.us, got: '$site_host'"
    ;;
  -h | --help | '')
    usage
    [ -n "$command" ] && exit 0
    exit 2
    ;;
  *) fail "unknown command: $command (create or trust)" ;;
esac

cloud="$(az cloud show --query name --output tsv)" || fail "the Azure CLI is not available or not configured"
audience="$(fic_audience "$cloud")"
tenant_id="$(az account show --query tenantId --output tsv)" || fail "not signed in: run 'az login --tenant <home tenant id>' first"
graph="$(az cloud show --query endpoints.microsoftGraphResourceId --output tsv)"
graph="${graph%/}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ "$command" = create ]; then
  api_uri="api://$tenant_id/tenant-fleet-$env_suffix"
  # App role ids are generated once; rerunning create finds the app by its identifier URI and changes nothing.
  api_app_id="$(az ad app list --identifier-uri "$api_uri" --query '[0].appId' --output tsv)"
  if [ -z "$api_app_id" ]; then
    cat >"$work/app-roles.json" <<JSON
[
  {"allowedMemberTypes": ["User", "Application"], "value": "Fleet.Read", "displayName": "Tenant Fleet reader",
   "description": "Read the fleet: the tenant registry, runs, run results and diagnoses.", "isEnabled": true, "id": "$(new_guid)"},
  {"allowedMemberTypes": ["User", "Application"], "value": "Fleet.CustomerData.Read", "displayName": "Tenant Fleet customer data reader",
   "description": "Read customer data: list blobs and read blob contents in customer tenants.", "isEnabled": true, "id": "$(new_guid)"},
  {"allowedMemberTypes": ["User", "Application"], "value": "Fleet.Admin", "displayName": "Tenant Fleet administrator",
   "description": "Change the tenant registry, write and delete blobs, reset tenants, start runs and diagnose.", "isEnabled": true, "id": "$(new_guid)"}
]
JSON
    echo "Creating the API app ($api_uri)..."
    api_app_id="$(az ad app create --display-name "$display_name API" --sign-in-audience AzureADMyOrg \
      --identifier-uris "$api_uri" --app-roles "@$work/app-roles.json" --query appId --output tsv)"
    # v2 tokens (aud = client id, what App Service Authentication validates) and the user_impersonation scope.
    cat >"$work/api.json" <<JSON
{"api": {"requestedAccessTokenVersion": 2, "oauth2PermissionScopes": [{"id": "$(new_guid)", "value": "user_impersonation",
  "type": "User", "isEnabled": true, "adminConsentDisplayName": "Call the Tenant Fleet API",
  "adminConsentDescription": "Lets the app call the Tenant Fleet API as the signed-in user (the user still needs a Fleet app role).",
  "userConsentDisplayName": "Call the Tenant Fleet API", "userConsentDescription": "Lets the app call the Tenant Fleet API as you."}]}}
JSON
    az rest --method PATCH --url "$graph/v1.0/applications(appId='$api_app_id')" --body "@$work/api.json" --output none
    az ad sp create --id "$api_app_id" --output none
    # Only users, groups and apps holding a Fleet role get a token for the API at all.
    az ad sp update --id "$api_app_id" --set appRoleAssignmentRequired=true --output none
  fi
  fleet_app_id="$(az ad app list --display-name "$display_name" --query "[?signInAudience=='AzureADMultipleOrgs'] | [0].appId" --output tsv)"
  if [ -z "$fleet_app_id" ]; then
    echo "Creating the multitenant app \"$display_name\"..."
    fleet_app_id="$(az ad app create --display-name "$display_name" --sign-in-audience AzureADMultipleOrgs --query appId --output tsv)"
    # Customers' admins cannot add secrets or certificates to this app's service principal in their tenant.
    az rest --method PATCH --url "$graph/v1.0/applications(appId='$fleet_app_id')" \
      --body '{"servicePrincipalLockConfiguration": {"isEnabled": true, "allProperties": true}}' --output none
    az ad sp create --id "$fleet_app_id" --output none
  fi
  cat <<MESSAGE

Created in tenant $tenant_id ($cloud). Hand the ids to the deployment, provision, then run trust:
  azd env set TENANT_FLEET_EXISTING_FLEET_APP_CLIENT_ID $fleet_app_id
  azd env set TENANT_FLEET_EXISTING_API_APP_CLIENT_ID $api_app_id
  azd env set TENANT_FLEET_EXISTING_API_IDENTIFIER_URI $api_uri
  azd provision
  $0 trust --fleet-app-id $fleet_app_id --api-app-id $api_app_id \\
    --mi-principal-id <TENANT_FLEET_MI_PRINCIPAL_ID> --site-host <host of SERVICE_API_URI> [--admin-object-id <your object id>]
MESSAGE
  exit 0
fi

# trust
login_endpoint="$(az cloud show --query endpoints.activeDirectory --output tsv)"
issuer="${login_endpoint%/}/$tenant_id/v2.0"
echo "Adding the federated identity credential (issuer $issuer, audience $audience)..."
cat >"$work/fic.json" <<JSON
{"name": "tenant-fleet-managed-identity", "issuer": "$issuer", "subject": "$mi_principal_id",
 "audiences": ["$audience"], "description": "Trusts the Tenant Fleet user-assigned managed identity as the credential of this app."}
JSON
if [ -z "$(az ad app federated-credential list --id "$fleet_app_id" --query "[?name=='tenant-fleet-managed-identity'].name" --output tsv)" ]; then
  az ad app federated-credential create --id "$fleet_app_id" --parameters "@$work/fic.json" --output none
fi

echo "Pre-authorizing the Azure CLI and registering the console sign-in callback on the API app..."
scope_id="$(az ad app show --id "$api_app_id" --query "api.oauth2PermissionScopes[?value=='user_impersonation'].id | [0]" --output tsv)"
[ -n "$scope_id" ] || fail "the API app $api_app_id has no user_impersonation scope: run create first"
cat >"$work/access.json" <<JSON
{"api": {"preAuthorizedApplications": [{"appId": "$azure_cli_app_id", "delegatedPermissionIds": ["$scope_id"]}]},
 "web": {"redirectUris": ["https://$site_host/.auth/login/aad/callback"], "implicitGrantSettings": {"enableIdTokenIssuance": true}}}
JSON
az rest --method PATCH --url "$graph/v1.0/applications(appId='$api_app_id')" --body "@$work/access.json" --output none

if [ -n "$admin_object_id" ]; then
  api_sp_id="$(az ad sp show --id "$api_app_id" --query id --output tsv)"
  for role in Fleet.Read Fleet.CustomerData.Read Fleet.Admin; do
    role_id="$(az ad app show --id "$api_app_id" --query "appRoles[?value=='$role'].id | [0]" --output tsv)"
    echo "Giving $admin_object_id the app role $role..."
    az rest --method POST --url "$graph/v1.0/servicePrincipals/$api_sp_id/appRoleAssignedTo" \
      --body "{\"principalId\": \"$admin_object_id\", \"resourceId\": \"$api_sp_id\", \"appRoleId\": \"$role_id\"}" \
      --output none || echo "  (already assigned, or not allowed: check Enterprise applications > $api_app_id > Users and groups)"
  done
fi

cat <<MESSAGE

Done. The multitenant app $fleet_app_id trusts the managed identity $mi_principal_id ($audience).
Customers onboard with infra/customer/onboard.sh --app-id $fleet_app_id, as in the public cloud.
MESSAGE

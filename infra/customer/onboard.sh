#!/usr/bin/env bash
# Tenant Fleet onboarding, run by the CUSTOMER (Azure Cloud Shell or any shell where `az login` is done).
#   1. creates the service principal of the provider's multitenant app in your tenant (if not there yet),
#   2. grants it Reader (and optionally blob data access) on a subscription or a management group, by
#      deploying subscription.bicep or management-group.bicep next to this script,
#   3. prints what to send back to the provider.
# No secret is created or exchanged: the provider authenticates with its own managed identity.
# Needs: Azure CLI (with Bicep), permission to create service principals (e.g. Cloud Application
# Administrator), and Owner at the scope: deploying the template needs Microsoft.Resources/deployments/write
# as well as role assignment rights (User Access Administrator alone has only the latter; see
# docs/onboarding.md for the az role assignment create equivalent).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: onboard.sh --app-id <provider app id> [--subscription <id>]... [--management-group <id>]
                  [--blob-access None|Reader|Contributor] [--blob-storage-account <resource id>]...
                  [--location <region>] [--provider-name <name>]

  --app-id            Application (client) id the provider sent you.
  --subscription      Subscription to grant (repeatable). Default: the current az subscription.
  --management-group  Grant at this management group instead (inherited by all its subscriptions).
  --blob-access       None (default), Reader (Storage Blob Data Reader) or Contributor (Storage Blob Data Contributor).
  --blob-storage-account
                      Grant the blob role on this storage account only (its resource id; repeatable) instead of
                      on the whole subscription or management group. Needs --blob-access Reader or Contributor.
  --location          Region that stores the deployment record (default: eastus). Nothing is deployed there.
  --provider-name     Name written into the role assignment descriptions (default: Tenant Fleet).
USAGE
}

fail() {
  echo "onboard.sh: $1" >&2
  exit 2
}

guid_pattern='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
app_id=''
subscriptions=()
management_group=''
blob_access='None'
location='eastus'
provider_name='Tenant Fleet'
storage_accounts=()
account_pattern='^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Storage/storageAccounts/[a-z0-9]{3,24}$'

while [ $# -gt 0 ]; do
  case "$1" in
    --app-id | --subscription | --management-group | --blob-access | --blob-storage-account | --location | --provider-name)
      [ $# -ge 2 ] && [ -n "$2" ] || fail "$1 needs a value"
      case "$1" in
        --app-id) app_id="$2" ;;
        --subscription) subscriptions+=("$2") ;;
        --management-group) management_group="$2" ;;
        --blob-access) blob_access="$2" ;;
        --blob-storage-account) storage_accounts+=("$2") ;;
        --location) location="$2" ;;
        --provider-name) provider_name="$2" ;;
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

[ -n "$app_id" ] || fail "--app-id is required (the application id the provider sent you)"
[[ "$app_id" =~ $guid_pattern ]] || fail "--app-id must be a GUID such as 00000000-0000-0000-0000-000000000000, got: $app_id"
case "$blob_access" in
  None | Reader | Contributor) ;;
  *) fail "--blob-access must be None, Reader or Contributor, got: $blob_access" ;;
esac
if [ -n "$management_group" ] && [ ${#subscriptions[@]} -gt 0 ]; then
  fail "use either --subscription or --management-group, not both"
fi
for account in "${storage_accounts[@]+"${storage_accounts[@]}"}"; do
  [[ "$account" =~ $account_pattern ]] || fail "--blob-storage-account must be a storage account resource id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>), got: $account"
done
if [ ${#storage_accounts[@]} -gt 0 ] && [ "$blob_access" = None ]; then
  fail "--blob-storage-account needs --blob-access Reader or Contributor"
fi
for subscription in "${subscriptions[@]+"${subscriptions[@]}"}"; do
  [[ "$subscription" =~ $guid_pattern ]] || fail "--subscription must be a subscription id (GUID), got: $subscription"
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for template in subscription.bicep management-group.bicep storage-account-grant.bicep ../shared/built-in-roles.bicep; do
  [ -f "$here/$template" ] || fail "missing $here/$template: run the script from a copy of infra/customer with infra/shared beside it"
done

command -v az >/dev/null 2>&1 ||
  fail "the Azure CLI (az) is not installed or not on PATH: install it (https://learn.microsoft.com/cli/azure/install-azure-cli) and run 'az login --tenant <your tenant id>', or run this script in Azure Cloud Shell, where az is ready"
tenant_id="$(az account show --query tenantId --output tsv)" || fail "not signed in: run 'az login --tenant <your tenant id>' first"
if [ -z "$management_group" ] && [ ${#subscriptions[@]} -eq 0 ]; then
  subscriptions=("$(az account show --query id --output tsv)")
fi

# 1. The provider app's service principal in this tenant (the identity the role assignments are for).
sp_id="$(az ad sp show --id "$app_id" --query id --output tsv 2>/dev/null || true)"
if [ -z "$sp_id" ]; then
  echo "Creating the service principal of app $app_id in tenant $tenant_id..."
  sp_id="$(az ad sp create --id "$app_id" --query id --output tsv)" ||
    fail "could not create the service principal of $app_id (is the app id right, and may you create service principals?)"
fi
echo "Service principal: $sp_id"

# 2. The role assignments, through the template (idempotent: assignment names are guid(scope, principal, role)).
# The listed storage accounts as a JSON array (resource ids hold no quotes or backslashes: checked above).
accounts_json='['
for account in "${storage_accounts[@]+"${storage_accounts[@]}"}"; do
  [ "$accounts_json" = '[' ] || accounts_json+=','
  accounts_json+="\"$account\""
done
accounts_json+=']'
parameters=(providerServicePrincipalObjectId="$sp_id" blobDataAccess="$blob_access" providerName="$provider_name"
  blobDataStorageAccountIds="$accounts_json")
if [ -n "$management_group" ]; then
  echo "Granting at management group $management_group..."
  az deployment mg create --management-group-id "$management_group" --location "$location" \
    --name tenant-fleet-onboarding --template-file "$here/management-group.bicep" \
    --parameters "${parameters[@]}" --output none
else
  for subscription in "${subscriptions[@]}"; do
    echo "Granting at subscription $subscription..."
    az deployment sub create --subscription "$subscription" --location "$location" \
      --name tenant-fleet-onboarding --template-file "$here/subscription.bicep" \
      --parameters "${parameters[@]}" --output none
  done
fi

# 3. What the provider needs: identifiers only.
roles='Reader'
case "$blob_access" in
  Reader) roles="$roles, Storage Blob Data Reader" ;;
  Contributor) roles="$roles, Storage Blob Data Contributor" ;;
esac
if [ ${#storage_accounts[@]} -gt 0 ]; then
  roles="$roles (blob role on ${#storage_accounts[@]} storage account(s) only)"
fi
echo
echo "Done. Send this to your provider (identifiers only; there is no secret to exchange):"
echo "  Tenant id:          $tenant_id"
if [ -n "$management_group" ]; then
  echo "  Management group:   $management_group"
else
  echo "  Subscriptions:      ${subscriptions[*]}"
fi
echo "  App id:             $app_id"
echo "  Service principal:  $sp_id"
echo "  Roles granted:      $roles"
for account in "${storage_accounts[@]+"${storage_accounts[@]}"}"; do
  echo "  Blob role on:       $account"
done
echo
echo "To revoke everything at once: az ad sp delete --id $app_id"

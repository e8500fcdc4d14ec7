#!/bin/sh
# azd postprovision hook: prints what the provider sends to a new customer. azd passes the deployment
# outputs (infra/main.bicep) as environment variables. Everything printed is an identifier: Tenant Fleet
# has no secret to hand out, store or rotate.
set -eu

missing=''
for name in AZURE_TENANT_ID SERVICE_API_URI TENANT_FLEET_APP_CLIENT_ID TENANT_FLEET_APP_DISPLAY_NAME \
  TENANT_FLEET_ADMIN_CONSENT_URL_TEMPLATE TENANT_FLEET_MI_PRINCIPAL_ID TENANT_FLEET_FIC_ISSUER \
  TENANT_FLEET_FIC_AUDIENCE TENANT_FLEET_API_IDENTIFIER_URI; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    missing="$missing $name"
  fi
done
if [ -n "$missing" ]; then
  echo "postprovision: missing azd outputs:$missing. Run 'azd provision' (or 'azd up') first." >&2
  exit 1
fi

cat <<MESSAGE

Tenant Fleet is provisioned (no secret was created; there is nothing to rotate).
  API:                  $SERVICE_API_URI (App Service Authentication, app roles Fleet.Read / Fleet.CustomerData.Read / Fleet.Admin)
  Multitenant app:      $TENANT_FLEET_APP_DISPLAY_NAME, app (client) id $TENANT_FLEET_APP_CLIENT_ID
  Federated credential: issuer $TENANT_FLEET_FIC_ISSUER
                        subject $TENANT_FLEET_MI_PRINCIPAL_ID (the managed identity), audience $TENANT_FLEET_FIC_AUDIENCE

Send each new customer:
  1. The app (client) id: $TENANT_FLEET_APP_CLIENT_ID ("$TENANT_FLEET_APP_DISPLAY_NAME").
  2. The onboarding script (folders infra/customer and infra/shared of this repository), to run in Azure Cloud Shell:
       ./infra/customer/onboard.sh --app-id $TENANT_FLEET_APP_CLIENT_ID --subscription <subscription-id>
     or, for every subscription under a management group:
       ./infra/customer/onboard.sh --app-id $TENANT_FLEET_APP_CLIENT_ID --management-group <management-group-id>
     (add --blob-access Reader or --blob-access Contributor if they grant blob data access, and
     --blob-storage-account <resource id> to limit it to chosen storage accounts).
     An admin who prefers a link can consent first (replace {customer-tenant-id}), then assign roles in the portal:
       $TENANT_FLEET_ADMIN_CONSENT_URL_TEMPLATE
  3. Ask them to send back what the script prints: tenant id, subscriptions or management group, roles granted.
Then add the tenant to the registry (needs Fleet.Admin; token scope $TENANT_FLEET_API_IDENTIFIER_URI/user_impersonation).

MESSAGE

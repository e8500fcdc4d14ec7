// Monitoring: a Log Analytics workspace and a workspace-based Application Insights component, both with
// local (key-based) authentication disabled, so telemetry is accepted only with an Entra token (the app
// sends it as the managed identity: APPLICATIONINSIGHTS_AUTHENTICATION_STRING + Monitoring Metrics Publisher).

@description('Azure region of both resources.')
param location string

@description('Tags applied to both resources.')
param tags object

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@minValue(30)
@maxValue(730)
@description('Retention in days of the workspace.')
param retentionInDays int

module workspace 'br/public:avm/res/operational-insights/workspace:0.16.1' = {
  name: 'log-analytics'
  params: {
    name: logAnalyticsName
    location: location
    tags: tags
    dataRetention: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

module appInsights 'br/public:avm/res/insights/component:0.8.0' = {
  name: 'application-insights'
  params: {
    name: applicationInsightsName
    location: location
    tags: tags
    workspaceResourceId: workspace.outputs.resourceId
    disableLocalAuth: true
    // Workspace-based: the workspace retention applies; 30 is the smallest value the component accepts.
    retentionInDays: 30
  }
}

@description('Resource id of the Log Analytics workspace (the destination of the diagnostic settings).')
output logAnalyticsWorkspaceResourceId string = workspace.outputs.resourceId

@description('Name of the Application Insights component (the API module reads its connection string itself).')
output applicationInsightsName string = appInsights.outputs.name

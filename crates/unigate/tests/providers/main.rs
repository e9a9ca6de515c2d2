//! Providers: every supported unified method of each provider, over HTTP, against its
//! emulator; one provider error in its own shape, and one pagination walk where the provider
//! lists. One module a provider.
#![allow(clippy::unwrap_used)]

// Not every helper is used by these tests.
#[path = "../api/helpers.rs"]
mod helpers;

mod common;

mod atlassian;
mod auth0;
mod buildkite;
mod cisco_meraki;
mod clickup;
mod concord;
mod confluent;
mod contentful;
mod dynamics_365_sales;
mod elastic_cloud;
mod github;
mod google_cloud;
mod google_workspace;
mod jumpcloud;
mod juniper_mist;
mod krystal;
mod make;
mod manatal;
mod meta_marketing;
mod microsoft_entra_id;
mod mindbridge;
mod mongodb_atlas;
mod ninjaone;
mod okta;
mod pipedrive;
mod platform_sh;
mod podio;
mod salesforce;
mod supabase;
mod surveymonkey;
mod teamwork_projects;
mod teamwork_spaces;
mod terraform_cloud;
mod trello;
mod turso;
mod webex;
mod zeplin;
mod zoho_projects;

//! Batch A providers: every supported unified method over HTTP against each provider's
//! emulator, one provider error in its own shape, and one pagination walk where the
//! provider lists.
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
mod google_cloud;
mod jumpcloud;
mod make;
mod manatal;
mod meta_marketing;
mod terraform_cloud;

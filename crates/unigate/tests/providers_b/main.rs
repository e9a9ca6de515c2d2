//! Batch B providers: every supported unified method of each, over HTTP, against its emulator.
#![allow(clippy::unwrap_used)]

#[path = "../api/helpers.rs"]
mod helpers;

mod common;

mod mongodb_atlas;
mod ninjaone;
mod pipedrive;
mod platform_sh;
mod podio;
mod salesforce;
mod supabase;
mod surveymonkey;
mod teamwork_projects;
mod teamwork_spaces;
mod trello;
mod turso;
mod webex;
mod zeplin;
mod zoho_projects;

//! JumpCloud: get (plan and licenses from the entitlement), list (skip/limit), update
//! (read-modify-write of settings).

use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, spawn_app, walk_list};

const ORG: &str = "5c48b4e3c9d7a8163a7b3e1f";
const KEY: &str = "jca_SandboxJumpCloudApiKey000000000000001";

#[tokio::test]
async fn get_maps_the_entitlement_to_plan_and_licenses() {
    let (app, account) = app_with_account("jumpcloud").await;

    let org = get_org(&app, &account, ORG).await;

    assert_eq!(org["id"], ORG);
    assert_eq!(org["name"], "Acme Corp");
    assert_eq!(org["pricing_plan"], "PLATFORM");
    assert_eq!(
        org["licenses"],
        json!([{"id": "platform", "name": "JumpCloud Platform"}, {"id": "di-premium", "name": "Directory Insights Premium"}])
    );
    assert_eq!(org["created_at"], "2019-01-23T18:13:29.470Z");
    assert!(org.get("updated_at").is_none());
    let sent = last_request(&app, "jumpcloud");
    assert_request(&sent, "GET", &format!("/api/organizations/{ORG}"));
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("x-org-id"), None, "no org_id in the context");
}

#[tokio::test]
async fn an_org_id_in_the_context_is_sent_as_x_org_id() {
    let app = spawn_app().await;
    let context = app.sandbox_context("jumpcloud", json!({"org_id": ORG}));
    let account = app.connect_with("jumpcloud", json!(context)).await;

    get_org(&app, &account, ORG).await;
    let sent = last_request(&app, "jumpcloud");
    assert_eq!(sent.header("x-org-id"), Some(ORG));
    assert_eq!(sent.header("x-api-key"), Some(KEY));

    let r = app.get(&app.orgs_path(&account, None, "")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, "jumpcloud");
    assert_request(&sent, "GET", "/api/organizations");
    assert_eq!(sent.header("x-org-id"), Some(ORG));
}

#[tokio::test]
async fn a_single_license_is_still_a_list() {
    let (app, account) = app_with_account("jumpcloud").await;

    let org = get_org(&app, &account, "60a7f2d1e4b0c9a8d7e6f5a4").await;

    assert_eq!(org["licenses"], json!([{"id": "sso", "name": "SSO"}]));
    assert_eq!(org["pricing_plan"], "A_LA_CARTE");
}

#[tokio::test]
async fn update_writes_settings_name_keeping_the_other_settings() {
    let (app, account) = app_with_account("jumpcloud").await;

    let r = update_org(&app, &account, ORG, json!({"name": "Acme Corporation"})).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Acme Corporation");
    let sent = last_with_method(&app, "jumpcloud", "PUT");
    assert_eq!(sent.path, format!("/api/organizations/{ORG}"));
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    let body = sent.json.unwrap();
    assert_eq!(body["settings"]["name"], "Acme Corporation");
    assert_eq!(body["settings"]["contactEmail"], "admin@acme.example");
    assert_eq!(body["settings"]["passwordPolicy"]["maxHistory"], 3);
    assert_eq!(body.as_object().unwrap().len(), 1, "only settings is sent: {body}");
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_jumpclouds_error() {
    let (app, account) = app_with_account("jumpcloud").await;

    let r = app
        .get(&app.orgs_path(&account, Some("000000000000000000000000"), ""))
        .await;

    assert_remote_error(
        &r,
        404,
        &json!({"code": 404, "message": "Organization not found", "status": "Not Found"}),
    );
}

#[tokio::test]
async fn list_pages_with_skip_and_limit() {
    let (app, account) = app_with_account("jumpcloud").await;
    for i in 0..3 {
        app.emulator("jumpcloud").insert_record(
            "organizations",
            json!({"_id": format!("aaaaaaaaaaaaaaaaaaaaaaa{i}"), "displayName": format!("Extra {i}")}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids.len(), 5, "{ids:?}");
    assert_eq!(ids[0], ORG);
    assert_eq!(pages, 3);
    assert!(last_request(&app, "jumpcloud").query.contains("skip=4"));
}

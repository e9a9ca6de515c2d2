//! Turso Platform API v1.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

const P: &str = "turso";

#[tokio::test]
async fn get_unwraps_the_organization_by_slug() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("acme-edge"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "acme-edge", "name": "acme-edge", "pricing_plan": "scaler"})
    );
    assert_eq!(r.body["remote_data"]["require_mfa"], true);
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v1/organizations/acme-edge");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer turso-sandbox.eyJhIjoicnciLCJpYXQiOjE3MDAwMDAwMDB9.c2lnbmF0dXJl")
    );
}

#[tokio::test]
async fn update_sends_only_the_writable_remote_data_fields() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("globex"), ""),
            Some(json!({"remote_data": {"overages": true}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "globex", "name": "globex", "pricing_plan": "starter"})
    );
    assert_eq!(r.body["remote_data"]["overages"], true);
    let sent = last_request(&app, P);
    assert_request(&sent, "PATCH", "/v1/organizations/globex");
    assert_eq!(sent.json.unwrap(), json!({"overages": true}));
}

#[tokio::test]
async fn a_rename_is_refused_with_a_422_before_anything_reaches_turso() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("globex"), ""),
            Some(json!({"name": "globex-renamed", "remote_data": {"overages": true}})),
        )
        .await;

    let message = assert_error(&r, 422);
    assert_eq!(
        message,
        "Turso cannot update `name` of organizations: the provider's API does not allow it. \
         Leave it out of the request; `GET /integration/turso` documents what can be written."
    );
    assert_eq!(
        r.body["details"],
        json!({"integration": "turso", "unsupported_fields": ["name"]})
    );
    assert!(r.body.get("truto_is_remote_error").is_none(), "{}", r.text);
    assert!(app.emulator(P).requests().is_empty(), "nothing may reach Turso");
    assert_eq!(
        app.emulator(P).record("organizations", "globex").unwrap()["overages"],
        false
    );
}

#[tokio::test]
async fn a_null_name_is_no_change_and_goes_through() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("globex"), ""),
            Some(json!({"name": null, "remote_data": {"require_mfa": true}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "globex");
    assert_eq!(last_request(&app, P).json.unwrap(), json!({"require_mfa": true}));
}

#[tokio::test]
async fn an_unknown_field_is_refused_in_turso_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("globex"), ""),
            Some(json!({"remote_data": {"name": "renamed"}})),
        )
        .await;

    assert_error(&r, 400);
    assert_eq!(
        r.body["raw_response"],
        json!({"error": "invalid request body: unknown field name"})
    );
}

#[tokio::test]
async fn a_missing_org_is_a_404_with_the_error_text() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("nope"), "")).await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"], json!({"error": "organization not found"}));
}

#[tokio::test]
async fn list_answers_every_org_in_one_page() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, None, "&limit=1")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["iku", "acme-edge", "globex"]);
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
}

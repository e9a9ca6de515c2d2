//! Turso Platform API v1.

use reqwest::Method;
use serde_json::json;

use crate::common::{last_request, unified};
use crate::helpers::{assert_error, spawn_app};

const P: &str = "turso";

#[tokio::test]
async fn get_unwraps_the_organization_by_slug() {
    let app = spawn_app().await;
    let account = app.connect(P).await;

    let r = app.get(&app.orgs_path(&account, Some("acme-edge"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "acme-edge", "name": "acme-edge", "pricing_plan": "scaler"})
    );
    assert_eq!(r.body["remote_data"]["require_mfa"], true);
    let sent = last_request(&app, P);
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("GET", "/v1/organizations/acme-edge")
    );
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer turso-sandbox.eyJhIjoicnciLCJpYXQiOjE3MDAwMDAwMDB9.c2lnbmF0dXJl")
    );
}

#[tokio::test]
async fn update_sends_only_the_writable_remote_data_fields() {
    let app = spawn_app().await;
    let account = app.connect(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("globex"), ""),
            Some(json!({"name": "cannot rename", "remote_data": {"overages": true}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "globex", "name": "globex", "pricing_plan": "starter"})
    );
    assert_eq!(r.body["remote_data"]["overages"], true);
    let sent = last_request(&app, P);
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("PATCH", "/v1/organizations/globex")
    );
    assert_eq!(sent.json.unwrap(), json!({"overages": true}));
}

#[tokio::test]
async fn an_unknown_field_is_refused_in_turso_error_shape() {
    let app = spawn_app().await;
    let account = app.connect(P).await;

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
    let app = spawn_app().await;
    let account = app.connect(P).await;

    let r = app.get(&app.orgs_path(&account, Some("nope"), "")).await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"], json!({"error": "organization not found"}));
}

#[tokio::test]
async fn list_answers_every_org_in_one_page() {
    let app = spawn_app().await;
    let account = app.connect(P).await;

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

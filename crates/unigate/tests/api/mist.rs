//! Juniper Mist: epoch timestamps, `Token` auth, PUT updates, list through `/self`.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{app_with_account, assert_error, spawn_app};

const ACME: &str = "6374a757-8d3f-4a8b-9a32-0f5e5e7a1c2b";

#[tokio::test]
async fn get_turns_epoch_seconds_into_rfc3339() {
    let (app, account) = app_with_account("juniper-mist").await;

    let r = app.get(&app.orgs_path(&account, Some(ACME), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], ACME);
    assert_eq!(r.body["name"], "Acme Networks");
    assert_eq!(r.body["created_at"], "2020-05-14T16:38:30Z");
    assert_eq!(r.body["updated_at"], "2024-03-25T09:53:42Z");
    assert_eq!(r.body["remote_data"]["created_time"], 1589474310);
    let last = app.emulator("juniper-mist").requests().last().unwrap().clone();
    assert_eq!(last.path, format!("/api/v1/orgs/{ACME}"));
    assert!(last.header("authorization").unwrap().starts_with("Token mist-sandbox-"));
}

#[tokio::test]
async fn list_reads_org_privileges_from_self() {
    let (app, account) = app_with_account("juniper-mist").await;

    let r = app.get(&app.orgs_path(&account, None, "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{}", r.text);
    assert!(ids.contains(&ACME));
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    assert_eq!(
        app.emulator("juniper-mist").requests().last().unwrap().path,
        "/api/v1/self"
    );
}

#[tokio::test]
async fn patch_becomes_a_put_of_the_changed_fields() {
    let (app, account) = app_with_account("juniper-mist").await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some(ACME), ""),
            Some(json!({"name": "Acme Networks EU", "remote_data": {"session_expiry": 60}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Acme Networks EU");
    let put = app
        .emulator("juniper-mist")
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(
        put.json.unwrap(),
        json!({"name": "Acme Networks EU", "session_expiry": 60})
    );
    let stored = app.emulator("juniper-mist").record("orgs", ACME).unwrap();
    assert_eq!(stored["session_expiry"], 60);
    assert_eq!(stored["allow_mist"], true, "untouched fields stay");
    assert_ne!(stored["modified_time"], 1711360422, "the provider stamped the write");
}

#[tokio::test]
async fn create_and_delete_round_trip() {
    let (app, account) = app_with_account("juniper-mist").await;

    let r = app
        .send(
            Method::POST,
            &app.orgs_path(&account, None, ""),
            Some(json!({"name": "Hooli"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["name"], "Hooli");
    assert!(r.body["created_at"].as_str().unwrap().ends_with('Z'));

    let r = app
        .send(Method::DELETE, &app.orgs_path(&account, Some(&id), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], id.as_str());
    assert!(app.emulator("juniper-mist").record("orgs", &id).is_none());
}

#[tokio::test]
async fn a_missing_org_is_a_404_in_mists_shape() {
    let (app, account) = app_with_account("juniper-mist").await;

    let r = app
        .get(&app.orgs_path(&account, Some("00000000-0000-0000-0000-000000000000"), ""))
        .await;

    assert_error(&r, 404);
    assert!(r.body["raw_response"]["detail"].is_string(), "{}", r.text);
}

#[tokio::test]
async fn a_region_host_outside_mist_is_refused_before_any_call() {
    let app = spawn_app().await;
    let mut ctx = app.sandbox_context("juniper-mist", json!({"region_host": "evil.example.com"}));
    ctx.insert("api_token".into(), json!("x"));
    let account = app.connect_with("juniper-mist", serde_json::Value::Object(ctx)).await;
    let before = app.emulator("juniper-mist").requests().len();

    let r = app.get(&app.orgs_path(&account, Some(ACME), "")).await;

    let msg = assert_error(&r, 400);
    assert!(msg.contains("allowed hosts"), "{msg}");
    assert_eq!(app.emulator("juniper-mist").requests().len(), before);
}

//! Pipedrive API v1: the token's company through /users/me.

use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request, spawn_app};

const P: &str = "pipedrive";

#[tokio::test]
async fn get_answers_the_tokens_company() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("7612345"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(unified(&r.body), json!({"id": "7612345", "name": "Acme Sales Ltd"}));
    assert_eq!(r.body["remote_data"]["company_domain"], "acmesales");
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v1/users/me");
    assert_eq!(
        sent.header("x-api-token"),
        Some("5f1c0e9d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d")
    );
}

#[tokio::test]
async fn another_company_id_is_not_found() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;

    assert_error(&r, 404);
}

#[tokio::test]
async fn list_answers_the_one_company_without_a_cursor() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, None, "&limit=10")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["result"][0]["id"], "7612345");
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_bad_token_is_a_401_in_pipedrive_error_shape() {
    let app = spawn_app().await;
    let account = app.connect_with(P, json!({"api_token": "wrong"})).await;

    let r = app.get(&app.orgs_path(&account, Some("7612345"), "")).await;

    assert_error(&r, 401);
    assert_eq!(r.body["raw_response"]["success"], false);
    assert_eq!(r.body["raw_response"]["error"], "unauthorized access");
    assert_eq!(r.body["raw_response"]["errorCode"], 401);
}

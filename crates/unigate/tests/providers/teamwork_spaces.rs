//! Teamwork Spaces: the site account through /account.json.

use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request, spawn_app};

const P: &str = "teamwork-spaces";

#[tokio::test]
async fn get_answers_the_site_account() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("412"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "412", "name": "Acme Digital Ltd", "created_at": "2016-03-02T10:11:12Z"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/account.json");
    assert!(sent.header("authorization").unwrap().starts_with("Basic "));
}

#[tokio::test]
async fn another_id_is_not_found_and_the_list_has_the_one_account() {
    let (app, account) = app_with_account(P).await;

    assert_error(&app.get(&app.orgs_path(&account, Some("1"), "")).await, 404);

    let r = app.get(&app.orgs_path(&account, None, "&limit=3")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["result"][0]["id"], "412");
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_bad_key_is_a_401_in_teamwork_v1_error_shape() {
    let app = spawn_app().await;
    let account = app.connect_with(P, json!({"api_key": "wrong", "site": "acme"})).await;

    let r = app.get(&app.orgs_path(&account, Some("412"), "")).await;

    assert_error(&r, 401);
    assert_eq!(
        r.body["raw_response"],
        json!({"MESSAGE": "Invalid API key or user not found", "STATUS": "Error"})
    );
}

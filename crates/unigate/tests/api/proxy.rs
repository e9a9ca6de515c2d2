//! The Proxy API: raw resources with the integration's auth and pagination, no mapping.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{app_with_account, assert_error};

#[tokio::test]
async fn proxy_get_returns_the_provider_body_and_passes_query_parameters() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .get(&format!(
            "/proxy/organizations/octo-org?integrated_account_id={account}&foo=bar"
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["login"], "octo-org");
    assert_eq!(r.body["plan"]["seats"], 50);
    let last = app.emulator("github").requests().last().unwrap().clone();
    assert_eq!(last.query, "foo=bar");
    assert!(last.header("authorization").unwrap().starts_with("Bearer "));
}

#[tokio::test]
async fn proxy_list_pages_raw_records_with_a_cursor() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .get(&format!("/proxy/organizations?integrated_account_id={account}&limit=2"))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let first = r.body["result"].as_array().unwrap();
    assert_eq!(first.len(), 2);
    assert!(first[0]["login"].is_string() && first[0].get("remote_data").is_none());
    let cursor = r.body["next_cursor"].as_str().unwrap();
    let r = app
        .get(&format!(
            "/proxy/organizations?integrated_account_id={account}&limit=2&next_cursor={cursor}"
        ))
        .await;
    assert_eq!(r.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn proxy_patch_sends_the_body_untransformed() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .send(
            Method::PATCH,
            &format!("/proxy/organizations/octo-org?integrated_account_id={account}"),
            Some(json!({"description": "raw write"})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["description"], "raw write");
    let patch = app
        .emulator("github")
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(patch.json.unwrap(), json!({"description": "raw write"}));
}

#[tokio::test]
async fn an_unknown_raw_resource_is_a_404() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .get(&format!("/proxy/repositories?integrated_account_id={account}"))
        .await;

    let msg = assert_error(&r, 404);
    assert!(msg.contains("repositories.list"), "{msg}");
}

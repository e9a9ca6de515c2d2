//! SurveyMonkey API v3: the token's account through /users/me.

use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request, spawn_app};

const P: &str = "surveymonkey";

#[tokio::test]
async fn get_answers_the_account_with_its_type_and_creation_date() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("145236789"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "145236789", "pricing_plan": "enterprise_platinum", "created_at": "2015-10-06T12:56:55Z"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v3/users/me");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer sm-sandbox-tK9fQ2xV7pL4mN8rB3cZ")
    );
}

#[tokio::test]
async fn another_id_is_not_found_and_the_list_has_the_one_account() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;
    assert_error(&r, 404);

    let r = app.get(&app.orgs_path(&account, None, "&limit=5")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["result"][0]["id"], "145236789");
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_bad_token_is_a_401_in_surveymonkey_error_shape() {
    let app = spawn_app().await;
    let account = app.connect_with(P, json!({"access_token": "wrong"})).await;

    let r = app.get(&app.orgs_path(&account, Some("145236789"), "")).await;

    assert_error(&r, 401);
    assert_eq!(r.body["raw_response"]["error"]["id"], "1011");
    assert_eq!(r.body["raw_response"]["error"]["http_status_code"], 401);
    assert_eq!(r.body["raw_response"]["error"]["name"], "Authorization Error");
}

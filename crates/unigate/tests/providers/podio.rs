//! Podio organizations.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

const P: &str = "podio";

#[tokio::test]
async fn get_maps_type_and_created_on() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("1543210"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "1543210", "name": "Acme Events", "pricing_plan": "premium", "created_at": "2012-05-09T14:21:07Z"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/org/1543210");
    assert_eq!(
        sent.header("authorization"),
        Some("OAuth2 podio-sandbox-9d1c7b5a3e2f4a6b8c0d")
    );
}

#[tokio::test]
async fn update_puts_the_name_and_reads_the_org_back() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PUT,
            &app.orgs_path(&account, Some("1600042"), ""),
            Some(json!({"name": "Globex Helpers", "remote_data": {"url_label": "globex-helpers"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Helpers");
    assert_eq!(r.body["remote_data"]["url_label"], "globex-helpers");
    let sent = app.emulator(P).requests();
    let put = sent.iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(put.path, "/org/1600042");
    assert_eq!(
        put.json.clone().unwrap(),
        json!({"name": "Globex Helpers", "url_label": "globex-helpers"})
    );
    assert_eq!(sent.last().unwrap().method, "GET");
}

#[tokio::test]
async fn a_missing_org_is_a_404_in_podio_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("42"), "")).await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"]["error"], "not_found");
    assert_eq!(r.body["raw_response"]["error_description"], "Object not found");
    assert_eq!(r.body["raw_response"]["request"]["method"], "GET");
}

#[tokio::test]
async fn list_answers_every_org_in_one_page() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).insert_record(
        "orgs",
        json!({"org_id": 1700001, "name": "Extra", "type": "free", "created_on": "2020-01-01 00:00:00"}),
    );

    let r = app.get(&app.orgs_path(&account, None, "&limit=2")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1543210", "1600042", "1700001"]);
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    assert_eq!(last_request(&app, P).path, "/org/");
}

//! Salesforce REST API: the Organization sObject.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_saw, last_request, spawn_app};

const P: &str = "salesforce";
const ID: &str = "00D5g000004SbXYEA0";

#[tokio::test]
async fn get_maps_the_organization_sobject() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some(ID), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": ID, "name": "Acme Corporation", "pricing_plan": "Enterprise Edition",
               "licenses": [{"id": "1005g000000AbCdAAK", "name": "Salesforce"},
                            {"id": "1005g000000AbCeAAK", "name": "Salesforce Platform"}],
               "created_at": "2019-08-14T17:32:05Z", "updated_at": "2024-02-20T09:41:12Z"})
    );
    // The UserLicense query, then the sObject.
    let requests = assert_saw(
        &app,
        P,
        &[
            ("GET", "/services/data/v62.0/query"),
            ("GET", "/services/data/v62.0/sobjects/Organization/00D5g000004SbXYEA0"),
        ],
    );
    let soql = &requests[0];
    let q: Vec<(String, String)> = url::form_urlencoded::parse(soql.query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(q, [("q".to_string(), "SELECT Id, Name FROM UserLicense".to_string())]);
    assert_eq!(
        soql.header("authorization"),
        Some("Bearer 00D5g000004SbXY!AQ0AQSandboxAccessTokenValue")
    );
    assert_eq!(
        requests[1].header("authorization"),
        Some("Bearer 00D5g000004SbXY!AQ0AQSandboxAccessTokenValue")
    );
}

#[tokio::test]
async fn list_runs_a_soql_query_over_organization() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, None, "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["result"][0]["id"], ID);
    assert!(r.body["result"][0].get("licenses").is_none(), "{}", r.text);
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    let sent = last_request(&app, P);
    assert_eq!(sent.path, "/services/data/v62.0/query");
    assert!(
        sent.query.contains("FROM+Organization") || sent.query.contains("FROM%20Organization"),
        "{}",
        sent.query
    );
}

#[tokio::test]
async fn update_patches_name_and_reads_the_record_back() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some(ID), ""),
            Some(json!({"name": "Acme Corp", "remote_data": {"Phone": "(415) 555-0199"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Acme Corp");
    assert_eq!(r.body["remote_data"]["Phone"], "(415) 555-0199");
    let sent = app.emulator(P).requests();
    let patch = sent.iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(
        patch.json.clone().unwrap(),
        json!({"Name": "Acme Corp", "Phone": "(415) 555-0199"})
    );
    assert_eq!(sent.last().unwrap().method, "GET");
}

#[tokio::test]
async fn a_missing_record_is_a_404_with_the_salesforce_error_array() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("00D000000000000AAA"), "")).await;

    let msg = assert_error(&r, 404);
    assert!(msg.contains("NOT_FOUND"), "{msg}");
    assert_eq!(
        r.body["raw_response"],
        json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
    );
}

#[tokio::test]
async fn an_instance_url_off_salesforce_is_refused() {
    let app = spawn_app().await;
    let account = app
        .connect_with(
            P,
            json!({"access_token": "x", "instance_url": "https://evil.example.com"}),
        )
        .await;

    let r = app.get(&app.orgs_path(&account, Some(ID), "")).await;

    assert!(r.status.is_client_error() || r.status.is_server_error(), "{}", r.text);
    assert_ne!(r.status, 200);
}

/// The UserLicense query is a side load: when it fails, the organization still answers,
/// without `licenses` (absent, not an empty list that would claim there are none).
#[tokio::test]
async fn a_failing_user_license_query_leaves_licenses_out() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).inject(
        unigate_emulator::Fault::respond(400, json!([{"message": "nope", "errorCode": "INVALID_TYPE"}]))
            .on("GET", "/services/data/v62.0/query"),
    );

    let r = app.get(&app.orgs_path(&account, Some(ID), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], ID);
    assert!(r.body.get("licenses").is_none(), "{}", r.text);
}

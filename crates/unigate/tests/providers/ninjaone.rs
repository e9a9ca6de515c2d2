//! NinjaOne API v2.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request, walk_list};

const P: &str = "ninjaone";

#[tokio::test]
async fn get_reads_the_singular_organization_path() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(unified(&r.body), json!({"id": "1", "name": "Acme Dental Group"}));
    assert_eq!(r.body["remote_data"]["nodeApprovalMode"], "AUTOMATIC");
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/api/v2/organization/1");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer ninja-sandbox-access-token-7f3a9c1e")
    );
}

#[tokio::test]
async fn update_answered_with_204_reads_the_organization_back() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("2"), ""),
            Some(json!({"name": "Globex Freight", "remote_data": {"description": "Renamed"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(unified(&r.body), json!({"id": "2", "name": "Globex Freight"}));
    assert_eq!(r.body["remote_data"]["description"], "Renamed");
    let sent = app.emulator(P).requests();
    let n = sent.len();
    assert_request(&sent[n - 2], "PATCH", "/api/v2/organization/2");
    assert_eq!(
        sent[n - 2].json.clone().unwrap(),
        json!({"name": "Globex Freight", "description": "Renamed"})
    );
    assert_request(&sent[n - 1], "GET", "/api/v2/organization/2");
}

#[tokio::test]
async fn a_missing_organization_is_a_404_in_ninjaone_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("404"), "")).await;

    let msg = assert_error(&r, 404);
    assert!(msg.contains("Organization 404 not found"), "{msg}");
    assert_eq!(r.body["raw_response"]["resultCode"], "NOT_FOUND");
    assert_eq!(r.body["raw_response"]["errorMessage"], "Organization 404 not found");
    assert!(r.body["raw_response"]["incidentId"].is_string());
}

#[tokio::test]
async fn list_walks_after_cursors_made_of_the_last_id() {
    let (app, account) = app_with_account(P).await;
    for i in 0..3 {
        app.emulator(P)
            .insert_record("organizations", json!({"id": 10 + i, "name": format!("Extra {i}")}));
    }

    let (ids, _) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["1", "2", "5", "10", "11", "12"]);
    let queries: Vec<String> = app.emulator(P).requests().iter().map(|r| r.query.clone()).collect();
    assert!(
        queries
            .iter()
            .any(|q| q.contains("after=10") && q.contains("pageSize=2")),
        "{queries:?}"
    );
}

//! Zeplin API v1.

use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request, walk_list};

const P: &str = "zeplin";

#[tokio::test]
async fn get_maps_a_zeplin_organization() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("5d9caaecb4a3fa9bc9a2a3a9"), ""))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "5d9caaecb4a3fa9bc9a2a3a9", "name": "Acme Design"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v1/organizations/5d9caaecb4a3fa9bc9a2a3a9");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer zpl_sandbox.eyJhdWQiOiJ1bmlnYXRlIn0.c2lnbmF0dXJl")
    );
}

#[tokio::test]
async fn a_missing_org_is_a_404_in_zeplin_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("000000000000000000000000"), ""))
        .await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"]["message"], "Organization not found");
    assert_eq!(r.body["raw_response"]["code"], "organization_not_found");
}

#[tokio::test]
async fn list_walks_offset_pages() {
    let (app, account) = app_with_account(P).await;
    for i in 0..3 {
        app.emulator(P).insert_record(
            "organizations",
            json!({"id": format!("6000000000000000000000a{i}"), "name": format!("Extra {i}")}),
        );
    }

    let (ids, _) = walk_list(&app, &account, 2).await;

    assert_eq!(ids.len(), 5, "{ids:?}");
    assert_eq!(ids[4], "6000000000000000000000a2");
    let q = last_request(&app, P).query;
    assert!(q.contains("offset=4") && q.contains("limit=2"), "{q}");
}

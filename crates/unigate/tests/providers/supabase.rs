//! Supabase Management API v1.

use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

const P: &str = "supabase";

#[tokio::test]
async fn get_addresses_the_org_by_slug_and_maps_its_plan() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("tsrqponmlkjihgfedcba"), ""))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "tsrqponmlkjihgfedcba", "name": "Acme Apps", "pricing_plan": "pro"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v1/organizations/tsrqponmlkjihgfedcba");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer sbp_0123456789abcdef0123456789abcdef01234567")
    );
}

#[tokio::test]
async fn list_answers_every_org_by_slug_in_one_page() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).insert_record(
        "organizations",
        json!({"id": "extra-org", "slug": "extra-org", "name": "Extra", "plan": "free"}),
    );

    let r = app.get(&app.orgs_path(&account, None, "&limit=2")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(result.len(), 4);
    assert_eq!(
        unified(&result[1]),
        json!({"id": "vercel_icfg_8f7e6d5c4b3a", "name": "Globex (Vercel)"})
    );
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_missing_org_is_a_404_with_the_supabase_message() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("nope"), "")).await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"], json!({"message": "Organization not found"}));
}

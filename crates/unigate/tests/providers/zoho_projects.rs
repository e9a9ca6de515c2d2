//! Zoho Projects: portals.

use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

const P: &str = "zoho-projects";

#[tokio::test]
async fn get_picks_the_portal_and_maps_its_plan() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("680404658"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "680404658", "name": "acmeconsulting", "pricing_plan": "Enterprise"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/restapi/portal/680404658/");
    assert_eq!(
        sent.header("authorization"),
        Some("Zoho-oauthtoken 1000.sandbox8f7e6d5c4b3a2910.0a1b2c3d4e5f60718293a4b5c6d7e8f9")
    );
}

#[tokio::test]
async fn list_answers_every_portal_in_one_page() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, None, "&limit=1")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(
        unified(&result[0]),
        json!({"id": "647154632", "name": "zylkerevents", "pricing_plan": "Free"})
    );
    assert_eq!(result.len(), 2);
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    assert_eq!(last_request(&app, P).path, "/restapi/portals/");
}

#[tokio::test]
async fn a_missing_portal_is_a_404_in_zoho_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;

    assert_error(&r, 404);
    assert_eq!(
        r.body["raw_response"],
        json!({"error": {"code": 6404, "message": "Given portal does not exist."}})
    );
}

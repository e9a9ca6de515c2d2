//! Webex: /v1/organizations and the identity API.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, assert_saw, last_request};

const P: &str = "webex";
const ACME: &str = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE";

#[tokio::test]
async fn get_maps_display_name_and_created() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some(ACME), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": ACME, "name": "Acme, Inc.", "created_at": "2015-10-18T14:26:16Z",
               "licenses": [
                   {"id": "Y2lzY29zcGFyazovL3VzL0xJQ0VOU0UvOTZhYmMyYWEtM2RjYy0xMWU1LWExNTItZmUzNDgxOWNkYzlh",
                    "name": "Meeting - Webex Meeting Center"},
                   {"id": "Y2lzY29zcGFyazovL3VzL0xJQ0VOU0UvOTZhYmMyYWEtM2RjYy0xMWU1LWExNTItZmUzNDgxOWNkYzli",
                    "name": "Messaging"}]})
    );
    // The licenses, then the organization.
    let org = format!("/v1/organizations/{ACME}");
    let requests = assert_saw(&app, P, &[("GET", "/v1/licenses"), ("GET", &org)]);
    assert_eq!(requests[0].query, format!("orgId={ACME}"));
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer NDk1ZjQ3YjMtY2U1Ni00OGQ3LWI0ZjQtZDhlNjgwNTk2ZjQ4YmE2_PF84_sandbox")
    );
    assert_eq!(
        requests[1].header("authorization"),
        Some("Bearer NDk1ZjQ3YjMtY2U1Ni00OGQ3LWI0ZjQtZDhlNjgwNTk2ZjQ4YmE2_PF84_sandbox")
    );
}

#[tokio::test]
async fn an_org_without_licenses_gets_an_empty_list() {
    let (app, account) = app_with_account(P).await;
    let globex = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi84MmFkYWNmNC00NTNmLTRlMmItYTQwNi0yOTM5ZmRkY2FhZDI";

    let r = app.get(&app.orgs_path(&account, Some(globex), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Customer Org");
    assert_eq!(r.body["licenses"], json!([]));
}

#[tokio::test]
async fn update_patches_the_identity_org_by_its_uuid_with_scim_schemas() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some(ACME), ""),
            Some(json!({"name": "Acme_New, Inc.", "remote_data": {"preferredLanguage": "en_GB"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": ACME, "name": "Acme_New, Inc.", "created_at": "2015-10-18T14:26:16Z", "updated_at": "2024-05-16T12:25:16Z"})
    );
    let sent = last_request(&app, P);
    assert_request(
        &sent,
        "PATCH",
        "/identity/organizations/96abc2aa-3dcc-11e5-a152-fe34819cdc9a",
    );
    assert_eq!(
        sent.json.unwrap(),
        json!({"schemas": ["urn:cisco:codev:identity:organization:core:1.0"], "displayName": "Acme_New, Inc.", "preferredLanguage": "en_GB"})
    );
}

#[tokio::test]
async fn delete_removes_the_org() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(Method::DELETE, &app.orgs_path(&account, Some(ACME), ""), None)
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"id": ACME}));
    assert_eq!(last_request(&app, P).method, "DELETE");
    assert!(app.emulator(P).record("organizations", ACME).is_none());
}

#[tokio::test]
async fn a_missing_org_is_a_404_in_webex_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("bm9wZQ"), "")).await;

    assert_error(&r, 404);
    assert_eq!(
        r.body["raw_response"]["message"],
        "The requested resource could not be found."
    );
    assert_eq!(
        r.body["raw_response"]["errors"],
        json!([{"description": "The requested resource could not be found."}])
    );
    assert!(r.body["raw_response"]["trackingId"].is_string());
}

#[tokio::test]
async fn list_answers_the_items_in_one_page() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, None, "&limit=1")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[1]["name"], "Globex Customer Org");
    assert_eq!(result[1]["created_at"], "2021-05-13T15:51:09Z");
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
}

/// The licenses are a side load: when it fails, the organization still answers, without
/// `licenses` (absent, not an empty list that would claim there are none).
#[tokio::test]
async fn a_failing_licenses_side_load_leaves_licenses_out() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P)
        .inject(unigate_emulator::Fault::respond(500, json!({"message": "boom"})).on("GET", "/v1/licenses"));

    let r = app.get(&app.orgs_path(&account, Some(ACME), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Acme, Inc.");
    assert!(r.body.get("licenses").is_none(), "{}", r.text);
}

//! Google Cloud: get by organization number, list (organizations:search, pageToken).

use serde_json::json;

use crate::common::{assert_remote_error, get_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

#[tokio::test]
async fn get_strips_the_organizations_prefix_from_the_id() {
    let (app, account) = app_with_account("google-cloud").await;

    let org = get_org(&app, &account, "123456789012").await;

    assert_eq!(org["id"], "123456789012");
    assert_eq!(org["name"], "acme.example");
    assert_eq!(org["created_at"], "2016-03-08T19:02:03.514Z");
    assert_eq!(org["updated_at"], "2023-10-11T07:15:42.118Z");
    assert_eq!(org["remote_data"]["name"], "organizations/123456789012");
    assert!(org["remote_data"].get("number").is_none());
    for absent in ["pricing_plan", "licenses"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "google-cloud");
    assert_request(&sent, "GET", "/v3/organizations/123456789012");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer ya29.a0Sandbox0GoogleCloud0AccessToken0000000001")
    );
}

#[tokio::test]
async fn an_unknown_org_is_a_403_permission_denied_as_google_answers() {
    let (app, account) = app_with_account("google-cloud").await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;

    assert_remote_error(
        &r,
        403,
        &json!({"error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}}),
    );
}

#[tokio::test]
async fn list_searches_with_page_size_and_page_token() {
    let (app, account) = app_with_account("google-cloud").await;
    for i in 0..3 {
        app.emulator("google-cloud").insert_record(
            "organizations",
            json!({"number": format!("55500{i}"), "name": format!("organizations/55500{i}"),
                   "displayName": format!("extra{i}.example"), "state": "ACTIVE"}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["123456789012", "987654321098", "555000", "555001", "555002"]);
    assert_eq!(pages, 3);
    let sent = last_request(&app, "google-cloud");
    assert_eq!(sent.path, "/v3/organizations:search");
    assert!(
        sent.query.contains("pageSize=2") && sent.query.contains("pageToken="),
        "{}",
        sent.query
    );
}

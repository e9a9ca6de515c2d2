//! Buildkite: get by slug, list with a Link header.

use serde_json::json;

use crate::common::{assert_remote_error, get_org};
use crate::helpers::{app_with_account, assert_request, last_request, spawn_app, walk_list};

#[tokio::test]
async fn get_uses_the_slug_as_the_unified_id() {
    let (app, account) = app_with_account("buildkite").await;

    let org = get_org(&app, &account, "acme-inc").await;

    assert_eq!(org["id"], "acme-inc");
    assert_eq!(org["name"], "ACME Inc");
    assert_eq!(org["created_at"], "2015-05-09T21:05:59.874Z");
    assert_eq!(org["remote_data"]["id"], "0185d4a2-6b1c-4f0e-9a3d-7e2b8c9d0f11");
    for absent in ["pricing_plan", "licenses", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "buildkite");
    assert_request(&sent, "GET", "/v2/organizations/acme-inc");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer bkua_sandbox0000000000000000000000000000001")
    );
}

#[tokio::test]
async fn bad_credentials_are_a_401_with_buildkites_message() {
    let app = spawn_app().await;
    let account = app.connect_with("buildkite", json!({"api_token": "bkua_wrong"})).await;

    let r = app.get(&app.orgs_path(&account, Some("acme-inc"), "")).await;

    assert_remote_error(
        &r,
        401,
        &json!({"message": "Authentication required. Please supply a valid API Access Token."}),
    );
}

#[tokio::test]
async fn list_follows_the_link_header() {
    let (app, account) = app_with_account("buildkite").await;
    for i in 0..3 {
        app.emulator("buildkite").insert_record(
            "organizations",
            json!({"id": format!("uuid-{i}"), "slug": format!("extra-{i}"), "name": format!("Extra {i}"),
                   "created_at": "2020-01-01T00:00:00.000Z"}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["acme-inc", "globex", "extra-0", "extra-1", "extra-2"]);
    assert_eq!(pages, 3);
    assert!(last_request(&app, "buildkite").query.contains("page=3"));
}

//! Atlassian: get and list (JSON:API, cursor in `links.next`).

use serde_json::json;

use crate::common::{assert_remote_error, get_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

const ORG: &str = "0a8b1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d";

#[tokio::test]
async fn get_maps_an_atlassian_org_from_its_jsonapi_data() {
    let (app, account) = app_with_account("atlassian").await;

    let org = get_org(&app, &account, ORG).await;

    assert_eq!(org["id"], ORG);
    assert_eq!(org["name"], "Acme Software");
    assert_eq!(org["remote_data"]["type"], "orgs");
    for absent in ["pricing_plan", "licenses", "created_at", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "atlassian");
    assert_request(&sent, "GET", &format!("/admin/v1/orgs/{ORG}"));
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer ATCTT3xFfGN0sandbox0atlassian0admin0key0000001")
    );
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_atlassians_errors_array() {
    let (app, account) = app_with_account("atlassian").await;

    let r = app.get(&app.orgs_path(&account, Some("nope"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"errors": [{"id": "3b9a1f0e-2c4d-4e5f-8a6b-7c8d9e0f1a2d", "status": "404", "code": "NOT_FOUND",
            "title": "Not Found", "detail": "Organization nope was not found or the key has no access to it."}]}),
    );
}

#[tokio::test]
async fn list_follows_the_links_next_cursor() {
    let (app, account) = app_with_account("atlassian").await;
    for i in 0..20 {
        app.emulator("atlassian").insert_record(
            "orgs",
            json!({"id": format!("extra-{i:02}"), "type": "orgs", "attributes": {"name": format!("Extra {i}")}}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 5).await;

    assert_eq!(ids.len(), 22, "{ids:?}");
    assert_eq!(pages, 2, "Atlassian pages hold 20 organizations");
    assert_eq!(ids[0], ORG);
    assert!(app
        .emulator("atlassian")
        .requests()
        .iter()
        .any(|r| r.query.starts_with("cursor=")));
}

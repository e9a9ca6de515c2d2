//! Confluent Cloud: get, list (following the metadata.next URL), update (display_name).

use base64::Engine;
use serde_json::json;

use crate::common::{assert_pages_follow_next_links, assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

fn basic() -> String {
    let creds = "SANDBOXKEY7Q3ZL4XW:sandboxsecret0f8a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a";
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(creds))
}

#[tokio::test]
async fn get_maps_display_name_and_metadata_dates_in_utc() {
    let (app, account) = app_with_account("confluent").await;

    let org = get_org(&app, &account, "1111aaaa-11aa-11aa-11aa-111111aaaaaa").await;

    assert_eq!(org["id"], "1111aaaa-11aa-11aa-11aa-111111aaaaaa");
    assert_eq!(org["name"], "Finance Org");
    assert_eq!(org["created_at"], "2006-01-02T22:04:05Z");
    assert_eq!(org["updated_at"], "2006-01-02T22:04:05Z");
    assert_eq!(org["remote_data"]["jit_enabled"], true);
    for absent in ["pricing_plan", "licenses"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "confluent");
    assert_request(
        &sent,
        "GET",
        "/org/v2/organizations/1111aaaa-11aa-11aa-11aa-111111aaaaaa",
    );
    assert_eq!(sent.header("authorization"), Some(basic().as_str()));
}

#[tokio::test]
async fn update_patches_the_display_name() {
    let (app, account) = app_with_account("confluent").await;

    let r = update_org(
        &app,
        &account,
        "2222bbbb-22bb-22bb-22bb-222222bbbbbb",
        json!({"name": "Streaming Platform", "remote_data": {"jit_enabled": true}}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Streaming Platform");
    assert_eq!(r.body["created_at"], "2022-03-14T09:26:53Z");
    let sent = last_with_method(&app, "confluent", "PATCH");
    assert_eq!(sent.path, "/org/v2/organizations/2222bbbb-22bb-22bb-22bb-222222bbbbbb");
    assert_eq!(sent.header("authorization"), Some(basic().as_str()));
    assert_eq!(
        sent.json.unwrap(),
        json!({"display_name": "Streaming Platform", "jit_enabled": true})
    );
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_confluents_errors() {
    let (app, account) = app_with_account("confluent").await;

    let r = app.get(&app.orgs_path(&account, Some("nope"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"errors": [{"id": "9f8e7d6c5b4a", "status": "404", "code": "resource_not_found",
                            "title": "Not Found", "detail": "Organization \"nope\" was not found"}]}),
    );
}

#[tokio::test]
async fn list_follows_the_metadata_next_url() {
    let (app, account) = app_with_account("confluent").await;
    for i in 0..3 {
        app.emulator("confluent").insert_record(
            "organizations",
            json!({"id": format!("extra-{i}"), "display_name": format!("Extra {i}"),
                   "metadata": {"created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}}),
        );
    }

    app.emulator("confluent").clear_requests();

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(
        ids,
        [
            "1111aaaa-11aa-11aa-11aa-111111aaaaaa",
            "2222bbbb-22bb-22bb-22bb-222222bbbbbb",
            "extra-0",
            "extra-1",
            "extra-2"
        ]
    );
    assert_eq!(pages, 3);
    let sent = app.emulator("confluent").requests();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].query, "page_size=2");
    for req in &sent {
        assert_eq!(req.path, "/org/v2/organizations");
        assert_eq!(req.header("authorization"), Some(basic().as_str()));
    }
    assert_pages_follow_next_links(&app, "confluent", &sent, "/metadata/next").await;
}

#[tokio::test]
async fn an_update_moves_metadata_updated_at() {
    let (app, account) = app_with_account("confluent").await;

    let r = update_org(
        &app,
        &account,
        "1111aaaa-11aa-11aa-11aa-111111aaaaaa",
        json!({"name": "Finance"}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["created_at"], "2006-01-02T22:04:05Z");
    assert_ne!(r.body["updated_at"], "2006-01-02T22:04:05Z");
    assert_eq!(
        r.body["remote_data"]["metadata"]["resource_name"],
        "crn://confluent.cloud/organization=1111aaaa-11aa-11aa-11aa-111111aaaaaa"
    );
}

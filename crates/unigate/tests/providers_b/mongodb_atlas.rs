//! MongoDB Atlas Admin API v2.

use reqwest::Method;
use serde_json::json;

use crate::common::{last_request, unified, walk};
use crate::helpers::{assert_error, spawn_app};

const P: &str = "mongodb-atlas";

#[tokio::test]
async fn get_maps_an_atlas_org_with_the_versioned_accept_header() {
    let app = spawn_app().await;
    let account = app.connect(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("5f4d3c2b1a0e9d8c7b6a5f4e"), ""))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "5f4d3c2b1a0e9d8c7b6a5f4e", "name": "Acme-Data-Platform", "created_at": "2020-08-31T18:06:35Z"})
    );
    assert_eq!(r.body["remote_data"]["isDeleted"], false);
    let sent = last_request(&app, P);
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("GET", "/api/atlas/v2/orgs/5f4d3c2b1a0e9d8c7b6a5f4e")
    );
    assert_eq!(sent.header("accept"), Some("application/vnd.atlas.2023-01-01+json"));
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer atlas-sa-sandbox-eyJraWQiOiJzYW5kYm94In0")
    );
}

#[tokio::test]
async fn update_patches_the_name_and_remote_data() {
    let app = spawn_app().await;
    let account = app.connect(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("5e2211c17a3e5a48f5497de3"), ""),
            Some(json!({"name": "Globex-Data", "remote_data": {"skipDefaultAlertsSettings": false}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex-Data");
    let sent = last_request(&app, P);
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("PATCH", "/api/atlas/v2/orgs/5e2211c17a3e5a48f5497de3")
    );
    assert_eq!(
        sent.json.unwrap(),
        json!({"name": "Globex-Data", "skipDefaultAlertsSettings": false})
    );
}

#[tokio::test]
async fn an_invalid_name_is_refused_in_atlas_error_shape() {
    let app = spawn_app().await;
    let account = app.connect(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("5e2211c17a3e5a48f5497de3"), ""),
            Some(json!({"name": "no/slashes allowed"})),
        )
        .await;

    assert_error(&r, 400);
    assert_eq!(r.body["raw_response"]["errorCode"], "INVALID_ATTRIBUTE");
    assert_eq!(r.body["raw_response"]["error"], 400);
}

#[tokio::test]
async fn a_missing_org_is_a_404_with_atlas_error_body() {
    let app = spawn_app().await;
    let account = app.connect(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("000000000000000000000000"), ""))
        .await;

    assert_error(&r, 404);
    assert_eq!(
        r.body["raw_response"],
        json!({"detail": "Organization 000000000000000000000000 not found.", "error": 404,
               "errorCode": "ORG_NOT_FOUND", "parameters": ["000000000000000000000000"], "reason": "Not Found"})
    );
}

#[tokio::test]
async fn delete_removes_the_org() {
    let app = spawn_app().await;
    let account = app.connect(P).await;

    let r = app
        .send(
            Method::DELETE,
            &app.orgs_path(&account, Some("6512a3c4e1b2f3a4b5c6d7e8"), ""),
            None,
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "6512a3c4e1b2f3a4b5c6d7e8");
    assert_eq!(last_request(&app, P).method, "DELETE");
    assert!(app.emulator(P).record("orgs", "6512a3c4e1b2f3a4b5c6d7e8").is_none());
}

#[tokio::test]
async fn list_walks_page_num_pages() {
    let app = spawn_app().await;
    let account = app.connect(P).await;
    for i in 0..4 {
        app.emulator(P).insert_record(
            "orgs",
            json!({"id": format!("66000000000000000000000{i}"), "name": format!("Extra-{i}")}),
        );
    }

    let (ids, pages) = walk(&app, &account, 3).await;

    assert_eq!(ids.len(), 7, "{ids:?}");
    assert_eq!(ids[0], "5f4d3c2b1a0e9d8c7b6a5f4e");
    assert_eq!(ids[6], "660000000000000000000003");
    assert_eq!(pages, 3);
    assert!(last_request(&app, P).query.contains("pageNum=3"));
}

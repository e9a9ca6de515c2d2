//! Contentful: get (list and pick by sys.id), list (skip/limit).

use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_request, walk_list};
use crate::helpers::spawn_app;

#[tokio::test]
async fn get_picks_the_organization_by_its_sys_id() {
    let app = spawn_app().await;
    let account = app.connect("contentful").await;

    let org = get_org(&app, &account, "0SUbYs2vZlXjVR6bH6o83O").await;

    assert_eq!(org["id"], "0SUbYs2vZlXjVR6bH6o83O");
    assert_eq!(org["name"], "Acme Digital");
    assert_eq!(org["created_at"], "2015-05-18T11:29:46.809Z");
    assert_eq!(org["updated_at"], "2024-02-05T10:12:31.000Z");
    assert_eq!(org["remote_data"]["sys"]["version"], 4);
    for absent in ["pricing_plan", "licenses"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "contentful");
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str(), sent.query.as_str()),
        ("GET", "/organizations", "limit=100")
    );
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer CFPAT-sandbox0contentful0personal0access0token0000001")
    );
}

#[tokio::test]
async fn an_organization_not_in_the_users_list_is_a_404() {
    let app = spawn_app().await;
    let account = app.connect("contentful").await;

    let r = app.get(&app.orgs_path(&account, Some("missing"), "")).await;

    crate::helpers::assert_error(&r, 404);
}

#[tokio::test]
async fn a_bad_token_is_a_401_with_contentfuls_error_sys() {
    let app = spawn_app().await;
    let account = app
        .connect_with("contentful", json!({"access_token": "CFPAT-wrong"}))
        .await;

    let r = app.get(&app.orgs_path(&account, None, "")).await;

    assert_remote_error(
        &r,
        401,
        &json!({"sys": {"type": "Error", "id": "AccessTokenInvalid"},
                "message": "The access token you sent could not be found or is invalid.",
                "requestId": "8a3e0f6c-1d2b-4c5a-9e7f-0b1c2d3e4f5c"}),
    );
}

#[tokio::test]
async fn list_pages_with_skip_and_limit_until_the_total() {
    let app = spawn_app().await;
    let account = app.connect("contentful").await;
    for i in 0..3 {
        app.emulator("contentful").insert_record(
            "organizations",
            json!({"name": format!("Extra {i}"), "sys": {"type": "Organization", "id": format!("extra{i}"),
                   "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(
        ids,
        [
            "0SUbYs2vZlXjVR6bH6o83O",
            "4kQeJmhUWIKtNNmMkketza",
            "extra0",
            "extra1",
            "extra2"
        ]
    );
    assert_eq!(pages, 3);
    assert!(last_request(&app, "contentful").query.contains("skip=4"));
}

//! Auth0: get, list (checkpoint), update (display_name), delete.

use reqwest::Method;
use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

const TOKEN: &str = "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.sandbox-management-api.c2lnbmF0dXJl";

#[tokio::test]
async fn get_prefers_the_display_name() {
    let (app, account) = app_with_account("auth0").await;

    let org = get_org(&app, &account, "org_4pLhWTV8BmvLbTaX").await;

    assert_eq!(org["id"], "org_4pLhWTV8BmvLbTaX");
    assert_eq!(org["name"], "Acme Corporation");
    assert_eq!(org["remote_data"]["name"], "acme");
    for absent in ["pricing_plan", "licenses", "created_at", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "auth0");
    assert_request(&sent, "GET", "/api/v2/organizations/org_4pLhWTV8BmvLbTaX");
    assert_eq!(sent.header("authorization"), Some(TOKEN));
}

#[tokio::test]
async fn get_falls_back_to_the_name_without_a_display_name() {
    let (app, account) = app_with_account("auth0").await;

    let org = get_org(&app, &account, "org_Zx81LqPd0aHuW2eB").await;

    assert_eq!(org["name"], "initech-partners");
}

#[tokio::test]
async fn update_patches_the_display_name_with_remote_data_merged() {
    let (app, account) = app_with_account("auth0").await;

    let r = update_org(
        &app,
        &account,
        "org_9sQ2mVfRn3KcYt7W",
        json!({"name": "Globex Inc.", "remote_data": {"metadata": {"tier": "pro"}}}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "org_9sQ2mVfRn3KcYt7W");
    assert_eq!(r.body["name"], "Globex Inc.");
    let sent = last_with_method(&app, "auth0", "PATCH");
    assert_eq!(sent.path, "/api/v2/organizations/org_9sQ2mVfRn3KcYt7W");
    assert_eq!(sent.header("authorization"), Some(TOKEN));
    assert_eq!(
        sent.json.unwrap(),
        json!({"display_name": "Globex Inc.", "metadata": {"tier": "pro"}})
    );
    let stored = app
        .emulator("auth0")
        .record("organizations", "org_9sQ2mVfRn3KcYt7W")
        .unwrap();
    assert_eq!(stored["name"], "globex", "the slug is untouched");
}

#[tokio::test]
async fn delete_removes_the_organization() {
    let (app, account) = app_with_account("auth0").await;

    let r = app
        .send(
            Method::DELETE,
            &app.orgs_path(&account, Some("org_Zx81LqPd0aHuW2eB"), ""),
            None,
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "org_Zx81LqPd0aHuW2eB");
    let sent = last_request(&app, "auth0");
    assert_request(&sent, "DELETE", "/api/v2/organizations/org_Zx81LqPd0aHuW2eB");
    assert!(app
        .emulator("auth0")
        .record("organizations", "org_Zx81LqPd0aHuW2eB")
        .is_none());
}

#[tokio::test]
async fn an_unknown_org_is_a_404_in_auth0s_error_shape() {
    let (app, account) = app_with_account("auth0").await;

    let r = app.get(&app.orgs_path(&account, Some("org_missing"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"statusCode": 404, "error": "Not Found", "message": "The organization does not exist.",
                "errorCode": "inexistent_organization"}),
    );
}

#[tokio::test]
async fn list_walks_checkpoint_pages_with_from_and_take() {
    let (app, account) = app_with_account("auth0").await;
    for i in 0..4 {
        app.emulator("auth0").insert_record(
            "organizations",
            json!({"id": format!("org_extra{i}"), "name": format!("extra-{i}"), "display_name": format!("Extra {i}")}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids.len(), 7, "{ids:?}");
    assert_eq!(pages, 4);
    assert!(ids.contains(&"org_extra3".to_string()));
    let queries: Vec<String> = app
        .emulator("auth0")
        .requests()
        .iter()
        .map(|r| r.query.clone())
        .collect();
    assert!(queries[0].contains("take=2"), "{queries:?}");
    assert!(queries[1].contains("from="), "{queries:?}");
}

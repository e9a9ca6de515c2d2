//! Concord: get and list (unpaged), X-API-KEY.

use serde_json::json;

use crate::common::{assert_remote_error, get_org};
use crate::helpers::{app_with_account, assert_request, last_request};

#[tokio::test]
async fn get_maps_a_concord_org_with_a_string_id() {
    let (app, account) = app_with_account("concord").await;

    let org = get_org(&app, &account, "12345").await;

    assert_eq!(org["id"], "12345");
    assert_eq!(org["name"], "Acme Legal");
    assert_eq!(org["remote_data"]["id"], 12345);
    let sent = last_request(&app, "concord");
    assert_request(&sent, "GET", "/api/rest/1/organizations/12345");
    assert_eq!(sent.header("x-api-key"), Some("concord-sandbox-3f9c2b7a1e5d4c8b9a0f"));
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_concords_message() {
    let (app, account) = app_with_account("concord").await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;

    assert_remote_error(&r, 404, &json!({"message": "Organization not found"}));
}

#[tokio::test]
async fn list_returns_the_users_organizations_in_one_page() {
    let (app, account) = app_with_account("concord").await;
    app.emulator("concord")
        .insert_record("organizations", json!({"id": 99, "name": "Extra"}));

    let r = app.get(&app.orgs_path(&account, None, "&limit=1")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].clone())
            .collect::<Vec<_>>(),
        [json!("12345"), json!("67890"), json!("99")]
    );
    assert!(r.body["next_cursor"].is_null());
    assert_eq!(last_request(&app, "concord").path, "/api/rest/1/user/me/organizations");
}

//! Make: get, list (pg[offset]/pg[limit]), update (PATCH name), zone hosts.

use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, spawn_app, walk_list};

const AUTH: &str = "Token 93a4b6f2-5c1d-4e8f-a7b9-0c2d4e6f8a01";

#[tokio::test]
async fn get_unwraps_the_organization_and_maps_the_product_name() {
    let (app, account) = app_with_account("make").await;

    let org = get_org(&app, &account, "11").await;

    assert_eq!(org["id"], "11");
    assert_eq!(org["name"], "Acme Automations");
    assert_eq!(org["pricing_plan"], "Core");
    assert_eq!(org["remote_data"]["timezoneId"], 113);
    for absent in ["licenses", "created_at", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "make");
    assert_request(&sent, "GET", "/api/v2/organizations/11");
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn a_zone_outside_make_com_is_refused() {
    let app = spawn_app().await;
    let account = app
        .connect_with(
            "make",
            json!({"api_token": "93a4b6f2-5c1d-4e8f-a7b9-0c2d4e6f8a01", "zone": "evil.example/x"}),
        )
        .await;

    let r = app.get(&app.orgs_path(&account, Some("11"), "")).await;

    assert!(r.status.is_client_error() || r.status.is_server_error(), "{}", r.text);
    assert!(app.emulator("make").requests().is_empty());
}

#[tokio::test]
async fn update_patches_the_name_with_remote_data() {
    let (app, account) = app_with_account("make").await;

    let r = update_org(
        &app,
        &account,
        "42",
        json!({"name": "Globex Automation", "remote_data": {"timezoneId": 7}}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Automation");
    assert_eq!(r.body["pricing_plan"], "Pro");
    let sent = last_with_method(&app, "make", "PATCH");
    assert_eq!(sent.path, "/api/v2/organizations/42");
    assert_eq!(sent.header("authorization"), Some(AUTH));
    assert_eq!(
        sent.json.unwrap(),
        json!({"name": "Globex Automation", "timezoneId": 7})
    );
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_makes_detail_and_code() {
    let (app, account) = app_with_account("make").await;

    let r = app.get(&app.orgs_path(&account, Some("999"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"message": "Not found", "detail": "Organization not found.", "code": "IM005"}),
    );
}

#[tokio::test]
async fn list_pages_with_pg_offset_and_pg_limit() {
    let (app, account) = app_with_account("make").await;
    for i in 0..3 {
        app.emulator("make")
            .insert_record("organizations", json!({"id": 100 + i, "name": format!("Extra {i}")}));
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["11", "42", "100", "101", "102"]);
    assert_eq!(pages, 3);
    let sent = last_request(&app, "make");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(sent.query.as_bytes())
        .into_owned()
        .collect();
    assert!(pairs.contains(&("pg[offset]".into(), "4".into())), "{pairs:?}");
    assert!(pairs.contains(&("pg[limit]".into(), "2".into())), "{pairs:?}");
}

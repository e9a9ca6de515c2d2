//! Cisco Meraki: get, list (startingAfter + Link), update (PUT of given fields), delete.

use reqwest::Method;
use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_request, last_with_method, update_org, walk_list};
use crate::helpers::spawn_app;

const AUTH: &str = "Bearer 75dd5334bef4d2bc96f26138e8c4a3b0c1d2e3f4";

#[tokio::test]
async fn get_maps_the_licensing_model_to_the_pricing_plan() {
    let app = spawn_app().await;
    let account = app.connect("cisco-meraki").await;

    let org = get_org(&app, &account, "2930418").await;

    assert_eq!(org["id"], "2930418");
    assert_eq!(org["name"], "My organization");
    assert_eq!(org["pricing_plan"], "co-term");
    assert_eq!(org["remote_data"]["cloud"]["region"]["name"], "North America");
    for absent in ["licenses", "created_at", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "cisco-meraki");
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("GET", "/api/v1/organizations/2930418")
    );
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn update_puts_the_name_and_remote_data() {
    let app = spawn_app().await;
    let account = app.connect("cisco-meraki").await;

    let r = update_org(
        &app,
        &account,
        "549236",
        json!({"name": "Globex EMEA", "remote_data": {"api": {"enabled": false}}}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex EMEA");
    assert_eq!(r.body["pricing_plan"], "subscription");
    let sent = last_with_method(&app, "cisco-meraki", "PUT");
    assert_eq!(sent.path, "/api/v1/organizations/549236");
    assert_eq!(sent.header("authorization"), Some(AUTH));
    assert_eq!(
        sent.json.unwrap(),
        json!({"name": "Globex EMEA", "api": {"enabled": false}})
    );
    let stored = app.emulator("cisco-meraki").record("organizations", "549236").unwrap();
    assert_eq!(stored["api"]["enabled"], false);
    assert_eq!(stored["licensing"]["model"], "subscription");
}

#[tokio::test]
async fn delete_removes_the_organization() {
    let app = spawn_app().await;
    let account = app.connect("cisco-meraki").await;

    let r = app
        .send(Method::DELETE, &app.orgs_path(&account, Some("681155"), ""), None)
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "681155");
    let sent = last_request(&app, "cisco-meraki");
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("DELETE", "/api/v1/organizations/681155")
    );
    assert!(app.emulator("cisco-meraki").record("organizations", "681155").is_none());
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_merakis_errors_list() {
    let app = spawn_app().await;
    let account = app.connect("cisco-meraki").await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;

    assert_remote_error(&r, 404, &json!({"errors": ["Organization with ID 1 not found"]}));
}

#[tokio::test]
async fn list_follows_the_link_header_with_per_page() {
    let app = spawn_app().await;
    let account = app.connect("cisco-meraki").await;
    for i in 0..3 {
        app.emulator("cisco-meraki").insert_record(
            "organizations",
            json!({"id": format!("90000{i}"), "name": format!("Extra {i}"), "licensing": {"model": "per-device"}}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["2930418", "549236", "681155", "900000", "900001", "900002"]);
    assert_eq!(pages, 3);
    let sent = last_request(&app, "cisco-meraki");
    assert!(
        sent.query.contains("perPage=2") && sent.query.contains("startingAfter="),
        "{}",
        sent.query
    );
}

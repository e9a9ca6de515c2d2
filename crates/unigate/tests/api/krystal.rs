//! Krystal Identity: wrapped answers, `{properties}` updates, Apia errors.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{app_with_account, assert_error};

const ACME: &str = "org_Ty2vQn8RkP4wLm3x";

#[tokio::test]
async fn get_unwraps_the_organization() {
    let (app, account) = app_with_account("krystal").await;

    let r = app.get(&app.orgs_path(&account, Some(ACME), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], ACME);
    assert_eq!(r.body["name"], "Acme Hosting Ltd");
    assert_eq!(r.body["updated_at"], "2024-05-01T12:00:00Z");
    assert!(r.body.get("created_at").is_none(), "Krystal has no created date");
    assert_eq!(r.body["remote_data"]["identifier"], "acme-hosting");
    assert_eq!(
        app.emulator("krystal").requests().last().unwrap().path,
        format!("/api/v1/client/organizations/{ACME}")
    );
}

#[tokio::test]
async fn patch_sends_properties_and_maps_the_wrapped_answer() {
    let (app, account) = app_with_account("krystal").await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some(ACME), ""),
            Some(json!({"name": "Acme Hosting Group", "remote_data": {"properties": {"time_zone": "Europe/Paris"}}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Acme Hosting Group");
    assert_eq!(r.body["remote_data"]["time_zone"], "Europe/Paris");
    let patch = app
        .emulator("krystal")
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(
        patch.json.unwrap(),
        json!({"properties": {"name": "Acme Hosting Group", "time_zone": "Europe/Paris"}})
    );
    let updated = r.body["updated_at"].as_str().unwrap();
    assert!(updated > "2024-05-01T12:00:00Z", "{updated}");
}

#[tokio::test]
async fn an_empty_name_is_krystals_validation_error() {
    let (app, account) = app_with_account("krystal").await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some(ACME), ""),
            Some(json!({"remote_data": {"properties": {"name": ""}}})),
        )
        .await;

    assert_error(&r, 422);
    assert_eq!(r.body["raw_response"]["error"]["code"], "validation_error");
    assert_eq!(
        app.emulator("krystal").record("organizations", ACME).unwrap()["name"],
        "Acme Hosting Ltd"
    );
}

#[tokio::test]
async fn an_unknown_org_is_organization_not_found() {
    let (app, account) = app_with_account("krystal").await;

    let r = app.get(&app.orgs_path(&account, Some("org_nope"), "")).await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"]["error"]["code"], "organization_not_found");
}

#[tokio::test]
async fn list_returns_every_organization() {
    let (app, account) = app_with_account("krystal").await;

    let r = app
        .get(&app.orgs_path(&account, None, "&truto_response_format=normalized"))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(result.len(), 3);
    assert_eq!(
        result[0],
        json!({"id": ACME, "name": "Acme Hosting Ltd", "updated_at": "2024-05-01T12:00:00Z"})
    );
}

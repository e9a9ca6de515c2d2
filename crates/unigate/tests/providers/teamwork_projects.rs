//! Teamwork Projects API v3: companies.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, assert_saw, last_request, walk_list};

const P: &str = "teamwork-projects";

fn basic() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("twp_SandboxApiKey0123456789abcdef:x")
    )
}

#[tokio::test]
async fn get_maps_a_company_with_basic_auth_on_the_site() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("999"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "999", "name": "Acme Digital", "pricing_plan": "Deliver",
               "created_at": "2016-03-02T10:11:12Z", "updated_at": "2024-01-15T08:00:00Z"})
    );
    // The site's account, then the company.
    let requests = assert_saw(
        &app,
        P,
        &[("GET", "/account.json"), ("GET", "/projects/api/v3/companies/999.json")],
    );
    assert_eq!(requests[0].header("authorization"), Some(basic().as_str()));
    assert_eq!(requests[1].header("authorization"), Some(basic().as_str()));
}

#[tokio::test]
async fn a_client_company_has_no_site_plan() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("1001"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Client Services");
    assert!(r.body.get("pricing_plan").is_none(), "{}", r.text);
}

#[tokio::test]
async fn update_patches_the_wrapped_company() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("1001"), ""),
            Some(json!({"name": "Globex CS"})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex CS");
    let sent = last_request(&app, P);
    assert_request(&sent, "PATCH", "/projects/api/v3/companies/1001.json");
    assert_eq!(sent.json.unwrap(), json!({"company": {"name": "Globex CS"}}));
}

#[tokio::test]
async fn a_missing_company_is_a_404_in_teamwork_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("5"), "")).await;

    let msg = assert_error(&r, 404);
    assert!(msg.contains("Company 5 not found"), "{msg}");
    assert_eq!(r.body["raw_response"]["errors"][0]["detail"], "Company 5 not found");
}

#[tokio::test]
async fn list_walks_pages_until_has_more_is_false() {
    let (app, account) = app_with_account(P).await;
    for i in 0..3 {
        app.emulator(P)
            .insert_record("companies", json!({"id": 2000 + i, "name": format!("Client {i}")}));
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["999", "1001", "2000", "2001", "2002"]);
    assert_eq!(pages, 3);
    assert!(last_request(&app, P).query.contains("page=3"));
}

//! Contentful: get (list and pick by sys.id, licenses side-loaded), list (skip/limit),
//! update (read the version, PUT with `X-Contentful-Version`, retry on a version conflict).

use serde_json::json;
use unigate_emulator::Fault;

use crate::common::{assert_remote_error, get_org, update_org};
use crate::helpers::{app_with_account, assert_request, assert_saw, last_request, spawn_app, walk_list};

#[tokio::test]
async fn get_picks_the_organization_by_its_sys_id() {
    let (app, account) = app_with_account("contentful").await;

    let org = get_org(&app, &account, "0SUbYs2vZlXjVR6bH6o83O").await;

    assert_eq!(org["id"], "0SUbYs2vZlXjVR6bH6o83O");
    assert_eq!(org["name"], "Acme Digital");
    assert_eq!(org["created_at"], "2015-05-18T11:29:46.809Z");
    assert_eq!(org["updated_at"], "2024-02-05T10:12:31.000Z");
    assert_eq!(org["remote_data"]["sys"]["version"], 4);
    assert!(org.get("pricing_plan").is_none(), "{org}");
    let sent = last_request(&app, "contentful");
    assert_request(&sent, "GET", "/organizations");
    assert_eq!(sent.query, "limit=100");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer CFPAT-sandbox0contentful0personal0access0token0000001")
    );
}

#[tokio::test]
async fn an_organization_not_in_the_users_list_is_a_404() {
    let (app, account) = app_with_account("contentful").await;

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
    let (app, account) = app_with_account("contentful").await;
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

const ACME: &str = "0SUbYs2vZlXjVR6bH6o83O";

#[tokio::test]
async fn get_side_loads_the_available_licenses() {
    let (app, account) = app_with_account("contentful").await;
    app.emulator("contentful").clear_requests();

    let org = get_org(&app, &account, ACME).await;

    assert_eq!(
        org["licenses"],
        json!([{"id": "2qbN4xIgiRGl2d79XAISaK", "name": "Templated Space"},
               {"id": "4b9Ee2HMf88ztZgEP5RNRd", "name": "Standard Space"}])
    );
    assert!(org.get("pricing_plan").is_none(), "{org}");
    let sent: Vec<(String, String)> = app
        .emulator("contentful")
        .requests()
        .iter()
        .map(|r| (r.path.clone(), r.query.clone()))
        .collect();
    assert_eq!(
        sent,
        [
            (
                format!("/organizations/{ACME}/available_licenses"),
                "limit=100".to_string()
            ),
            ("/organizations".to_string(), "limit=100".to_string()),
        ]
    );
}

#[tokio::test]
async fn an_organization_without_licenses_has_an_empty_list() {
    let (app, account) = app_with_account("contentful").await;

    let org = get_org(&app, &account, "4kQeJmhUWIKtNNmMkketza").await;

    assert_eq!(org["licenses"], json!([]));
}

#[tokio::test]
async fn licenses_the_token_may_not_read_are_left_out() {
    let (app, account) = app_with_account("contentful").await;
    app.emulator("contentful").inject(
        Fault::respond(
            403,
            json!({"sys": {"type": "Error", "id": "AccessDenied"}, "message": "Forbidden"}),
        )
        .on("GET", "/organizations/*/available_licenses"),
    );

    let org = get_org(&app, &account, ACME).await;

    assert_eq!(org["name"], "Acme Digital");
    assert!(org.get("licenses").is_none(), "{org}");
}

#[tokio::test]
async fn update_puts_the_name_with_the_current_version_header() {
    let (app, account) = app_with_account("contentful").await;
    app.emulator("contentful").clear_requests();

    let r = update_org(&app, &account, ACME, json!({"name": "Acme Content Platform"})).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], ACME);
    assert_eq!(r.body["name"], "Acme Content Platform");
    assert_eq!(r.body["created_at"], "2015-05-18T11:29:46.809Z");
    assert_ne!(r.body["updated_at"], "2024-02-05T10:12:31.000Z");
    assert_eq!(r.body["remote_data"]["sys"]["version"], 5);
    let path = format!("/organizations/{ACME}");
    let sent = assert_saw(&app, "contentful", &[("GET", &path), ("PUT", &path)]);
    let put = &sent[1];
    assert_eq!(put.header("x-contentful-version"), Some("4"));
    assert_eq!(
        put.header("authorization"),
        Some("Bearer CFPAT-sandbox0contentful0personal0access0token0000001")
    );
    assert_eq!(put.json.clone().unwrap(), json!({"name": "Acme Content Platform"}));
    let stored = app.emulator("contentful").record("organizations", ACME).unwrap();
    assert_eq!(stored["name"], "Acme Content Platform");
    assert_eq!(stored["sys"]["version"], 5);
}

#[tokio::test]
async fn a_stale_version_is_reread_and_the_rename_retried() {
    let (app, account) = app_with_account("contentful").await;
    // The first read answers an older copy: the PUT names version 3, Contentful refuses it.
    let mut stale = app.emulator("contentful").record("organizations", ACME).unwrap();
    stale["sys"]["version"] = json!(3);
    app.emulator("contentful")
        .inject(Fault::respond(200, stale).on("GET", "/organizations/*").times(1));
    app.emulator("contentful").clear_requests();

    let r = update_org(&app, &account, ACME, json!({"name": "Acme Renamed"})).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Acme Renamed");
    let versions: Vec<Option<String>> = app
        .emulator("contentful")
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.header("x-contentful-version").map(str::to_string))
        .collect();
    assert_eq!(versions, [Some("3".to_string()), Some("4".to_string())]);
}

#[tokio::test]
async fn a_version_that_keeps_changing_is_contentfuls_409() {
    let (app, account) = app_with_account("contentful").await;
    let mut stale = app.emulator("contentful").record("organizations", ACME).unwrap();
    stale["sys"]["version"] = json!(3);
    app.emulator("contentful")
        .inject(Fault::respond(200, stale).on("GET", "/organizations/*"));

    let r = update_org(&app, &account, ACME, json!({"name": "Acme Renamed"})).await;

    assert_remote_error(
        &r,
        409,
        &json!({"sys": {"type": "Error", "id": "VersionMismatch"}, "requestId": "8a3e0f6c-1d2b-4c5a-9e7f-0b1c2d3e4f5e"}),
    );
    assert!(r.body["message"].as_str().unwrap().contains("3 attempts"), "{}", r.text);
    let puts = app
        .emulator("contentful")
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .count();
    assert_eq!(puts, 3);
    assert_eq!(
        app.emulator("contentful").record("organizations", ACME).unwrap()["name"],
        "Acme Digital"
    );
}

#[tokio::test]
async fn an_empty_name_is_contentfuls_422_validation_error() {
    let (app, account) = app_with_account("contentful").await;

    let r = update_org(&app, &account, ACME, json!({"name": ""})).await;

    crate::helpers::assert_error(&r, 422);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    assert_eq!(r.body["raw_response"]["sys"]["id"], "ValidationFailed");
    assert_eq!(r.body["raw_response"]["details"]["errors"][0]["path"], json!(["name"]));
}

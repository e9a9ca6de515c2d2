//! MindBridge users: get, list (`POST /users/query`, zero-based pages), create (an
//! activation e-mail), update (read, then `PUT` role and enabled with the version).

use reqwest::Method;
use serde_json::json;

use crate::common::{get_user, last_with_method, request_lines, unified, users_path, walk_users, write_user};
use crate::helpers::{app_with_account, assert_request, last_request};

const P: &str = "mindbridge";
const AUTH: &str = "Bearer mbt_sandbox.eyJ0ZW5hbnQiOiJzYW5kYm94In0.c2lnbmF0dXJl";

#[tokio::test]
async fn get_maps_the_user_and_its_latest_login() {
    let (app, account) = app_with_account(P).await;

    let user = get_user(&app, &account, "64f0a1b2c3d4e5f607182930").await;

    assert_eq!(
        unified(&user),
        json!({
            "id": "64f0a1b2c3d4e5f607182930", "first_name": "Jane", "last_name": "Auditor", "name": "Jane Auditor",
            "emails": [{"email": "jane.auditor@acme.example", "is_primary": true}],
            "status": "active", "roles": [{"name": "ROLE_ADMIN"}], "user_type": "user",
            "last_login_at": "2024-05-03T14:40:21Z",
            "created_at": "2022-01-10T09:00:00Z", "updated_at": "2024-04-01T12:00:00Z"
        })
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/api/v1/users/64f0a1b2c3d4e5f607182930");
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn list_walks_zero_based_pages_and_maps_each_status() {
    let (app, account) = app_with_account(P).await;

    let (users, pages) = walk_users(&app, &account, 2).await;

    let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "64f0a1b2c3d4e5f607182930",
            "64f0a1b2c3d4e5f607182931",
            "64f0a1b2c3d4e5f607182932",
            "64f0a1b2c3d4e5f607182933",
            "65a1f0c2e4b0a1b2c3d4e5f6"
        ]
    );
    assert_eq!(pages, 3);
    let statuses: Vec<&str> = users.iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["active", "active", "inactive", "invited", "active"]);
    assert_eq!(
        unified(&users[4]),
        json!({
            "id": "65a1f0c2e4b0a1b2c3d4e5f6",
            "emails": [{"email": "sandbox-api-token@service.mindbridge.ai", "is_primary": true}],
            "status": "active", "roles": [{"name": "ROLE_ADMIN"}], "user_type": "service-account",
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"
        })
    );
    assert_eq!(
        request_lines(&app, P),
        [
            "POST /api/v1/users/query?size=2&page=0",
            "POST /api/v1/users/query?size=2&page=1",
            "POST /api/v1/users/query?size=2&page=2"
        ]
    );
    assert_eq!(app.emulator(P).requests()[0].json.clone().unwrap(), json!({}));
}

#[tokio::test]
async fn create_sends_the_email_and_role() {
    let (app, account) = app_with_account(P).await;

    let r = write_user(
        &app,
        Method::POST,
        &account,
        None,
        json!({"emails": [{"email": "kim.reviewer@firm.example", "is_primary": true}], "roles": [{"name": "ROLE_USER"}]}),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_with_method(&app, P, "POST");
    assert_request(&sent, "POST", "/api/v1/users");
    assert_eq!(sent.header("authorization"), Some(AUTH));
    assert_eq!(
        sent.json.unwrap(),
        json!({"email": "kim.reviewer@firm.example", "role": "ROLE_USER"})
    );
    assert_eq!(r.body["status"], "invited");
    assert_eq!(
        r.body["emails"],
        json!([{"email": "kim.reviewer@firm.example", "is_primary": true}])
    );
    assert_eq!(r.body["roles"], json!([{"name": "ROLE_USER"}]));
}

#[tokio::test]
async fn an_invalid_role_is_mindbridges_problem_document() {
    let (app, account) = app_with_account(P).await;

    let r = write_user(
        &app,
        Method::POST,
        &account,
        None,
        json!({"emails": [{"email": "x@firm.example"}], "roles": [{"name": "ROLE_MINDBRIDGE_SUPPORT"}]}),
    )
    .await;

    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    let raw = &r.body["raw_response"];
    assert_eq!((&raw["title"], &raw["status"]), (&json!("Bad Request"), &json!(400)));
    assert_eq!(raw["problems"][0]["identifier"], "role", "{}", r.text);
}

#[tokio::test]
async fn update_disables_the_user_with_the_version_read() {
    let (app, account) = app_with_account(P).await;

    let r = write_user(
        &app,
        Method::PATCH,
        &account,
        Some("64f0a1b2c3d4e5f607182931"),
        json!({"status": "inactive"}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        request_lines(&app, P),
        [
            "GET /api/v1/users/64f0a1b2c3d4e5f607182931",
            "PUT /api/v1/users/64f0a1b2c3d4e5f607182931"
        ]
    );
    let sent = last_with_method(&app, P, "PUT");
    assert_eq!(
        sent.json.unwrap(),
        json!({"version": 1, "role": "ROLE_ORGANIZATION_ADMIN", "enabled": false})
    );
    assert_eq!(r.body["status"], "inactive");
    assert_eq!(r.body["first_name"], "Sam");
    assert_eq!(
        app.emulator(P).record("users", "64f0a1b2c3d4e5f607182931").unwrap()["version"],
        2
    );
}

#[tokio::test]
async fn update_changes_the_role() {
    let (app, account) = app_with_account(P).await;

    let r = write_user(
        &app,
        Method::PATCH,
        &account,
        Some("64f0a1b2c3d4e5f607182932"),
        json!({"roles": [{"name": "ROLE_USER_ADMIN"}]}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        last_with_method(&app, P, "PUT").json.unwrap(),
        json!({"version": 2, "role": "ROLE_USER_ADMIN", "enabled": false})
    );
    assert_eq!(r.body["roles"], json!([{"name": "ROLE_USER_ADMIN"}]));
    assert_eq!(r.body["status"], "inactive");
}

#[tokio::test]
async fn a_name_change_is_refused_before_any_call() {
    let (app, account) = app_with_account(P).await;

    let r = write_user(
        &app,
        Method::PATCH,
        &account,
        Some("64f0a1b2c3d4e5f607182932"),
        json!({"first_name": "Lee"}),
    )
    .await;

    assert_eq!(r.status, 422, "{}", r.text);
    assert!(request_lines(&app, P).is_empty());
}

#[tokio::test]
async fn an_unknown_user_is_a_404_problem() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&users_path(&account, Some("000000000000000000000000"), ""))
        .await;

    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        r.body["raw_response"]["problems"][0]["problemType"], "ENTITY_NOT_FOUND",
        "{}",
        r.text
    );
    assert_eq!(
        r.body["raw_response"]["problems"][0]["identifier"], "000000000000000000000000",
        "{}",
        r.text
    );
}

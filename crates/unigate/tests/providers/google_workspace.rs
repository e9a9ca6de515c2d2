//! Google Workspace through the Admin SDK Directory API: users (get, list with
//! `customer=my_customer`, `maxResults` and `pageToken`, insert, patch, delete), statuses,
//! Google's error shape, and the customer as the one organization.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{json, Value};
use unigate_emulator::RecordedRequest;

use crate::common::{assert_remote_error, delete_user, get_user, last_with_method, users_path, walk_users, write_user};
use crate::helpers::{app_with_account, assert_request, last_request};

const PROVIDER: &str = "google-workspace";
const TOKEN: &str = "Bearer ya29.a0Sandbox0Workspace0Admin0AccessToken00001";
const LIZ: &str = "103684981735262549873";

fn unified(mut record: Value) -> Value {
    record.as_object_mut().unwrap().remove("remote_data");
    record
}

fn query(r: &RecordedRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(r.query.as_bytes()).into_owned().collect()
}

#[tokio::test]
async fn get_maps_every_field_google_has() {
    let (app, account) = app_with_account(PROVIDER).await;

    let user = get_user(&app, &account, LIZ).await;

    assert_eq!(
        unified(user.clone()),
        json!({
            "id": LIZ,
            "username": "liz@example.com",
            "first_name": "Elizabeth",
            "last_name": "Smith",
            "name": "Elizabeth Smith",
            "title": "Chief Executive Officer",
            "emails": [
                {"email": "liz@example.com", "is_primary": true},
                {"email": "liz@example.org", "type": "work", "is_primary": false}
            ],
            "phones": [{"number": "+1 206 555 0101", "type": "work"}],
            "status": "active",
            "is_2fa_enabled": true,
            "user_type": "admin",
            "avatar": "https://lh3.googleusercontent.com/a/sandbox-549873",
            "languages": ["en"],
            "external_id": "E-1001",
            "identifiers": {"primary_email": "liz@example.com", "customer_id": "C03az79cb", "org_unit_path": "/"},
            "last_login_at": "2024-06-02T10:30:03.000Z",
            "created_at": "2010-04-05T17:30:04.000Z"
        })
    );
    assert_eq!(user["remote_data"]["kind"], "admin#directory#user");
    let sent = last_request(&app, PROVIDER);
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str(), sent.query.as_str()),
        ("GET", "/admin/directory/v1/users/103684981735262549873", "")
    );
    assert_eq!(sent.header("authorization"), Some(TOKEN));
}

#[tokio::test]
async fn statuses_and_user_types_follow_googles_flags() {
    let (app, account) = app_with_account(PROVIDER).await;

    let (users, _) = walk_users(&app, &account, 500).await;

    let by_id = |id: &str| users.iter().find(|u| u["id"] == id).unwrap().clone();
    let suspended = by_id("117392017465829103746");
    assert_eq!(
        (&suspended["status"], &suspended["user_type"]),
        (&json!("inactive"), &json!("user"))
    );
    assert_eq!(by_id("109283746510293847561")["status"], "inactive", "archived");
    let newcomer = by_id("104857362910293847563");
    assert_eq!(newcomer["status"], "active");
    assert_eq!(newcomer["is_2fa_enabled"], false);
    assert!(newcomer.get("last_login_at").is_none(), "never signed in: {newcomer}");
    assert!(newcomer.get("phones").is_none() && newcomer.get("external_id").is_none());
}

#[tokio::test]
async fn list_sends_my_customer_and_walks_page_tokens() {
    let (app, account) = app_with_account(PROVIDER).await;

    let (users, pages) = walk_users(&app, &account, 5).await;

    assert_eq!((users.len(), pages), (12, 3));
    assert_eq!(users[0]["id"], LIZ);
    assert_eq!(users[11]["id"], "118475629102938475668");
    let requests = app.emulator(PROVIDER).requests();
    assert_eq!(requests.len(), 3);
    assert!(requests
        .iter()
        .all(|r| r.path == "/admin/directory/v1/users" && r.header("authorization") == Some(TOKEN)));
    let first = query(&requests[0]);
    assert_eq!(
        first,
        HashMap::from([
            ("customer".into(), "my_customer".into()),
            ("maxResults".into(), "5".into())
        ])
    );
    let tokens: Vec<String> = requests[1..].iter().map(|r| query(r)["pageToken"].clone()).collect();
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1]);
    assert!(requests[1..]
        .iter()
        .all(|r| query(r)["customer"] == "my_customer" && query(r)["maxResults"] == "5"));
}

#[tokio::test]
async fn create_inserts_the_user_with_its_name_and_password() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = write_user(
        &app,
        Method::POST,
        &account,
        None,
        json!({
            "first_name": "Hana", "last_name": "Sato", "title": "Analyst",
            "emails": [{"email": "hana.sato@example.com", "is_primary": true}],
            "phones": [{"number": "+81 3 5555 0113", "type": "mobile"}],
            "languages": ["ja"],
            "external_id": "E-1013",
            "password": "correct horse battery staple"
        }),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "POST");
    assert_eq!(sent.path, "/admin/directory/v1/users");
    assert_eq!(sent.header("authorization"), Some(TOKEN));
    assert_eq!(
        sent.json.unwrap(),
        json!({
            "primaryEmail": "hana.sato@example.com",
            "name": {"givenName": "Hana", "familyName": "Sato"},
            "password": "correct horse battery staple",
            "phones": [{"value": "+81 3 5555 0113", "type": "mobile"}],
            "organizations": [{"title": "Analyst", "primary": true}],
            "languages": [{"languageCode": "ja", "preference": "preferred"}],
            "externalIds": [{"value": "E-1013", "type": "organization"}]
        })
    );
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(
        app.emulator(PROVIDER).record("users", id).unwrap()["primaryEmail"],
        "hana.sato@example.com"
    );
    assert_eq!(r.body["name"], "Hana Sato", "Google's fullName");
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["user_type"], "user");
    assert_eq!(
        r.body["emails"],
        json!([{"email": "hana.sato@example.com", "is_primary": true}])
    );
    assert!(r.body.get("last_login_at").is_none());
    assert!(r.body["remote_data"].get("password").is_none(), "{}", r.text);
}

#[tokio::test]
async fn create_without_a_password_is_googles_400() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = write_user(
        &app,
        Method::POST,
        &account,
        None,
        json!({"first_name": "No", "last_name": "Password", "username": "nopass@example.com"}),
    )
    .await;

    assert_remote_error(
        &r,
        400,
        &json!({"error": {
            "code": 400, "message": "Invalid Input: password",
            "errors": [{"message": "password is required", "domain": "global", "reason": "invalid", "location": "password"}],
            "status": "INVALID_ARGUMENT"
        }}),
    );
}

#[tokio::test]
async fn update_patches_the_given_fields_and_suspends() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = write_user(
        &app,
        Method::PATCH,
        &account,
        Some("liz@example.com"),
        json!({"first_name": "Liz", "status": "inactive"}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "PATCH");
    assert_eq!(
        sent.path, "/admin/directory/v1/users/liz%40example.com",
        "the key as one encoded segment"
    );
    assert_eq!(
        sent.json.unwrap(),
        json!({"name": {"givenName": "Liz"}, "suspended": true})
    );
    assert_eq!(r.body["id"], LIZ);
    assert_eq!(r.body["first_name"], "Liz");
    assert_eq!(r.body["last_name"], "Smith", "patch semantics keep the family name");
    assert_eq!(r.body["name"], "Liz Smith");
    assert_eq!(r.body["status"], "inactive");
}

#[tokio::test]
async fn delete_deletes_the_user() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = delete_user(&app, &account, "113847562910293847566").await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "113847562910293847566");
    let sent = last_request(&app, PROVIDER);
    assert_request(&sent, "DELETE", "/admin/directory/v1/users/113847562910293847566");
    assert!(app
        .emulator(PROVIDER)
        .record("users", "113847562910293847566")
        .is_none());
}

#[tokio::test]
async fn an_unknown_user_is_a_404_in_googles_error_shape() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app.get(&users_path(&account, Some("nobody@example.com"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"error": {
            "code": 404, "message": "Resource Not Found: userKey",
            "errors": [{"message": "Resource Not Found: userKey", "domain": "global", "reason": "notFound"}],
            "status": "NOT_FOUND"
        }}),
    );
}

#[tokio::test]
async fn the_customer_is_the_one_organization() {
    let (app, account) = app_with_account(PROVIDER).await;

    let list = app.get(&app.orgs_path(&account, None, "")).await;
    let got = app.get(&app.orgs_path(&account, Some("C03az79cb"), "")).await;

    let expected = json!({"id": "C03az79cb", "name": "example.com", "created_at": "2010-04-05T17:30:04.000Z"});
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(unified(list.body["result"][0].clone()), expected);
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(unified(got.body.clone()), expected);
    let paths: Vec<String> = app
        .emulator(PROVIDER)
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        paths,
        [
            "/admin/directory/v1/customers/my_customer",
            "/admin/directory/v1/customers/C03az79cb"
        ]
    );
}

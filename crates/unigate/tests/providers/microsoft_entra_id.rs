//! Microsoft Entra ID through Microsoft Graph v1.0: the client-credentials token at the
//! tenant's endpoint, users (get and list with `$select`, `$top` and `@odata.nextLink`,
//! create, PATCH answered 204 and read back, delete), statuses, Graph's error shape and
//! 429 with `Retry-After`, and the tenant as the one organization.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{json, Value};
use unigate_emulator::{Fault, RecordedRequest};

use crate::common::{
    assert_remote_error, delete_user, get_user, last_with_method, request_lines, users_path, walk_users, write_user,
};
use crate::helpers::{app_with_account, assert_request, last_request, spawn_app, TestApp};

const PROVIDER: &str = "microsoft-entra-id";
const TENANT: &str = "3d9f1c2e-7b4a-4f5e-9c8d-1a2b3c4d5e6f";
const ALLAN: &str = "074e56ea-0b50-4461-89e5-c67ae14a2c0b";
const SELECT: &str = "id,userPrincipalName,displayName,givenName,surname,jobTitle,department,mail,otherMails,businessPhones,mobilePhone,accountEnabled,userType,externalUserState,createdDateTime,employeeId,preferredLanguage,assignedLicenses,onPremisesImmutableId";

fn unified(mut record: Value) -> Value {
    record.as_object_mut().unwrap().remove("remote_data");
    record
}

fn query(r: &RecordedRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(r.query.as_bytes()).into_owned().collect()
}

/// The Graph requests (the token requests left out).
fn graph_requests(app: &TestApp) -> Vec<RecordedRequest> {
    app.emulator(PROVIDER)
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/v1.0/"))
        .collect()
}

#[tokio::test]
async fn get_mints_a_client_credentials_token_at_the_tenant_and_maps_every_field() {
    let (app, account) = app_with_account(PROVIDER).await;

    let user = get_user(&app, &account, ALLAN).await;

    assert_eq!(
        unified(user.clone()),
        json!({
            "id": ALLAN,
            "username": "AllanD@contoso.com",
            "first_name": "Allan",
            "last_name": "Deyoung",
            "name": "Allan Deyoung",
            "title": "IT Admin",
            "emails": [{"email": "AllanD@contoso.com", "type": "work", "is_primary": true}],
            "phones": [{"number": "+1 425 555 0112", "type": "work"}],
            "status": "active",
            "user_type": "Member",
            "languages": ["en-US"],
            "licenses": [{"id": "c42b9cae-ea4f-4ab7-9717-81576235ccac"}, {"id": "f30db892-07e9-47e9-837c-80727f46fd3d"}],
            "identifiers": {"user_principal_name": "AllanD@contoso.com", "employee_id": "1003"},
            "created_at": "2021-03-14T08:13:09Z"
        })
    );
    assert_eq!(user["remote_data"]["department"], "IT");
    let requests = app.emulator(PROVIDER).requests();
    let token = &requests[0];
    assert_eq!(
        (token.method.as_str(), token.path.as_str()),
        ("POST", "/3d9f1c2e-7b4a-4f5e-9c8d-1a2b3c4d5e6f/oauth2/v2.0/token")
    );
    let form: HashMap<String, String> = url::form_urlencoded::parse(&token.body).into_owned().collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "https://graph.microsoft.com/.default");
    assert_eq!(form["client_id"], "5e3ce6c0-2b1f-4285-8d4b-75ee78787346");
    let sent = last_request(&app, PROVIDER);
    assert_request(&sent, "GET", "/v1.0/users/074e56ea-0b50-4461-89e5-c67ae14a2c0b");
    assert_eq!(
        query(&sent),
        HashMap::from([("$select".to_string(), SELECT.to_string())])
    );
    assert!(sent
        .header("authorization")
        .unwrap()
        .starts_with("Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.graph."));
}

#[tokio::test]
async fn an_account_without_its_own_client_uses_the_operators_app() {
    let app = spawn_app().await;
    let account = app.connect_with(PROVIDER, json!({"tenant_id": TENANT})).await;

    let user = get_user(&app, &account, "AllanD@contoso.com").await;

    assert_eq!(user["id"], ALLAN, "a user principal name addresses the user too");
    assert_eq!(
        request_lines(&app, PROVIDER)[0],
        format!("POST /{TENANT}/oauth2/v2.0/token")
    );
}

#[tokio::test]
async fn statuses_follow_account_enabled_and_the_guests_invitation_state() {
    let (app, account) = app_with_account(PROVIDER).await;

    let (users, _) = walk_users(&app, &account, 100).await;

    let by_id = |id: &str| users.iter().find(|u| u["id"] == id).unwrap().clone();
    assert_eq!(
        by_id("16cfe710-1625-4806-9990-91b8f0afee35")["status"],
        "inactive",
        "disabled"
    );
    let invited = by_id("0a8c1b7e-2f3d-4c5e-9a6b-7d8e9f0a1b2c");
    assert_eq!(invited["status"], "invited", "a guest pending acceptance");
    assert_eq!(invited["user_type"], "Guest");
    assert_eq!(
        invited["emails"],
        json!([{"email": "rina.okafor@fabrikam.example", "type": "work", "is_primary": true}]),
        "otherMails repeating mail are not listed twice"
    );
    assert_eq!(
        by_id("5c4b3a29-1807-4f6e-8d5c-4b3a29180716")["status"],
        "active",
        "an accepted guest"
    );
    assert_eq!(by_id(ALLAN)["status"], "active");
    assert_eq!(
        by_id("87d349ed-44d7-43e1-9a83-5f2406dee5bd")["licenses"],
        json!([{"id": "c42b9cae-ea4f-4ab7-9717-81576235ccac"}]),
        "one licence is still a list"
    );
}

#[tokio::test]
async fn list_asks_for_top_and_select_then_follows_each_odata_next_link() {
    let (app, account) = app_with_account(PROVIDER).await;

    let (users, pages) = walk_users(&app, &account, 5).await;

    assert_eq!((users.len(), pages), (12, 3));
    assert_eq!(users[0]["id"], "87d349ed-44d7-43e1-9a83-5f2406dee5bd");
    assert_eq!(users[11]["id"], "5c4b3a29-1807-4f6e-8d5c-4b3a29180716");
    let pages = graph_requests(&app);
    assert_eq!(pages.len(), 3);
    assert!(pages.iter().all(|p| p.path == "/v1.0/users"));
    let first = query(&pages[0]);
    assert_eq!((first["$top"].as_str(), first["$select"].as_str()), ("5", SELECT));
    assert!(!first.contains_key("$skiptoken"));
    for p in &pages[1..] {
        let q = query(p);
        assert_eq!((q["$top"].as_str(), q["$select"].as_str()), ("5", SELECT), "{q:?}");
        assert!(q.contains_key("$skiptoken"), "the next link is followed as is: {q:?}");
    }
    crate::common::assert_pages_follow_next_links(&app, PROVIDER, &pages, "/@odata.nextLink").await;
}

#[tokio::test]
async fn create_posts_the_required_properties_and_the_password_profile() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = write_user(
        &app,
        Method::POST,
        &account,
        None,
        json!({
            "first_name": "Nestor", "last_name": "Wilke", "title": "Director",
            "emails": [{"email": "NestorW@contoso.com", "is_primary": true}],
            "phones": [{"number": "+1 206 555 0105", "type": "work"}],
            "languages": ["en-US"],
            "password": "xWwvJ]6NMw+bWH-d"
        }),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "POST");
    assert_eq!(sent.path, "/v1.0/users");
    assert_eq!(
        sent.json.unwrap(),
        json!({
            "accountEnabled": true,
            "userPrincipalName": "NestorW@contoso.com",
            "mailNickname": "NestorW",
            "displayName": "Nestor Wilke",
            "givenName": "Nestor",
            "surname": "Wilke",
            "jobTitle": "Director",
            "mail": "NestorW@contoso.com",
            "businessPhones": ["+1 206 555 0105"],
            "preferredLanguage": "en-US",
            "passwordProfile": {"password": "xWwvJ]6NMw+bWH-d", "forceChangePasswordNextSignIn": true}
        })
    );
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(r.body["username"], "NestorW@contoso.com");
    assert_eq!(r.body["name"], "Nestor Wilke");
    assert!(r.body["remote_data"].get("passwordProfile").is_none(), "{}", r.text);
    let stored = app.emulator(PROVIDER).record("users", id).unwrap();
    assert_eq!(stored["accountEnabled"], true);
}

#[tokio::test]
async fn update_patches_and_reads_the_user_back_after_graphs_204() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = write_user(
        &app,
        Method::PATCH,
        &account,
        Some(ALLAN),
        json!({"title": "IT Director", "status": "inactive"}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let lines: Vec<String> = graph_requests(&app)
        .iter()
        .map(|q| format!("{} {}", q.method, q.path))
        .collect();
    assert_eq!(
        lines,
        [
            "PATCH /v1.0/users/074e56ea-0b50-4461-89e5-c67ae14a2c0b",
            "GET /v1.0/users/074e56ea-0b50-4461-89e5-c67ae14a2c0b",
        ]
    );
    let patch = last_with_method(&app, PROVIDER, "PATCH");
    assert_eq!(
        patch.json.unwrap(),
        json!({"jobTitle": "IT Director", "accountEnabled": false})
    );
    assert_eq!(query(&last_request(&app, PROVIDER))["$select"], SELECT);
    assert_eq!(r.body["id"], ALLAN);
    assert_eq!(r.body["title"], "IT Director");
    assert_eq!(r.body["status"], "inactive");
    assert_eq!(r.body["last_name"], "Deyoung");
}

#[tokio::test]
async fn a_status_graph_cannot_set_is_graphs_400() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = write_user(&app, Method::PATCH, &account, Some(ALLAN), json!({"status": "invited"})).await;

    crate::helpers::assert_error(&r, 400);
    assert_eq!(
        r.body["raw_response"]["error"]["code"], "Request_BadRequest",
        "{}",
        r.text
    );
    assert_eq!(
        r.body["message"],
        "microsoft-entra-id answered 400: Invalid value specified for property 'accountEnabled' of resource 'User'."
    );
}

#[tokio::test]
async fn delete_deletes_the_user() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = delete_user(&app, &account, "e8a02cc7-df4d-4778-956d-784cc9506e5a").await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "e8a02cc7-df4d-4778-956d-784cc9506e5a");
    let sent = last_request(&app, PROVIDER);
    assert_request(&sent, "DELETE", "/v1.0/users/e8a02cc7-df4d-4778-956d-784cc9506e5a");
    assert!(app
        .emulator(PROVIDER)
        .record("users", "e8a02cc7-df4d-4778-956d-784cc9506e5a")
        .is_none());
}

#[tokio::test]
async fn an_unknown_user_is_a_404_in_graphs_error_shape() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app
        .get(&users_path(&account, Some("00000000-0000-0000-0000-000000000000"), ""))
        .await;

    crate::helpers::assert_error(&r, 404);
    assert_eq!(r.body["truto_is_remote_error"], true);
    let error = &r.body["raw_response"]["error"];
    assert_eq!(error["code"], "Request_ResourceNotFound");
    assert_eq!(
        error["message"],
        "Resource '00000000-0000-0000-0000-000000000000' does not exist or one of its queried reference-property objects are not present."
    );
    assert!(error["innerError"]["request-id"].is_string(), "{}", r.text);
}

#[tokio::test]
async fn a_429_with_a_long_retry_after_is_passed_on() {
    let (app, account) = app_with_account(PROVIDER).await;
    let body = json!({"error": {"code": "TooManyRequests", "message": "Too many requests",
                                "innerError": {"date": "2024-06-03T10:00:00", "request-id": "r1", "client-request-id": "r1"}}});
    app.emulator(PROVIDER).inject(
        Fault::respond(429, body.clone())
            .with_header("Retry-After", "30")
            .on("GET", "/v1.0/users")
            .times(1),
    );

    let r = app.get(&users_path(&account, None, "")).await;

    assert_remote_error(&r, 429, &body);
    assert_eq!(r.headers["retry-after"], "30");
}

#[tokio::test]
async fn a_429_with_a_short_retry_after_is_waited_out() {
    let (app, account) = app_with_account(PROVIDER).await;
    app.emulator(PROVIDER)
        .inject(Fault::rate_limited(1).on("GET", "/v1.0/users").times(1));

    let r = app.get(&users_path(&account, None, "&limit=2")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(graph_requests(&app).len(), 2, "asked again after the wait");
}

#[tokio::test]
async fn the_tenant_is_the_one_organization() {
    let (app, account) = app_with_account(PROVIDER).await;

    let list = app.get(&app.orgs_path(&account, None, "")).await;
    let got = app.get(&app.orgs_path(&account, Some(TENANT), "")).await;

    assert_eq!(list.status, 200, "{}", list.text);
    let expected = json!({"id": TENANT, "name": "Contoso", "created_at": "2021-03-14T08:05:11Z"});
    assert_eq!(list.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(unified(list.body["result"][0].clone()), expected);
    assert_eq!(list.body["next_cursor"], Value::Null);
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(unified(got.body.clone()), expected);
    let sent = last_request(&app, PROVIDER);
    assert_eq!(sent.path, format!("/v1.0/organization/{TENANT}"));
}

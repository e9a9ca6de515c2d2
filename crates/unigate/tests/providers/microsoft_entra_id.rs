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

// Groups and membership.

const MARKETING: &str = "0a53828f-36c9-44c3-be3d-99a7fce977ac";
const GROUP_SELECT: &str = "id,displayName,description,groupTypes,mail,mailEnabled,mailNickname,securityEnabled,visibility,createdDateTime,renewedDateTime,resourceProvisioningOptions";

/// `/unified/user-directory/{resource}[/{id}]?integrated_account_id=...{extra}`.
fn path(resource: &str, account: &str, id: Option<&str>, extra: &str) -> String {
    let id = id.map(|i| format!("/{i}")).unwrap_or_default();
    format!("/unified/user-directory/{resource}{id}?integrated_account_id={account}{extra}")
}

fn ids(records: &[Value]) -> Vec<&str> {
    records.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_group_is_mapped_and_a_team_is_a_team() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app
        .get(&path(
            "groups",
            &account,
            Some("02bd9fd6-8f93-4758-87c3-1fb73740a315"),
            "",
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(r.body.clone()),
        json!({
            "id": "02bd9fd6-8f93-4758-87c3-1fb73740a315", "name": "HR Taskforce",
            "description": "Welcome to the HR Taskforce team.", "group_type": "team",
            "created_at": "2017-07-31T18:56:16Z"
        })
    );
    let sent = graph_requests(&app).pop().unwrap();
    assert_request(&sent, "GET", "/v1.0/groups/02bd9fd6-8f93-4758-87c3-1fb73740a315");
    assert_eq!(query(&sent)["$select"], GROUP_SELECT);
    let r = app.get(&path("groups", &account, Some(MARKETING), "")).await;
    assert_eq!(r.body["group_type"], "group", "{}", r.text);
}

#[tokio::test]
async fn the_groups_list_follows_each_odata_next_link() {
    let (app, account) = app_with_account(PROVIDER).await;

    let (groups, pages) = crate::helpers::walk_records(&app, &path("groups", &account, None, ""), 2).await;

    assert_eq!(pages, 3);
    assert_eq!(
        ids(&groups),
        [
            "02bd9fd6-8f93-4758-87c3-1fb73740a315",
            MARKETING,
            "1d6c3f2b-5e4a-4b7c-8d9e-0f1a2b3c4d5e",
            "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8",
            "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
        ]
    );
    let requests = graph_requests(&app);
    assert!(requests.iter().all(|p| p.path == "/v1.0/groups"));
    assert!(query(&requests[1]).contains_key("$skiptoken"));
    crate::common::assert_pages_follow_next_links(&app, PROVIDER, &requests, "/@odata.nextLink").await;
}

#[tokio::test]
async fn group_writes_post_a_security_group_patch_and_delete() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app
        .send(
            Method::POST,
            &path("groups", &account, None, ""),
            Some(json!({"name": "Field Sales", "description": "Sales reps on the road"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "POST");
    assert_request(&sent, "POST", "/v1.0/groups");
    assert_eq!(
        sent.json.unwrap(),
        json!({"displayName": "Field Sales", "description": "Sales reps on the road",
               "mailEnabled": false, "mailNickname": "fieldsales", "securityEnabled": true})
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["name"], "Field Sales");

    // Graph answers the PATCH with 204: the group is read back.
    let r = app
        .send(
            Method::PATCH,
            &path("groups", &account, Some(&id), ""),
            Some(json!({"name": "Road Sales"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "PATCH");
    assert_request(&sent, "PATCH", &format!("/v1.0/groups/{id}"));
    assert_eq!(sent.json.unwrap(), json!({"displayName": "Road Sales"}));
    assert_eq!(r.body["name"], "Road Sales");
    assert_eq!(r.body["description"], "Sales reps on the road");

    let r = app
        .send(Method::DELETE, &path("groups", &account, Some(&id), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(&last_request(&app, PROVIDER), "DELETE", &format!("/v1.0/groups/{id}"));
    assert!(app.emulator(PROVIDER).record("groups", &id).is_none());
}

#[tokio::test]
async fn an_unknown_group_is_graphs_404() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app
        .get(&path(
            "groups",
            &account,
            Some("00000000-0000-0000-0000-000000000000"),
            "",
        ))
        .await;

    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        r.body["raw_response"]["error"]["code"], "Request_ResourceNotFound",
        "{}",
        r.text
    );
}

async fn members(app: &TestApp, account: &str, group: &str) -> Vec<Value> {
    let r = app
        .get(&path("users", account, None, &format!("&group_id={group}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["result"].as_array().unwrap().clone()
}

#[tokio::test]
async fn add_user_and_remove_user_change_the_group_id_users_list() {
    let (app, account) = app_with_account(PROVIDER).await;
    const ADELE: &str = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";
    const ALEX: &str = "626cbf8c-5dde-46b0-8385-9e40d64736fe";

    let before = members(&app, &account, MARKETING).await;
    assert_eq!(ids(&before), [ADELE, ALEX]);
    assert_eq!(before[0]["username"], "AdeleV@contoso.com");
    let sent = graph_requests(&app).pop().unwrap();
    assert_request(&sent, "GET", &format!("/v1.0/groups/{MARKETING}/members"));
    assert_eq!(query(&sent)["$select"], SELECT);

    let r = app
        .send(
            Method::POST,
            &path("groups/add-user", &account, None, ""),
            Some(json!({"group_id": MARKETING, "user_id": ALLAN})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(r.body.clone()),
        json!({"group_id": MARKETING, "user_id": ALLAN})
    );
    let sent = last_with_method(&app, PROVIDER, "POST");
    assert_request(&sent, "POST", &format!("/v1.0/groups/{MARKETING}/members/$ref"));
    assert_eq!(
        sent.json.unwrap(),
        json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{ALLAN}")})
    );
    assert_eq!(ids(&members(&app, &account, MARKETING).await), [ADELE, ALEX, ALLAN]);

    let r = app
        .send(
            Method::POST,
            &path("groups/remove-user", &account, None, ""),
            Some(json!({"group_id": MARKETING, "user_id": ADELE})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(
        &last_with_method(&app, PROVIDER, "DELETE"),
        "DELETE",
        &format!("/v1.0/groups/{MARKETING}/members/{ADELE}/$ref"),
    );
    assert_eq!(ids(&members(&app, &account, MARKETING).await), [ALEX, ALLAN]);
}

// Activities (the directory audit log).

#[tokio::test]
async fn activities_follow_the_audit_logs_next_links_and_map_an_event() {
    let (app, account) = app_with_account(PROVIDER).await;

    let (events, pages) = crate::helpers::walk_records(&app, &path("activities", &account, None, ""), 2).await;

    assert_eq!((events.len(), pages), (5, 3));
    assert_eq!(
        unified(events[2].clone()),
        json!({
            "id": "Directory_2b6e4c3a-1d9f-4a5b-8c8e-7f4d3a2b1c0e_6SRVY_336425079",
            "actor": {"id": "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f",
                      "name": "Unigate Sandbox (Entra ID app registration)", "type": "app"},
            "description": "UserManagement: Disable account (success)",
            "action": "Disable account",
            "entity": {"id": "16cfe710-1625-4806-9990-91b8f0afee35", "name": "ChristieC@contoso.com"},
            "entity_type": "User",
            "context": {
                "category": "UserManagement", "operation_type": "Update", "result": "success",
                "logged_by_service": "Core Directory", "correlation_id": "d5f3a9e2-f4d3-4c1b-9e8f-0a1b2c3d4e5f",
                "modified_properties": [{"displayName": "AccountEnabled", "oldValue": "[true]", "newValue": "[false]"}]
            },
            "created_at": "2024-06-02T10:30:00.0000000Z"
        })
    );
    assert_eq!(events[0]["actor"]["email"], "AllanD@contoso.com");
    assert_eq!(events[0]["context"]["ip_address"], "203.0.113.7");
    let requests = graph_requests(&app);
    assert!(requests.iter().all(|p| p.path == "/v1.0/auditLogs/directoryAudits"));
    crate::common::assert_pages_follow_next_links(&app, PROVIDER, &requests, "/@odata.nextLink").await;
}

#[tokio::test]
async fn the_created_at_filter_is_sent_as_an_activity_date_time_filter() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app
        .get(&path(
            "activities",
            &account,
            None,
            "&created_at[gte]=2024-06-01T08:05:12Z&created_at[lt]=2024-06-04",
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result_count"], 3, "{}", r.text);
    let sent = graph_requests(&app).pop().unwrap();
    assert_eq!(
        query(&sent)["$filter"],
        "activityDateTime ge 2024-06-01T08:05:12Z and activityDateTime le 2024-06-04T00:00:00Z"
    );
}

#[tokio::test]
async fn an_audit_log_call_without_a_premium_licence_is_graphs_403() {
    let (app, account) = app_with_account(PROVIDER).await;
    let body = json!({"error": {"code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                                "message": "Neither tenant is B2C or tenant doesn't have premium license",
                                "innerError": {"date": "2024-06-05T10:00:00", "request-id": "1b2c", "client-request-id": "1b2c"}}});
    app.emulator(PROVIDER).inject(
        Fault::respond(403, body.clone())
            .on("GET", "/v1.0/auditLogs/directoryAudits")
            .times(1),
    );

    let r = app.get(&path("activities", &account, None, "")).await;

    assert_remote_error(&r, 403, &body);
}

// Licenses (the tenant's subscribed SKUs).

#[tokio::test]
async fn licenses_are_the_subscribed_skus() {
    let (app, account) = app_with_account(PROVIDER).await;
    let e3 = format!("{TENANT}_6fd2c87f-b296-42f0-b197-1e91e994b900");

    let list = app.get(&path("licenses", &account, None, "")).await;
    let one = app.get(&path("licenses", &account, Some(&e3), "")).await;

    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["result_count"], 3);
    assert_eq!(list.body["next_cursor"], Value::Null);
    assert_eq!(
        unified(list.body["result"][0].clone()),
        json!({
            "id": format!("{TENANT}_c42b9cae-ea4f-4ab7-9717-81576235ccac"), "name": "DEVELOPERPACK_E5",
            "available_quantity": 25, "assigned_quantity": 10, "status": "active",
            "products": [
                {"id": "efb87545-963c-4e0d-99df-69c6916d9eb0", "name": "EXCHANGE_S_ENTERPRISE"},
                {"id": "57ff2da0-773e-42df-b2af-ffb7a2317929", "name": "TEAMS1"},
                {"id": "5dbe027f-2339-4123-9542-606e4d348a72", "name": "SHAREPOINTENTERPRISE"}
            ]
        })
    );
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(
        unified(one.body.clone()),
        json!({"id": e3, "name": "ENTERPRISEPACK", "available_quantity": 0, "assigned_quantity": 0, "status": "suspended",
               "products": [{"id": "efb87545-963c-4e0d-99df-69c6916d9eb0", "name": "EXCHANGE_S_ENTERPRISE"}]})
    );
    let requests = graph_requests(&app);
    assert_request(&requests[0], "GET", "/v1.0/subscribedSkus");
    assert_request(&requests[1], "GET", &format!("/v1.0/subscribedSkus/{e3}"));
}

// Roles (RBAC role definitions) and role assignments.

const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";

#[tokio::test]
async fn roles_are_the_role_definitions() {
    let (app, account) = app_with_account(PROVIDER).await;

    let list = app.get(&path("roles", &account, None, "")).await;
    let one = app.get(&path("roles", &account, Some(GLOBAL_ADMIN), "")).await;

    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["result_count"], 5);
    assert_eq!(list.body["result"][4]["type"], "custom");
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(
        unified(one.body.clone()),
        json!({"id": GLOBAL_ADMIN, "name": "Global Administrator", "label": "Global Administrator",
               "description": "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
               "type": "built-in"})
    );
    let requests = graph_requests(&app);
    assert_request(&requests[0], "GET", "/v1.0/roleManagement/directory/roleDefinitions");
    assert!(!query(&requests[0]).contains_key("$top"));
    assert_request(
        &requests[1],
        "GET",
        &format!("/v1.0/roleManagement/directory/roleDefinitions/{GLOBAL_ADMIN}"),
    );
}

#[tokio::test]
async fn role_writes_take_the_permissions_from_remote_data() {
    let (app, account) = app_with_account(PROVIDER).await;
    let permissions = json!([{"allowedResourceActions": ["microsoft.directory/groups/members/update"]}]);

    let r = app
        .send(
            Method::POST,
            &path("roles", &account, None, ""),
            Some(
                json!({"name": "Group Member Editor", "description": "Edits group members",
                        "remote_data": {"rolePermissions": permissions}}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "POST");
    assert_request(&sent, "POST", "/v1.0/roleManagement/directory/roleDefinitions");
    assert_eq!(
        sent.json.unwrap(),
        json!({"displayName": "Group Member Editor", "description": "Edits group members", "isEnabled": true,
               "rolePermissions": permissions})
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["type"], "custom");

    let r = app
        .send(
            Method::PATCH,
            &path("roles", &account, Some(&id), ""),
            Some(json!({"description": "Edits members"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "PATCH");
    assert_eq!(sent.json.unwrap(), json!({"description": "Edits members"}));
    assert_eq!(r.body["description"], "Edits members");

    let r = app
        .send(Method::DELETE, &path("roles", &account, Some(&id), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(
        &last_request(&app, PROVIDER),
        "DELETE",
        &format!("/v1.0/roleManagement/directory/roleDefinitions/{id}"),
    );

    // Without permissions Graph refuses the role.
    let r = app
        .send(
            Method::POST,
            &path("roles", &account, None, ""),
            Some(json!({"name": "Empty"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body["raw_response"]["error"]["code"], "Request_BadRequest",
        "{}",
        r.text
    );
}

#[tokio::test]
async fn role_assignments_list_get_create_and_delete() {
    let (app, account) = app_with_account(PROVIDER).await;

    let list = app.get(&path("role_assignments", &account, None, "")).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(
        unified(list.body["result"][0].clone()),
        json!({"id": "lAPpYvVpN0KRkAEhdxReEJC2sEqbR_9Hr48lds9SGHI-1", "user_id": ALLAN, "role_id": GLOBAL_ADMIN})
    );
    assert_eq!(list.body["result_count"], 3);
    let one = app
        .get(&path(
            "role_assignments",
            &account,
            Some("lAPpYvVpN0KRkAEhdxReEJC2sEqbR_9Hr48lds9SGHI-1"),
            "",
        ))
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["remote_data"]["directoryScopeId"], "/");

    let r = app
        .send(
            Method::POST,
            &path("role_assignments", &account, None, ""),
            Some(json!({"user_id": "626cbf8c-5dde-46b0-8385-9e40d64736fe", "role_id": "f2ef992c-3afb-46b9-b7cf-a126ee74c451"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "POST");
    assert_request(&sent, "POST", "/v1.0/roleManagement/directory/roleAssignments");
    assert_eq!(
        sent.json.unwrap(),
        json!({"@odata.type": "#microsoft.graph.unifiedRoleAssignment",
               "principalId": "626cbf8c-5dde-46b0-8385-9e40d64736fe",
               "roleDefinitionId": "f2ef992c-3afb-46b9-b7cf-a126ee74c451", "directoryScopeId": "/"})
    );
    let id = r.body["id"].as_str().unwrap().to_string();

    let r = app
        .send(Method::DELETE, &path("role_assignments", &account, Some(&id), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(
        &last_request(&app, PROVIDER),
        "DELETE",
        &format!("/v1.0/roleManagement/directory/roleAssignments/{id}"),
    );
}

#[tokio::test]
async fn an_unknown_license_is_graphs_404() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app.get(&path("licenses", &account, Some("no-such-sku"), "")).await;

    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        r.body["raw_response"]["error"]["code"], "Request_ResourceNotFound",
        "{}",
        r.text
    );
}

/// Graph applies the email and name filters in its `$filter`; `status` is Unigate's.
#[tokio::test]
async fn email_and_name_filters_go_into_graphs_filter_and_status_is_the_gateways() {
    let (app, account) = crate::helpers::app_with_account("microsoft-entra-id").await;
    let path = |extra: &str| crate::common::users_path(&account, None, extra);

    let r = app.get(&path("&email=adelev@contoso.com&last_name=VANCE")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result_count"], 1, "{}", r.text);
    assert_eq!(r.body["result"][0]["id"], "87d349ed-44d7-43e1-9a83-5f2406dee5bd");
    let sent = app.emulator("microsoft-entra-id").requests().last().unwrap().clone();
    let filter: String = url::form_urlencoded::parse(sent.query.as_bytes())
        .find(|(k, _)| k == "$filter")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(filter, "mail eq 'adelev@contoso.com' and surname eq 'VANCE'");

    // A quote inside a value is doubled, as OData wants; nobody matches.
    let r = app.get(&path("&last_name=O'Neil")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result_count"], 0);
    let sent = app.emulator("microsoft-entra-id").requests().last().unwrap().clone();
    assert!(sent.query.contains("O%27%27Neil"), "{}", sent.query);

    // Status is read from two properties: the gateway applies it.
    let (users, _) = crate::helpers::walk_records(&app, &path("&status=inactive"), 3).await;
    let names: Vec<&str> = users.iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Christie Cline"), "{names:?}");
    assert!(users.iter().all(|u| u["status"] == "inactive"));
    let r = app.get("/integration/microsoft-entra-id").await;
    assert_eq!(r.body["filters"]["user-directory"]["users"]["email"], "provider");
    assert_eq!(r.body["filters"]["user-directory"]["users"]["status"], "gateway");
}

#[tokio::test]
async fn the_proxy_reads_the_signed_in_user_of_a_delegated_token() {
    let app = spawn_app().await;
    let tokens = app.emulator(PROVIDER).oauth_issue().unwrap();
    let account = app
        .connect_with(
            PROVIDER,
            json!({"tenant_id": TENANT, "access_token": tokens.access_token, "refresh_token": tokens.refresh_token}),
        )
        .await;
    app.emulator(PROVIDER).clear_requests();

    let r = app.get(&format!("/proxy/me?integrated_account_id={account}")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let me = &r.body["result"][0];
    assert_eq!(
        (&me["id"], &me["displayName"], &me["mail"]),
        (&json!(ALLAN), &json!("Allan Deyoung"), &json!("AllanD@contoso.com"))
    );
    let sent = last_request(&app, PROVIDER);
    assert_request(&sent, "GET", "/v1.0/me");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {}", tokens.access_token).as_str())
    );
}

#[tokio::test]
async fn me_is_no_unified_resource_and_graph_refuses_an_applications_token() {
    let (app, account) = app_with_account(PROVIDER).await;

    let unified = app.get(&crate::common::directory_path("me", &account, None, "")).await;
    let proxied = app.get(&format!("/proxy/me?integrated_account_id={account}")).await;

    assert_eq!(unified.status, 405, "{}", unified.text);
    assert_eq!(proxied.status, 400, "{}", proxied.text);
    assert_eq!(proxied.body["truto_is_remote_error"], true, "{}", proxied.text);
    assert_eq!(
        proxied.body["raw_response"]["error"],
        json!({"code": "BadRequest", "message": "/me request is only valid with delegated authentication flow.",
               "innerError": proxied.body["raw_response"]["error"]["innerError"].clone()})
    );
    assert_eq!(request_lines(&app, PROVIDER).last().unwrap(), "GET /v1.0/me");
}

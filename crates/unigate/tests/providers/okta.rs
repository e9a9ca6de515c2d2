//! Okta: users (get, list over `Link` pages, create, partial update, two-step delete),
//! statuses, rate-limit headers, errors in Okta's shape, API-token and OAuth accounts, and
//! the org as the one organization.

use reqwest::Method;
use serde_json::{json, Value};
use unigate_emulator::Fault;

use crate::common::{
    assert_remote_error, delete_user, get_user, last_with_method, request_lines, users_path, walk_users, write_user,
};
use crate::helpers::{app_with_account, last_request, spawn_app};

const SSWS: &str = "SSWS 00Tz_SandboxSSWSApiToken0000000000000000001";
const ISAAC: &str = "00ub0oNGTSWTBKOLGLNR";

/// A unified record without `remote_data`.
fn unified(mut record: Value) -> Value {
    record.as_object_mut().unwrap().remove("remote_data");
    record
}

#[tokio::test]
async fn get_maps_every_field_okta_has() {
    let (app, account) = app_with_account("okta").await;

    let user = get_user(&app, &account, ISAAC).await;

    assert_eq!(
        unified(user.clone()),
        json!({
            "id": ISAAC,
            "username": "isaac.brock@example.com",
            "first_name": "Isaac",
            "last_name": "Brock",
            "name": "Isaac Brock",
            "title": "Director",
            "emails": [
                {"email": "isaac.brock@example.com", "type": "primary", "is_primary": true},
                {"email": "isaac@example.org", "type": "secondary", "is_primary": false}
            ],
            "phones": [
                {"number": "+1-555-415-1337", "type": "mobile"},
                {"number": "+1-555-514-1337", "type": "work"}
            ],
            "status": "active",
            "user_type": "Employee",
            "timezone": "America/Los_Angeles",
            "languages": ["en-US"],
            "identifiers": {"login": "isaac.brock@example.com", "employee_number": "187"},
            "last_login_at": "2013-06-24T17:39:19.000Z",
            "created_at": "2013-06-24T16:39:18.000Z",
            "updated_at": "2013-07-02T21:36:25.344Z"
        })
    );
    assert_eq!(user["remote_data"]["profile"]["department"], "Engineering");
    let sent = last_request(&app, "okta");
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str(), sent.query.as_str()),
        ("GET", "/api/v1/users/00ub0oNGTSWTBKOLGLNR", "")
    );
    assert_eq!(sent.header("authorization"), Some(SSWS));
}

#[tokio::test]
async fn get_leaves_out_what_the_user_does_not_have_and_joins_the_name() {
    let (app, account) = app_with_account("okta").await;

    let user = get_user(&app, &account, "00u118oQYT4TBTemp0g4").await;

    assert_eq!(user["name"], "Alice Smith");
    assert_eq!(
        user["emails"],
        json!([{"email": "alice.smith@example.com", "type": "primary", "is_primary": true}])
    );
    for absent in ["phones", "title", "languages", "timezone", "user_type"] {
        assert!(user.get(absent).is_none(), "{absent}: {user}");
    }
}

#[tokio::test]
async fn list_walks_link_header_pages_with_after_and_limit() {
    let (app, account) = app_with_account("okta").await;

    let (users, pages) = walk_users(&app, &account, 5).await;

    assert_eq!((users.len(), pages), (12, 3));
    assert_eq!(users[0]["id"], ISAAC);
    assert_eq!(users[11]["id"], "00ua5sy7lFgH1TuV8p5");
    assert_eq!(
        request_lines(&app, "okta"),
        [
            "GET /api/v1/users?limit=5",
            "GET /api/v1/users?limit=5&after=00u3b8lr0eYzA4MnO1i8",
            "GET /api/v1/users?limit=5&after=00u8g3qw5jDeF9RsT6n3",
        ]
    );
    assert!(app
        .emulator("okta")
        .requests()
        .iter()
        .all(|r| r.header("authorization") == Some(SSWS)));
}

#[tokio::test]
async fn statuses_are_normalized_to_the_four_unified_values() {
    let (app, account) = app_with_account("okta").await;

    let (users, _) = walk_users(&app, &account, 200).await;

    let status = |id: &str| {
        users
            .iter()
            .find(|u| u["id"] == id)
            .map(|u| u["status"].clone())
            .unwrap()
    };
    assert_eq!(status("00u1f96ECLNVOKVMUSEA"), "invited", "STAGED");
    assert_eq!(status("00u2a7kq9dXyZ3LmN0h7"), "invited", "PROVISIONED");
    assert_eq!(status("00u3b8lr0eYzA4MnO1i8"), "inactive", "SUSPENDED");
    assert_eq!(status("00u4c9ms1fZaB5NoP2j9"), "inactive", "LOCKED_OUT");
    assert_eq!(status("00u5d0nt2gAbC6OpQ3k0"), "active", "PASSWORD_EXPIRED");
    assert_eq!(status("00u6e1ou3hBcD7PqR4l1"), "active", "RECOVERY");
    assert_eq!(status(ISAAC), "active", "ACTIVE");
}

#[tokio::test]
async fn a_list_passes_oktas_rate_limit_headers_on() {
    let (app, account) = app_with_account("okta").await;

    let r = app.get(&users_path(&account, None, "&limit=2")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.headers["ratelimit-limit"], "600");
    assert_eq!(r.headers["ratelimit-remaining"], "599");
}

#[tokio::test]
async fn create_posts_the_profile_and_password_and_activates_the_user() {
    let (app, account) = app_with_account("okta").await;

    let r = write_user(
        &app,
        Method::POST,
        &account,
        None,
        json!({
            "first_name": "Dana", "last_name": "Kim", "title": "Engineer",
            "emails": [{"email": "dana.kim@example.com", "type": "work", "is_primary": true}],
            "phones": [{"number": "+1 555 0100", "type": "mobile"}],
            "password": "Tr0ub4dor&3"
        }),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_with_method(&app, "okta", "POST");
    assert_eq!(
        (sent.path.as_str(), sent.query.as_str()),
        ("/api/v1/users", "activate=true")
    );
    assert_eq!(sent.header("authorization"), Some(SSWS));
    assert_eq!(
        sent.json.unwrap(),
        json!({
            "profile": {
                "login": "dana.kim@example.com", "email": "dana.kim@example.com",
                "firstName": "Dana", "lastName": "Kim", "title": "Engineer", "mobilePhone": "+1 555 0100"
            },
            "credentials": {"password": {"value": "Tr0ub4dor&3"}}
        })
    );
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["username"], "dana.kim@example.com");
    assert_eq!(r.body["name"], "Dana Kim");
    assert!(r.body["created_at"].is_string(), "{}", r.text);
    assert!(r.body.get("password").is_none() && r.body["remote_data"]["credentials"].get("password").is_none());
    assert_eq!(app.emulator("okta").record("users", id).unwrap()["status"], "ACTIVE");
}

#[tokio::test]
async fn create_with_status_invited_stages_the_user_without_activating_it() {
    let (app, account) = app_with_account("okta").await;

    let r = write_user(
        &app,
        Method::POST,
        &account,
        None,
        json!({"first_name": "Eve", "last_name": "Ng", "username": "eve@corp.example.com", "status": "invited",
               "emails": [{"email": "eve.ng@example.com"}]}),
    )
    .await;

    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "invited");
    let sent = last_with_method(&app, "okta", "POST");
    assert_eq!(sent.query, "activate=false");
    assert_eq!(sent.json.unwrap()["profile"]["login"], "eve@corp.example.com");
}

#[tokio::test]
async fn create_without_a_last_name_is_oktas_400_with_its_causes() {
    let (app, account) = app_with_account("okta").await;

    let r = write_user(
        &app,
        Method::POST,
        &account,
        None,
        json!({"first_name": "Nolast", "emails": [{"email": "nolast@example.com"}]}),
    )
    .await;

    assert_remote_error(
        &r,
        400,
        &json!({
            "errorCode": "E0000001", "errorSummary": "Api validation failed: profile.lastName",
            "errorLink": "E0000001", "errorId": "oaeSandbox0000000000000001",
            "errorCauses": [{"errorSummary": "profile.lastName: profile.lastName is required"}]
        }),
    );
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("profile.lastName is required"),
        "the causes are in the message: {}",
        r.text
    );
}

#[tokio::test]
async fn update_posts_only_the_changed_profile_fields() {
    let (app, account) = app_with_account("okta").await;

    let r = write_user(
        &app,
        Method::PATCH,
        &account,
        Some(ISAAC),
        json!({"title": "Managing Director", "name": "Isaac B. Brock"}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_with_method(&app, "okta", "POST");
    assert_eq!(sent.path, "/api/v1/users/00ub0oNGTSWTBKOLGLNR");
    assert_eq!(
        sent.json.unwrap(),
        json!({"profile": {"title": "Managing Director", "displayName": "Isaac B. Brock"}})
    );
    assert_eq!(r.body["title"], "Managing Director");
    assert_eq!(r.body["name"], "Isaac B. Brock");
    assert_eq!(r.body["first_name"], "Isaac", "the rest of the profile is kept");
    assert_eq!(r.body["remote_data"]["profile"]["department"], "Engineering");
}

#[tokio::test]
async fn update_refuses_a_status_change_without_calling_okta() {
    let (app, account) = app_with_account("okta").await;

    let r = write_user(
        &app,
        Method::PATCH,
        &account,
        Some(ISAAC),
        json!({"status": "inactive"}),
    )
    .await;

    crate::helpers::assert_error(&r, 422);
    assert!(app.emulator("okta").requests().is_empty());
}

#[tokio::test]
async fn delete_deactivates_then_deletes() {
    let (app, account) = app_with_account("okta").await;

    let r = delete_user(&app, &account, "00u7f2pv4iCdE8QrS5m2").await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "00u7f2pv4iCdE8QrS5m2");
    assert_eq!(
        request_lines(&app, "okta"),
        [
            "POST /api/v1/users/00u7f2pv4iCdE8QrS5m2/lifecycle/deactivate",
            "DELETE /api/v1/users/00u7f2pv4iCdE8QrS5m2",
        ]
    );
    assert!(app.emulator("okta").record("users", "00u7f2pv4iCdE8QrS5m2").is_none());
}

#[tokio::test]
async fn an_unknown_user_is_a_404_in_oktas_error_shape() {
    let (app, account) = app_with_account("okta").await;

    let r = app.get(&users_path(&account, Some("00uMissing0000000000"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({
            "errorCode": "E0000007", "errorSummary": "Not found: Resource not found: 00uMissing0000000000 (User)",
            "errorLink": "E0000007", "errorId": "oaeSandbox0000000000000007", "errorCauses": []
        }),
    );
}

#[tokio::test]
async fn a_429_until_a_distant_reset_is_answered_at_once_with_retry_after() {
    let (app, account) = app_with_account("okta").await;
    let reset = chrono::Utc::now().timestamp() + 120;
    let body = json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests.",
                      "errorLink": "E0000047", "errorId": "oaeSandbox0000000000000047", "errorCauses": []});
    app.emulator("okta").inject(
        Fault::respond(429, body.clone())
            .with_header("x-rate-limit-limit", "600")
            .with_header("x-rate-limit-remaining", "0")
            .with_header("x-rate-limit-reset", &reset.to_string())
            .on("GET", "/api/v1/users/*")
            .times(1),
    );

    let r = app.get(&users_path(&account, Some(ISAAC), "")).await;

    assert_remote_error(&r, 429, &body);
    let retry_after: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((100..=120).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(app.emulator("okta").requests().len(), 1, "not retried");
}

#[tokio::test]
async fn an_oauth_account_sends_a_bearer_token_and_refreshes_it_at_the_orgs_token_endpoint() {
    let app = spawn_app().await;
    let okta = app.emulator("okta");
    let tokens = okta.oauth_issue().unwrap();
    let account = app
        .connect_with(
            "okta",
            json!({
                "okta_domain": "sandbox.okta.com", "token_type": "Bearer",
                "access_token": tokens.access_token, "refresh_token": tokens.refresh_token,
                "expires_at": "2020-01-01T00:00:00Z"
            }),
        )
        .await;

    let user = get_user(&app, &account, ISAAC).await;

    assert_eq!(user["id"], ISAAC);
    let lines = request_lines(&app, "okta");
    assert_eq!(lines[0], "POST /oauth2/v1/token", "{lines:?}");
    let sent = last_request(&app, "okta");
    let auth = sent.header("authorization").unwrap();
    assert!(auth.starts_with("Bearer eyJraWQiOiJzYW5kYm94In0.okta."), "{auth}");
    assert_ne!(
        auth,
        format!("Bearer {}", tokens.access_token),
        "the refreshed token is used"
    );
}

#[tokio::test]
async fn the_org_is_the_one_organization() {
    let (app, account) = app_with_account("okta").await;

    let list = app.get(&app.orgs_path(&account, None, "")).await;
    let got = app
        .get(&app.orgs_path(&account, Some("00o3qqiw0vSCIwu8I0g7"), ""))
        .await;
    let other = app.get(&app.orgs_path(&account, Some("00oSomeoneElse"), "")).await;

    assert_eq!(list.status, 200, "{}", list.text);
    let expected = json!({"id": "00o3qqiw0vSCIwu8I0g7", "name": "Sandbox Corp",
                          "created_at": "2024-01-24T14:15:22Z", "updated_at": "2024-07-21T14:15:22Z"});
    assert_eq!(list.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(unified(list.body["result"][0].clone()), expected);
    assert_eq!(list.body["next_cursor"], Value::Null);
    assert_eq!(unified(got.body.clone()), expected, "{}", got.text);
    assert_eq!(other.status, 404, "{}", other.text);
    assert!(request_lines(&app, "okta").iter().all(|l| l == "GET /api/v1/org"));
}

// Groups and membership.

const ENGINEERING: &str = "00g3cTsK8YaRf5Vc02e8";

/// `/unified/user-directory/{resource}[/{id}]?integrated_account_id=...{extra}`.
fn path(resource: &str, account: &str, id: Option<&str>, extra: &str) -> String {
    let id = id.map(|i| format!("/{i}")).unwrap_or_default();
    format!("/unified/user-directory/{resource}{id}?integrated_account_id={account}{extra}")
}

fn ids(records: &[Value]) -> Vec<&str> {
    records.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_group_is_mapped_from_its_profile() {
    let (app, account) = app_with_account("okta").await;

    let r = app
        .get(&path("groups", &account, Some("00g1emaKYZTWRYYRRTSK"), ""))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(r.body.clone()),
        json!({
            "id": "00g1emaKYZTWRYYRRTSK", "name": "West Coast Users",
            "description": "All Users West of The Rockies", "group_type": "group",
            "created_at": "2015-02-06T10:11:28.000Z", "updated_at": "2015-10-05T19:16:43.000Z"
        })
    );
    assert_eq!(r.body["remote_data"]["type"], "OKTA_GROUP");
    assert_eq!(request_lines(&app, "okta"), ["GET /api/v1/groups/00g1emaKYZTWRYYRRTSK"]);
}

#[tokio::test]
async fn the_groups_list_walks_link_header_pages() {
    let (app, account) = app_with_account("okta").await;

    let (groups, pages) = crate::helpers::walk_records(&app, &path("groups", &account, None, ""), 2).await;

    assert_eq!(
        ids(&groups),
        [
            "00g1emaKYZTWRYYRRTSK",
            "00g2bsrJ7XzQe4Ub91d7",
            ENGINEERING,
            "00g4dUtL9ZbSg6Wd13f9",
            "00g5eVuM0AcTh7Xe24g0"
        ]
    );
    assert_eq!(pages, 3);
    assert_eq!(groups[3]["name"], "Sales");
    assert!(groups[3].get("description").is_none(), "a null description is left out");
    assert_eq!(
        request_lines(&app, "okta"),
        [
            "GET /api/v1/groups?limit=2",
            "GET /api/v1/groups?limit=2&after=00g2bsrJ7XzQe4Ub91d7",
            "GET /api/v1/groups?limit=2&after=00g4dUtL9ZbSg6Wd13f9",
        ]
    );
}

#[tokio::test]
async fn group_writes_post_put_the_whole_profile_and_delete() {
    let (app, account) = app_with_account("okta").await;

    let r = app
        .send(
            Method::POST,
            &path("groups", &account, None, ""),
            Some(json!({"name": "Support", "description": "Tier 1 and 2"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_request(&app, "okta");
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/api/v1/groups"));
    assert_eq!(
        sent.json.unwrap(),
        json!({"profile": {"name": "Support", "description": "Tier 1 and 2"}})
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        (r.body["name"].as_str(), r.body["group_type"].as_str()),
        (Some("Support"), Some("group"))
    );
    assert_eq!(r.body["remote_data"]["type"], "OKTA_GROUP");

    // Okta's PUT replaces the profile: the name not given is read first and sent again.
    let r = app
        .send(
            Method::PATCH,
            &path("groups", &account, Some(&id), ""),
            Some(json!({"description": "Every support tier"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, "okta");
    assert_eq!(
        (sent.method.as_str(), sent.path.clone()),
        ("PUT", format!("/api/v1/groups/{id}"))
    );
    assert_eq!(
        sent.json.unwrap(),
        json!({"profile": {"name": "Support", "description": "Every support tier"}})
    );
    assert_eq!(r.body["description"], "Every support tier");

    let r = app
        .send(Method::DELETE, &path("groups", &account, Some(&id), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, "okta");
    assert_eq!(
        (sent.method.as_str(), sent.path.clone()),
        ("DELETE", format!("/api/v1/groups/{id}"))
    );
    assert!(app.emulator("okta").record("groups", &id).is_none());
}

#[tokio::test]
async fn an_unknown_group_is_oktas_404() {
    let (app, account) = app_with_account("okta").await;

    let r = app
        .get(&path("groups", &account, Some("00gMissing0000000000"), ""))
        .await;

    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    assert_eq!(r.body["raw_response"]["errorCode"], "E0000007");
}

/// The unified users list with `group_id`.
async fn members(app: &crate::helpers::TestApp, account: &str, group: &str) -> Vec<Value> {
    let r = app
        .get(&path("users", account, None, &format!("&group_id={group}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["result"].as_array().unwrap().clone()
}

#[tokio::test]
async fn add_user_and_remove_user_change_the_group_id_users_list() {
    let (app, account) = app_with_account("okta").await;

    // The members are users, mapped like any user.
    let before = members(&app, &account, ENGINEERING).await;
    assert_eq!(ids(&before), [ISAAC, "00u2a7kq9dXyZ3LmN0h7", "00u7f2pv4iCdE8QrS5m2"]);
    assert_eq!(before[0]["emails"][0]["email"], "isaac.brock@example.com");
    assert_eq!(
        last_request(&app, "okta").path,
        format!("/api/v1/groups/{ENGINEERING}/users")
    );

    let add = path("groups/add-user", &account, None, "");
    let r = app
        .send(
            Method::POST,
            &add,
            Some(json!({"group_id": ENGINEERING, "user_id": "00u1f96ECLNVOKVMUSEA"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(r.body.clone()),
        json!({"group_id": ENGINEERING, "user_id": "00u1f96ECLNVOKVMUSEA"})
    );
    let sent = last_request(&app, "okta");
    assert_eq!(
        (sent.method.as_str(), sent.path.clone()),
        (
            "PUT",
            format!("/api/v1/groups/{ENGINEERING}/users/00u1f96ECLNVOKVMUSEA")
        )
    );
    let after_add = members(&app, &account, ENGINEERING).await;
    assert_eq!(after_add.len(), 4);
    assert_eq!(after_add[3]["id"], "00u1f96ECLNVOKVMUSEA");
    assert_eq!(after_add[3]["first_name"], "Maria");

    let remove = path("groups/remove-user", &account, None, "");
    let r = app
        .send(
            Method::POST,
            &remove,
            Some(json!({"group_id": ENGINEERING, "user_id": ISAAC})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, "okta");
    assert_eq!(
        (sent.method.as_str(), sent.path.clone()),
        ("DELETE", format!("/api/v1/groups/{ENGINEERING}/users/{ISAAC}"))
    );
    let after_remove = members(&app, &account, ENGINEERING).await;
    assert!(!ids(&after_remove).contains(&ISAAC), "{after_remove:?}");
    assert_eq!(after_remove.len(), 3);

    // Isaac is still in his other group.
    let r = app
        .get(&path("users", &account, None, "&group_id=00g1emaKYZTWRYYRRTSK"))
        .await;
    assert_eq!(crate::helpers::result_ids(&r), [ISAAC]);
}

#[tokio::test]
async fn adding_an_unknown_user_to_a_group_is_oktas_404() {
    let (app, account) = app_with_account("okta").await;

    let r = app
        .send(
            Method::POST,
            &path("groups/add-user", &account, None, ""),
            Some(json!({"group_id": ENGINEERING, "user_id": "00uNobody00000000000"})),
        )
        .await;

    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["raw_response"]["errorCode"], "E0000007", "{}", r.text);
}

// Me and the System Log.

#[tokio::test]
async fn me_is_the_user_the_api_token_belongs_to() {
    let (app, account) = app_with_account("okta").await;

    let r = app.get(&path("me", &account, None, "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let records = r.body["result"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{}", r.text);
    assert_eq!(
        unified(records[0].clone()),
        json!({"id": ISAAC, "name": "Isaac Brock", "email": "isaac.brock@example.com"})
    );
    assert_eq!(request_lines(&app, "okta"), ["GET /api/v1/users/me"]);
}

#[tokio::test]
async fn activities_walk_the_system_log_and_map_an_event() {
    let (app, account) = app_with_account("okta").await;

    let (events, pages) = crate::helpers::walk_records(&app, &path("activities", &account, None, ""), 2).await;

    assert_eq!((events.len(), pages), (5, 3));
    assert_eq!(
        unified(events[2].clone()),
        json!({
            "id": "2c3d4e5f-6071-11ef-8b8c-0242ac120002",
            "actor": {"id": ISAAC, "name": "Isaac Brock", "email": "isaac.brock@example.com", "type": "User"},
            "description": "Add user to group membership",
            "action": "group.user_membership.add",
            "entity": {"id": "00u2a7kq9dXyZ3LmN0h7", "name": "Kenji Watanabe"},
            "entity_type": "User",
            "context": {
                "ip_address": "203.0.113.7",
                "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36",
                "location": {"city": "San Francisco", "country": "United States"},
                "outcome": "SUCCESS", "severity": "INFO"
            },
            "created_at": "2024-06-02T09:16:30.500Z"
        })
    );
    assert!(
        events[4]["actor"].get("email").is_none(),
        "an app's alternateId is no email"
    );
    assert_eq!(
        request_lines(&app, "okta"),
        [
            "GET /api/v1/logs?limit=2",
            "GET /api/v1/logs?limit=2&after=1b2c3d4e-5f60-11ef-9a7b-0242ac120002",
            "GET /api/v1/logs?limit=2&after=3d4e5f60-7182-11ef-9c9d-0242ac120002",
        ]
    );
}

#[tokio::test]
async fn the_created_at_filter_is_sent_as_since_and_until() {
    let (app, account) = app_with_account("okta").await;

    let r = app
        .get(&path(
            "activities",
            &account,
            None,
            "&created_at[gte]=2024-06-02T09:15:00.000Z&created_at[lt]=2024-06-04T00:00:00Z",
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        crate::helpers::result_ids(&r),
        [
            "1b2c3d4e-5f60-11ef-9a7b-0242ac120002",
            "2c3d4e5f-6071-11ef-8b8c-0242ac120002",
            "3d4e5f60-7182-11ef-9c9d-0242ac120002"
        ]
    );
    let sent = last_request(&app, "okta");
    let q: std::collections::HashMap<String, String> = url::form_urlencoded::parse(sent.query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(q["since"], "2024-06-02T09:15:00.000Z");
    assert_eq!(q["until"], "2024-06-04T00:00:00Z");
}

#[tokio::test]
async fn a_system_log_call_without_the_scope_is_oktas_403() {
    let (app, account) = app_with_account("okta").await;
    let body = json!({"errorCode": "E0000006", "errorSummary": "You do not have permission to perform the requested action",
                      "errorLink": "E0000006", "errorId": "oaeSandbox0000000000000006", "errorCauses": []});
    app.emulator("okta")
        .inject(Fault::respond(403, body.clone()).on("GET", "/api/v1/logs").times(1));

    let r = app.get(&path("activities", &account, None, "")).await;

    assert_remote_error(&r, 403, &body);
}

// Roles (custom admin roles) and role assignments (a user's admin roles).

#[tokio::test]
async fn roles_are_the_custom_admin_roles_over_next_links() {
    let (app, account) = app_with_account("okta").await;

    let (roles, pages) = crate::helpers::walk_records(&app, &path("roles", &account, None, ""), 2).await;

    assert_eq!(pages, 2);
    assert_eq!(
        ids(&roles),
        ["cr0Yq6IJxGIr0ouum0g3", "cr0Fw7HKcWIroo88m3r1", "cr0Xq1JKdZPtuu33r4m5"]
    );
    assert_eq!(
        unified(roles[2].clone()),
        json!({"id": "cr0Xq1JKdZPtuu33r4m5", "name": "HelpdeskLite", "label": "HelpdeskLite",
               "description": "Resets passwords and unlocks users", "type": "custom",
               "created_at": "2022-08-01T10:00:00.000Z", "updated_at": "2023-03-15T09:30:00.000Z"})
    );
    assert_eq!(
        request_lines(&app, "okta"),
        [
            "GET /api/v1/iam/roles",
            "GET /api/v1/iam/roles?after=cr0Fw7HKcWIroo88m3r1"
        ]
    );
}

#[tokio::test]
async fn role_writes_take_the_permissions_from_remote_data_and_put_label_and_description() {
    let (app, account) = app_with_account("okta").await;

    let r = app
        .send(
            Method::POST,
            &path("roles", &account, None, ""),
            Some(json!({"name": "GroupReader", "description": "Reads groups",
                        "remote_data": {"permissions": ["okta.groups.read"]}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_request(&app, "okta");
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/api/v1/iam/roles")
    );
    assert_eq!(
        sent.json.unwrap(),
        json!({"label": "GroupReader", "description": "Reads groups", "permissions": ["okta.groups.read"]})
    );
    let id = r.body["id"].as_str().unwrap().to_string();

    let r = app
        .send(
            Method::PATCH,
            &path("roles", &account, Some(&id), ""),
            Some(json!({"description": "Reads every group"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, "okta");
    assert_eq!(
        (sent.method.as_str(), sent.path.clone()),
        ("PUT", format!("/api/v1/iam/roles/{id}"))
    );
    assert_eq!(
        sent.json.unwrap(),
        json!({"label": "GroupReader", "description": "Reads every group"})
    );

    let r = app
        .send(Method::DELETE, &path("roles", &account, Some(&id), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        request_lines(&app, "okta").last().unwrap(),
        &format!("DELETE /api/v1/iam/roles/{id}")
    );

    // Without permissions Okta refuses the role.
    let r = app
        .send(
            Method::POST,
            &path("roles", &account, None, ""),
            Some(json!({"name": "Empty", "description": "x"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["raw_response"]["errorCode"], "E0000001", "{}", r.text);
}

#[tokio::test]
async fn role_assignments_are_a_users_admin_roles() {
    let (app, account) = app_with_account("okta").await;
    const SEUN: &str = "00u9h4rx6kEfG0StU7o4";

    let r = app
        .get(&path("role_assignments", &account, None, &format!("&user_id={SEUN}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let records: Vec<Value> = r.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(unified)
        .collect();
    assert_eq!(
        records,
        [
            json!({"id": "ra1b7aguRQgFhbQNK0g4", "user_id": SEUN, "role_id": "HELP_DESK_ADMIN",
                   "created_at": "2023-01-10T12:00:00.000Z", "updated_at": "2023-01-10T12:00:00.000Z"}),
            json!({"id": "irb1qe6PGuMc7Oh8N0g4", "user_id": SEUN, "role_id": "cr0Xq1JKdZPtuu33r4m5",
                   "created_at": "2023-03-15T09:31:00.000Z", "updated_at": "2023-03-15T09:31:00.000Z"}),
        ]
    );
    assert_eq!(request_lines(&app, "okta"), [format!("GET /api/v1/users/{SEUN}/roles")]);

    let r = app
        .get(&path(
            "role_assignments",
            &account,
            Some("ra1b8aahBZuGJRRa30g4"),
            &format!("&user_id={ISAAC}"),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["role_id"], "SUPER_ADMIN");
    assert_eq!(r.body["remote_data"]["label"], "Super Organization Administrator");

    let r = app
        .send(
            Method::POST,
            &path("role_assignments", &account, None, ""),
            Some(json!({"user_id": SEUN, "role_id": "READ_ONLY_ADMIN"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_request(&app, "okta");
    assert_eq!(
        (sent.method.as_str(), sent.path.clone()),
        ("POST", format!("/api/v1/users/{SEUN}/roles"))
    );
    assert_eq!(sent.json.unwrap(), json!({"type": "READ_ONLY_ADMIN"}));
    assert_eq!(
        (r.body["user_id"].as_str(), r.body["role_id"].as_str()),
        (Some(SEUN), Some("READ_ONLY_ADMIN"))
    );
    let id = r.body["id"].as_str().unwrap().to_string();

    let r = app
        .send(
            Method::DELETE,
            &path("role_assignments", &account, Some(&id), &format!("&user_id={SEUN}")),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        request_lines(&app, "okta").last().unwrap(),
        &format!("DELETE /api/v1/users/{SEUN}/roles/{id}")
    );

    // The list needs the user.
    let r = app.get(&path("role_assignments", &account, None, "")).await;
    assert_eq!(r.status, 400, "{}", r.text);
}

/// Okta applies the name, email and last-updated filters in its own `filter` expression;
/// `status` is left to Unigate, which checks every filter again on the mapped users.
#[tokio::test]
async fn filters_go_into_oktas_filter_expression_and_status_is_applied_by_the_gateway() {
    let (app, account) = app_with_account("okta").await;

    let (users, pages) = crate::helpers::walk_records(
        &app,
        &users_path(&account, None, "&updated_at[gte]=2024-04-01&status=active"),
        2,
    )
    .await;

    let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    // Updated since April: Tom (locked out, so not active), Fatima, Liam, Sofia, Seun.
    assert_eq!(
        ids,
        [
            "00u5d0nt2gAbC6OpQ3k0",
            "00u6e1ou3hBcD7PqR4l1",
            "00u8g3qw5jDeF9RsT6n3",
            "00u9h4rx6kEfG0StU7o4"
        ]
    );
    assert_eq!(
        pages, 3,
        "Okta's pages of two, the first one short after the status check"
    );
    let first = &app.emulator("okta").requests()[0];
    let sent: Vec<(String, String)> = url::form_urlencoded::parse(first.query.as_bytes())
        .into_owned()
        .collect();
    assert!(
        sent.contains(&("filter".into(), r#"lastUpdated ge "2024-04-01T00:00:00.000Z""#.into())),
        "{sent:?}"
    );
    assert!(
        !first.query.contains("status"),
        "status is not Okta's to apply here: {}",
        first.query
    );

    // Several clauses joined with `and`; Okta matches the email ignoring case.
    app.emulator("okta").clear_requests();
    let r = app
        .get(&users_path(
            &account,
            None,
            "&email=Alice.Smith@Example.com&last_name=smith",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result_count"], 1, "{}", r.text);
    assert_eq!(r.body["result"][0]["id"], "00u118oQYT4TBTemp0g4");
    let sent = &app.emulator("okta").requests()[0];
    let filter: String = url::form_urlencoded::parse(sent.query.as_bytes())
        .find(|(k, _)| k == "filter")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        filter,
        r#"profile.email eq "Alice.Smith@Example.com" and profile.lastName eq "smith""#
    );

    // A group's member list takes no filter: Unigate applies it there.
    app.emulator("okta").clear_requests();
    let r = app
        .get(&users_path(
            &account,
            None,
            &format!("&group_id={ENGINEERING}&first_name=chen"),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<&str> = r.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["first_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Chen"]);
    assert!(!app.emulator("okta").requests()[0].query.contains("filter"));

    // `GET /integration/okta` says who applies which.
    let r = app.get("/integration/okta").await;
    let who = &r.body["filters"]["user-directory"]["users"];
    assert_eq!(who["email"], "provider");
    assert_eq!(who["status"], "gateway");
}

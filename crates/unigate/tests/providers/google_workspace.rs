//! Google Workspace through the Admin SDK Directory API: users (get, list with
//! `customer=my_customer`, `maxResults` and `pageToken`, insert, patch, delete), statuses,
//! Google's error shape, the customer as the one organization, and licence assignments from
//! the Enterprise License Manager API on its own host.

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

// Groups and membership.

const ENGINEERING: &str = "01ci93xb3u1lhbx";

/// `/unified/user-directory/{resource}[/{id}]?integrated_account_id=...{extra}`.
fn path(resource: &str, account: &str, id: Option<&str>, extra: &str) -> String {
    let id = id.map(|i| format!("/{i}")).unwrap_or_default();
    format!("/unified/user-directory/{resource}{id}?integrated_account_id={account}{extra}")
}

fn ids(records: &[Value]) -> Vec<&str> {
    records.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_group_is_mapped_from_googles_group() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app.get(&path("groups", &account, Some("03ep43zb3k4vu1a"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(r.body.clone()),
        json!({"id": "03ep43zb3k4vu1a", "name": "Sales",
               "description": "Sales team: quotes, deals and renewals.", "group_type": "group"})
    );
    assert_eq!(r.body["remote_data"]["email"], "sales@example.com");
    let sent = last_request(&app, PROVIDER);
    assert_request(&sent, "GET", "/admin/directory/v1/groups/03ep43zb3k4vu1a");
    assert_eq!(sent.header("authorization"), Some(TOKEN));
}

#[tokio::test]
async fn the_groups_list_pages_with_max_results_and_page_token() {
    let (app, account) = app_with_account(PROVIDER).await;

    let (groups, pages) = crate::helpers::walk_records(&app, &path("groups", &account, None, ""), 2).await;

    assert_eq!(pages, 3);
    assert_eq!(
        ids(&groups),
        [
            "03ep43zb3k4vu1a",
            ENGINEERING,
            "02grqrue2tcn5d6",
            "04d34og821hk3rp",
            "00meukdy0whdw7r"
        ]
    );
    let requests = app.emulator(PROVIDER).requests();
    assert_eq!(requests.len(), 3);
    for (i, sent) in requests.iter().enumerate() {
        assert_request(sent, "GET", "/admin/directory/v1/groups");
        let q = query(sent);
        assert_eq!((q["customer"].as_str(), q["maxResults"].as_str()), ("my_customer", "2"));
        assert_eq!(q.contains_key("pageToken"), i > 0, "{q:?}");
    }
}

#[tokio::test]
async fn group_writes_insert_with_the_email_from_remote_data_patch_and_delete() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app
        .send(
            Method::POST,
            &path("groups", &account, None, ""),
            Some(json!({"name": "Design", "description": "Product design",
                        "remote_data": {"email": "design@example.com"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "POST");
    assert_request(&sent, "POST", "/admin/directory/v1/groups");
    assert_eq!(
        sent.json.unwrap(),
        json!({"name": "Design", "description": "Product design", "email": "design@example.com"})
    );
    let id = r.body["id"].as_str().unwrap().to_string();

    let r = app
        .send(
            Method::PATCH,
            &path("groups", &account, Some(&id), ""),
            Some(json!({"description": "Product and brand design"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "PATCH");
    assert_request(&sent, "PATCH", &format!("/admin/directory/v1/groups/{id}"));
    assert_eq!(sent.json.unwrap(), json!({"description": "Product and brand design"}));
    assert_eq!(
        (r.body["name"].as_str(), r.body["description"].as_str()),
        (Some("Design"), Some("Product and brand design"))
    );

    let r = app
        .send(Method::DELETE, &path("groups", &account, Some(&id), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(
        &last_request(&app, PROVIDER),
        "DELETE",
        &format!("/admin/directory/v1/groups/{id}"),
    );
}

#[tokio::test]
async fn a_group_without_an_email_is_googles_400() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app
        .send(
            Method::POST,
            &path("groups", &account, None, ""),
            Some(json!({"name": "No mail"})),
        )
        .await;

    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body["raw_response"]["error"]["status"], "INVALID_ARGUMENT",
        "{}",
        r.text
    );
}

async fn members(app: &crate::helpers::TestApp, account: &str, group: &str) -> Vec<Value> {
    let r = app
        .get(&path("users", account, None, &format!("&group_id={group}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["result"].as_array().unwrap().clone()
}

#[tokio::test]
async fn add_user_and_remove_user_change_the_group_id_users_list() {
    let (app, account) = app_with_account(PROVIDER).await;
    const RAJ: &str = "117392017465829103746";

    // Members are Google's Member records: id, email, role, status.
    let before = members(&app, &account, ENGINEERING).await;
    assert_eq!(ids(&before), [RAJ, "112938475610293847562", "106473829102938475665"]);
    assert_eq!(
        unified(before[0].clone()),
        json!({"id": RAJ, "username": "raj.patel@example.com",
               "emails": [{"email": "raj.patel@example.com", "type": "primary", "is_primary": true}],
               "status": "inactive", "roles": [{"id": "MANAGER", "name": "MANAGER", "group": ENGINEERING}]}),
        "Raj is suspended: his membership's status is SUSPENDED"
    );
    assert_request(
        &last_request(&app, PROVIDER),
        "GET",
        &format!("/admin/directory/v1/groups/{ENGINEERING}/members"),
    );

    // members.insert needs the email: the user is read first.
    let r = app
        .send(
            Method::POST,
            &path("groups/add-user", &account, None, ""),
            Some(json!({"group_id": ENGINEERING, "user_id": LIZ})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(r.body.clone()),
        json!({"group_id": ENGINEERING, "user_id": LIZ})
    );
    let sent = last_with_method(&app, PROVIDER, "POST");
    assert_request(
        &sent,
        "POST",
        &format!("/admin/directory/v1/groups/{ENGINEERING}/members"),
    );
    assert_eq!(
        sent.json.unwrap(),
        json!({"email": "liz@example.com", "role": "MEMBER"})
    );
    let after = members(&app, &account, ENGINEERING).await;
    assert_eq!(ids(&after).len(), 4);
    assert_eq!(after[3]["id"], LIZ);
    assert_eq!(after[3]["username"], "liz@example.com");

    let r = app
        .send(
            Method::POST,
            &path("groups/remove-user", &account, None, ""),
            Some(json!({"group_id": ENGINEERING, "user_id": RAJ})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(
        &last_with_method(&app, PROVIDER, "DELETE"),
        "DELETE",
        &format!("/admin/directory/v1/groups/{ENGINEERING}/members/{RAJ}"),
    );
    assert!(!ids(&members(&app, &account, ENGINEERING).await).contains(&RAJ));
}

// Activities (the Reports API's admin audit log).

#[tokio::test]
async fn activities_page_through_the_admin_audit_log_and_map_an_event() {
    let (app, account) = app_with_account(PROVIDER).await;

    let (events, pages) = crate::helpers::walk_records(&app, &path("activities", &account, None, ""), 2).await;

    assert_eq!((events.len(), pages), (5, 3));
    assert_eq!(
        unified(events[1].clone()),
        json!({
            "id": "4218712901822384710",
            "actor": {"id": LIZ, "email": "liz@example.com", "type": "USER"},
            "organization": {"id": "C03az79cb"},
            "description": "ADD_GROUP_MEMBER: USER_EMAIL=grace.kim@example.com, GROUP_EMAIL=engineering@example.com",
            "action": "ADD_GROUP_MEMBER",
            "entity": {"id": "grace.kim@example.com", "name": "grace.kim@example.com"},
            "entity_type": "GROUP_SETTINGS",
            "context": {
                "ip_address": "203.0.113.10", "application": "admin",
                "parameters": [{"name": "USER_EMAIL", "value": "grace.kim@example.com"},
                               {"name": "GROUP_EMAIL", "value": "engineering@example.com"}]
            },
            "created_at": "2024-06-01T08:05:12.000Z"
        })
    );
    let requests = app.emulator(PROVIDER).requests();
    assert_eq!(requests.len(), 3);
    for (i, sent) in requests.iter().enumerate() {
        assert_request(sent, "GET", "/admin/reports/v1/activity/users/all/applications/admin");
        let q = query(sent);
        assert_eq!(q["maxResults"], "2");
        assert_eq!(q.contains_key("pageToken"), i > 0, "{q:?}");
    }
}

#[tokio::test]
async fn the_created_at_filter_is_sent_as_start_and_end_time() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app
        .get(&path(
            "activities",
            &account,
            None,
            "&created_at[gt]=2024-06-01T08:00:00.000Z&created_at[lte]=2024-06-03T14:45:30Z",
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        crate::helpers::result_ids(&r),
        ["4218712901822384710", "-2271394827162534981", "8837261550918273645"]
    );
    let q = query(&last_request(&app, PROVIDER));
    assert_eq!(q["startTime"], "2024-06-01T08:00:00.000Z");
    assert_eq!(q["endTime"], "2024-06-03T14:45:30Z");
}

// Roles and role assignments.

#[tokio::test]
async fn roles_are_the_admin_roles_and_page_with_page_token() {
    let (app, account) = app_with_account(PROVIDER).await;

    let (roles, pages) = crate::helpers::walk_records(&app, &path("roles", &account, None, ""), 2).await;
    let one = app.get(&path("roles", &account, Some("20394857610293847"), "")).await;

    assert_eq!((roles.len(), pages), (5, 3));
    assert_eq!(
        unified(roles[0].clone()),
        json!({"id": "13801188331880449", "name": "_SEED_ADMIN_ROLE", "label": "_SEED_ADMIN_ROLE",
               "description": "Google Apps Administrator Seed Role", "type": "system"})
    );
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(
        unified(one.body.clone()),
        json!({"id": "20394857610293847", "name": "Contractor Onboarding", "label": "Contractor Onboarding",
               "description": "Creates and suspends contractor accounts", "type": "custom"})
    );
    assert_request(
        &last_request(&app, PROVIDER),
        "GET",
        "/admin/directory/v1/customer/my_customer/roles/20394857610293847",
    );
}

#[tokio::test]
async fn role_writes_take_the_privileges_from_remote_data() {
    let (app, account) = app_with_account(PROVIDER).await;
    let privileges = json!([{"privilegeName": "GROUPS_RETRIEVE", "serviceId": "01ci93xb3tmzyin"}]);

    let r = app
        .send(
            Method::POST,
            &path("roles", &account, None, ""),
            Some(json!({"name": "Group Auditor", "description": "Reads groups",
                        "remote_data": {"rolePrivileges": privileges}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "POST");
    assert_request(&sent, "POST", "/admin/directory/v1/customer/my_customer/roles");
    assert_eq!(
        sent.json.unwrap(),
        json!({"roleName": "Group Auditor", "roleDescription": "Reads groups", "rolePrivileges": privileges})
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["type"], "custom");

    let r = app
        .send(
            Method::PATCH,
            &path("roles", &account, Some(&id), ""),
            Some(json!({"description": "Reads every group"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "PATCH");
    assert_eq!(sent.json.unwrap(), json!({"roleDescription": "Reads every group"}));
    assert_eq!(r.body["name"], "Group Auditor");

    let r = app
        .send(Method::DELETE, &path("roles", &account, Some(&id), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(
        &last_request(&app, PROVIDER),
        "DELETE",
        &format!("/admin/directory/v1/customer/my_customer/roles/{id}"),
    );

    // Without privileges Google refuses the role.
    let r = app
        .send(
            Method::POST,
            &path("roles", &account, None, ""),
            Some(json!({"name": "Empty"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["raw_response"]["error"]["code"], 400, "{}", r.text);
}

#[tokio::test]
async fn role_assignments_list_by_user_get_create_and_delete() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app
        .get(&path("role_assignments", &account, None, &format!("&user_id={LIZ}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(unified_ref)
            .collect::<Vec<_>>(),
        [json!({"id": "9191482342768644", "user_id": LIZ, "role_id": "13801188331880449"})]
    );
    let q = query(&last_request(&app, PROVIDER));
    assert_eq!(q["userKey"], LIZ);

    let r = app
        .get(&path("role_assignments", &account, Some("9191482342768647"), ""))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["remote_data"]["orgUnitId"], "03ph8a2z1enx4lx");

    let r = app
        .send(
            Method::POST,
            &path("role_assignments", &account, None, ""),
            Some(json!({"user_id": "108274650918273645091", "role_id": "13801188331880451"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_with_method(&app, PROVIDER, "POST");
    assert_request(
        &sent,
        "POST",
        "/admin/directory/v1/customer/my_customer/roleassignments",
    );
    assert_eq!(
        sent.json.unwrap(),
        json!({"roleId": "13801188331880451", "assignedTo": "108274650918273645091", "scopeType": "CUSTOMER"})
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["user_id"], "108274650918273645091");

    let r = app
        .send(Method::DELETE, &path("role_assignments", &account, Some(&id), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(
        &last_request(&app, PROVIDER),
        "DELETE",
        &format!("/admin/directory/v1/customer/my_customer/roleassignments/{id}"),
    );
}

fn unified_ref(record: &Value) -> Value {
    unified(record.clone())
}

#[tokio::test]
async fn activities_without_the_reports_scope_are_googles_403() {
    let (app, account) = app_with_account(PROVIDER).await;
    let body = json!({"error": {"code": 403, "message": "Request had insufficient authentication scopes.",
                                "errors": [{"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}],
                                "status": "PERMISSION_DENIED"}});
    app.emulator(PROVIDER).inject(
        unigate_emulator::Fault::respond(403, body.clone())
            .on("GET", "/admin/reports/v1/activity/**")
            .times(1),
    );

    let r = app.get(&path("activities", &account, None, "")).await;

    assert_remote_error(&r, 403, &body);
}

#[tokio::test]
async fn an_unknown_role_assignment_is_googles_404() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app.get(&path("role_assignments", &account, Some("1234"), "")).await;

    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["raw_response"]["error"]["status"], "NOT_FOUND", "{}", r.text);
}

#[tokio::test]
async fn me_reads_the_administrator_the_account_names() {
    let (app, account) = app_with_account(PROVIDER).await;
    app.emulator(PROVIDER).clear_requests();

    let me = crate::common::me(&app, &account, "").await;

    assert_eq!(
        crate::common::unified(&me),
        json!({"id": LIZ, "name": "Elizabeth Smith", "email": "liz@example.com", "organization": {"id": "C03az79cb"}})
    );
    assert_eq!(me["remote_data"]["isAdmin"], true);
    let sent = last_request(&app, PROVIDER);
    assert_request(&sent, "GET", "/admin/directory/v1/users/liz%40example.com");
    assert_eq!(sent.header("authorization"), Some(TOKEN));
}

#[tokio::test]
async fn me_without_an_admin_email_is_a_400_naming_it_and_an_unknown_one_googles_404() {
    let app = crate::helpers::spawn_app().await;
    let unnamed = app
        .connect_with(
            PROVIDER,
            json!({"access_token": "ya29.a0Sandbox0Workspace0Admin0AccessToken00001"}),
        )
        .await;
    let unknown = app
        .connect_with(
            PROVIDER,
            json!({"access_token": "ya29.a0Sandbox0Workspace0Admin0AccessToken00001", "admin_email": "nobody@example.com"}),
        )
        .await;
    app.emulator(PROVIDER).clear_requests();

    let r = app.get(&crate::common::directory_path("me", &unnamed, None, "")).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("admin_email"), "{}", r.text);
    assert!(app.emulator(PROVIDER).requests().is_empty());

    let r = app.get(&crate::common::directory_path("me", &unknown, None, "")).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
}

// Filters in Google's `query` search.

const RAJ: &str = "117392017465829103746";
const MIA: &str = "109283746510293847561";

/// Lists users with `extra` and returns the ids and the `query` Google received (`None`
/// when none was sent), and the whole recorded query.
async fn filtered(app: &crate::helpers::TestApp, account: &str, extra: &str) -> (Vec<String>, HashMap<String, String>) {
    app.emulator(PROVIDER).clear_requests();
    let r = app.get(&users_path(account, None, extra)).await;
    assert_eq!(r.status, 200, "{extra}: {}", r.text);
    let ids = crate::helpers::result_ids(&r).into_iter().map(String::from).collect();
    (ids, query(&last_request(app, PROVIDER)))
}

#[tokio::test]
async fn each_filter_reaches_google_as_its_query_clause() {
    let (app, account) = app_with_account(PROVIDER).await;

    for (extra, sent, want) in [
        ("&first_name=ana", "givenName:ana", vec!["108274650918273645091"]),
        ("&last_name=SMITH", "familyName:SMITH", vec![LIZ]),
        // Any of the user's addresses: Grace's second one.
        (
            "&email=Grace.Kim@Example.org",
            "email:Grace.Kim@Example.org",
            vec!["106473829102938475665"],
        ),
    ] {
        let (ids, q) = filtered(&app, &account, extra).await;
        assert_eq!(q.get("query").map(String::as_str), Some(sent), "{extra}");
        assert_eq!(ids, want, "{extra}");
        assert_eq!(q["customer"], "my_customer");
    }

    // `active` is neither suspended nor archived; Raj is suspended, Mia archived.
    let (ids, q) = filtered(&app, &account, "&status=active").await;
    assert_eq!(q["query"], "isSuspended=false isArchived=false");
    assert_eq!(ids.len(), 10);
    assert!(!ids.contains(&RAJ.to_string()) && !ids.contains(&MIA.to_string()));

    // `inactive` is suspended or archived, which Google's search cannot say: Unigate filters.
    let (ids, q) = filtered(&app, &account, "&status=Inactive").await;
    assert!(!q.contains_key("query"), "{q:?}");
    assert_eq!(ids, [RAJ, MIA]);

    // Deleted users are another list (`showDeleted`); the sandbox has none.
    let (ids, q) = filtered(&app, &account, "&status=deleted").await;
    assert_eq!(
        (q.get("showDeleted").map(String::as_str), q.get("query")),
        (Some("true"), None)
    );
    assert!(ids.is_empty());

    // Google has no date in its search: Unigate applies `created_at`.
    let (ids, q) = filtered(&app, &account, "&created_at[lt]=2014-01-01").await;
    assert!(!q.contains_key("query"), "{q:?}");
    assert_eq!(ids, [LIZ]);

    // `GET /integration/google-workspace` says who applies which.
    let r = app.get("/integration/google-workspace").await;
    assert_eq!(
        r.body["filters"]["user-directory"]["users"],
        json!({"first_name": "provider", "last_name": "provider", "email": "provider", "status": "provider",
               "created_at": "gateway", "updated_at": "gateway"})
    );
}

#[tokio::test]
async fn combined_filters_are_one_query_and_all_must_hold() {
    let (app, account) = app_with_account(PROVIDER).await;

    let (ids, q) = filtered(
        &app,
        &account,
        "&email=grace.kim@example.com&first_name=Grace&status=active",
    )
    .await;
    assert_eq!(
        q["query"],
        "email:grace.kim@example.com givenName:Grace isSuspended=false isArchived=false"
    );
    assert_eq!(ids, ["106473829102938475665"]);

    let (ids, q) = filtered(&app, &account, "&first_name=Raj&status=active").await;
    assert_eq!(q["query"], "givenName:Raj isSuspended=false isArchived=false");
    assert!(ids.is_empty(), "Raj is suspended");

    // A group's member list takes no `query`: Unigate applies the filters there.
    let (ids, q) = filtered(
        &app,
        &account,
        &format!("&group_id={ENGINEERING}&email=Raj.Patel@example.com"),
    )
    .await;
    assert!(!q.contains_key("query"), "{q:?}");
    assert_eq!(ids, [RAJ]);
}

#[tokio::test]
async fn a_value_with_a_space_or_a_quote_is_quoted_and_googles_looser_match_rechecked() {
    let (app, account) = app_with_account(PROVIDER).await;
    let mut mary = app.emulator(PROVIDER).record("users", LIZ).unwrap();
    mary["id"] = json!("100000000000000000001");
    mary["primaryEmail"] = json!("mary.oneil@example.com");
    mary["emails"] = json!([{"address": "mary.oneil@example.com", "primary": true}]);
    mary["name"] = json!({"givenName": "Mary Ann", "familyName": "O'Neil", "fullName": "Mary Ann O'Neil"});
    app.emulator(PROVIDER).insert_record("users", mary);

    let (ids, q) = filtered(&app, &account, "&first_name=mary%20ann&last_name=O'Neil").await;
    assert_eq!(q["query"], r"givenName:'mary ann' familyName:'O\'Neil'");
    assert_eq!(ids, ["100000000000000000001"]);

    // Google's `:` matches a word of the name; the unified filter is the whole name.
    app.emulator(PROVIDER).clear_requests();
    let r = app.get(&users_path(&account, None, "&first_name=Ann")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let google = app.emulator(PROVIDER).requests();
    assert_eq!(query(&google[0])["query"], "givenName:Ann");
    assert_eq!(
        r.body["result"],
        json!([]),
        "Google's answer held Mary Ann; Unigate drops her"
    );
}

#[tokio::test]
async fn pages_left_short_by_a_filter_still_walk_to_the_last_record() {
    let (app, account) = app_with_account(PROVIDER).await;

    // Applied by Unigate: Google's pages of 5 give 2, 0 and 0 records.
    let path = users_path(&account, None, "&status=inactive");
    let (users, pages) = crate::helpers::walk_records(&app, &path, 5).await;
    assert_eq!((ids(&users), pages), (vec![RAJ, MIA], 3));

    // Applied by Google, and rechecked: every page carries the query and its token.
    app.emulator(PROVIDER).clear_requests();
    let path = users_path(&account, None, "&status=active");
    let (users, pages) = crate::helpers::walk_records(&app, &path, 4).await;
    assert_eq!((users.len(), pages), (10, 3));
    assert_eq!(users[9]["id"], "118475629102938475668", "the last record");
    let requests = app.emulator(PROVIDER).requests();
    assert_eq!(requests.len(), 3);
    assert!(requests
        .iter()
        .all(|r| query(r)["query"] == "isSuspended=false isArchived=false"));
    assert!(requests[1..].iter().all(|r| query(r).contains_key("pageToken")));

    // Applied by Google loosely (a word of the name), narrowed by Unigate: of Google's
    // three pages of one, only the last holds Ann herself.
    for (id, given) in [
        ("100000000000000000002", "Mary Ann"),
        ("100000000000000000003", "Ann Marie"),
        ("100000000000000000004", "Ann"),
    ] {
        let mut user = app.emulator(PROVIDER).record("users", LIZ).unwrap();
        user["id"] = json!(id);
        user["name"] = json!({"givenName": given, "familyName": "Lee", "fullName": format!("{given} Lee")});
        app.emulator(PROVIDER).insert_record("users", user);
    }
    app.emulator(PROVIDER).clear_requests();
    let path = users_path(&account, None, "&first_name=ann");
    let (users, pages) = crate::helpers::walk_records(&app, &path, 1).await;
    assert_eq!((ids(&users), pages), (vec!["100000000000000000004"], 3));
    assert!(app
        .emulator(PROVIDER)
        .requests()
        .iter()
        .all(|r| query(r)["query"] == "givenName:ann"));
}

#[tokio::test]
async fn a_malformed_remote_query_is_googles_invalid_input() {
    let (app, account) = app_with_account(PROVIDER).await;

    let r = app
        .get(&users_path(&account, None, "&remote_query[query]=lastName:Smith"))
        .await;

    assert_remote_error(
        &r,
        400,
        &json!({"error": {
            "code": 400, "message": "Invalid Input: query",
            "errors": [{"message": "Invalid Input", "domain": "global", "reason": "invalid", "location": "query"}],
            "status": "INVALID_ARGUMENT"
        }}),
    );
}

/// Licence assignments, from the Enterprise License Manager API on its own host
/// (`licensing.googleapis.com`): per product, per product and SKU, and one by user.
mod licenses {
    use serde_json::json;

    use crate::common::{assert_remote_error, directory_path, ids, request_lines, unified};
    use crate::helpers::{app_with_account, last_request, walk_records};

    const P: &str = "google-workspace";
    const TOKEN: &str = "Bearer ya29.a0Sandbox0Workspace0Admin0AccessToken00001";
    const WORKSPACE: &str = "&customer_id=C03az79cb&product_id=Google-Apps";

    #[tokio::test]
    async fn a_products_assignments_page_by_page_token_on_the_licensing_host() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (licenses, pages) = walk_records(&app, &directory_path("licenses", &account, None, WORKSPACE), 2).await;

        assert_eq!(
            ids(&licenses),
            [
                "liz@example.com",
                "sam.jones@example.com",
                "ana.silva@example.com",
                "raj.patel@example.com",
                "lukas.meyer@example.com"
            ]
        );
        assert_eq!(pages, 3);
        assert_eq!(
            unified(&licenses[1]),
            json!({
                "id": "sam.jones@example.com",
                "name": "Google Workspace Business Standard",
                "description": "Google Workspace",
                "products": [{"id": "Google-Apps", "name": "Google Workspace"}]
            })
        );
        assert_eq!(licenses[1]["remote_data"]["skuId"], "1010020028");
        assert_eq!(licenses[1]["remote_data"].get("_key"), None);
        let lines = request_lines(&app, P);
        assert_eq!(
            lines[0],
            "GET /apps/licensing/v1/product/Google-Apps/users?customerId=C03az79cb&maxResults=2"
        );
        assert_eq!(lines.len(), 3, "{lines:?}");
        for line in &lines[1..] {
            assert!(
                line.starts_with(
                    "GET /apps/licensing/v1/product/Google-Apps/users?customerId=C03az79cb&maxResults=2&pageToken="
                ),
                "{lines:?}"
            );
        }
        assert_eq!(last_request(&app, P).header("authorization"), Some(TOKEN));
    }

    #[tokio::test]
    async fn a_sku_narrows_the_list_to_its_own_path() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path(
                "licenses",
                &account,
                None,
                &format!("{WORKSPACE}&sku_id=1010020025"),
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let records = r.body["result"].as_array().unwrap();
        assert_eq!(ids(records), ["liz@example.com", "lukas.meyer@example.com"]);
        assert_eq!(records[0]["name"], "Google Workspace Business Plus");
        let sent = last_request(&app, P);
        assert_eq!(
            (sent.method.as_str(), sent.path.as_str(), sent.query.as_str()),
            (
                "GET",
                "/apps/licensing/v1/product/Google-Apps/sku/1010020025/users",
                "customerId=C03az79cb"
            )
        );
        assert_eq!(sent.header("authorization"), Some(TOKEN));
    }

    #[tokio::test]
    async fn one_users_assignment_is_got_by_product_and_sku() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path(
                "licenses",
                &account,
                Some("mia.wong@example.com"),
                "&product_id=101034&sku_id=1010340002",
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "mia.wong@example.com",
                "name": "Google Workspace Business - Archived User",
                "description": "Google Workspace Archived User",
                "products": [{"id": "101034", "name": "Google Workspace Archived User"}]
            })
        );
        let sent = last_request(&app, P);
        assert_eq!(
            (sent.method.as_str(), sent.path.as_str(), sent.query.as_str()),
            // The user's email is one path segment (`@` percent-encoded, as Google decodes it).
            (
                "GET",
                "/apps/licensing/v1/product/101034/sku/1010340002/user/mia.wong%40example.com",
                ""
            )
        );
        assert_eq!(sent.header("authorization"), Some(TOKEN));
    }

    #[tokio::test]
    async fn a_user_without_the_sku_is_googles_404() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path(
                "licenses",
                &account,
                Some("sam.jones@example.com"),
                "&product_id=Google-Apps&sku_id=1010020025",
            ))
            .await;

        assert_remote_error(
            &r,
            404,
            &json!({"error": {"code": 404, "message": "Resource Not Found: userKey",
                              "errors": [{"message": "Resource Not Found: userKey", "domain": "global", "reason": "notFound"}],
                              "status": "NOT_FOUND"}}),
        );
    }

    #[tokio::test]
    async fn the_list_needs_the_customer_and_the_product() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .get(&directory_path("licenses", &account, None, "&product_id=Google-Apps"))
            .await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains("customer_id"), "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }
}

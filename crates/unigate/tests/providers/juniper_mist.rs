//! Juniper Mist: the organization's administrators as users (get picked from the list,
//! list per organization, invite, privileges update, removal, Mist's `{"detail"}` errors).

use reqwest::Method;
use serde_json::json;

use crate::common::{request_lines, unified, users_path};
use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

const P: &str = "juniper-mist";
const ORG_ID: &str = "6374a757-8d3f-4a8b-9a32-0f5e5e7a1c2b";
const ORG: &str = "&organization_id=6374a757-8d3f-4a8b-9a32-0f5e5e7a1c2b";
const AUTH: &str = "Token mist-sandbox-1c8d1b0f3e6a4c2d9b7e5f4a3c2b1a09";

fn ids(body: &serde_json::Value) -> Vec<&str> {
    body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn get_picks_the_admin_and_maps_its_privileges() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&users_path(&account, Some("8d4b5e6f-7081-4293-a4a5-c6d7e8f9a0b1"), ORG))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({
            "id": "8d4b5e6f-7081-4293-a4a5-c6d7e8f9a0b1",
            "first_name": "Help", "last_name": "Desk", "name": "Help Desk",
            "emails": [{"email": "helpdesk@acme.example", "is_primary": true}],
            "status": "active", "is_2fa_enabled": false, "user_type": "admin",
            "roles": [
                {"id": "helpdesk", "name": "helpdesk", "workspace": "72771e6a-6f5e-4de4-a5b9-1266c4197811"},
                {"id": "helpdesk", "name": "helpdesk", "workspace": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"}
            ],
            "workspaces": [{"id": "72771e6a-6f5e-4de4-a5b9-1266c4197811"}, {"id": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"}],
            "organizations": [{"id": ORG_ID}],
            "identifiers": {"via_sso": false}
        })
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", &format!("/api/v1/orgs/{ORG_ID}/admins"));
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn list_answers_the_orgs_admins_tokens_and_blocked_ones() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&users_path(&account, None, ORG)).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        ids(&r.body),
        [
            "456b7016-a916-a4b1-78dd-72b947c152b7",
            "5a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8",
            "6b2f3c4d-5e6f-4071-8283-a4b5c6d7e8f9",
            "7c3a4d5e-6f70-4182-9394-b5c6d7e8f9a0",
            "8d4b5e6f-7081-4293-a4a5-c6d7e8f9a0b1"
        ]
    );
    let users = r.body["result"].as_array().unwrap();
    assert_eq!(users[2]["status"], "inactive");
    assert_eq!(
        unified(&users[3]),
        json!({"id": "7c3a4d5e-6f70-4182-9394-b5c6d7e8f9a0", "name": "monitoring-token", "status": "active",
               "user_type": "api-token", "roles": [{"id": "read", "name": "read", "organization": ORG_ID}],
               "organizations": [{"id": ORG_ID}]})
    );
    assert_eq!(
        users[0]["roles"],
        json!([{"id": "admin", "name": "admin"}, {"id": "admin", "name": "admin", "organization": ORG_ID}])
    );
    assert!(r.body["next_cursor"].is_null(), "{}", r.text);
    assert_eq!(request_lines(&app, P), [format!("GET /api/v1/orgs/{ORG_ID}/admins")]);
}

#[tokio::test]
async fn a_list_without_the_organization_is_a_400_naming_it() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&users_path(&account, None, "")).await;

    let message = assert_error(&r, 400);
    assert!(message.contains("organization_id"), "{message}");
    assert!(request_lines(&app, P).is_empty());
}

#[tokio::test]
async fn create_sends_an_invite_with_site_and_org_privileges() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &users_path(&account, None, ORG),
            Some(json!({"first_name": "Sam", "last_name": "Lee",
                        "emails": [{"email": "sam.lee@acme.example", "is_primary": true}],
                        "roles": [{"id": "write"}, {"id": "installer", "workspace": "72771e6a-6f5e-4de4-a5b9-1266c4197811"}]})),
        )
        .await;

    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "POST", &format!("/api/v1/orgs/{ORG_ID}/invites"));
    assert_eq!(
        sent.json.unwrap(),
        json!({"email": "sam.lee@acme.example", "first_name": "Sam", "last_name": "Lee",
               "privileges": [{"scope": "org", "role": "write", "org_id": ORG_ID},
                              {"scope": "site", "role": "installer", "site_id": "72771e6a-6f5e-4de4-a5b9-1266c4197811"}]})
    );
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(
        unified(&r.body),
        json!({"id": id, "first_name": "Sam", "last_name": "Lee", "name": "Sam Lee",
               "emails": [{"email": "sam.lee@acme.example", "is_primary": true}],
               "status": "invited", "user_type": "admin",
               "roles": [{"id": "write", "name": "write", "organization": ORG_ID},
                         {"id": "installer", "name": "installer", "workspace": "72771e6a-6f5e-4de4-a5b9-1266c4197811"}],
               "organizations": [{"id": ORG_ID}], "identifiers": {"invite_id": id}})
    );
}

#[tokio::test]
async fn create_without_roles_invites_read_only_on_the_org() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &users_path(&account, None, ORG),
            Some(json!({"emails": [{"email": "viewer@acme.example"}]})),
        )
        .await;

    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        last_request(&app, P).json.unwrap()["privileges"],
        json!([{"scope": "org", "role": "read", "org_id": ORG_ID}])
    );
}

#[tokio::test]
async fn update_replaces_the_privileges() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &users_path(&account, Some("5a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8"), ORG),
            Some(json!({"roles": [{"id": "admin"}]})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(
        &sent,
        "PUT",
        &format!("/api/v1/orgs/{ORG_ID}/admins/5a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8"),
    );
    assert_eq!(
        sent.json.unwrap(),
        json!({"privileges": [{"scope": "org", "role": "admin", "org_id": ORG_ID}]})
    );
    assert_eq!(
        r.body["roles"],
        json!([{"id": "admin", "name": "admin", "organization": ORG_ID}])
    );
}

#[tokio::test]
async fn delete_removes_the_admins_privileges() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::DELETE,
            &users_path(&account, Some("6b2f3c4d-5e6f-4071-8283-a4b5c6d7e8f9"), ORG),
            None,
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(
        &last_request(&app, P),
        "DELETE",
        &format!("/api/v1/orgs/{ORG_ID}/admins/6b2f3c4d-5e6f-4071-8283-a4b5c6d7e8f9"),
    );
    assert!(app
        .emulator(P)
        .record("admins", "6b2f3c4d-5e6f-4071-8283-a4b5c6d7e8f9")
        .is_none());
}

#[tokio::test]
async fn deleting_an_unknown_admin_is_mists_detail_404() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(Method::DELETE, &users_path(&account, Some("nope"), ORG), None)
        .await;

    crate::common::assert_remote_error(&r, 404, &json!({"detail": "Not found."}));
}

#[tokio::test]
async fn an_admin_of_another_organization_is_a_404() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&users_path(&account, Some("9e5c6f70-8192-43a4-b5b6-d7e8f9a0b1c2"), ORG))
        .await;

    assert_error(&r, 404);
}

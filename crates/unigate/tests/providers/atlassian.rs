//! Atlassian: organizations get and list (JSON:API, cursor in `links.next`); directory
//! groups and their membership; the organization's audit log.

use reqwest::Method;
use serde_json::json;

use crate::common::{assert_remote_error, directory_path, get_org, group_member_ids, ids, request_lines, unified};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list, walk_records};

const ORG: &str = "0a8b1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d";

#[tokio::test]
async fn get_maps_an_atlassian_org_from_its_jsonapi_data() {
    let (app, account) = app_with_account("atlassian").await;

    let org = get_org(&app, &account, ORG).await;

    assert_eq!(org["id"], ORG);
    assert_eq!(org["name"], "Acme Software");
    assert_eq!(org["remote_data"]["type"], "orgs");
    for absent in ["pricing_plan", "licenses", "created_at", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "atlassian");
    assert_request(&sent, "GET", &format!("/admin/v1/orgs/{ORG}"));
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer ATCTT3xFfGN0sandbox0atlassian0admin0key0000001")
    );
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_atlassians_errors_array() {
    let (app, account) = app_with_account("atlassian").await;

    let r = app.get(&app.orgs_path(&account, Some("nope"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"errors": [{"id": "3b9a1f0e-2c4d-4e5f-8a6b-7c8d9e0f1a2d", "status": "404", "code": "NOT_FOUND",
            "title": "Not Found", "detail": "Resource nope was not found or the key has no access to it."}]}),
    );
}

#[tokio::test]
async fn list_follows_the_links_next_cursor() {
    let (app, account) = app_with_account("atlassian").await;
    for i in 0..20 {
        app.emulator("atlassian").insert_record(
            "orgs",
            json!({"id": format!("extra-{i:02}"), "type": "orgs", "attributes": {"name": format!("Extra {i}")}}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 5).await;

    assert_eq!(ids.len(), 22, "{ids:?}");
    assert_eq!(pages, 2, "Atlassian pages hold 20 organizations");
    assert_eq!(ids[0], ORG);
    assert!(app
        .emulator("atlassian")
        .requests()
        .iter()
        .any(|r| r.query.starts_with("cursor=")));
}

/// Users of the organization's directories (v2): get, list over `links.next` cursors,
/// removal, each scoped by `organization_id`.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use super::ORG as ORG_ID;
    use crate::common::{assert_remote_error, request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const P: &str = "atlassian";
    const BEARER: &str = "Bearer ATCTT3xFfGN0sandbox0atlassian0admin0key0000001";
    const ORG: &str = "&organization_id=0a8b1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d";

    #[tokio::test]
    async fn get_maps_the_directory_user() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, Some("5b10ac8d82e05b22cc7d4ef5"), ORG))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "5b10ac8d82e05b22cc7d4ef5", "name": "Mia Krystof", "username": "mia",
                "title": "Engineering Manager",
                "emails": [{"email": "mia.krystof@acme-software.example", "is_primary": true}],
                "is_email_verified": true, "status": "active", "user_type": "atlassian",
                "roles": [{"id": "atlassian/org-admin", "name": "atlassian/org-admin", "organization": ORG_ID}],
                "organizations": [{"id": ORG_ID}],
                "avatar": "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/5b10ac8d82e05b22cc7d4ef5/48",
                "identifiers": {"claim_status": "managed"},
                "created_at": "2019-04-02T09:15:00Z"
            })
        );
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "GET",
            &format!("/admin/v2/orgs/{ORG_ID}/directories/-/users/5b10ac8d82e05b22cc7d4ef5"),
        );
        assert_eq!(sent.header("authorization"), Some(BEARER));
    }

    #[tokio::test]
    async fn an_unknown_user_is_atlassians_404() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("nobody"), ORG)).await;

        assert_remote_error(
            &r,
            404,
            &json!({"errors": [{"id": "3b9a1f0e-2c4d-4e5f-8a6b-7c8d9e0f1a2d", "status": "404", "code": "NOT_FOUND",
                "title": "Not Found", "detail": "Resource nobody was not found or the key has no access to it."}]}),
        );
    }

    #[tokio::test]
    async fn list_follows_links_next_and_maps_statuses() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (users, pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

        let statuses: Vec<(&str, &str)> = users
            .iter()
            .map(|u| (u["name"].as_str().unwrap(), u["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            statuses,
            [
                ("Mia Krystof", "active"),
                ("Omar Haddad", "active"),
                ("Lena Vogt", "inactive"),
                ("Raj Patel", "active"),
                ("Ines Duarte", "inactive")
            ]
        );
        assert_eq!(users[3]["is_email_verified"], false);
        assert!(users[4].get("roles").is_none(), "{}", users[4]);
        assert_eq!(pages, 3);
        let sent = request_lines(&app, P);
        assert_eq!(sent.len(), 3);
        assert_eq!(
            sent[0],
            format!("GET /admin/v2/orgs/{ORG_ID}/directories/-/users?limit=2")
        );
        for line in &sent[1..] {
            assert!(
                line.starts_with(&format!("GET /admin/v2/orgs/{ORG_ID}/directories/-/users?"))
                    && line.contains("limit=2")
                    && line.contains("cursor="),
                "{line}"
            );
        }
    }

    #[tokio::test]
    async fn a_list_without_organization_id_is_a_400_naming_it() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app.get(&users_path(&account, None, "")).await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains("organization_id"), "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn delete_removes_the_user_from_the_directories() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::DELETE,
                &users_path(&account, Some("61a2b3c4d5e6f7a8b9c0d1e2"), ORG),
                None,
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "DELETE",
            &format!("/admin/v2/orgs/{ORG_ID}/directories/-/users/61a2b3c4d5e6f7a8b9c0d1e2"),
        );
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert!(app.emulator(P).record("users", "61a2b3c4d5e6f7a8b9c0d1e2").is_none());
    }

    #[tokio::test]
    async fn create_invites_the_primary_email_into_the_groups_given() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({
                    "emails": [{"email": "old@example.com"}, {"email": "sam.ortiz@acme-software.example", "is_primary": true}],
                    "groups": [{"id": "9a1b2c3d-0001-4e5f-8a6b-000000000001"}],
                    "remote_data": {"sendNotification": true}
                })),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(id.len(), 24, "{id}");
        assert_eq!(
            unified(&r.body),
            json!({
                "id": id,
                "emails": [{"email": "sam.ortiz@acme-software.example", "is_primary": true}],
                "status": "invited",
                "groups": [{"id": "9a1b2c3d-0001-4e5f-8a6b-000000000001", "organization": ORG_ID}],
                "organizations": [{"id": ORG_ID}]
            })
        );
        assert_eq!(
            r.body["remote_data"]["results"],
            json!([{"roleAssignmentResult": [], "groupAssignmentResult": []}])
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", &format!("/admin/v2/orgs/{ORG_ID}/users/invite"));
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert_eq!(
            sent.json.unwrap(),
            json!({
                "emails": ["sam.ortiz@acme-software.example"],
                "additionalGroups": ["9a1b2c3d-0001-4e5f-8a6b-000000000001"],
                "sendNotification": true
            })
        );
        let listed = app.get(&users_path(&account, Some(&id), ORG)).await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        assert_eq!(listed.body["emails"][0]["email"], "sam.ortiz@acme-software.example");
    }

    #[tokio::test]
    async fn a_create_with_a_name_is_refused_and_an_invite_without_email_is_atlassians_error() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let named = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"name": "Sam Ortiz", "emails": [{"email": "sam@example.com"}]})),
            )
            .await;
        let no_email = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"remote_data": {"emails": []}})),
            )
            .await;

        assert_eq!(named.status, 422, "{}", named.text);
        assert!(named.text.contains("name"), "{}", named.text);
        assert_eq!(no_email.status, 422, "{}", no_email.text);
        assert_eq!(no_email.body["truto_is_remote_error"], true, "{}", no_email.text);
        assert_eq!(
            no_email.body["raw_response"]["errors"][0]["title"], "Unprocessable Entity",
            "{}",
            no_email.text
        );
        assert_eq!(
            request_lines(&app, P),
            [format!("POST /admin/v2/orgs/{ORG_ID}/users/invite")]
        );
    }
}

const P: &str = "atlassian";
const BEARER: &str = "Bearer ATCTT3xFfGN0sandbox0atlassian0admin0key0000001";
const SCOPE: &str = "&organization_id=0a8b1c2d-3e4f-5a6b-7c8d-9e0f1a2b3c4d";
const ENGINEERING: &str = "9a1b2c3d-0001-4e5f-8a6b-000000000001";
const JIRA_USERS: &str = "9a1b2c3d-0002-4e5f-8a6b-000000000002";
const OMAR: &str = "5b10a2844c20165700ede21g";
const LENA: &str = "60f1c2d3e4a5b6c7d8e9f0a1";

fn dir_path(resource: &str, account: &str, id: Option<&str>) -> String {
    directory_path(resource, account, id, SCOPE)
}

#[tokio::test]
async fn a_directory_group_is_got_by_id() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("groups", &account, Some(ENGINEERING))).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": ENGINEERING, "name": "engineering", "description": "Everyone who ships code",
               "organization": ORG, "group_type": "group"})
    );
    assert_eq!(r.body["remote_data"]["managedBy"], "admins");
    let sent = last_request(&app, P);
    assert_request(
        &sent,
        "GET",
        &format!("/admin/v2/orgs/{ORG}/directories/-/groups/{ENGINEERING}"),
    );
    assert_eq!(sent.header("authorization"), Some(BEARER));
}

#[tokio::test]
async fn the_groups_list_follows_links_next_within_one_organization() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (groups, pages) = walk_records(&app, &dir_path("groups", &account, None), 2).await;

    assert_eq!(
        ids(&groups),
        [ENGINEERING, JIRA_USERS, "9a1b2c3d-0003-4e5f-8a6b-000000000003"],
        "Acme's groups only"
    );
    assert_eq!(pages, 2);
    assert_eq!(
        unified(&groups[2]),
        json!({"id": "9a1b2c3d-0003-4e5f-8a6b-000000000003", "name": "design", "organization": ORG, "group_type": "group"})
    );
    let lines = request_lines(&app, P);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        lines[0],
        format!("GET /admin/v2/orgs/{ORG}/directories/-/groups?limit=2")
    );
    assert!(
        lines[1].starts_with(&format!(
            "GET /admin/v2/orgs/{ORG}/directories/-/groups?limit=2&cursor="
        )),
        "{lines:?}"
    );
}

#[tokio::test]
async fn deleting_a_group_deletes_it_in_the_directory() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(Method::DELETE, &dir_path("groups", &account, Some(ENGINEERING)), None)
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(
        &sent,
        "DELETE",
        &format!("/admin/v2/orgs/{ORG}/directories/-/groups/{ENGINEERING}"),
    );
    assert!(sent.body.is_empty(), "{}", sent.body_text());
    assert!(app.emulator(P).record("groups", ENGINEERING).is_none());
}

#[tokio::test]
async fn an_unknown_group_is_atlassians_404() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("groups", &account, Some("nope"))).await;

    assert_remote_error(
        &r,
        404,
        &json!({"errors": [{"id": "3b9a1f0e-2c4d-4e5f-8a6b-7c8d9e0f1a2d", "status": "404", "code": "NOT_FOUND",
            "title": "Not Found", "detail": "Resource nope was not found or the key has no access to it."}]}),
    );
}

#[tokio::test]
async fn add_user_and_remove_user_change_the_groups_users_list() {
    let (app, account) = app_with_account(P).await;

    assert_eq!(group_member_ids(&app, &account, JIRA_USERS, SCOPE).await, [OMAR]);
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", &format!("/admin/v2/orgs/{ORG}/directories/-/users"));
    assert_eq!(sent.query, format!("groupIds={JIRA_USERS}"));

    let r = app
        .send(
            Method::POST,
            &dir_path("groups/add-user", &account, None),
            Some(json!({"group_id": JIRA_USERS, "user_id": LENA})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"group_id": JIRA_USERS, "user_id": LENA}));
    let sent = last_request(&app, P);
    assert_request(
        &sent,
        "POST",
        &format!("/admin/v2/orgs/{ORG}/directories/-/groups/{JIRA_USERS}/memberships"),
    );
    assert_eq!(sent.header("authorization"), Some(BEARER));
    assert_eq!(sent.json.unwrap(), json!({"accountId": LENA}));
    assert_eq!(group_member_ids(&app, &account, JIRA_USERS, SCOPE).await, [OMAR, LENA]);

    let r = app
        .send(
            Method::POST,
            &dir_path("groups/remove-user", &account, None),
            Some(json!({"group_id": JIRA_USERS, "user_id": OMAR})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"group_id": JIRA_USERS, "user_id": OMAR}));
    let sent = last_request(&app, P);
    assert_request(
        &sent,
        "DELETE",
        &format!("/admin/v2/orgs/{ORG}/directories/-/groups/{JIRA_USERS}/memberships/{OMAR}"),
    );
    assert!(sent.body.is_empty(), "no body: {}", sent.body_text());
    assert_eq!(group_member_ids(&app, &account, JIRA_USERS, SCOPE).await, [LENA]);
}

#[tokio::test]
async fn a_group_member_list_maps_users_like_the_users_list() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&crate::common::users_path(
            &account,
            None,
            &format!("{SCOPE}&group_id={ENGINEERING}"),
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body["result"][1]),
        json!({
            "id": OMAR, "name": "Omar Haddad", "username": "omar", "title": "Software Engineer",
            "emails": [{"email": "omar.haddad@acme-software.example", "is_primary": true}],
            "is_email_verified": true, "status": "active", "user_type": "atlassian",
            "roles": [{"id": "atlassian/user", "name": "atlassian/user", "organization": ORG}],
            "organizations": [{"id": ORG}],
            "avatar": "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/5b10a2844c20165700ede21g/48",
            "identifiers": {"claim_status": "managed"},
            "created_at": "2020-08-17T13:40:00Z"
        })
    );
}

#[tokio::test]
async fn adding_an_account_that_is_no_user_is_atlassians_404() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &dir_path("groups/add-user", &account, None),
            Some(json!({"group_id": JIRA_USERS, "user_id": "nobody"})),
        )
        .await;

    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    assert_eq!(r.body["raw_response"]["errors"][0]["code"], "NOT_FOUND", "{}", r.text);
}

#[tokio::test]
async fn the_audit_log_walks_meta_next_cursors_of_one_organization() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (events, pages) = walk_records(&app, &dir_path("activities", &account, None), 2).await;

    assert_eq!(
        ids(&events),
        [
            "b1c2d3e4-0005-4f00-9a00-000000000005",
            "b1c2d3e4-0004-4f00-9a00-000000000004",
            "b1c2d3e4-0003-4f00-9a00-000000000003",
            "b1c2d3e4-0002-4f00-9a00-000000000002"
        ]
    );
    assert_eq!(pages, 2);
    assert_eq!(
        unified(&events[0]),
        json!({
            "id": "b1c2d3e4-0005-4f00-9a00-000000000005",
            "actor": {"id": "5b10ac8d82e05b22cc7d4ef5", "name": "Mia Krystof",
                      "email": "mia.krystof@acme-software.example", "type": "user"},
            "organization": {"id": ORG},
            "group": {"id": JIRA_USERS, "name": "jira-software-users"},
            "description": "Mia Krystof user_added_to_group Omar Haddad",
            "action": "user_added_to_group",
            "entity": {"id": OMAR, "name": "Omar Haddad"},
            "entity_type": "users",
            "context": {
                "ip_address": "203.0.113.24", "location": "Berlin, Berlin, Germany",
                "containers": [{"id": ORG, "type": "orgs", "name": "Acme Software"}]
            },
            "created_at": "2024-05-21T14:03:27.512Z"
        })
    );
    assert_eq!(
        unified(&events[2]),
        json!({
            "id": "b1c2d3e4-0003-4f00-9a00-000000000003",
            "actor": {"id": "557058:f5b1c2d3-user-sync", "name": "Okta SCIM", "type": "app"},
            "organization": {"id": ORG},
            "group": {"id": "9a1b2c3d-0003-4e5f-8a6b-000000000003", "name": "design"},
            "description": "Okta SCIM group_created design",
            "action": "group_created",
            "entity": {"id": "9a1b2c3d-0003-4e5f-8a6b-000000000003", "name": "design"},
            "entity_type": "groups",
            "created_at": "2024-05-02T17:22:09.000Z"
        })
    );
    let lines = request_lines(&app, P);
    assert_eq!(lines[0], format!("GET /admin/v1/orgs/{ORG}/events?limit=2"));
    assert!(
        lines[1].starts_with(&format!("GET /admin/v1/orgs/{ORG}/events?limit=2&cursor=")),
        "{lines:?}"
    );
    assert_eq!(last_request(&app, P).header("authorization"), Some(BEARER));
}

#[tokio::test]
async fn created_at_filters_are_sent_as_from_and_to_milliseconds() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&format!(
            "{}&created_at[gt]=2024-05-02T17:22:09Z&created_at[lte]=2024-05-20",
            dir_path("activities", &account, None)
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        ids(r.body["result"].as_array().unwrap()),
        ["b1c2d3e4-0004-4f00-9a00-000000000004"],
        "the exact bounds are kept by Unigate"
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", &format!("/admin/v1/orgs/{ORG}/events"));
    assert_eq!(sent.query, "from=1714670529000&to=1716163200000");
}

#[tokio::test]
async fn the_audit_log_without_organization_id_is_a_400_naming_it() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = app.get(&directory_path("activities", &account, None, "")).await;

    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("organization_id"), "{}", r.text);
    assert!(request_lines(&app, P).is_empty());
}

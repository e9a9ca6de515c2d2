//! GitHub: organization members as users (list over `Link` pages, get of the membership,
//! invitation, role change, removal), each scoped by `organization_id`, and GitHub's errors.

use reqwest::Method;
use serde_json::json;

use crate::common::{
    assert_remote_error, directory_path, ids, last_with_method, me, query_pairs, request_lines, unified, users_path,
};
use crate::helpers::{app_with_account, assert_request, last_request, result_ids, walk_records};

const P: &str = "github";
const BEARER: &str = "Bearer ghp_SandboxToken0000000000000000000001";
const ORG: &str = "&organization_id=octo-org";

fn user_path(account: &str, id: &str) -> String {
    users_path(account, Some(id), ORG)
}

#[tokio::test]
async fn get_maps_the_membership_and_its_user() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&user_path(&account, "octocat")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({
            "id": "octocat", "username": "octocat", "name": "The Octocat",
            "emails": [{"email": "octocat@github.com", "is_primary": true}],
            "status": "active", "user_type": "User",
            "roles": [{"id": "admin", "name": "admin", "organization": "octo-org"}],
            "organizations": [{"id": "octo-org"}],
            "avatar": "https://avatars.githubusercontent.com/u/583231?v=4",
            "identifiers": {"id": "583231", "node_id": "MDQ6VXNlcjU4MzIzMQ=="}
        })
    );
    assert_eq!(r.body["remote_data"]["state"], "active");
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/orgs/octo-org/memberships/octocat");
    assert_eq!(sent.query, "");
    assert_eq!(sent.header("authorization"), Some(BEARER));
    assert_eq!(sent.header("x-github-api-version"), Some("2022-11-28"));
}

#[tokio::test]
async fn a_pending_membership_is_invited() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&user_path(&account, "sam-newhire")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (&r.body["status"], &r.body["roles"]),
        (
            &json!("invited"),
            &json!([{"id": "member", "name": "member", "organization": "octo-org"}])
        )
    );
    assert!(r.body.get("emails").is_none(), "{}", r.text);
}

#[tokio::test]
async fn list_walks_the_members_over_link_pages() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (users, pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

    let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "octocat",
            "hubot",
            "mona-lisa",
            "defunkt",
            "priya-dev",
            "octo-deploy-bot"
        ],
        "active members of octo-org only"
    );
    assert_eq!(pages, 3);
    assert_eq!(
        unified(&users[5]),
        json!({
            "id": "octo-deploy-bot", "username": "octo-deploy-bot", "status": "active", "user_type": "Bot",
            "avatar": "https://avatars.githubusercontent.com/u/91827364?v=4",
            "organizations": [{"id": "octo-org"}],
            "identifiers": {"id": "91827364", "node_id": "BOT_kgDOBXk2dA"}
        })
    );
    assert!(users[0]["remote_data"].get("role").is_none());
    assert_eq!(
        request_lines(&app, P),
        [
            "GET /orgs/octo-org/members?per_page=2",
            "GET /orgs/octo-org/members?per_page=2&page=2",
            "GET /orgs/octo-org/members?per_page=2&page=3"
        ]
    );
    assert_eq!(last_request(&app, P).header("authorization"), Some(BEARER));
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
async fn create_invites_the_primary_email() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &users_path(&account, None, ORG),
            Some(
                json!({"emails": [{"email": "new.dev@octo.example.com", "is_primary": true}],
                        "roles": [{"name": "member"}]}),
            ),
        )
        .await;

    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_with_method(&app, P, "POST");
    assert_request(&sent, "POST", "/orgs/octo-org/invitations");
    assert_eq!(sent.header("authorization"), Some(BEARER));
    assert_eq!(
        sent.json.unwrap(),
        json!({"email": "new.dev@octo.example.com", "role": "direct_member"})
    );
    let invitation = &r.body["remote_data"];
    let id = invitation["id"].to_string();
    assert_eq!(
        unified(&r.body),
        json!({
            "id": id, "emails": [{"email": "new.dev@octo.example.com", "is_primary": true}],
            "status": "invited",
            "roles": [{"id": "direct_member", "name": "direct_member", "organization": "octo-org"}],
            "organizations": [{"id": "octo-org"}],
            "identifiers": {"invitation_id": id, "node_id": "OI_kwDOBn0UiM4A5bWs"},
            "created_at": invitation["created_at"]
        })
    );
}

#[tokio::test]
async fn a_username_cannot_be_invited_and_nothing_is_sent() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = app
        .send(
            Method::POST,
            &users_path(&account, None, ORG),
            Some(json!({"username": "someone"})),
        )
        .await;

    assert_eq!(r.status, 422, "{}", r.text);
    assert!(request_lines(&app, P).is_empty());
}

#[tokio::test]
async fn update_changes_the_membership_role() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &user_path(&account, "hubot"),
            Some(json!({"roles": [{"id": "admin"}]})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_with_method(&app, P, "PUT");
    assert_request(&sent, "PUT", "/orgs/octo-org/memberships/hubot");
    assert_eq!(sent.header("authorization"), Some(BEARER));
    assert_eq!(sent.json.unwrap(), json!({"role": "admin"}));
    assert_eq!(
        r.body["roles"],
        json!([{"id": "admin", "name": "admin", "organization": "octo-org"}])
    );
    assert_eq!(r.body["status"], "active");
}

#[tokio::test]
async fn a_role_github_does_not_have_is_githubs_validation_error() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &user_path(&account, "hubot"),
            Some(json!({"roles": [{"id": "owner"}]})),
        )
        .await;

    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    assert_eq!(r.body["raw_response"]["message"], "Validation Failed", "{}", r.text);
}

#[tokio::test]
async fn delete_removes_the_membership() {
    let (app, account) = app_with_account(P).await;

    let r = app.send(Method::DELETE, &user_path(&account, "mona-lisa"), None).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"id": "mona-lisa"}));
    let sent = last_request(&app, P);
    assert_request(&sent, "DELETE", "/orgs/octo-org/memberships/mona-lisa");
    assert_eq!(sent.header("authorization"), Some(BEARER));
    assert!(app.emulator(P).record("members", "mona-lisa").is_none());
}

#[tokio::test]
async fn an_unknown_member_is_githubs_404() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&user_path(&account, "no-such-user")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
    );
}

/// `/unified/user-directory/{resource}[/{id}]?integrated_account_id=...&organization_id=octo-org`.
fn dir_path(resource: &str, account: &str, id: Option<&str>) -> String {
    directory_path(resource, account, id, ORG)
}

#[tokio::test]
async fn a_team_is_a_group_addressed_by_its_slug() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("groups", &account, Some("platform"))).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({
            "id": "platform", "name": "Platform",
            "description": "Runs the build and deploy platform",
            "organization": "octo-org", "group_type": "team",
            "created_at": "2019-04-02T08:30:00Z", "updated_at": "2024-02-19T10:05:00Z"
        })
    );
    assert_eq!(r.body["remote_data"]["id"], 2);
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/orgs/octo-org/teams/platform");
    assert_eq!(sent.header("authorization"), Some(BEARER));
}

#[tokio::test]
async fn the_teams_list_walks_link_pages_of_one_organization() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (teams, pages) = walk_records(&app, &dir_path("groups", &account, None), 2).await;

    assert_eq!(
        ids(&teams),
        ["platform", "design-systems", "security", "release-managers"],
        "the teams of octo-org only"
    );
    assert_eq!(pages, 2);
    assert_eq!(
        unified(&teams[1]),
        json!({"id": "design-systems", "name": "Design Systems", "organization": "octo-org", "group_type": "team"}),
        "a list item has no dates and a null description is left out"
    );
    assert_eq!(
        request_lines(&app, P),
        [
            "GET /orgs/octo-org/teams?per_page=2",
            "GET /orgs/octo-org/teams?per_page=2&page=2"
        ]
    );
}

#[tokio::test]
async fn a_teams_list_without_organization_id_is_a_400_naming_it() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = app
        .get(&format!(
            "/unified/user-directory/groups?integrated_account_id={account}"
        ))
        .await;

    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("organization_id"), "{}", r.text);
    assert!(request_lines(&app, P).is_empty());
}

#[tokio::test]
async fn team_writes_post_patch_and_delete_by_slug() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &dir_path("groups", &account, None),
            Some(json!({"name": "support", "description": "Tier 1 and 2"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "POST", "/orgs/octo-org/teams");
    assert_eq!(
        sent.json.unwrap(),
        json!({"name": "support", "description": "Tier 1 and 2"})
    );
    let created = &r.body["remote_data"]["created_at"];
    assert_eq!(
        unified(&r.body),
        json!({
            "id": "support", "name": "support", "description": "Tier 1 and 2",
            "organization": "octo-org", "group_type": "team",
            "created_at": created, "updated_at": r.body["remote_data"]["updated_at"]
        })
    );
    assert_eq!(r.body["remote_data"]["id"], 6);

    let r = app
        .send(
            Method::PATCH,
            &dir_path("groups", &account, Some("support")),
            Some(json!({"description": "Every support tier"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "PATCH", "/orgs/octo-org/teams/support");
    assert_eq!(sent.json.unwrap(), json!({"description": "Every support tier"}));
    assert_eq!(
        (&r.body["id"], &r.body["name"], &r.body["description"]),
        (&json!("support"), &json!("support"), &json!("Every support tier"))
    );

    let r = app
        .send(Method::DELETE, &dir_path("groups", &account, Some("support")), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "DELETE", "/orgs/octo-org/teams/support");
    assert!(sent.body.is_empty(), "{}", sent.body_text());
    assert!(app.emulator(P).record("teams", "support").is_none());
}

#[tokio::test]
async fn a_team_without_a_name_is_githubs_validation_error() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &dir_path("groups", &account, None),
            Some(json!({"description": "No name"})),
        )
        .await;

    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    assert_eq!(r.body["raw_response"]["message"], "Validation Failed", "{}", r.text);
}

#[tokio::test]
async fn an_unknown_team_is_githubs_404() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("groups", &account, Some("no-such-team"))).await;

    assert_remote_error(
        &r,
        404,
        &json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
    );
}

/// The unified users list with `group_id` (a team slug).
async fn team_members(app: &crate::helpers::TestApp, account: &str, team: &str) -> Vec<serde_json::Value> {
    let r = app
        .get(&users_path(account, None, &format!("{ORG}&group_id={team}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["result"].as_array().unwrap().clone()
}

#[tokio::test]
async fn add_user_and_remove_user_change_the_team_members_list() {
    let (app, account) = app_with_account(P).await;

    let before = team_members(&app, &account, "platform").await;
    assert_eq!(ids(&before), ["octocat", "hubot"]);
    assert_eq!(
        unified(&before[1]),
        json!({
            "id": "hubot", "username": "hubot", "status": "active", "user_type": "User",
            "avatar": "https://avatars.githubusercontent.com/u/480938?v=4",
            "organizations": [{"id": "octo-org"}],
            "identifiers": {"id": "480938", "node_id": "MDQ6VXNlcjQ4MDkzOA=="}
        })
    );
    assert_request(&last_request(&app, P), "GET", "/orgs/octo-org/teams/platform/members");

    let add = dir_path("groups/add-user", &account, None);
    let r = app
        .send(
            Method::POST,
            &add,
            Some(json!({"group_id": "platform", "user_id": "mona-lisa"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"group_id": "platform", "user_id": "mona-lisa"})
    );
    assert_eq!(r.body["remote_data"]["state"], "active", "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "PUT", "/orgs/octo-org/teams/platform/memberships/mona-lisa");
    assert_eq!(sent.json.unwrap(), json!({"role": "member"}));
    assert_eq!(
        ids(&team_members(&app, &account, "platform").await),
        ["octocat", "hubot", "mona-lisa"]
    );

    let remove = dir_path("groups/remove-user", &account, None);
    let r = app
        .send(
            Method::POST,
            &remove,
            Some(json!({"group_id": "platform", "user_id": "octocat"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"group_id": "platform", "user_id": "octocat"}));
    let sent = last_request(&app, P);
    assert_request(&sent, "DELETE", "/orgs/octo-org/teams/platform/memberships/octocat");
    assert!(sent.body.is_empty(), "no body: {}", sent.body_text());
    assert_eq!(
        ids(&team_members(&app, &account, "platform").await),
        ["hubot", "mona-lisa"]
    );
    // Still a member of the organization.
    assert!(app.emulator(P).record("members", "octocat").is_some());
}

#[tokio::test]
async fn adding_a_login_that_is_no_member_is_githubs_404() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &dir_path("groups/add-user", &account, None),
            Some(json!({"group_id": "platform", "user_id": "no-such-user"})),
        )
        .await;

    assert_remote_error(
        &r,
        404,
        &json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
    );
}

#[tokio::test]
async fn me_is_the_user_the_token_belongs_to() {
    let (app, account) = app_with_account(P).await;

    let me = me(&app, &account, "").await;

    assert_eq!(
        unified(&me),
        json!({"id": "octocat", "name": "The Octocat", "email": "octocat@github.com"})
    );
    assert_eq!(me["remote_data"]["id"], 583231);
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/user");
    assert_eq!(sent.header("authorization"), Some(BEARER));
}

#[tokio::test]
async fn the_audit_log_walks_after_cursor_pages_of_one_organization() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (events, pages) = walk_records(&app, &dir_path("activities", &account, None), 2).await;

    assert_eq!(
        ids(&events),
        [
            "pJ5Vq2GZRn6m0kqS1cYV3w",
            "Qm9lT0dBLXVwZGF0ZS0x",
            "cmVwby5jcmVhdGUtMTcxNQ",
            "aW52aXRlLXNhbS1uZXdoaXJl",
            "dGVhbS5jcmVhdGUtcmVsZWFz"
        ],
        "octo-org's events, newest first"
    );
    assert_eq!(pages, 3);
    assert_eq!(
        unified(&events[0]),
        json!({
            "id": "pJ5Vq2GZRn6m0kqS1cYV3w",
            "actor": {"id": "583231", "name": "octocat", "type": "user"},
            "organization": {"id": "octo-org", "name": "octo-org"},
            "group": {"id": "platform", "name": "octo-org/platform"},
            "description": "octocat team.add_member hubot",
            "action": "team.add_member",
            "entity": {"id": "hubot", "name": "hubot"},
            "entity_type": "user",
            "context": {"country": "Germany", "operation_type": "create"},
            "created_at": "2024-05-20T09:15:42Z"
        })
    );
    assert_eq!(
        unified(&events[2]),
        json!({
            "id": "cmVwby5jcmVhdGUtMTcxNQ",
            "actor": {"id": "583231", "name": "octocat", "type": "user"},
            "organization": {"id": "octo-org", "name": "octo-org"},
            "description": "octocat repo.create octo-org/release-tools",
            "action": "repo.create",
            "entity": {"id": "octo-org/release-tools", "name": "octo-org/release-tools"},
            "entity_type": "repository",
            "context": {"country": "Germany", "operation_type": "create", "visibility": "private"},
            "created_at": "2024-05-17T13:20:11Z"
        })
    );
    assert_eq!(
        request_lines(&app, P),
        [
            "GET /orgs/octo-org/audit-log?per_page=2",
            "GET /orgs/octo-org/audit-log?per_page=2&after=Qm9lT0dBLXVwZGF0ZS0x",
            "GET /orgs/octo-org/audit-log?per_page=2&after=aW52aXRlLXNhbS1uZXdoaXJl"
        ]
    );
    assert_eq!(last_request(&app, P).header("authorization"), Some(BEARER));
}

#[tokio::test]
async fn created_at_filters_become_a_created_phrase_of_whole_days() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&format!(
            "{}&created_at[gte]=2024-05-02T12:00:00Z&created_at[lt]=2024-05-19",
            dir_path("activities", &account, None)
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let events = r.body["result"].as_array().unwrap();
    assert_eq!(
        ids(events),
        ["Qm9lT0dBLXVwZGF0ZS0x", "cmVwby5jcmVhdGUtMTcxNQ"],
        "the exact bounds are kept by Unigate"
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/orgs/octo-org/audit-log");
    assert_eq!(
        query_pairs(&sent),
        [("phrase".to_string(), "created:2024-05-02..2024-05-19".to_string())]
    );
}

#[tokio::test]
async fn organization_roles_list_and_get() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("roles", &account, None)).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(result_ids(&r), ["8132", "8136", "138"], "predefined and custom roles");
    assert_request(&last_request(&app, P), "GET", "/orgs/octo-org/organization-roles");

    let r = app.get(&dir_path("roles", &account, Some("138"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({
            "id": "138", "name": "Audit Reader", "label": "Audit Reader", "type": "custom",
            "created_at": "2024-02-12T09:00:00Z", "updated_at": "2024-03-04T17:45:10Z"
        })
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/orgs/octo-org/organization-roles/138");
    assert_eq!(sent.header("authorization"), Some(BEARER));

    let r = app.get(&dir_path("roles", &account, Some("8132"))).await;
    assert_eq!(
        unified(&r.body),
        json!({
            "id": "8132", "name": "all_repo_read", "label": "all_repo_read",
            "description": "Grants read access to all repositories in the organization.",
            "type": "built-in",
            "created_at": "2023-11-21T15:05:22Z", "updated_at": "2023-11-21T15:05:22Z"
        })
    );
}

#[tokio::test]
async fn an_unknown_role_is_githubs_404() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("roles", &account, Some("999"))).await;

    assert_remote_error(
        &r,
        404,
        &json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
    );
}

/// The role assignments of one organization role.
fn assignments_path(account: &str, role: &str, id: Option<&str>) -> String {
    format!("{}&role_id={role}", dir_path("role_assignments", account, id))
}

#[tokio::test]
async fn role_assignments_list_walks_the_roles_users_over_link_pages() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (assignments, pages) = walk_records(&app, &assignments_path(&account, "8132", None), 2).await;

    assert_eq!(pages, 2);
    assert_eq!(
        assignments.iter().map(unified).collect::<Vec<_>>(),
        [
            json!({"id": "octocat", "user_id": "octocat", "role_id": "8132"}),
            json!({"id": "hubot", "user_id": "hubot", "role_id": "8132", "group_id": "platform", "group_type": "team"}),
            json!({"id": "mona-lisa", "user_id": "mona-lisa", "role_id": "8132"})
        ]
    );
    assert_eq!(
        request_lines(&app, P),
        [
            "GET /orgs/octo-org/organization-roles/8132/users?per_page=2",
            "GET /orgs/octo-org/organization-roles/8132/users?per_page=2&page=2"
        ]
    );
}

#[tokio::test]
async fn a_role_assignment_is_got_from_the_roles_users() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&assignments_path(&account, "138", Some("defunkt"))).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "defunkt", "user_id": "defunkt", "role_id": "138"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/orgs/octo-org/organization-roles/138/users");
    assert_eq!(sent.query, "per_page=100");

    let r = app.get(&assignments_path(&account, "138", Some("hubot"))).await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn assigning_and_revoking_a_role_put_and_delete_it_by_login() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &dir_path("role_assignments", &account, None),
            Some(json!({"user_id": "priya-dev", "role_id": "138"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "priya-dev", "user_id": "priya-dev", "role_id": "138"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "PUT", "/orgs/octo-org/organization-roles/users/priya-dev/138");
    assert!(sent.body.is_empty(), "no body: {}", sent.body_text());
    assert_eq!(sent.header("authorization"), Some(BEARER));
    let holders = app.get(&assignments_path(&account, "138", None)).await;
    assert_eq!(result_ids(&holders), ["defunkt", "priya-dev"]);

    let r = app
        .send(
            Method::DELETE,
            &assignments_path(&account, "138", Some("defunkt")),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "DELETE", "/orgs/octo-org/organization-roles/users/defunkt/138");
    let holders = app.get(&assignments_path(&account, "138", None)).await;
    assert_eq!(result_ids(&holders), ["priya-dev"]);
}

#[tokio::test]
async fn assigning_a_role_to_a_login_that_is_no_member_is_githubs_404() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &dir_path("role_assignments", &account, None),
            Some(json!({"user_id": "no-such-user", "role_id": "138"})),
        )
        .await;

    assert_remote_error(
        &r,
        404,
        &json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
    );
}

#[tokio::test]
async fn licenses_are_the_organizations_plan_seats() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("licenses", &account, None)).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(
        result.iter().map(unified).collect::<Vec<_>>(),
        [json!({"id": "team", "name": "team", "available_quantity": 50, "assigned_quantity": 42, "is_paid": true})]
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/orgs/octo-org");
    assert_eq!(sent.header("authorization"), Some(BEARER));

    let r = app
        .get(&directory_path(
            "licenses",
            &account,
            None,
            "&organization_id=acme-robotics",
        ))
        .await;
    assert_eq!(
        unified(&r.body["result"][0]),
        json!({"id": "free", "name": "free", "available_quantity": 0, "assigned_quantity": 3, "is_paid": false})
    );
}

#[tokio::test]
async fn the_licenses_of_an_unknown_organization_are_githubs_404() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&directory_path(
            "licenses",
            &account,
            None,
            "&organization_id=no-such-org",
        ))
        .await;

    assert_remote_error(
        &r,
        404,
        &json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
    );
}

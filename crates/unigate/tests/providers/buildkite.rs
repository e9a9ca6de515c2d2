//! Buildkite: get by slug, list with a Link header.

use serde_json::json;

use crate::common::{assert_remote_error, get_org};
use crate::helpers::{app_with_account, assert_request, last_request, spawn_app, walk_list};

#[tokio::test]
async fn get_uses_the_slug_as_the_unified_id() {
    let (app, account) = app_with_account("buildkite").await;

    let org = get_org(&app, &account, "acme-inc").await;

    assert_eq!(org["id"], "acme-inc");
    assert_eq!(org["name"], "ACME Inc");
    assert_eq!(org["created_at"], "2015-05-09T21:05:59.874Z");
    assert_eq!(org["remote_data"]["id"], "0185d4a2-6b1c-4f0e-9a3d-7e2b8c9d0f11");
    for absent in ["pricing_plan", "licenses", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "buildkite");
    assert_request(&sent, "GET", "/v2/organizations/acme-inc");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer bkua_sandbox0000000000000000000000000000001")
    );
}

#[tokio::test]
async fn bad_credentials_are_a_401_with_buildkites_message() {
    let app = spawn_app().await;
    let account = app.connect_with("buildkite", json!({"api_token": "bkua_wrong"})).await;

    let r = app.get(&app.orgs_path(&account, Some("acme-inc"), "")).await;

    assert_remote_error(
        &r,
        401,
        &json!({"message": "Authentication required. Please supply a valid API Access Token."}),
    );
}

#[tokio::test]
async fn list_follows_the_link_header() {
    let (app, account) = app_with_account("buildkite").await;
    for i in 0..3 {
        app.emulator("buildkite").insert_record(
            "organizations",
            json!({"id": format!("uuid-{i}"), "slug": format!("extra-{i}"), "name": format!("Extra {i}"),
                   "created_at": "2020-01-01T00:00:00.000Z"}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["acme-inc", "globex", "extra-0", "extra-1", "extra-2"]);
    assert_eq!(pages, 3);
    assert!(last_request(&app, "buildkite").query.contains("page=3"));
}

/// Organization members as users: list over `Link` pages, get, invitation, role change,
/// removal, each scoped by `organization_id` (the slug).
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{assert_remote_error, last_with_method, request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const P: &str = "buildkite";
    const BEARER: &str = "Bearer bkua_sandbox0000000000000000000000000000001";
    const ORG: &str = "&organization_id=acme-inc";
    const HUCK: &str = "0185dbbf-8447-4f72-ac7e-4ea3c2ec8381";

    #[tokio::test]
    async fn get_maps_the_member() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some(HUCK), ORG)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": HUCK, "name": "Huck Finn",
                "emails": [{"email": "huck@example.com", "is_primary": true}],
                "status": "active", "user_type": "user",
                "roles": [{"id": "member", "name": "member", "organization": "acme-inc"}],
                "organizations": [{"id": "acme-inc"}]
            })
        );
        assert_eq!(
            r.body["remote_data"],
            json!({"id": HUCK, "name": "Huck Finn", "email": "huck@example.com", "role": "member", "sso_mode": "required"})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/v2/organizations/acme-inc/members/{HUCK}"));
        assert_eq!(sent.header("authorization"), Some(BEARER));
    }

    #[tokio::test]
    async fn an_unknown_member_is_buildkites_404() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("no-such-uuid"), ORG)).await;

        assert_remote_error(&r, 404, &json!({"message": "No organization found"}));
    }

    #[tokio::test]
    async fn list_walks_link_pages_of_one_organization() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (users, pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

        let names: Vec<&str> = users.iter().map(|u| u["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["Scout Finch", "Huck Finn", "Atticus Finch", "Jem Finch", "Boo Radley"]
        );
        let types: Vec<&str> = users.iter().map(|u| u["user_type"].as_str().unwrap()).collect();
        assert_eq!(types, ["admin", "user", "admin", "user", "user"]);
        assert_eq!(pages, 3);
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /v2/organizations/acme-inc/members?per_page=2",
                "GET /v2/organizations/acme-inc/members?per_page=2&page=2",
                "GET /v2/organizations/acme-inc/members?per_page=2&page=3"
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
    async fn create_sends_an_invitation() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(
                    json!({"emails": [{"email": "scout.jr@example.com", "is_primary": true}],
                            "remote_data": {"sso_mode": "optional"}}),
                ),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/v2/organizations/acme-inc/invitations");
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert_eq!(
            sent.json.unwrap(),
            json!({"emails": ["scout.jr@example.com"], "role": "member", "sso_mode": "optional"})
        );
        let invitation = &r.body["remote_data"];
        assert_eq!(invitation["state"], "pending");
        assert_eq!(
            unified(&r.body),
            json!({
                "id": invitation["id"],
                "emails": [{"email": "scout.jr@example.com", "is_primary": true}],
                "status": "invited", "user_type": "user",
                "roles": [{"id": "member", "name": "member", "organization": "acme-inc"}],
                "organizations": [{"id": "acme-inc"}],
                "identifiers": {"invitation_id": invitation["id"], "graphql_id": invitation["graphql_id"]},
                "created_at": invitation["created_at"]
            })
        );
    }

    #[tokio::test]
    async fn update_patches_the_role() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some(HUCK), ORG),
                Some(json!({"roles": [{"name": "admin"}]})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, P, "PATCH");
        assert_request(&sent, "PATCH", &format!("/v2/organizations/acme-inc/members/{HUCK}"));
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert_eq!(sent.json.unwrap(), json!({"role": "admin"}));
        assert_eq!(
            (&r.body["user_type"], &r.body["roles"][0]["id"]),
            (&json!("admin"), &json!("admin"))
        );
    }

    #[tokio::test]
    async fn an_unknown_role_is_buildkites_validation_error() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some(HUCK), ORG),
                Some(json!({"roles": [{"name": "owner"}]})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(r.body["raw_response"]["message"], "Validation Failed");
        assert_eq!(r.body["raw_response"]["errors"][0]["field"], "role");
    }

    #[tokio::test]
    async fn delete_removes_the_member() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(Method::DELETE, &users_path(&account, Some(HUCK), ORG), None)
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "DELETE", &format!("/v2/organizations/acme-inc/members/{HUCK}"));
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert!(app.emulator(P).record("members", HUCK).is_none());
    }
}

/// Teams as groups (list over `Link` pages, get, create, update, delete by UUID), team
/// membership through the users list's `group_id` and `add-user`/`remove-user`, and `me`
/// (`GET /v2/user`).
mod directory {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{
        assert_remote_error, change_membership, directory_path, group_members, ids, request_lines, unified,
    };
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const P: &str = "buildkite";
    const BEARER: &str = "Bearer bkua_sandbox0000000000000000000000000000001";
    const ORG: &str = "&organization_id=acme-inc";
    const FRONTEND: &str = "c5e09619-8648-4896-a936-9d0b8b7b3fe9";
    const BACKEND: &str = "7d2f4a10-93be-4c1d-8e55-2b6a0f3c9d41";
    const RELEASE: &str = "a41c7e02-5f3b-4d88-b9a0-6c2e1d7f8b53";
    const SCOUT: &str = "0185c636-fcbf-4a6c-b49d-c4048e7b8aea";
    const HUCK: &str = "0185dbbf-8447-4f72-ac7e-4ea3c2ec8381";
    const JEM: &str = "0187b2f3-4c5d-4e6f-9a01-b2c3d4e5f6a7";

    #[tokio::test]
    async fn a_team_is_a_group_addressed_by_its_uuid() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("groups", &account, Some(BACKEND), ORG)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": BACKEND, "name": "Barefoot Backenders",
                "description": "Backend engineers at Acme Inc",
                "organization": "acme-inc", "group_type": "team",
                "created_at": "2023-04-02T09:10:00.000Z"
            })
        );
        assert_eq!(r.body["remote_data"]["slug"], "barefoot-backenders");
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/v2/organizations/acme-inc/teams/{BACKEND}"));
        assert_eq!(sent.header("authorization"), Some(BEARER));
    }

    #[tokio::test]
    async fn the_teams_list_walks_link_pages_of_one_organization() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (teams, pages) = walk_records(&app, &directory_path("groups", &account, None, ORG), 2).await;

        assert_eq!(ids(&teams), [FRONTEND, BACKEND, RELEASE], "acme-inc's teams only");
        assert_eq!(pages, 2);
        assert_eq!(
            unified(&teams[0]),
            json!({
                "id": FRONTEND, "name": "Fearless Frontenders", "organization": "acme-inc",
                "group_type": "team", "created_at": "2023-03-14T00:45:16.215Z"
            }),
            "an empty description is left out"
        );
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /v2/organizations/acme-inc/teams?per_page=2",
                "GET /v2/organizations/acme-inc/teams?per_page=2&page=2"
            ]
        );
    }

    #[tokio::test]
    async fn team_writes_post_patch_and_delete_by_uuid() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("groups", &account, None, ORG),
                Some(json!({"name": "Mobile", "description": "iOS and Android"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/v2/organizations/acme-inc/teams");
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert_eq!(
            sent.json.unwrap(),
            json!({"name": "Mobile", "description": "iOS and Android", "privacy": "visible",
                   "is_default_team": false, "default_member_role": "member",
                   "members_can_create_pipelines": false})
        );
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            unified(&r.body),
            json!({
                "id": id, "name": "Mobile", "description": "iOS and Android",
                "organization": "acme-inc", "group_type": "team",
                "created_at": r.body["remote_data"]["created_at"]
            })
        );
        assert!(app.emulator(P).record("teams", &id).is_some());

        let r = app
            .send(
                Method::PATCH,
                &directory_path("groups", &account, Some(&id), ORG),
                Some(json!({"name": "Mobile Apps"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "PATCH", &format!("/v2/organizations/acme-inc/teams/{id}"));
        assert_eq!(sent.json.unwrap(), json!({"name": "Mobile Apps"}));
        assert_eq!(
            (&r.body["name"], &r.body["description"]),
            (&json!("Mobile Apps"), &json!("iOS and Android"))
        );

        let r = app
            .send(
                Method::DELETE,
                &directory_path("groups", &account, Some(&id), ORG),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "DELETE", &format!("/v2/organizations/acme-inc/teams/{id}"));
        assert!(sent.body.is_empty(), "{}", sent.body_text());
        assert!(app.emulator(P).record("teams", &id).is_none());
    }

    #[tokio::test]
    async fn a_team_without_a_name_is_buildkites_validation_error() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("groups", &account, None, ORG),
                Some(json!({"description": "No name"})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(r.body["raw_response"]["message"], "Validation Failed", "{}", r.text);
        assert_eq!(r.body["raw_response"]["errors"][0]["field"], "name", "{}", r.text);
    }

    #[tokio::test]
    async fn an_unknown_team_is_buildkites_404() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path("groups", &account, Some("no-such-team"), ORG))
            .await;

        assert_remote_error(&r, 404, &json!({"message": "No organization found"}));
    }

    #[tokio::test]
    async fn add_user_and_remove_user_change_the_team_members_list() {
        let (app, account) = app_with_account(P).await;

        let before = group_members(&app, &account, FRONTEND, ORG).await;
        assert_eq!(ids(&before), [SCOUT, JEM]);
        assert_eq!(
            unified(&before[0]),
            json!({
                "id": SCOUT, "name": "Scout Finch", "status": "active",
                "roles": [{"id": "maintainer", "name": "maintainer", "group": FRONTEND, "organization": "acme-inc"}],
                "groups": [{"id": FRONTEND, "organization": "acme-inc"}],
                "organizations": [{"id": "acme-inc"}]
            })
        );
        assert_request(
            &last_request(&app, P),
            "GET",
            &format!("/v2/organizations/acme-inc/teams/{FRONTEND}/members"),
        );

        let r = change_membership(&app, "add-user", &account, ORG, FRONTEND, HUCK).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(unified(&r.body), json!({"group_id": FRONTEND, "user_id": HUCK}));
        assert_eq!(r.body["remote_data"]["user_name"], "Huck Finn", "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "POST",
            &format!("/v2/organizations/acme-inc/teams/{FRONTEND}/members"),
        );
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert_eq!(sent.json.unwrap(), json!({"user_id": HUCK, "role": "member"}));
        assert_eq!(
            ids(&group_members(&app, &account, FRONTEND, ORG).await),
            [SCOUT, JEM, HUCK]
        );

        let r = change_membership(&app, "remove-user", &account, ORG, FRONTEND, SCOUT).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"group_id": FRONTEND, "user_id": SCOUT}));
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "DELETE",
            &format!("/v2/organizations/acme-inc/teams/{FRONTEND}/members/{SCOUT}"),
        );
        assert!(sent.body.is_empty(), "no body: {}", sent.body_text());
        assert_eq!(ids(&group_members(&app, &account, FRONTEND, ORG).await), [JEM, HUCK]);
        // Still a member of the organization.
        assert!(app.emulator(P).record("members", SCOUT).is_some());
    }

    #[tokio::test]
    async fn adding_a_user_who_is_no_member_is_buildkites_404() {
        let (app, account) = app_with_account(P).await;

        let r = change_membership(&app, "add-user", &account, ORG, FRONTEND, "no-such-user").await;

        assert_remote_error(&r, 404, &json!({"message": "No organization found"}));
    }

    #[tokio::test]
    async fn me_is_the_tokens_user() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("me", &account, None, "")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        let records = r.body["result"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{}", r.text);
        assert_eq!(
            unified(&records[0]),
            json!({"id": SCOUT, "name": "Scout Finch", "email": "scout@example.com"})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/v2/user");
        assert_eq!(sent.header("authorization"), Some(BEARER));
    }

    #[tokio::test]
    async fn activities_walk_the_audit_log_over_link_pages() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (events, pages) = walk_records(&app, &directory_path("activities", &account, None, ORG), 2).await;

        assert_eq!(
            ids(&events),
            [
                "0191e71a-552b-7be5-8a3d-8e0fc2c84e52",
                "0191c2b0-1e4d-7a21-9c3e-5b7d8f0a1c23",
                "018f5a33-9b7c-7d10-8e2f-4a6c8e0b2d45",
                "018e0c11-2a3b-7c4d-8e5f-6a7b8c9d0e1f"
            ]
        );
        assert_eq!(pages, 2);
        assert_eq!(
            unified(&events[1]),
            json!({
                "id": "0191c2b0-1e4d-7a21-9c3e-5b7d8f0a1c23",
                "actor": {"id": "0186a1e2-3b4c-4d5e-8f90-a1b2c3d4e5f6", "name": "Atticus Finch", "type": "User"},
                "organization": {"id": "acme-inc"},
                "action": "TeamMemberCreatedEvent",
                "entity": {"id": HUCK, "name": "Huck Finn"},
                "entity_type": "TeamMember",
                "context": {"type": "WebContext", "request_ip": "198.51.100.7", "request_user_agent": "Mozilla/5.0"},
                "created_at": "2024-09-05T14:02:41.000Z"
            })
        );
        assert_eq!(
            unified(&events[3]),
            json!({
                "id": "018e0c11-2a3b-7c4d-8e5f-6a7b8c9d0e1f",
                "organization": {"id": "acme-inc"},
                "action": "OrganizationCreatedEvent",
                "entity": {"id": "0185d4a2-6b1c-4f0e-9a3d-7e2b8c9d0f11", "name": "acme-inc"},
                "entity_type": "Organization",
                "created_at": "2024-03-01T12:00:00.000Z"
            }),
            "a system event has no actor nor context"
        );
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /v2/organizations/acme-inc/audit_events?per_page=2",
                "GET /v2/organizations/acme-inc/audit_events?per_page=2&page=2"
            ]
        );
        assert_eq!(last_request(&app, P).header("authorization"), Some(BEARER));
    }

    #[tokio::test]
    async fn the_created_at_filter_is_applied_to_the_audit_log() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path(
                "activities",
                &account,
                None,
                &format!("{ORG}&created_at[gte]=2024-06-01&created_at[lt]=2024-11-01"),
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let events = r.body["result"].as_array().unwrap();
        assert_eq!(ids(events), ["0191c2b0-1e4d-7a21-9c3e-5b7d8f0a1c23"]);
        assert_eq!(last_request(&app, P).query, "", "Buildkite takes no time filter");
    }

    #[tokio::test]
    async fn an_audit_log_outside_the_enterprise_plan_is_buildkites_403() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path("activities", &account, None, "&organization_id=globex"))
            .await;

        assert_remote_error(
            &r,
            403,
            &json!({"message": "Audit logging is not available on this organization's plan."}),
        );
    }
}

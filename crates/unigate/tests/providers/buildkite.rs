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

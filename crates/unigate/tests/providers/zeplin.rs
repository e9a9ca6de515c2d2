//! Zeplin API v1: organizations and their members; `me`, projects as workspaces and the
//! organization's seats as a licence.

use serde_json::json;

use crate::common::{directory_path, ids, me, request_lines, unified};
use crate::helpers::{app_with_account, assert_error, assert_request, last_request, walk_list, walk_records};

const P: &str = "zeplin";

#[tokio::test]
async fn get_maps_a_zeplin_organization() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("5d9caaecb4a3fa9bc9a2a3a9"), ""))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "5d9caaecb4a3fa9bc9a2a3a9", "name": "Acme Design"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v1/organizations/5d9caaecb4a3fa9bc9a2a3a9");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer zpl_sandbox.eyJhdWQiOiJ1bmlnYXRlIn0.c2lnbmF0dXJl")
    );
}

#[tokio::test]
async fn a_missing_org_is_a_404_in_zeplin_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("000000000000000000000000"), ""))
        .await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"]["message"], "Organization not found");
    assert_eq!(r.body["raw_response"]["code"], "organization_not_found");
}

#[tokio::test]
async fn list_walks_offset_pages() {
    let (app, account) = app_with_account(P).await;
    for i in 0..3 {
        app.emulator(P).insert_record(
            "organizations",
            json!({"id": format!("6000000000000000000000a{i}"), "name": format!("Extra {i}")}),
        );
    }

    let (ids, _) = walk_list(&app, &account, 2).await;

    assert_eq!(ids.len(), 5, "{ids:?}");
    assert_eq!(ids[4], "6000000000000000000000a2");
    let q = last_request(&app, P).query;
    assert!(q.contains("offset=4") && q.contains("limit=2"), "{q}");
}

/// Organization members as users: list over `limit`/`offset`, get (picked from the members
/// page), invite, role change, removal, each scoped by `organization_id`.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{last_with_method, request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const P: &str = "zeplin";
    const BEARER: &str = "Bearer zpl_sandbox.eyJhdWQiOiJ1bmlnYXRlIn0.c2lnbmF0dXJl";
    const ORG_ID: &str = "5d9caaecb4a3fa9bc9a2a3a9";
    const ORG: &str = "&organization_id=5d9caaecb4a3fa9bc9a2a3a9";

    #[tokio::test]
    async fn get_picks_the_member_from_the_members_page() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, Some("5f1b2c3d4e5f6a7b8c9d0e1f"), ORG))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "5f1b2c3d4e5f6a7b8c9d0e1f", "username": "jonas-dev",
                "emails": [{"email": "dev.jonas@acme.example", "is_primary": true}],
                "user_type": "user",
                "roles": [{"id": "member", "name": "member", "organization": ORG_ID}],
                "organizations": [{"id": ORG_ID}],
                "avatar": "https://cdn.zeplin.io/avatars/5f1b2c3d4e5f6a7b8c9d0e1f.png",
                "last_active_at": "2024-05-18T02:40:00Z",
                "created_at": "2020-07-17T15:33:20Z"
            })
        );
        assert_eq!(r.body["remote_data"]["restricted"], true);
        assert_eq!(r.body["remote_data"]["tags"], json!(["web", "frontend"]));
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/v1/organizations/5d9caaecb4a3fa9bc9a2a3a9/members");
        assert_eq!(sent.query, "limit=100");
        assert_eq!(sent.header("authorization"), Some(BEARER));
    }

    #[tokio::test]
    async fn an_unknown_member_is_a_404() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, Some("000000000000000000000000"), ORG))
            .await;

        assert_eq!(r.status, 404, "{}", r.text);
    }

    #[tokio::test]
    async fn list_walks_offset_pages_of_members() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (users, pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

        let roles: Vec<&str> = users.iter().map(|u| u["roles"][0]["id"].as_str().unwrap()).collect();
        assert_eq!(roles, ["owner", "admin", "editor", "member", "alien"]);
        let types: Vec<&str> = users.iter().map(|u| u["user_type"].as_str().unwrap()).collect();
        assert_eq!(types, ["admin", "admin", "user", "user", "guest"]);
        assert_eq!(pages, 3);
        assert!(users[4].get("last_active_at").is_none(), "{}", users[4]);
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /v1/organizations/5d9caaecb4a3fa9bc9a2a3a9/members?limit=2",
                "GET /v1/organizations/5d9caaecb4a3fa9bc9a2a3a9/members?limit=2&offset=2",
                "GET /v1/organizations/5d9caaecb4a3fa9bc9a2a3a9/members?limit=2&offset=4"
            ]
        );
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
                Some(json!({"emails": [{"email": "new.designer@acme.example"}], "roles": [{"id": "editor"}]})),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/v1/organizations/5d9caaecb4a3fa9bc9a2a3a9/members");
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert_eq!(
            sent.json.unwrap(),
            json!({"handle": "new.designer@acme.example", "role": "editor", "restricted": false})
        );
        let id = r.body["remote_data"]["user"]["id"].clone();
        assert_eq!(
            unified(&r.body),
            json!({
                "id": id, "emails": [{"email": "new.designer@acme.example", "is_primary": true}],
                "user_type": "user",
                "roles": [{"id": "editor", "name": "editor", "organization": ORG_ID}],
                "organizations": [{"id": ORG_ID}],
                "created_at": "2024-06-04T11:20:00Z"
            })
        );
    }

    #[tokio::test]
    async fn an_owner_cannot_be_invited_zeplins_error() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"emails": [{"email": "boss@acme.example"}], "roles": [{"id": "owner"}]})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(
            (&r.body["raw_response"]["message"], &r.body["raw_response"]["code"]),
            (&json!("Invalid body"), &json!("invalid_body"))
        );
    }

    #[tokio::test]
    async fn update_patches_the_role_and_reads_the_member_back() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("5e0a1b2c3d4e5f6a7b8c9d0e"), ORG),
                Some(json!({"roles": [{"id": "admin"}]})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, P, "PATCH");
        assert_request(
            &sent,
            "PATCH",
            "/v1/organizations/5d9caaecb4a3fa9bc9a2a3a9/members/5e0a1b2c3d4e5f6a7b8c9d0e",
        );
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert_eq!(sent.json.unwrap(), json!({"role": "admin"}));
        assert_eq!(
            (&r.body["id"], &r.body["user_type"], &r.body["roles"][0]["id"]),
            (&json!("5e0a1b2c3d4e5f6a7b8c9d0e"), &json!("admin"), &json!("admin"))
        );
        assert_eq!(
            request_lines(&app, P),
            [
                "PATCH /v1/organizations/5d9caaecb4a3fa9bc9a2a3a9/members/5e0a1b2c3d4e5f6a7b8c9d0e",
                "GET /v1/organizations/5d9caaecb4a3fa9bc9a2a3a9/members?limit=100"
            ]
        );
    }

    #[tokio::test]
    async fn delete_removes_the_member() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::DELETE,
                &users_path(&account, Some("60a1b2c3d4e5f6a7b8c9d0e2"), ORG),
                None,
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "DELETE",
            "/v1/organizations/5d9caaecb4a3fa9bc9a2a3a9/members/60a1b2c3d4e5f6a7b8c9d0e2",
        );
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert!(app.emulator(P).record("members", "60a1b2c3d4e5f6a7b8c9d0e2").is_none());
    }
}

const ACME: &str = "&organization_id=5d9caaecb4a3fa9bc9a2a3a9";
const ZEPLIN_BEARER: &str = "Bearer zpl_sandbox.eyJhdWQiOiJ1bmlnYXRlIn0.c2lnbmF0dXJl";

#[tokio::test]
async fn me_is_the_tokens_user() {
    let (app, account) = app_with_account(P).await;

    let me = me(&app, &account, "").await;

    assert_eq!(
        unified(&me),
        json!({"id": "5d9caaecb4a3fa9bc9a2a3b0", "name": "acme-lead", "email": "lead@acme.example"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v1/users/me");
    assert_eq!(sent.header("authorization"), Some(ZEPLIN_BEARER));
}

#[tokio::test]
async fn workspaces_are_the_organizations_projects_over_offset_pages() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (projects, pages) = walk_records(&app, &directory_path("workspaces", &account, None, ACME), 2).await;

    assert_eq!(
        ids(&projects),
        [
            "5db81e73e1e36ee19f138c1a",
            "5e2f3a4b5c6d7e8f9a0b1c2d",
            "5f3a4b5c6d7e8f9a0b1c2d3e"
        ],
        "Acme's projects only"
    );
    assert_eq!(pages, 2);
    assert_eq!(
        unified(&projects[2]),
        json!({"id": "5f3a4b5c6d7e8f9a0b1c2d3e", "name": "Legacy Site", "description": "The 2019 website",
               "status": "archived", "organization": {"id": "5d9caaecb4a3fa9bc9a2a3a9", "name": "Acme Design"},
               "created_at": "2019-06-08T13:20:00Z"})
    );
    assert_eq!(
        request_lines(&app, P),
        [
            "GET /v1/organizations/5d9caaecb4a3fa9bc9a2a3a9/projects?limit=2",
            "GET /v1/organizations/5d9caaecb4a3fa9bc9a2a3a9/projects?limit=2&offset=2"
        ]
    );
}

#[tokio::test]
async fn a_project_is_got_by_id() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&directory_path(
            "workspaces",
            &account,
            Some("5db81e73e1e36ee19f138c1a"),
            "",
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "5db81e73e1e36ee19f138c1a", "name": "Acme Mobile App", "description": "iOS and Android apps",
               "status": "active", "organization": {"id": "5d9caaecb4a3fa9bc9a2a3a9", "name": "Acme Design"},
               "created_at": "2019-10-29T11:11:47Z", "updated_at": "2024-05-20T10:40:00Z"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v1/projects/5db81e73e1e36ee19f138c1a");
    assert_eq!(sent.header("authorization"), Some(ZEPLIN_BEARER));
}

#[tokio::test]
async fn licenses_are_the_organizations_seats() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&directory_path("licenses", &account, None, ACME)).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(
        result.iter().map(unified).collect::<Vec<_>>(),
        [json!({"id": "seats", "name": "Zeplin seats", "available_quantity": 10, "assigned_quantity": 4})]
    );
    assert_request(
        &last_request(&app, P),
        "GET",
        "/v1/organizations/5d9caaecb4a3fa9bc9a2a3a9/billing",
    );
}

#[tokio::test]
async fn the_seats_of_an_unknown_organization_are_zeplins_404() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&directory_path(
            "licenses",
            &account,
            None,
            "&organization_id=5d9caaecb4a3fa9bc9a2ffff",
        ))
        .await;

    assert_error(&r, 404);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    assert_eq!(r.body["raw_response"]["code"], "organization_not_found", "{}", r.text);
}

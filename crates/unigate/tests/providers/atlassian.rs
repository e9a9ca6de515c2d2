//! Atlassian: get and list (JSON:API, cursor in `links.next`).

use serde_json::json;

use crate::common::{assert_remote_error, get_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

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
    async fn a_create_is_not_supported() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"emails": [{"email": "x@example.com"}]})),
            )
            .await;

        assert_eq!(r.status, 405, "{}", r.text);
        assert!(r.text.contains("does not support"), "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }
}

//! Supabase Management API v1.

use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

const P: &str = "supabase";

#[tokio::test]
async fn get_addresses_the_org_by_slug_and_maps_its_plan() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("tsrqponmlkjihgfedcba"), ""))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "tsrqponmlkjihgfedcba", "name": "Acme Apps", "pricing_plan": "pro"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v1/organizations/tsrqponmlkjihgfedcba");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer sbp_0123456789abcdef0123456789abcdef01234567")
    );
}

#[tokio::test]
async fn list_answers_every_org_by_slug_in_one_page() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).insert_record(
        "organizations",
        json!({"id": "extra-org", "slug": "extra-org", "name": "Extra", "plan": "free"}),
    );

    let r = app.get(&app.orgs_path(&account, None, "&limit=2")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(result.len(), 4);
    assert_eq!(
        unified(&result[1]),
        json!({"id": "vercel_icfg_8f7e6d5c4b3a", "name": "Globex (Vercel)"})
    );
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_missing_org_is_a_404_with_the_supabase_message() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("nope"), "")).await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"], json!({"message": "Organization not found"}));
}

/// Supabase organization members (`organization_id`: the slug): one unpaged list, a get
/// that picks from it, no writes.
mod users {
    use serde_json::json;

    use crate::common::{request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_error, assert_request, last_request, walk_records};

    use super::P;

    const ORG: &str = "&organization_id=tsrqponmlkjihgfedcba";

    #[tokio::test]
    async fn get_picks_the_member_from_the_organizations_list() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, Some("2b9c6a0e-4f1d-4c3a-9e8b-7d6c5b4a3f21"), ORG))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "2b9c6a0e-4f1d-4c3a-9e8b-7d6c5b4a3f21", "username": "ada-lovelace",
                "emails": [{"email": "ada@acme-apps.example", "is_primary": true}],
                "roles": [{"name": "Owner", "organization": "tsrqponmlkjihgfedcba"}],
                "is_2fa_enabled": true
            })
        );
        assert_eq!(r.body["remote_data"]["role_name"], "Owner");
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/v1/organizations/tsrqponmlkjihgfedcba/members");
        assert_eq!(
            sent.header("authorization"),
            Some("Bearer sbp_0123456789abcdef0123456789abcdef01234567")
        );
    }

    #[tokio::test]
    async fn a_member_of_another_organization_is_a_404() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, Some("0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"), ORG))
            .await;

        assert_error(&r, 404);
    }

    #[tokio::test]
    async fn list_answers_the_organizations_members_in_one_call() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

        let names: Vec<&str> = users.iter().map(|u| u["username"].as_str().unwrap()).collect();
        assert_eq!(names, ["ada-lovelace", "grace-hopper", "linus-dev"]);
        // One unpaged answer: one page whatever the limit.
        assert_eq!(pages, 1);
        assert_eq!(
            unified(&users[2]),
            json!({
                "id": "c4a8e2f6-1b3d-4f5a-a7c9-e1b3d5f7a9c4", "username": "linus-dev",
                "roles": [{"name": "Developer", "organization": "tsrqponmlkjihgfedcba"}],
                "is_2fa_enabled": false
            })
        );
        assert!(users[0]["remote_data"].get("org").is_none());
        assert!(request_lines(&app, P)
            .iter()
            .all(|l| l == "GET /v1/organizations/tsrqponmlkjihgfedcba/members"));
    }

    #[tokio::test]
    async fn a_list_without_the_organization_is_a_400_naming_it() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, None, "")).await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains("organization_id"), "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn writes_are_not_supported() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                reqwest::Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"emails": [{"email": "new@acme-apps.example"}]})),
            )
            .await;

        assert!(r.status.is_client_error(), "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }
}

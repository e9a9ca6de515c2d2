//! Turso Platform API v1.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

const P: &str = "turso";

#[tokio::test]
async fn get_unwraps_the_organization_by_slug() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("acme-edge"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "acme-edge", "name": "acme-edge", "pricing_plan": "scaler"})
    );
    assert_eq!(r.body["remote_data"]["require_mfa"], true);
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v1/organizations/acme-edge");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer turso-sandbox.eyJhIjoicnciLCJpYXQiOjE3MDAwMDAwMDB9.c2lnbmF0dXJl")
    );
}

#[tokio::test]
async fn update_sends_only_the_writable_remote_data_fields() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("globex"), ""),
            Some(json!({"remote_data": {"overages": true}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "globex", "name": "globex", "pricing_plan": "starter"})
    );
    assert_eq!(r.body["remote_data"]["overages"], true);
    let sent = last_request(&app, P);
    assert_request(&sent, "PATCH", "/v1/organizations/globex");
    assert_eq!(sent.json.unwrap(), json!({"overages": true}));
}

#[tokio::test]
async fn a_rename_is_refused_with_a_422_before_anything_reaches_turso() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("globex"), ""),
            Some(json!({"name": "globex-renamed", "remote_data": {"overages": true}})),
        )
        .await;

    let message = assert_error(&r, 422);
    assert_eq!(
        message,
        "Turso cannot update `name` of organizations: the provider's API does not allow it. \
         Leave it out of the request; `GET /integration/turso` documents what can be written."
    );
    assert_eq!(
        r.body["details"],
        json!({"integration": "turso", "unsupported_fields": ["name"]})
    );
    assert!(r.body.get("truto_is_remote_error").is_none(), "{}", r.text);
    assert!(app.emulator(P).requests().is_empty(), "nothing may reach Turso");
    assert_eq!(
        app.emulator(P).record("organizations", "globex").unwrap()["overages"],
        false
    );
}

#[tokio::test]
async fn a_null_name_is_no_change_and_goes_through() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("globex"), ""),
            Some(json!({"name": null, "remote_data": {"require_mfa": true}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "globex");
    assert_eq!(last_request(&app, P).json.unwrap(), json!({"require_mfa": true}));
}

#[tokio::test]
async fn an_unknown_field_is_refused_in_turso_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("globex"), ""),
            Some(json!({"remote_data": {"name": "renamed"}})),
        )
        .await;

    assert_error(&r, 400);
    assert_eq!(
        r.body["raw_response"],
        json!({"error": "invalid request body: unknown field name"})
    );
}

#[tokio::test]
async fn a_missing_org_is_a_404_with_the_error_text() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("nope"), "")).await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"], json!({"error": "organization not found"}));
}

#[tokio::test]
async fn list_answers_every_org_in_one_page() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, None, "&limit=1")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["iku", "acme-edge", "globex"]);
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
}

/// Turso organization members, keyed by username (`organization_id`: the slug): list,
/// get, add, role change, remove.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{last_with_method, request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    use super::P;

    const ORG: &str = "&organization_id=acme-edge";
    const AUTH: &str = "Bearer turso-sandbox.eyJhIjoicnciLCJpYXQiOjE3MDAwMDAwMDB9.c2lnbmF0dXJl";

    #[tokio::test]
    async fn get_unwraps_the_member_by_username() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("roadrunner"), ORG)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "roadrunner", "username": "roadrunner",
                "emails": [{"email": "beep@acme-edge.example", "is_primary": true}],
                "roles": [{"name": "admin", "organization": "acme-edge"}]
            })
        );
        assert_eq!(
            r.body["remote_data"],
            json!({"username": "roadrunner", "email": "beep@acme-edge.example", "role": "admin"})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/v1/organizations/acme-edge/members/roadrunner");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn list_answers_the_organizations_members() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["wile-e", "roadrunner", "marvin", "daffy"]);
        // One unpaged answer: one page whatever the limit.
        assert_eq!(pages, 1);
        let roles: Vec<&str> = users.iter().map(|u| u["roles"][0]["name"].as_str().unwrap()).collect();
        assert_eq!(roles, ["owner", "admin", "member", "viewer"]);
        assert!(request_lines(&app, P)
            .iter()
            .all(|l| l == "GET /v1/organizations/acme-edge/members"));
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
    async fn create_adds_an_existing_user_with_a_role() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"username": "coyote", "roles": [{"name": "viewer"}]})),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/v1/organizations/acme-edge/members");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(sent.json.unwrap(), json!({"username": "coyote", "role": "viewer"}));
        assert_eq!(
            unified(&r.body),
            json!({"id": "coyote", "username": "coyote", "roles": [{"name": "viewer", "organization": "acme-edge"}]})
        );
        assert_eq!(app.emulator(P).record("members", "coyote").unwrap()["org"], "acme-edge");
    }

    #[tokio::test]
    async fn adding_a_member_twice_is_tursos_409() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"username": "marvin"})),
            )
            .await;

        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(
            r.body["raw_response"],
            json!({"error": "user is already a member of organization [acme-edge]"})
        );
    }

    #[tokio::test]
    async fn update_changes_the_role() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("daffy"), ORG),
                Some(json!({"roles": [{"name": "admin"}]})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, P, "PATCH");
        assert_request(&sent, "PATCH", "/v1/organizations/acme-edge/members/daffy");
        assert_eq!(sent.json.unwrap(), json!({"role": "admin"}));
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "daffy", "username": "daffy",
                "emails": [{"email": "daffy@acme-edge.example", "is_primary": true}],
                "roles": [{"name": "admin", "organization": "acme-edge"}]
            })
        );
    }

    #[tokio::test]
    async fn an_email_change_is_refused_before_any_call() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("daffy"), ORG),
                Some(json!({"emails": [{"email": "d@example.com"}]})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn delete_removes_the_member() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(Method::DELETE, &users_path(&account, Some("marvin"), ORG), None)
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "DELETE", "/v1/organizations/acme-edge/members/marvin");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert!(app.emulator(P).record("members", "marvin").is_none());
    }
}

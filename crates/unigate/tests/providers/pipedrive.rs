//! Pipedrive API v1: the token's company through /users/me; `me`; roles.

use reqwest::Method;
use serde_json::json;

use crate::common::{assert_remote_error, directory_path, ids, me, request_lines, unified};
use crate::helpers::{app_with_account, assert_error, assert_request, last_request, spawn_app, walk_records};

const P: &str = "pipedrive";

#[tokio::test]
async fn get_answers_the_tokens_company() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("7612345"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(unified(&r.body), json!({"id": "7612345", "name": "Acme Sales Ltd"}));
    assert_eq!(r.body["remote_data"]["company_domain"], "acmesales");
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v1/users/me");
    assert_eq!(
        sent.header("x-api-token"),
        Some("5f1c0e9d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d")
    );
}

#[tokio::test]
async fn another_company_id_is_not_found() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;

    assert_error(&r, 404);
}

#[tokio::test]
async fn list_answers_the_one_company_without_a_cursor() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, None, "&limit=10")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["result"][0]["id"], "7612345");
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_bad_token_is_a_401_in_pipedrive_error_shape() {
    let app = spawn_app().await;
    let account = app.connect_with(P, json!({"api_token": "wrong"})).await;

    let r = app.get(&app.orgs_path(&account, Some("7612345"), "")).await;

    assert_error(&r, 401);
    assert_eq!(r.body["raw_response"]["success"], false);
    assert_eq!(r.body["raw_response"]["error"], "unauthorized access");
    assert_eq!(r.body["raw_response"]["errorCode"], 401);
}

/// Pipedrive users: list (one unpaged answer), get, create (an invitation), update
/// (`active_flag` only), no delete, and a refused create in Pipedrive's error shape.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{delete_user, get_user, last_with_method, request_lines, unified, users_path, write_user};
    use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

    const P: &str = "pipedrive";
    const TOKEN: &str = "5f1c0e9d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d";

    #[tokio::test]
    async fn get_maps_a_user() {
        let (app, account) = app_with_account(P).await;

        let user = get_user(&app, &account, "8877").await;

        assert_eq!(
            unified(&user),
            json!({
                "id": "8877", "name": "Pat Seller",
                "emails": [{"email": "pat.seller@acme.example", "type": "work", "is_primary": true}],
                "phones": [{"number": "+44 20 7946 0000", "type": "work"}],
                "status": "active", "user_type": "admin", "roles": [{"id": "1"}],
                "avatar": "https://secure.gravatar.com/avatar/sandbox-8877.png",
                "timezone": "Europe/London", "languages": ["en_US"],
                "last_login_at": "2024-05-02T08:14:55Z",
                "created_at": "2019-03-11T10:22:41Z", "updated_at": "2024-04-30T16:03:12Z"
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/v1/users/8877");
        assert_eq!(sent.header("x-api-token"), Some(TOKEN));
    }

    #[tokio::test]
    async fn list_answers_every_user_in_one_page_with_their_states() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, None, "&limit=2")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        let status: Vec<(&str, &str)> = r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| (u["id"].as_str().unwrap(), u["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            status,
            [
                ("8877", "active"),
                ("8878", "active"),
                ("8879", "inactive"),
                ("8880", "invited")
            ]
        );
        assert_eq!(
            r.body["next_cursor"],
            serde_json::Value::Null,
            "Pipedrive does not page users"
        );
        assert_eq!(request_lines(&app, P), ["GET /v1/users"]);
    }

    #[tokio::test]
    async fn create_invites_with_sales_access() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"emails": [{"email": "lee.prospect@acme.example", "is_primary": true}]}),
        )
        .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_eq!(sent.path, "/v1/users");
        assert_eq!(sent.header("x-api-token"), Some(TOKEN));
        assert_eq!(
            sent.json.unwrap(),
            json!({"email": "lee.prospect@acme.example", "access": [{"app": "sales"}]})
        );
        assert_eq!(r.body["id"], "8881");
        assert_eq!(r.body["status"], "invited");
        assert_eq!(r.body["emails"][0]["email"], "lee.prospect@acme.example");
    }

    #[tokio::test]
    async fn a_create_without_email_is_pipedrives_400() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"status": "active", "emails": []}),
        )
        .await;

        assert_eq!(r.status, 400, "{}", r.text);
        let raw = &r.body["raw_response"];
        assert_eq!(
            (&raw["success"], &raw["errorCode"]),
            (&json!(false), &json!(400)),
            "{raw}"
        );
        assert!(raw["error"].as_str().unwrap().contains("email"), "{raw}");
    }

    #[tokio::test]
    async fn update_deactivates_through_active_flag() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::PATCH,
            &account,
            Some("8878"),
            json!({"status": "inactive"}),
        )
        .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, P, "PUT");
        assert_eq!(sent.path, "/v1/users/8878");
        assert_eq!(sent.header("x-api-token"), Some(TOKEN));
        assert_eq!(sent.json.unwrap(), json!({"active_flag": false}));
        assert_eq!((&r.body["id"], &r.body["status"]), (&json!("8878"), &json!("inactive")));
    }

    #[tokio::test]
    async fn update_refuses_what_pipedrive_cannot_change_and_there_is_no_delete() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(&app, Method::PATCH, &account, Some("8878"), json!({"name": "Sam C."})).await;
        assert_error(&r, 422);
        let r = delete_user(&app, &account, "8878").await;
        assert_error(&r, 405);
        assert!(request_lines(&app, P).is_empty(), "nothing reached Pipedrive");
    }

    #[tokio::test]
    async fn an_unknown_user_is_pipedrives_404() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("1"), "")).await;

        assert_error(&r, 404);
        let raw = &r.body["raw_response"];
        assert_eq!(
            (&raw["success"], &raw["error"], &raw["errorCode"]),
            (&json!(false), &json!("User not found"), &json!(404))
        );
    }
}

const TOKEN: &str = "5f1c0e9d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d";

#[tokio::test]
async fn me_is_the_tokens_user_in_its_company() {
    let (app, account) = app_with_account(P).await;

    let me = me(&app, &account, "").await;

    assert_eq!(
        unified(&me),
        json!({"id": "8877", "name": "Pat Seller", "email": "pat.seller@acme.example",
               "organization": {"id": "7612345", "name": "Acme Sales Ltd"}})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v1/users/me");
    assert_eq!(sent.header("x-api-token"), Some(TOKEN));
}

#[tokio::test]
async fn roles_walk_start_and_limit_pages() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (roles, pages) = walk_records(&app, &directory_path("roles", &account, None, ""), 2).await;

    assert_eq!(ids(&roles), ["1", "2", "3"]);
    assert_eq!(pages, 2);
    assert_eq!(
        unified(&roles[1]),
        json!({"id": "2", "name": "Account Executive", "label": "Account Executive"})
    );
    assert_eq!(roles[1]["remote_data"]["parent_role_id"], 1);
    assert_eq!(
        request_lines(&app, P),
        ["GET /v1/roles?limit=2", "GET /v1/roles?limit=2&start=2"]
    );
}

#[tokio::test]
async fn a_role_is_got_created_renamed_and_deleted() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&directory_path("roles", &account, Some("1"), "")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "1", "name": "Sales Director", "label": "Sales Director"})
    );
    assert_request(&last_request(&app, P), "GET", "/v1/roles/1");

    let r = app
        .send(
            Method::POST,
            &directory_path("roles", &account, None, ""),
            Some(json!({"name": "Partner Manager"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "POST", "/v1/roles");
    assert_eq!(sent.json.unwrap(), json!({"name": "Partner Manager"}));
    assert_eq!(
        unified(&r.body),
        json!({"id": "4", "name": "Partner Manager", "label": "Partner Manager"})
    );

    let r = app
        .send(
            Method::PATCH,
            &directory_path("roles", &account, Some("4"), ""),
            Some(json!({"name": "Partner Lead"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "PUT", "/v1/roles/4");
    assert_eq!(sent.json.unwrap(), json!({"name": "Partner Lead"}));
    assert_eq!(
        unified(&r.body),
        json!({"id": "4", "name": "Partner Lead", "label": "Partner Lead"})
    );
    assert_eq!(app.emulator(P).record("roles", "4").unwrap()["name"], "Partner Lead");

    let r = app
        .send(Method::DELETE, &directory_path("roles", &account, Some("4"), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(&last_request(&app, P), "DELETE", "/v1/roles/4");
    assert!(app.emulator(P).record("roles", "4").is_none());
}

#[tokio::test]
async fn an_unknown_role_is_pipedrives_error() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&directory_path("roles", &account, Some("99"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"success": false, "error": "User not found", "errorCode": 404,
                "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
                "data": null, "additional_data": null}),
    );
}

#[tokio::test]
async fn role_assignments_are_the_users_of_a_role_over_pages() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (assignments, pages) = walk_records(
        &app,
        &directory_path("role_assignments", &account, None, "&role_id=2"),
        1,
    )
    .await;

    assert_eq!(
        assignments.iter().map(unified).collect::<Vec<_>>(),
        [
            json!({"id": "8878", "user_id": "8878", "role_id": "2"}),
            json!({"id": "8879", "user_id": "8879", "role_id": "2"})
        ]
    );
    assert_eq!(pages, 2);
    assert_eq!(
        request_lines(&app, P),
        [
            "GET /v1/roles/2/assignments?limit=1",
            "GET /v1/roles/2/assignments?limit=1&start=1"
        ]
    );
}

#[tokio::test]
async fn assigning_and_taking_back_a_role() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &directory_path("role_assignments", &account, None, ""),
            Some(json!({"user_id": "8880", "role_id": "3"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "8880", "user_id": "8880", "role_id": "3"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "POST", "/v1/roles/3/assignments");
    assert_eq!(sent.header("x-api-token"), Some(TOKEN));
    assert_eq!(sent.json.unwrap(), json!({"user_id": 8880}));

    let r = app
        .get(&directory_path(
            "role_assignments",
            &account,
            Some("8880"),
            "&role_id=3",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "8880", "user_id": "8880", "role_id": "3"})
    );

    let r = app
        .send(
            Method::DELETE,
            &directory_path("role_assignments", &account, Some("8880"), "&role_id=3"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "DELETE", "/v1/roles/3/assignments");
    assert_eq!(sent.json.unwrap(), json!({"user_id": 8880}));
    let r = app
        .get(&directory_path(
            "role_assignments",
            &account,
            Some("8880"),
            "&role_id=3",
        ))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn role_assignments_without_role_id_are_a_400_naming_it() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = app.get(&directory_path("role_assignments", &account, None, "")).await;

    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("role_id"), "{}", r.text);
    assert!(request_lines(&app, P).is_empty());
}

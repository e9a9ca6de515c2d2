//! Auth0: get, list (checkpoint), update (display_name), delete.

use reqwest::Method;
use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

const TOKEN: &str = "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.sandbox-management-api.c2lnbmF0dXJl";

#[tokio::test]
async fn get_prefers_the_display_name() {
    let (app, account) = app_with_account("auth0").await;

    let org = get_org(&app, &account, "org_4pLhWTV8BmvLbTaX").await;

    assert_eq!(org["id"], "org_4pLhWTV8BmvLbTaX");
    assert_eq!(org["name"], "Acme Corporation");
    assert_eq!(org["remote_data"]["name"], "acme");
    for absent in ["pricing_plan", "licenses", "created_at", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "auth0");
    assert_request(&sent, "GET", "/api/v2/organizations/org_4pLhWTV8BmvLbTaX");
    assert_eq!(sent.header("authorization"), Some(TOKEN));
}

#[tokio::test]
async fn get_falls_back_to_the_name_without_a_display_name() {
    let (app, account) = app_with_account("auth0").await;

    let org = get_org(&app, &account, "org_Zx81LqPd0aHuW2eB").await;

    assert_eq!(org["name"], "initech-partners");
}

#[tokio::test]
async fn update_patches_the_display_name_with_remote_data_merged() {
    let (app, account) = app_with_account("auth0").await;

    let r = update_org(
        &app,
        &account,
        "org_9sQ2mVfRn3KcYt7W",
        json!({"name": "Globex Inc.", "remote_data": {"metadata": {"tier": "pro"}}}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "org_9sQ2mVfRn3KcYt7W");
    assert_eq!(r.body["name"], "Globex Inc.");
    let sent = last_with_method(&app, "auth0", "PATCH");
    assert_eq!(sent.path, "/api/v2/organizations/org_9sQ2mVfRn3KcYt7W");
    assert_eq!(sent.header("authorization"), Some(TOKEN));
    assert_eq!(
        sent.json.unwrap(),
        json!({"display_name": "Globex Inc.", "metadata": {"tier": "pro"}})
    );
    let stored = app
        .emulator("auth0")
        .record("organizations", "org_9sQ2mVfRn3KcYt7W")
        .unwrap();
    assert_eq!(stored["name"], "globex", "the slug is untouched");
}

#[tokio::test]
async fn delete_removes_the_organization() {
    let (app, account) = app_with_account("auth0").await;

    let r = app
        .send(
            Method::DELETE,
            &app.orgs_path(&account, Some("org_Zx81LqPd0aHuW2eB"), ""),
            None,
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "org_Zx81LqPd0aHuW2eB");
    let sent = last_request(&app, "auth0");
    assert_request(&sent, "DELETE", "/api/v2/organizations/org_Zx81LqPd0aHuW2eB");
    assert!(app
        .emulator("auth0")
        .record("organizations", "org_Zx81LqPd0aHuW2eB")
        .is_none());
}

#[tokio::test]
async fn an_unknown_org_is_a_404_in_auth0s_error_shape() {
    let (app, account) = app_with_account("auth0").await;

    let r = app.get(&app.orgs_path(&account, Some("org_missing"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"statusCode": 404, "error": "Not Found", "message": "The organization does not exist.",
                "errorCode": "inexistent_organization"}),
    );
}

#[tokio::test]
async fn list_walks_checkpoint_pages_with_from_and_take() {
    let (app, account) = app_with_account("auth0").await;
    for i in 0..4 {
        app.emulator("auth0").insert_record(
            "organizations",
            json!({"id": format!("org_extra{i}"), "name": format!("extra-{i}"), "display_name": format!("Extra {i}")}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids.len(), 7, "{ids:?}");
    assert_eq!(pages, 4);
    assert!(ids.contains(&"org_extra3".to_string()));
    let queries: Vec<String> = app
        .emulator("auth0")
        .requests()
        .iter()
        .map(|r| r.query.clone())
        .collect();
    assert!(queries[0].contains("take=2"), "{queries:?}");
    assert!(queries[1].contains("from="), "{queries:?}");
}

/// Auth0 users: get, list over `page`/`per_page`, create into the default database
/// connection, update (names, `blocked`), delete, and a payload error in Auth0's shape.
mod users {
    use reqwest::Method;
    use serde_json::{json, Value};

    use crate::common::{
        assert_remote_error, delete_user, get_user, last_with_method, request_lines, walk_users, write_user,
    };
    use crate::helpers::{app_with_account, assert_request, last_request};

    const TOKEN: &str = "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.sandbox-management-api.c2lnbmF0dXJl";
    const JANE: &str = "auth0|5f7c8ec7c33c6c004bbafe82";

    fn unified(mut record: Value) -> Value {
        record.as_object_mut().unwrap().remove("remote_data");
        record
    }

    #[tokio::test]
    async fn get_maps_every_field_auth0_has() {
        let (app, account) = app_with_account("auth0").await;

        let user = get_user(&app, &account, JANE).await;

        assert_eq!(
            unified(user),
            json!({
                "id": JANE, "username": "jdoe", "name": "Jane Doe", "first_name": "Jane", "last_name": "Doe",
                "emails": [{"email": "jane.doe@example.com", "is_primary": true}],
                "is_email_verified": true, "status": "active", "is_2fa_enabled": true,
                "avatar": "https://s.gravatar.com/avatar/sandbox-bafe82.png",
                "identifiers": {"connection": "Username-Password-Authentication", "provider": "auth0", "nickname": "jane"},
                "last_login_at": "2024-05-02T09:12:43.998Z",
                "created_at": "2020-10-06T15:28:39.561Z", "updated_at": "2024-05-02T09:12:44.002Z"
            })
        );
        let sent = last_request(&app, "auth0");
        assert_request(&sent, "GET", "/api/v2/users/auth0%7C5f7c8ec7c33c6c004bbafe82");
        assert_eq!(sent.header("authorization"), Some(TOKEN));
    }

    #[tokio::test]
    async fn list_walks_pages_from_zero_and_maps_blocked_users_as_inactive() {
        let (app, account) = app_with_account("auth0").await;

        let (users, pages) = walk_users(&app, &account, 2).await;

        assert_eq!((users.len(), pages), (5, 3));
        let blocked = users
            .iter()
            .find(|u| u["id"] == "auth0|61b2c3d4e5f6071829304b5c")
            .unwrap();
        assert_eq!(
            (&blocked["status"], &blocked["is_email_verified"]),
            (&json!("inactive"), &json!(false))
        );
        let social = users
            .iter()
            .find(|u| u["id"] == "google-oauth2|101234567890123456789")
            .unwrap();
        assert_eq!(social["identifiers"]["provider"], "google-oauth2");
        assert_eq!(
            request_lines(&app, "auth0"),
            [
                "GET /api/v2/users?per_page=2&page=0",
                "GET /api/v2/users?per_page=2&page=1",
                "GET /api/v2/users?per_page=2&page=2",
            ]
        );
    }

    #[tokio::test]
    async fn create_posts_into_the_default_database_connection() {
        let (app, account) = app_with_account("auth0").await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"first_name": "Ada", "last_name": "Byron", "name": "Ada Byron", "username": "ada",
                   "emails": [{"email": "ada@example.com", "is_primary": true}], "password": "Analytical-Engine-1843"}),
        )
        .await;

        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            last_with_method(&app, "auth0", "POST").json.unwrap(),
            json!({"connection": "Username-Password-Authentication", "email": "ada@example.com",
                   "password": "Analytical-Engine-1843", "username": "ada", "name": "Ada Byron",
                   "given_name": "Ada", "family_name": "Byron"})
        );
        assert_eq!(r.body["username"], "ada");
        assert_eq!(r.body["status"], "active");
        assert!(r.body["remote_data"].get("password").is_none(), "{}", r.text);
    }

    #[tokio::test]
    async fn a_short_password_is_auth0s_payload_error() {
        let (app, account) = app_with_account("auth0").await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"emails": [{"email": "short@example.com"}], "password": "short"}),
        )
        .await;

        assert_remote_error(
            &r,
            400,
            &json!({"statusCode": 400, "error": "Bad Request",
                    "message": "Payload validation error: password length must be between 8 and ∞",
                    "errorCode": "invalid_body"}),
        );
    }

    #[tokio::test]
    async fn update_patches_names_and_blocks() {
        let (app, account) = app_with_account("auth0").await;

        let r = write_user(
            &app,
            Method::PATCH,
            &account,
            Some(JANE),
            json!({"last_name": "Smith", "status": "inactive"}),
        )
        .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            last_with_method(&app, "auth0", "PATCH").json.unwrap(),
            json!({"family_name": "Smith", "blocked": true})
        );
        assert_eq!(
            (&r.body["last_name"], &r.body["status"]),
            (&json!("Smith"), &json!("inactive"))
        );
        assert_eq!(r.body["first_name"], "Jane");
    }

    #[tokio::test]
    async fn delete_deletes_the_user() {
        let (app, account) = app_with_account("auth0").await;

        let r = delete_user(&app, &account, JANE).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["id"], JANE);
        assert_eq!(
            request_lines(&app, "auth0"),
            ["DELETE /api/v2/users/auth0%7C5f7c8ec7c33c6c004bbafe82"]
        );
        assert!(app.emulator("auth0").record("users", JANE).is_none());
    }
}

/// Auth0 roles (`/api/v2/roles`) and a user's roles (`/api/v2/users/{id}/roles`).
mod roles {
    use reqwest::Method;
    use serde_json::{json, Value};

    use crate::common::{request_lines, unified};
    use crate::helpers::{app_with_account, last_request, result_ids, walk_records};

    const JANE: &str = "auth0|5f7c8ec7c33c6c004bbafe82";
    const ADMIN: &str = "rol_4LHxvgeQxWSSUw4s";
    const SUPPORT: &str = "rol_8Qz2RkWmB1nYpT6c";

    fn path(resource: &str, account: &str, id: Option<&str>, extra: &str) -> String {
        let id = id.map(|i| format!("/{i}")).unwrap_or_default();
        format!("/unified/user-directory/{resource}{id}?integrated_account_id={account}{extra}")
    }

    #[tokio::test]
    async fn a_role_is_mapped() {
        let (app, account) = app_with_account("auth0").await;

        let r = app.get(&path("roles", &account, Some(SUPPORT), "")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": SUPPORT, "name": "Support", "description": "Reads users and resets passwords"})
        );
        assert_eq!(request_lines(&app, "auth0"), [format!("GET /api/v2/roles/{SUPPORT}")]);
    }

    #[tokio::test]
    async fn the_roles_list_walks_pages() {
        let (app, account) = app_with_account("auth0").await;

        let (roles, pages) = walk_records(&app, &path("roles", &account, None, ""), 2).await;

        let ids: Vec<&str> = roles.iter().map(|g| g["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [ADMIN, SUPPORT, "rol_Vb3Jx9LpQe7sHk2d"]);
        assert_eq!(pages, 2);
        assert!(roles[2].get("description").is_none());
    }

    #[tokio::test]
    async fn role_writes_post_patch_and_delete() {
        let (app, account) = app_with_account("auth0").await;

        let r = app
            .send(
                Method::POST,
                &path("roles", &account, None, ""),
                Some(json!({"name": "Auditor", "description": "Reads logs"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, "auth0");
        assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/api/v2/roles"));
        assert_eq!(
            sent.json.unwrap(),
            json!({"name": "Auditor", "description": "Reads logs"})
        );
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            unified(&r.body),
            json!({"id": id, "name": "Auditor", "description": "Reads logs"})
        );

        let r = app
            .send(
                Method::PATCH,
                &path("roles", &account, Some(&id), ""),
                Some(json!({"description": "Reads every log"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, "auth0");
        assert_eq!(
            (sent.method.as_str(), sent.path.clone()),
            ("PATCH", format!("/api/v2/roles/{id}"))
        );
        assert_eq!(sent.json.unwrap(), json!({"description": "Reads every log"}));
        assert_eq!(r.body["name"], "Auditor");

        let r = app
            .send(Method::DELETE, &path("roles", &account, Some(&id), ""), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, "auth0");
        assert_eq!(
            (sent.method.as_str(), sent.path.clone()),
            ("DELETE", format!("/api/v2/roles/{id}"))
        );
        assert!(app.emulator("auth0").record("roles", &id).is_none());
    }

    #[tokio::test]
    async fn an_unknown_role_is_auth0s_404() {
        let (app, account) = app_with_account("auth0").await;

        let r = app.get(&path("roles", &account, Some("rol_missing"), "")).await;

        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(r.body["raw_response"]["statusCode"], 404, "{}", r.text);
    }

    #[tokio::test]
    async fn role_assignments_are_listed_assigned_and_removed_with_a_delete_body() {
        let (app, account) = app_with_account("auth0").await;
        let list = path(
            "role_assignments",
            &account,
            None,
            "&user_id=auth0%7C5f7c8ec7c33c6c004bbafe82",
        );

        let r = app.get(&list).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let first: Vec<Value> = r.body["result"].as_array().unwrap().iter().map(unified).collect();
        assert_eq!(first, [json!({"id": ADMIN, "user_id": JANE, "role_id": ADMIN})]);
        assert_eq!(
            last_request(&app, "auth0").path,
            "/api/v2/users/auth0%7C5f7c8ec7c33c6c004bbafe82/roles"
        );

        let r = app
            .send(
                Method::POST,
                &path("role_assignments", &account, None, ""),
                Some(json!({"user_id": JANE, "role_id": SUPPORT})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": SUPPORT, "user_id": JANE, "role_id": SUPPORT})
        );
        let sent = last_request(&app, "auth0");
        assert_eq!(
            (sent.method.as_str(), sent.path.as_str()),
            ("POST", "/api/v2/users/auth0%7C5f7c8ec7c33c6c004bbafe82/roles")
        );
        assert_eq!(sent.json.unwrap(), json!({"roles": [SUPPORT]}));
        assert_eq!(result_ids(&app.get(&list).await), [ADMIN, SUPPORT]);

        let r = app
            .send(
                Method::DELETE,
                &path(
                    "role_assignments",
                    &account,
                    Some(ADMIN),
                    "&user_id=auth0%7C5f7c8ec7c33c6c004bbafe82",
                ),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, "auth0");
        assert_eq!(
            (sent.method.as_str(), sent.path.as_str()),
            ("DELETE", "/api/v2/users/auth0%7C5f7c8ec7c33c6c004bbafe82/roles")
        );
        assert_eq!(sent.json.unwrap(), json!({"roles": [ADMIN]}));
        assert_eq!(result_ids(&app.get(&list).await), [SUPPORT]);
    }
}

/// The tenant's logs as activities: newest first over `page` pages, the `created_at`
/// filter applied by Unigate, and Auth0's 403 for a token without `read:logs`.
mod activities {
    use serde_json::json;
    use unigate_emulator::Fault;

    use crate::common::{assert_remote_error, directory_path, ids, request_lines, unified};
    use crate::helpers::{app_with_account, walk_records};

    const P: &str = "auth0";

    #[tokio::test]
    async fn the_logs_walk_page_numbers_newest_first() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (events, pages) = walk_records(&app, &directory_path("activities", &account, None, ""), 3).await;

        assert_eq!(events.len(), 4);
        assert_eq!(pages, 2);
        assert_eq!(
            unified(&events[0]),
            json!({
                "id": "90020240615120000000000000000000000000000000000000000003",
                "actor": {"id": "SandboxM2MClient0000000000000001", "name": "Unigate Sandbox", "type": "client"},
                "description": "Create a role",
                "action": "sapi",
                "context": {
                    "ip_address": "203.0.113.7", "user_agent": "node-fetch/1.0",
                    "hostname": "sandbox.us.auth0.com",
                    "client": {"id": "SandboxM2MClient0000000000000001", "name": "Unigate Sandbox"}
                },
                "created_at": "2024-06-15T12:00:00.000Z"
            })
        );
        assert_eq!(
            unified(&events[1]),
            json!({
                "id": "90020240614090000000000000000000000000000000000000000002",
                "actor": {"id": "auth0|65f1a2b3c4d5e6f7a8b9c0d1", "name": "jane.doe@acme.example", "type": "user"},
                "description": "Successful login",
                "action": "s",
                "context": {
                    "ip_address": "198.51.100.23", "user_agent": "Chrome 125.0.0 / Mac OS X 14.5.0",
                    "hostname": "sandbox.us.auth0.com", "connection": "Username-Password-Authentication",
                    "client": {"id": "Ab3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uV", "name": "Acme Portal"},
                    "location": {"country_code": "DE", "city_name": "Berlin", "time_zone": "Europe/Berlin"}
                },
                "created_at": "2024-06-14T09:00:00.000Z"
            })
        );
        assert_eq!(
            request_lines(&app, P)
                .into_iter()
                .filter(|l| l.starts_with("GET /api/v2/logs"))
                .collect::<Vec<_>>(),
            [
                "GET /api/v2/logs?sort=date%3A-1&per_page=3&page=0",
                "GET /api/v2/logs?sort=date%3A-1&per_page=3&page=1"
            ]
        );
    }

    #[tokio::test]
    async fn the_created_at_filter_keeps_the_events_inside_its_bounds() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path(
                "activities",
                &account,
                None,
                "&created_at[gte]=2024-06-10&created_at[lt]=2024-06-15",
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            ids(r.body["result"].as_array().unwrap()),
            [
                "90020240614090000000000000000000000000000000000000000002",
                "90020240610070000000000000000000000000000000000000000001"
            ]
        );
    }

    #[tokio::test]
    async fn a_token_without_read_logs_is_auth0s_403() {
        let (app, account) = app_with_account(P).await;
        let body = json!({"statusCode": 403, "error": "Forbidden",
                          "message": "Insufficient scope, expected any of: read:logs",
                          "errorCode": "insufficient_scope"});
        app.emulator(P)
            .inject(Fault::respond(403, body.clone()).on("GET", "/api/v2/logs"));

        let r = app.get(&directory_path("activities", &account, None, "")).await;

        assert_remote_error(&r, 403, &body);
    }
}

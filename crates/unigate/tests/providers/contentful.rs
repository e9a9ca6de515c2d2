//! Contentful: get (list and pick by sys.id, licenses side-loaded), list (skip/limit),
//! update (read the version, PUT with `X-Contentful-Version`, retry on a version conflict).

use serde_json::json;
use unigate_emulator::Fault;

use crate::common::{assert_remote_error, get_org, update_org};
use crate::helpers::{app_with_account, assert_request, assert_saw, last_request, spawn_app, walk_list};

#[tokio::test]
async fn get_picks_the_organization_by_its_sys_id() {
    let (app, account) = app_with_account("contentful").await;

    let org = get_org(&app, &account, "0SUbYs2vZlXjVR6bH6o83O").await;

    assert_eq!(org["id"], "0SUbYs2vZlXjVR6bH6o83O");
    assert_eq!(org["name"], "Acme Digital");
    assert_eq!(org["created_at"], "2015-05-18T11:29:46.809Z");
    assert_eq!(org["updated_at"], "2024-02-05T10:12:31.000Z");
    assert_eq!(org["remote_data"]["sys"]["version"], 4);
    assert!(org.get("pricing_plan").is_none(), "{org}");
    let sent = last_request(&app, "contentful");
    assert_request(&sent, "GET", "/organizations");
    assert_eq!(sent.query, "limit=100");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer CFPAT-sandbox0contentful0personal0access0token0000001")
    );
}

#[tokio::test]
async fn an_organization_not_in_the_users_list_is_a_404() {
    let (app, account) = app_with_account("contentful").await;

    let r = app.get(&app.orgs_path(&account, Some("missing"), "")).await;

    crate::helpers::assert_error(&r, 404);
}

#[tokio::test]
async fn a_bad_token_is_a_401_with_contentfuls_error_sys() {
    let app = spawn_app().await;
    let account = app
        .connect_with("contentful", json!({"access_token": "CFPAT-wrong"}))
        .await;

    let r = app.get(&app.orgs_path(&account, None, "")).await;

    assert_remote_error(
        &r,
        401,
        &json!({"sys": {"type": "Error", "id": "AccessTokenInvalid"},
                "message": "The access token you sent could not be found or is invalid.",
                "requestId": "8a3e0f6c-1d2b-4c5a-9e7f-0b1c2d3e4f5c"}),
    );
}

#[tokio::test]
async fn list_pages_with_skip_and_limit_until_the_total() {
    let (app, account) = app_with_account("contentful").await;
    for i in 0..3 {
        app.emulator("contentful").insert_record(
            "organizations",
            json!({"name": format!("Extra {i}"), "sys": {"type": "Organization", "id": format!("extra{i}"),
                   "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(
        ids,
        [
            "0SUbYs2vZlXjVR6bH6o83O",
            "4kQeJmhUWIKtNNmMkketza",
            "extra0",
            "extra1",
            "extra2"
        ]
    );
    assert_eq!(pages, 3);
    assert!(last_request(&app, "contentful").query.contains("skip=4"));
}

const ACME: &str = "0SUbYs2vZlXjVR6bH6o83O";

#[tokio::test]
async fn get_side_loads_the_available_licenses() {
    let (app, account) = app_with_account("contentful").await;
    app.emulator("contentful").clear_requests();

    let org = get_org(&app, &account, ACME).await;

    assert_eq!(
        org["licenses"],
        json!([{"id": "2qbN4xIgiRGl2d79XAISaK", "name": "Templated Space"},
               {"id": "4b9Ee2HMf88ztZgEP5RNRd", "name": "Standard Space"}])
    );
    assert!(org.get("pricing_plan").is_none(), "{org}");
    let sent: Vec<(String, String)> = app
        .emulator("contentful")
        .requests()
        .iter()
        .map(|r| (r.path.clone(), r.query.clone()))
        .collect();
    assert_eq!(
        sent,
        [
            (
                format!("/organizations/{ACME}/available_licenses"),
                "limit=100".to_string()
            ),
            ("/organizations".to_string(), "limit=100".to_string()),
        ]
    );
}

#[tokio::test]
async fn an_organization_without_licenses_has_an_empty_list() {
    let (app, account) = app_with_account("contentful").await;

    let org = get_org(&app, &account, "4kQeJmhUWIKtNNmMkketza").await;

    assert_eq!(org["licenses"], json!([]));
}

#[tokio::test]
async fn licenses_the_token_may_not_read_are_left_out() {
    let (app, account) = app_with_account("contentful").await;
    app.emulator("contentful").inject(
        Fault::respond(
            403,
            json!({"sys": {"type": "Error", "id": "AccessDenied"}, "message": "Forbidden"}),
        )
        .on("GET", "/organizations/*/available_licenses"),
    );

    let org = get_org(&app, &account, ACME).await;

    assert_eq!(org["name"], "Acme Digital");
    assert!(org.get("licenses").is_none(), "{org}");
}

#[tokio::test]
async fn update_puts_the_name_with_the_current_version_header() {
    let (app, account) = app_with_account("contentful").await;
    app.emulator("contentful").clear_requests();

    let r = update_org(&app, &account, ACME, json!({"name": "Acme Content Platform"})).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], ACME);
    assert_eq!(r.body["name"], "Acme Content Platform");
    assert_eq!(r.body["created_at"], "2015-05-18T11:29:46.809Z");
    assert_ne!(r.body["updated_at"], "2024-02-05T10:12:31.000Z");
    assert_eq!(r.body["remote_data"]["sys"]["version"], 5);
    let path = format!("/organizations/{ACME}");
    let sent = assert_saw(&app, "contentful", &[("GET", &path), ("PUT", &path)]);
    let put = &sent[1];
    assert_eq!(put.header("x-contentful-version"), Some("4"));
    assert_eq!(
        put.header("authorization"),
        Some("Bearer CFPAT-sandbox0contentful0personal0access0token0000001")
    );
    assert_eq!(put.json.clone().unwrap(), json!({"name": "Acme Content Platform"}));
    let stored = app.emulator("contentful").record("organizations", ACME).unwrap();
    assert_eq!(stored["name"], "Acme Content Platform");
    assert_eq!(stored["sys"]["version"], 5);
}

#[tokio::test]
async fn a_stale_version_is_reread_and_the_rename_retried() {
    let (app, account) = app_with_account("contentful").await;
    // The first read answers an older copy: the PUT names version 3, Contentful refuses it.
    let mut stale = app.emulator("contentful").record("organizations", ACME).unwrap();
    stale["sys"]["version"] = json!(3);
    app.emulator("contentful")
        .inject(Fault::respond(200, stale).on("GET", "/organizations/*").times(1));
    app.emulator("contentful").clear_requests();

    let r = update_org(&app, &account, ACME, json!({"name": "Acme Renamed"})).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Acme Renamed");
    let versions: Vec<Option<String>> = app
        .emulator("contentful")
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.header("x-contentful-version").map(str::to_string))
        .collect();
    assert_eq!(versions, [Some("3".to_string()), Some("4".to_string())]);
}

#[tokio::test]
async fn a_version_that_keeps_changing_is_contentfuls_409() {
    let (app, account) = app_with_account("contentful").await;
    let mut stale = app.emulator("contentful").record("organizations", ACME).unwrap();
    stale["sys"]["version"] = json!(3);
    app.emulator("contentful")
        .inject(Fault::respond(200, stale).on("GET", "/organizations/*"));

    let r = update_org(&app, &account, ACME, json!({"name": "Acme Renamed"})).await;

    assert_remote_error(
        &r,
        409,
        &json!({"sys": {"type": "Error", "id": "VersionMismatch"}, "requestId": "8a3e0f6c-1d2b-4c5a-9e7f-0b1c2d3e4f5e"}),
    );
    assert!(r.body["message"].as_str().unwrap().contains("3 attempts"), "{}", r.text);
    let puts = app
        .emulator("contentful")
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .count();
    assert_eq!(puts, 3);
    assert_eq!(
        app.emulator("contentful").record("organizations", ACME).unwrap()["name"],
        "Acme Digital"
    );
}

#[tokio::test]
async fn an_empty_name_is_contentfuls_422_validation_error() {
    let (app, account) = app_with_account("contentful").await;

    let r = update_org(&app, &account, ACME, json!({"name": ""})).await;

    crate::helpers::assert_error(&r, 422);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    assert_eq!(r.body["raw_response"]["sys"]["id"], "ValidationFailed");
    assert_eq!(r.body["raw_response"]["details"]["errors"][0]["path"], json!(["name"]));
}

/// Users of one organization (`GET /organizations/{id}/users[/{user_id}]`): get, list over
/// `skip`/`limit`, each scoped by `organization_id`; writes are not offered.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use super::ACME;
    use crate::common::{request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const P: &str = "contentful";
    const BEARER: &str = "Bearer CFPAT-sandbox0contentful0personal0access0token0000001";
    const ORG: &str = "&organization_id=0SUbYs2vZlXjVR6bH6o83O";

    #[tokio::test]
    async fn get_maps_the_user() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, Some("3kTz8N9f2Q7bXw1YcLmR0p"), ORG))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "3kTz8N9f2Q7bXw1YcLmR0p", "first_name": "Carlos", "last_name": "Mendes",
                "name": "Carlos Mendes",
                "emails": [{"email": "carlos.mendes@acme-digital.example", "is_primary": true}],
                "is_email_verified": true, "status": "active",
                "organizations": [{"id": ACME}],
                "avatar": "https://www.gravatar.com/avatar/3ktz8n9f2q7bxw1yclmr0p?s=50&d=https%3A%2F%2Fstatic.contentful.com%2Fgatekeeper%2Fusers%2Fdefault.png",
                "created_at": "2019-03-04T10:00:00.000Z", "updated_at": "2024-04-11T12:30:00.000Z"
            })
        );
        assert_eq!(r.body["remote_data"]["signInCount"], 87);
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "GET",
            &format!("/organizations/{ACME}/users/3kTz8N9f2Q7bXw1YcLmR0p"),
        );
        assert_eq!(sent.header("authorization"), Some(BEARER));
    }

    #[tokio::test]
    async fn an_unknown_user_is_contentfuls_not_found() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("nobody"), ORG)).await;

        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(
            r.body["raw_response"]["sys"],
            json!({"type": "Error", "id": "NotFound"})
        );
        assert_eq!(r.body["raw_response"]["message"], "The resource could not be found.");
    }

    #[tokio::test]
    async fn list_pages_with_skip_and_limit() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (users, pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

        let rows: Vec<(&str, &str)> = users
            .iter()
            .map(|u| (u["name"].as_str().unwrap(), u["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            rows,
            [
                ("Jane Doe", "active"),
                ("Carlos Mendes", "active"),
                ("Aiko Tanaka", "active"),
                ("Pending Invitee", "invited"),
                ("Noor Haddad", "active")
            ]
        );
        assert_eq!(users[2]["is_email_verified"], false);
        assert_eq!(pages, 3);
        assert_eq!(
            request_lines(&app, P),
            [
                format!("GET /organizations/{ACME}/users?limit=2"),
                format!("GET /organizations/{ACME}/users?limit=2&skip=2"),
                format!("GET /organizations/{ACME}/users?limit=2&skip=4")
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
    async fn the_email_filter_is_applied_by_unigate() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(
                &account,
                None,
                &format!("{ORG}&email=NOOR.HADDAD@acme-digital.example"),
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let ids: Vec<&str> = r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["1aB2cD3eF4gH5iJ6kL7mN8"]);
    }

    #[tokio::test]
    async fn update_puts_the_role_on_the_users_organization_membership() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("5qW2eR4tY6uI8oP0aS1dF3"), ORG),
                Some(json!({"roles": [{"id": "admin"}]})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "5qW2eR4tY6uI8oP0aS1dF3", "first_name": "Aiko", "last_name": "Tanaka",
                "name": "Aiko Tanaka",
                "emails": [{"email": "aiko.tanaka@acme-digital.example", "is_primary": true}],
                "is_email_verified": false, "status": "active", "user_type": "admin",
                "roles": [{"id": "admin", "name": "admin", "organization": ACME}],
                "organizations": [{"id": ACME}],
                "avatar": "https://www.gravatar.com/avatar/5qw2er4ty6ui8op0as1df3?s=50&d=https%3A%2F%2Fstatic.contentful.com%2Fgatekeeper%2Fusers%2Fdefault.png",
                "created_at": "2022-07-21T14:15:00.000Z", "updated_at": "2023-01-09T08:45:00.000Z"
            })
        );
        assert_eq!(
            request_lines(&app, P),
            [
                format!("GET /organizations/{ACME}/users/5qW2eR4tY6uI8oP0aS1dF3"),
                format!("GET /organizations/{ACME}/organization_memberships?limit=100"),
                format!("PUT /organizations/{ACME}/organization_memberships/4jK5lZ6xC7vB8nM9qW0eR1"),
            ]
        );
        let sent = last_request(&app, P);
        assert_eq!(sent.header("x-contentful-version"), Some("1"));
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert_eq!(sent.json.unwrap(), json!({"role": "admin"}));
        let stored = app
            .emulator(P)
            .record("organization_memberships", "4jK5lZ6xC7vB8nM9qW0eR1")
            .unwrap();
        assert_eq!(stored["role"], "admin");
        assert_eq!(stored["sys"]["version"], 2);
    }

    #[tokio::test]
    async fn a_role_contentful_does_not_have_is_its_422_validation_error() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("5qW2eR4tY6uI8oP0aS1dF3"), ORG),
                Some(json!({"roles": [{"id": "editor"}]})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        let raw = &r.body["raw_response"];
        assert_eq!(raw["sys"]["id"], "ValidationFailed", "{}", r.text);
        assert_eq!(raw["details"]["errors"][0]["path"], json!(["role"]), "{}", r.text);
    }

    #[tokio::test]
    async fn a_name_cannot_be_written_and_nothing_is_sent() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("5qW2eR4tY6uI8oP0aS1dF3"), ORG),
                Some(json!({"first_name": "Aiko-Mai"})),
            )
            .await;

        let message = crate::helpers::assert_error(&r, 422);
        assert!(message.contains("first_name"), "{message}");
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn delete_removes_the_users_organization_membership() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::DELETE,
                &users_path(&account, Some("3kTz8N9f2Q7bXw1YcLmR0p"), ORG),
                None,
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            request_lines(&app, P),
            [
                format!("GET /organizations/{ACME}/users/3kTz8N9f2Q7bXw1YcLmR0p"),
                format!("GET /organizations/{ACME}/organization_memberships?limit=100"),
                format!("DELETE /organizations/{ACME}/organization_memberships/2mR4tY6uI8oP0aS1dF3gH5"),
            ]
        );
        assert_request(
            &last_request(&app, P),
            "DELETE",
            &format!("/organizations/{ACME}/organization_memberships/2mR4tY6uI8oP0aS1dF3gH5"),
        );
        assert!(app
            .emulator(P)
            .record("organization_memberships", "2mR4tY6uI8oP0aS1dF3gH5")
            .is_none());
    }

    #[tokio::test]
    async fn deleting_a_user_not_in_the_organization_is_contentfuls_404_and_deletes_nothing() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(Method::DELETE, &users_path(&account, Some("nobody"), ORG), None)
            .await;

        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["raw_response"]["sys"]["id"], "NotFound", "{}", r.text);
        assert_eq!(
            request_lines(&app, P),
            [format!("GET /organizations/{ACME}/users/nobody")]
        );
        assert_eq!(
            app.emulator(P).records("organization_memberships").len(),
            5,
            "no membership was deleted"
        );
    }

    #[tokio::test]
    async fn create_is_not_offered() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"emails": [{"email": "someone@example.com"}]})),
            )
            .await;

        assert_eq!(r.status, 405, "{}", r.text);
        assert!(r.text.contains("does not support"), "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }
}

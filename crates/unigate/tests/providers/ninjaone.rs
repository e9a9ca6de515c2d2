//! NinjaOne API v2.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request, walk_list};

const P: &str = "ninjaone";

#[tokio::test]
async fn get_reads_the_singular_organization_path() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(unified(&r.body), json!({"id": "1", "name": "Acme Dental Group"}));
    assert_eq!(r.body["remote_data"]["nodeApprovalMode"], "AUTOMATIC");
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/api/v2/organization/1");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer ninja-sandbox-access-token-7f3a9c1e")
    );
}

#[tokio::test]
async fn update_answered_with_204_reads_the_organization_back() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("2"), ""),
            Some(json!({"name": "Globex Freight", "remote_data": {"description": "Renamed"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(unified(&r.body), json!({"id": "2", "name": "Globex Freight"}));
    assert_eq!(r.body["remote_data"]["description"], "Renamed");
    let sent = app.emulator(P).requests();
    let n = sent.len();
    assert_request(&sent[n - 2], "PATCH", "/api/v2/organization/2");
    assert_eq!(
        sent[n - 2].json.clone().unwrap(),
        json!({"name": "Globex Freight", "description": "Renamed"})
    );
    assert_request(&sent[n - 1], "GET", "/api/v2/organization/2");
}

#[tokio::test]
async fn a_missing_organization_is_a_404_in_ninjaone_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("404"), "")).await;

    let msg = assert_error(&r, 404);
    assert!(msg.contains("Organization 404 not found"), "{msg}");
    assert_eq!(r.body["raw_response"]["resultCode"], "NOT_FOUND");
    assert_eq!(r.body["raw_response"]["errorMessage"], "Organization 404 not found");
    assert!(r.body["raw_response"]["incidentId"].is_string());
}

#[tokio::test]
async fn list_walks_after_cursors_made_of_the_last_id() {
    let (app, account) = app_with_account(P).await;
    for i in 0..3 {
        app.emulator(P)
            .insert_record("organizations", json!({"id": 10 + i, "name": format!("Extra {i}")}));
    }

    let (ids, _) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["1", "2", "5", "10", "11", "12"]);
    let queries: Vec<String> = app.emulator(P).requests().iter().map(|r| r.query.clone()).collect();
    assert!(
        queries
            .iter()
            .any(|q| q.contains("after=10") && q.contains("pageSize=2")),
        "{queries:?}"
    );
}

/// NinjaOne users: technicians and end users from `GET /v2/users` (one unpaged array; a
/// get picks the id from it), end-user create (invitation), update and delete.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{delete_user, get_user, last_with_method, request_lines, unified, users_path, write_user};
    use crate::helpers::{app_with_account, assert_request, last_request};

    const P: &str = "ninjaone";
    const TOKEN: &str = "Bearer ninja-sandbox-access-token-7f3a9c1e";

    #[tokio::test]
    async fn get_picks_the_user_from_the_users_list() {
        let (app, account) = app_with_account(P).await;

        let user = get_user(&app, &account, "11").await;

        assert_eq!(
            unified(&user),
            json!({
                "id": "11", "first_name": "Priya", "last_name": "Raman", "name": "Priya Raman",
                "emails": [{"email": "priya.raman@msp.example", "is_primary": true}],
                "phones": [{"number": "+1 512 555 0110"}],
                "status": "active", "user_type": "TECHNICIAN", "is_2fa_enabled": true,
                "roles": [{"name": "System Administrator"}],
                "identifiers": {"uid": "0e7d4c1a-52b3-4f8e-9a61-7c2d9b3e8f10", "administrator": true, "auth_type": "NATIVE"}
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/api/v2/users");
        assert_eq!(sent.query, "includeRoles=true");
        assert_eq!(sent.header("authorization"), Some(TOKEN));
    }

    #[tokio::test]
    async fn an_unknown_user_is_a_404() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("999"), "")).await;

        assert_eq!(r.status, 404, "{}", r.text);
    }

    #[tokio::test]
    async fn list_is_one_page_with_technicians_and_end_users_and_their_states() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, None, "&limit=2")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body["next_cursor"].is_null(), "{}", r.text);
        let rows: Vec<(String, String, String)> = r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["id"].as_str().unwrap().to_owned(),
                    u["status"].as_str().unwrap().to_owned(),
                    u["user_type"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected = [
            ("11", "active", "TECHNICIAN"),
            ("12", "active", "TECHNICIAN"),
            ("14", "inactive", "TECHNICIAN"),
            ("31", "active", "END_USER"),
            ("32", "invited", "END_USER"),
            ("33", "EXPIRED", "END_USER"),
        ]
        .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
        assert_eq!(rows, expected);
        assert_eq!(r.body["result"][3]["organizations"], json!([{"id": "1"}]));
        assert_eq!(r.body["result"][1]["identifiers"]["auth_type"], "SSO");
        assert_eq!(request_lines(&app, P), ["GET /api/v2/users?includeRoles=true"]);
    }

    #[tokio::test]
    async fn create_invites_an_end_user() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"first_name": "Olga", "last_name": "Petrova",
                   "emails": [{"email": "olga.petrova@globex.example", "is_primary": true}],
                   "phones": [{"number": "+1 512 555 0177"}],
                   "organizations": [{"id": "2"}]}),
        )
        .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/api/v2/user/end-users");
        assert_eq!(sent.query, "sendInvitation=true");
        assert_eq!(sent.header("authorization"), Some(TOKEN));
        assert_eq!(
            sent.json.unwrap(),
            json!({"firstName": "Olga", "lastName": "Petrova", "email": "olga.petrova@globex.example",
                   "phone": "+1 512 555 0177", "organizationId": 2})
        );
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "34", "first_name": "Olga", "last_name": "Petrova", "name": "Olga Petrova",
                "emails": [{"email": "olga.petrova@globex.example", "is_primary": true}],
                "phones": [{"number": "+1 512 555 0177"}],
                "status": "invited", "user_type": "END_USER", "is_2fa_enabled": false,
                "organizations": [{"id": "2"}],
                "identifiers": {"uid": "6f0c2b1e-9d8a-4c7b-a6e5-3f2d1c0b9a87", "administrator": false, "auth_type": "NATIVE"}
            })
        );
    }

    #[tokio::test]
    async fn a_missing_last_name_is_ninjaones_error() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(&app, Method::POST, &account, None, json!({"first_name": "Olga"})).await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        let raw = &r.body["raw_response"];
        assert_eq!(
            (&raw["resultCode"], &raw["errorMessage"]),
            (&json!("FAILURE"), &json!("Invalid field: lastName"))
        );
        assert!(raw["incidentId"].is_string(), "{}", r.text);
    }

    #[tokio::test]
    async fn update_patches_an_end_users_names_and_organization() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::PATCH,
            &account,
            Some("32"),
            json!({"last_name": "Novak-Horvat", "organizations": [{"id": "5"}]}),
        )
        .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, P, "PATCH");
        assert_request(&sent, "PATCH", "/api/v2/user/end-user/32");
        assert_eq!(sent.header("authorization"), Some(TOKEN));
        assert_eq!(
            sent.json.unwrap(),
            json!({"lastName": "Novak-Horvat", "organizationId": 5})
        );
        assert_eq!(
            (&r.body["name"], &r.body["organizations"], &r.body["status"]),
            (&json!("Mike Novak-Horvat"), &json!([{"id": "5"}]), &json!("invited"))
        );
    }

    #[tokio::test]
    async fn an_email_change_is_refused_before_any_call() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::PATCH,
            &account,
            Some("32"),
            json!({"emails": [{"email": "new@globex.example"}]}),
        )
        .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn delete_removes_the_end_user() {
        let (app, account) = app_with_account(P).await;

        let r = delete_user(&app, &account, "33").await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"id": "33"}));
        let sent = last_request(&app, P);
        assert_request(&sent, "DELETE", "/api/v2/user/end-user/33");
        assert_eq!(sent.header("authorization"), Some(TOKEN));
        assert!(app.emulator(P).record("users", "33").is_none());
    }
}

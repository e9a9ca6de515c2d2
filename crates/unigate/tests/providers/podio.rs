//! Podio organizations.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

const P: &str = "podio";

#[tokio::test]
async fn get_maps_type_and_created_on() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("1543210"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "1543210", "name": "Acme Events", "pricing_plan": "premium", "created_at": "2012-05-09T14:21:07Z"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/org/1543210");
    assert_eq!(
        sent.header("authorization"),
        Some("OAuth2 podio-sandbox-9d1c7b5a3e2f4a6b8c0d")
    );
}

#[tokio::test]
async fn update_puts_the_name_and_reads_the_org_back() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PUT,
            &app.orgs_path(&account, Some("1600042"), ""),
            Some(json!({"name": "Globex Helpers", "remote_data": {"url_label": "globex-helpers"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Helpers");
    assert_eq!(r.body["remote_data"]["url_label"], "globex-helpers");
    let sent = app.emulator(P).requests();
    let put = sent.iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(put.path, "/org/1600042");
    assert_eq!(
        put.json.clone().unwrap(),
        json!({"name": "Globex Helpers", "url_label": "globex-helpers"})
    );
    assert_eq!(sent.last().unwrap().method, "GET");
}

#[tokio::test]
async fn a_missing_org_is_a_404_in_podio_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("42"), "")).await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"]["error"], "not_found");
    assert_eq!(r.body["raw_response"]["error_description"], "Object not found");
    assert_eq!(r.body["raw_response"]["request"]["method"], "GET");
}

#[tokio::test]
async fn list_answers_every_org_in_one_page() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).insert_record(
        "orgs",
        json!({"org_id": 1700001, "name": "Extra", "type": "free", "created_on": "2020-01-01 00:00:00"}),
    );

    let r = app.get(&app.orgs_path(&account, None, "&limit=2")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1543210", "1600042", "1700001"]);
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    assert_eq!(last_request(&app, P).path, "/org/");
}

/// Organization members as users: get, list per organization (limit/offset), removal,
/// and Podio's error shape.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_error, assert_request, last_request, walk_records};

    const P: &str = "podio";
    const ORG: &str = "&organization_id=1543210";

    #[tokio::test]
    async fn get_maps_the_member_its_user_and_profile() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("1001"), ORG)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "1001", "name": "Sara Lindqvist", "title": "Head of Events",
                "emails": [{"email": "sara@acme-events.example", "is_primary": true}],
                "status": "active", "user_type": "admin", "roles": [{"id": "admin", "name": "admin"}],
                "avatar": "https://d2cmuesa4snpwn.cloudfront.net/public/31001",
                "timezone": "Europe/Stockholm", "languages": ["sv_SE"],
                "last_active_at": "2024-06-02T15:03:11Z", "created_at": "2016-04-11T09:12:40Z",
                "organizations": [{"id": "1543210"}], "identifiers": {"profile_id": "2001"}
            })
        );
        assert!(r.body["remote_data"].get("_org").is_none(), "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/org/1543210/member/1001");
        assert_eq!(
            sent.header("authorization"),
            Some("OAuth2 podio-sandbox-9d1c7b5a3e2f4a6b8c0d")
        );
    }

    #[tokio::test]
    async fn list_walks_limit_and_offset_within_the_organization() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["1001", "1002", "1003", "1004", "1005"]);
        assert_eq!(pages, 3);
        let kinds: Vec<(&str, &str)> = users
            .iter()
            .map(|u| (u["status"].as_str().unwrap(), u["user_type"].as_str().unwrap()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("active", "admin"),
                ("active", "employee"),
                ("active", "external"),
                ("inactive", "employee"),
                ("inactive", "employee")
            ]
        );
        let lines = request_lines(&app, P);
        assert_eq!(lines[0], "GET /org/1543210/member/?limit=2");
        assert_eq!(lines[1], "GET /org/1543210/member/?limit=2&offset=2");
        assert_eq!(lines[2], "GET /org/1543210/member/?limit=2&offset=4");
    }

    #[tokio::test]
    async fn a_list_without_the_organization_is_a_400_naming_it() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, None, "")).await;

        let message = assert_error(&r, 400);
        assert!(message.contains("organization_id"), "{message}");
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn delete_ends_the_membership() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(Method::DELETE, &users_path(&account, Some("1003"), ORG), None)
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_request(&last_request(&app, P), "DELETE", "/org/1543210/member/1003");
        assert!(app.emulator(P).record("members", "1003").is_none());
    }

    #[tokio::test]
    async fn an_unknown_member_is_a_404_in_podio_error_shape() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("42"), ORG)).await;

        assert_error(&r, 404);
        assert_eq!(r.body["raw_response"]["error"], "not_found");
        assert_eq!(r.body["raw_response"]["error_description"], "Object not found");
        assert_eq!(
            r.body["raw_response"]["request"]["url"],
            "http://api.podio.com/org/1543210/member/42"
        );
    }
}

/// `me`: the token's user from `GET /user/status`.
mod me {
    use serde_json::json;

    use crate::common::{directory_path, unified};
    use crate::helpers::{app_with_account, assert_request, last_request, spawn_app};

    const P: &str = "podio";

    #[tokio::test]
    async fn me_is_the_user_of_the_token() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("me", &account, None, "")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        let records = r.body["result"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{}", r.text);
        assert_eq!(
            unified(&records[0]),
            json!({"id": "1001", "name": "Sara Lindqvist", "email": "sara@acme-events.example"})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/user/status");
        assert_eq!(
            sent.header("authorization"),
            Some("OAuth2 podio-sandbox-9d1c7b5a3e2f4a6b8c0d")
        );
    }

    #[tokio::test]
    async fn an_invalid_token_is_podios_401() {
        let app = spawn_app().await;
        let account = app.connect_with(P, json!({"access_token": "wrong"})).await;

        let r = app.get(&directory_path("me", &account, None, "")).await;

        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(r.body["raw_response"]["error"], "invalid_grant", "{}", r.text);
        assert_eq!(
            r.body["raw_response"]["error_description"], "invalid_token",
            "{}",
            r.text
        );
    }
}

/// Spaces as workspaces: an organization's spaces, one space by id, Podio's 404.
mod workspaces {
    use serde_json::json;

    use crate::common::{directory_path, ids, unified};
    use crate::helpers::{app_with_account, assert_request, last_request};

    const P: &str = "podio";

    #[tokio::test]
    async fn an_organizations_spaces_are_its_workspaces() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path(
                "workspaces",
                &account,
                None,
                "&organization_id=1543210",
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let spaces = r.body["result"].as_array().unwrap();
        assert_eq!(ids(spaces), ["4001", "4002", "4003"], "this organization's spaces only");
        assert_eq!(
            unified(&spaces[2]),
            json!({"id": "4003", "name": "Employee Network", "organization": {"id": "1543210"},
                   "created_at": "2016-04-11T09:15:00Z"})
        );
        assert_eq!(spaces[2]["remote_data"]["type"], "emp_network");
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/org/1543210/space/");
        assert_eq!(
            sent.header("authorization"),
            Some("OAuth2 podio-sandbox-9d1c7b5a3e2f4a6b8c0d")
        );
    }

    #[tokio::test]
    async fn a_space_is_read_by_id() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("workspaces", &account, Some("4002"), "")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": "4002", "name": "Venues", "organization": {"id": "1543210"},
                   "created_at": "2018-02-11T13:30:00Z"})
        );
        assert_request(&last_request(&app, P), "GET", "/space/4002");

        let r = app.get(&directory_path("workspaces", &account, Some("999"), "")).await;
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(
            r.body["raw_response"]["error_description"], "Object not found",
            "{}",
            r.text
        );
    }
}

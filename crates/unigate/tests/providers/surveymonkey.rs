//! SurveyMonkey API v3: the token's account through /users/me.

use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request, spawn_app};

const P: &str = "surveymonkey";

#[tokio::test]
async fn get_answers_the_account_with_its_type_and_creation_date() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("145236789"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "145236789", "pricing_plan": "enterprise_platinum", "created_at": "2015-10-06T12:56:55Z"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v3/users/me");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer sm-sandbox-tK9fQ2xV7pL4mN8rB3cZ")
    );
}

#[tokio::test]
async fn another_id_is_not_found_and_the_list_has_the_one_account() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;
    assert_error(&r, 404);

    let r = app.get(&app.orgs_path(&account, None, "&limit=5")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["result"][0]["id"], "145236789");
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_bad_token_is_a_401_in_surveymonkey_error_shape() {
    let app = spawn_app().await;
    let account = app.connect_with(P, json!({"access_token": "wrong"})).await;

    let r = app.get(&app.orgs_path(&account, Some("145236789"), "")).await;

    assert_error(&r, 401);
    assert_eq!(r.body["raw_response"]["error"]["id"], "1011");
    assert_eq!(r.body["raw_response"]["error"]["http_status_code"], 401);
    assert_eq!(r.body["raw_response"]["error"]["name"], "Authorization Error");
}

/// Team members as users: get, the partial list per team over `page`/`per_page`, the
/// missing team, and SurveyMonkey's error shape.
mod users {
    use serde_json::json;

    use crate::common::{assert_remote_error, request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_error, assert_request, last_request, walk_records};

    const P: &str = "surveymonkey";
    const TEAM: &str = "&team_id=1234567";

    #[tokio::test]
    async fn get_maps_the_team_member() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("1238"), TEAM)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": "1238", "username": "alex.novak",
                   "emails": [{"email": "alex.novak@acme.example", "is_primary": true}],
                   "status": "invited", "user_type": "regular", "groups": [{"id": "1234567"}],
                   "created_at": "2024-05-30T08:00:00Z"})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/v3/groups/1234567/members/1238");
        assert_eq!(
            sent.header("authorization"),
            Some("Bearer sm-sandbox-tK9fQ2xV7pL4mN8rB3cZ")
        );
    }

    #[tokio::test]
    async fn list_walks_pages_of_the_team_and_is_partial() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_records(&app, &users_path(&account, None, TEAM), 2).await;

        assert_eq!(
            users.iter().map(unified).collect::<Vec<_>>(),
            [
                json!({"id": "1234", "username": "acme_research", "groups": [{"id": "1234567"}]}),
                json!({"id": "1235", "username": "jordan.lee", "groups": [{"id": "1234567"}]}),
                json!({"id": "1236", "username": "sam.ortiz", "groups": [{"id": "1234567"}]}),
                json!({"id": "1237", "username": "priya.shah", "groups": [{"id": "1234567"}]}),
                json!({"id": "1238", "username": "alex.novak", "groups": [{"id": "1234567"}]}),
            ]
        );
        assert_eq!(pages, 3);
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /v3/groups/1234567/members?per_page=2&page=1",
                "GET /v3/groups/1234567/members?per_page=2&page=2",
                "GET /v3/groups/1234567/members?per_page=2&page=3",
            ]
        );
        let r = app.get(&users_path(&account, None, TEAM)).await;
        assert_eq!(r.body["is_partial_response"], true, "{}", r.text);
    }

    #[tokio::test]
    async fn a_list_without_the_team_is_a_400_naming_it() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, None, "")).await;

        let message = assert_error(&r, 400);
        assert!(message.contains("team_id"), "{message}");
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn an_unknown_member_is_surveymonkeys_resource_not_found() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("9999"), TEAM)).await;

        assert_remote_error(
            &r,
            404,
            &json!({"error": {"id": "1020", "name": "Resource Not Found",
                              "docs": "https://developer.surveymonkey.com/api/v3/#error-codes",
                              "message": "The resource you are looking for was not found.", "http_status_code": 404}}),
        );
    }
}

/// Workgroups as groups (with their members), roles and `me`.
mod directory {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{
        assert_remote_error, change_membership, directory_path, group_members, ids, request_lines, unified,
    };
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const P: &str = "surveymonkey";
    const BEARER: &str = "Bearer sm-sandbox-tK9fQ2xV7pL4mN8rB3cZ";
    const TEAM: &str = "&team_id=1234567";
    const MARKETING: &str = "71d9d408d1914c9ca85ffcda8330d675";
    const RESEARCH: &str = "82e0e519e2a25d0db96aade9a441e786";
    const HR: &str = "93f1f62af3b36e1ec07bbef0b552f897";

    fn not_found() -> serde_json::Value {
        json!({"error": {"id": "1020", "name": "Resource Not Found", "docs": "https://developer.surveymonkey.com/api/v3/#error-codes",
                         "message": "The resource you are looking for was not found.", "http_status_code": 404}})
    }

    #[tokio::test]
    async fn a_workgroup_is_a_group_with_utc_dates() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("groups", &account, Some(MARKETING), "")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": MARKETING, "name": "Marketing", "description": "Spreading the company brand",
                "group_type": "group",
                "created_at": "2018-04-21T21:21:46Z", "updated_at": "2018-04-21T21:21:46Z"
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/v3/workgroups/{MARKETING}"));
        assert_eq!(sent.header("authorization"), Some(BEARER));
    }

    #[tokio::test]
    async fn the_workgroups_list_walks_pages() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (groups, pages) = walk_records(&app, &directory_path("groups", &account, None, ""), 2).await;

        assert_eq!(ids(&groups), [MARKETING, RESEARCH, HR]);
        assert_eq!(pages, 2);
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /v3/workgroups?per_page=2&page=1",
                "GET /v3/workgroups?per_page=2&page=2"
            ]
        );
    }

    #[tokio::test]
    async fn workgroup_writes_post_patch_and_delete() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("groups", &account, None, ""),
                Some(json!({"name": "Product"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/v3/workgroups");
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert_eq!(
            sent.json.unwrap(),
            json!({"name": "Product", "description": "", "is_visible": true})
        );
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            unified(&r.body),
            json!({"id": id, "name": "Product", "group_type": "group",
                   "created_at": "2024-06-15T10:00:00Z", "updated_at": "2024-06-15T10:00:00Z"})
        );

        let r = app
            .send(
                Method::PATCH,
                &directory_path("groups", &account, Some(&id), ""),
                Some(json!({"description": "Product managers"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "PATCH", &format!("/v3/workgroups/{id}"));
        assert_eq!(sent.json.unwrap(), json!({"description": "Product managers"}));
        assert_eq!(
            (&r.body["description"], &r.body["updated_at"]),
            (&json!("Product managers"), &json!("2024-06-16T11:30:00Z"))
        );

        let r = app
            .send(Method::DELETE, &directory_path("groups", &account, Some(&id), ""), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_request(&last_request(&app, P), "DELETE", &format!("/v3/workgroups/{id}"));
        assert!(app.emulator(P).record("workgroups", &id).is_none());
    }

    #[tokio::test]
    async fn an_unknown_workgroup_is_surveymonkeys_404() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("groups", &account, Some("nope"), "")).await;

        assert_remote_error(&r, 404, &not_found());
    }

    #[tokio::test]
    async fn add_user_and_remove_user_change_the_workgroup_members_list() {
        let (app, account) = app_with_account(P).await;

        let before = group_members(&app, &account, MARKETING, TEAM).await;
        assert_eq!(ids(&before), ["145236789", "145236791"]);
        assert_eq!(
            unified(&before[1]),
            json!({
                "id": "145236791", "status": "active",
                "groups": [{"id": MARKETING}],
                "identifiers": {"user_id": "145236791"},
                "created_at": "2020-02-02T12:00:00Z"
            })
        );
        assert_request(
            &last_request(&app, P),
            "GET",
            &format!("/v3/workgroups/{MARKETING}/members"),
        );

        let r = change_membership(&app, "add-user", &account, "", MARKETING, "145236792").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(unified(&r.body), json!({"group_id": MARKETING, "user_id": "145236792"}));
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", &format!("/v3/workgroups/{MARKETING}/members"));
        assert_eq!(sent.header("authorization"), Some(BEARER));
        assert_eq!(
            sent.json.unwrap(),
            json!({"user_id": "145236792", "is_workgroup_owner": false})
        );
        assert_eq!(
            ids(&group_members(&app, &account, MARKETING, TEAM).await),
            ["145236789", "145236791", "145236792"]
        );

        let r = change_membership(&app, "remove-user", &account, "", MARKETING, "145236791").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"group_id": MARKETING, "user_id": "145236791"}));
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "DELETE",
            &format!("/v3/workgroups/{MARKETING}/members/145236791"),
        );
        assert!(sent.body.is_empty(), "no body: {}", sent.body_text());
        assert_eq!(
            ids(&group_members(&app, &account, MARKETING, TEAM).await),
            ["145236789", "145236792"]
        );
    }

    #[tokio::test]
    async fn removing_someone_who_is_no_member_is_surveymonkeys_404() {
        let (app, account) = app_with_account(P).await;

        let r = change_membership(&app, "remove-user", &account, "", RESEARCH, "145236791").await;

        assert_remote_error(&r, 404, &not_found());
    }

    #[tokio::test]
    async fn roles_map_system_and_custom_roles() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (roles, pages) = walk_records(&app, &directory_path("roles", &account, None, ""), 2).await;

        assert_eq!(
            ids(&roles),
            [
                "a1af2174db7c40c796f3b069d7efbc63",
                "731fcd072de6426fba74ec7751aa6eab",
                "5c0e8a7d3f2b4c1a9e6d7f8a0b1c2d3e"
            ]
        );
        assert_eq!(pages, 2);
        assert_eq!(
            unified(&roles[0]),
            json!({"id": "a1af2174db7c40c796f3b069d7efbc63", "name": "Viewer", "type": "system",
                   "created_at": "2017-04-13T19:57:40Z", "updated_at": "2017-07-11T13:04:35Z"}),
            "an empty description is left out"
        );
        assert_eq!(
            unified(&roles[2]),
            json!({"id": "5c0e8a7d3f2b4c1a9e6d7f8a0b1c2d3e", "name": "Analyst",
                   "description": "Can analyze results only", "type": "custom",
                   "created_at": "2021-05-05T08:00:00Z", "updated_at": "2022-02-01T09:30:00Z"})
        );
        assert_eq!(roles[2]["remote_data"]["is_enabled"], false);
        assert_eq!(
            request_lines(&app, P),
            ["GET /v3/roles?per_page=2&page=1", "GET /v3/roles?per_page=2&page=2"]
        );
    }

    #[tokio::test]
    async fn me_is_the_tokens_user() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("me", &account, None, "")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        let records = r.body["result"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{}", r.text);
        assert_eq!(
            unified(&records[0]),
            json!({"id": "145236789", "name": "Riley Researcher", "email": "research@acme.example"})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/v3/users/me");
        assert_eq!(sent.header("authorization"), Some(BEARER));
    }
}

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

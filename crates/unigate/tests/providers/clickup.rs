//! ClickUp: get (list and pick a Workspace), list (unpaged).

use serde_json::json;

use crate::common::{assert_remote_error, get_org};
use crate::helpers::{app_with_account, assert_request, last_request, spawn_app};

const TOKEN: &str = "pk_81234567_SANDBOX0CLICKUP0TOKEN0000000001";

#[tokio::test]
async fn get_picks_the_workspace_from_the_authorized_teams() {
    let (app, account) = app_with_account("clickup").await;

    let org = get_org(&app, &account, "9015588").await;

    assert_eq!(org["id"], "9015588");
    assert_eq!(org["name"], "Globex Marketing");
    assert_eq!(org["remote_data"]["members"][1]["user"]["username"], "Jane Roe");
    assert!(
        org["remote_data"].get("plan").is_none(),
        "the plan is on its own endpoint"
    );
    assert_eq!(org["pricing_plan"], "Business", "from the plan endpoint");
    let plan_call = app
        .emulator("clickup")
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/plan"))
        .unwrap();
    assert_eq!(plan_call.path, "/api/v2/team/9015588/plan");
    for absent in ["licenses", "created_at", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "clickup");
    assert_request(&sent, "GET", "/api/v2/team");
    assert_eq!(
        sent.header("authorization"),
        Some(TOKEN),
        "personal tokens go without a prefix"
    );
}

#[tokio::test]
async fn get_of_a_workspace_the_token_cannot_see_is_a_404() {
    let (app, account) = app_with_account("clickup").await;

    // The record is picked out of the team list: missing is a 404 in every format, never
    // the whole list under a 200.
    for format in ["", "&truto_response_format=raw", "&truto_response_format=stream"] {
        let r = app.get(&app.orgs_path(&account, Some("777"), format)).await;

        let msg = crate::helpers::assert_error(&r, 404);
        assert!(msg.contains("clickup"), "{format}: {msg}");
    }
    // A workspace it can see: raw and stream pass the provider's answer on as it is.
    for format in ["&truto_response_format=raw", "&truto_response_format=stream"] {
        let r = app.get(&app.orgs_path(&account, Some("9015588"), format)).await;
        assert_eq!(r.status, 200, "{format}: {}", r.text);
        assert!(r.body["teams"].is_array(), "{format}: {}", r.text);
    }
}

#[tokio::test]
async fn a_bad_token_is_a_401_with_clickups_err_and_ecode() {
    let app = spawn_app().await;
    let account = app.connect_with("clickup", json!({"api_token": "pk_wrong"})).await;

    let r = app.get(&app.orgs_path(&account, Some("1234"), "")).await;

    assert_remote_error(&r, 401, &json!({"err": "Token invalid", "ECODE": "OAUTH_025"}));
}

#[tokio::test]
async fn list_returns_every_workspace_in_one_page() {
    let (app, account) = app_with_account("clickup").await;
    app.emulator("clickup").insert_record(
        "teams",
        json!({"id": "31337", "name": "Extra", "color": "#fff", "members": []}),
    );

    let r = app.get(&app.orgs_path(&account, None, "&limit=1")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1234", "9015588", "31337"]);
    assert_eq!(r.body["result"][0]["name"], "My ClickUp Workspace");
    assert!(r.body["next_cursor"].is_null());
}

/// Users: every member of every Workspace from `GET /v2/team`, one record per user.
mod users {
    use serde_json::json;

    use super::TOKEN;
    use crate::common::{assert_remote_error, get_user, request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_request, last_request, spawn_app};

    const P: &str = "clickup";

    #[tokio::test]
    async fn get_joins_the_users_workspaces_and_roles() {
        let (app, account) = app_with_account(P).await;

        let user = get_user(&app, &account, "456").await;

        assert_eq!(
            unified(&user),
            json!({
                "id": "456", "name": "Jane Roe",
                "emails": [{"email": "jane.roe@example.com", "is_primary": true}],
                "status": "active", "user_type": "admin",
                "roles": [
                    {"id": "3", "name": "member", "organization": "1234"},
                    {"id": "2", "name": "admin", "organization": "9015588"},
                    {"id": "998877", "name": "member custom", "organization": "1234"}
                ],
                "organizations": [
                    {"id": "1234", "name": "My ClickUp Workspace"},
                    {"id": "9015588", "name": "Globex Marketing"}
                ],
                "last_active_at": "2024-06-02T08:00:00.000Z"
            })
        );
        assert_eq!(user["remote_data"]["teams"][0]["invited_by"]["username"], "John Doe");
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/api/v2/team");
        assert_eq!(sent.header("authorization"), Some(TOKEN));
    }

    #[tokio::test]
    async fn a_user_only_invited_is_an_invited_guest() {
        let (app, account) = app_with_account(P).await;

        let user = get_user(&app, &account, "184").await;

        assert_eq!(
            unified(&user),
            json!({
                "id": "184",
                "emails": [{"email": "guest@example.com", "is_primary": true}],
                "status": "invited", "user_type": "guest",
                "roles": [
                    {"id": "4", "name": "guest", "organization": "1234"},
                    {"id": "12345", "name": "guest custom", "organization": "1234"}
                ],
                "organizations": [{"id": "1234", "name": "My ClickUp Workspace"}]
            })
        );
    }

    #[tokio::test]
    async fn a_user_in_no_workspace_is_a_404() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("999"), "")).await;

        assert_eq!(r.status, 404, "{}", r.text);
    }

    #[tokio::test]
    async fn list_gives_each_user_once_in_one_unpaged_call() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app.get(&users_path(&account, None, "&limit=2")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        let users = r.body["result"].as_array().unwrap();
        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            ["123", "456", "812", "184"],
            "ClickUp does not page: every user at once"
        );
        assert!(r.body["next_cursor"].is_null());
        assert_eq!(users[0]["organizations"].as_array().unwrap().len(), 2);
        assert_eq!(users[0]["user_type"], "admin");
        assert_eq!(request_lines(&app, P), ["GET /api/v2/team"]);
    }

    #[tokio::test]
    async fn the_status_filter_is_applied_by_unigate() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app.get(&users_path(&account, None, "&status=invited")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        let ids: Vec<&str> = r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["184"]);
        assert_eq!(request_lines(&app, P), ["GET /api/v2/team"]);
    }

    #[tokio::test]
    async fn a_bad_token_is_clickups_401() {
        let app = spawn_app().await;
        let account = app.connect_with(P, json!({"api_token": "pk_wrong"})).await;

        let r = app.get(&users_path(&account, None, "")).await;

        assert_remote_error(&r, 401, &json!({"err": "Token invalid", "ECODE": "OAUTH_025"}));
    }
}

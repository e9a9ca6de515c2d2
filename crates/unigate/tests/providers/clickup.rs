//! ClickUp: organizations get (list and pick a Workspace) and list (unpaged); `me`,
//! workspaces, user groups with their membership, custom roles and seats; users invited to,
//! edited on and removed from a Workspace (Enterprise only).

use reqwest::Method;
use serde_json::json;

use crate::common::{
    assert_remote_error, directory_path, get_org, group_member_ids, ids, me, query_pairs, request_lines, unified,
};
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

/// Enterprise-only user writes on one Workspace: invite, edit, remove.
mod user_writes {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{assert_remote_error, request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

    const P: &str = "clickup";
    const WS: &str = "&organization_id=1234";

    #[tokio::test]
    async fn create_invites_an_admin_to_the_workspace() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, WS),
                Some(json!({"emails": [{"email": "new.hire@example.com", "is_primary": true}], "user_type": "admin"})),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "813",
                "emails": [{"email": "new.hire@example.com", "is_primary": true}],
                "status": "invited", "user_type": "admin",
                "roles": [{"id": "2", "name": "admin", "organization": "1234"}],
                "organizations": [{"id": "1234", "name": "My ClickUp Workspace"}]
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/api/v2/team/1234/user");
        assert_eq!(
            sent.json.unwrap(),
            json!({"email": "new.hire@example.com", "admin": true})
        );
        let stored = app.emulator(P).record("workspace_members", "813").unwrap();
        assert_eq!(stored["role"], 2);
    }

    #[tokio::test]
    async fn create_of_a_member_sends_a_custom_role_as_custom_role_id() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, WS),
                Some(json!({"emails": [{"email": "sam@example.com"}], "roles": [{"id": "998877"}]})),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["user_type"], "user");
        assert_eq!(
            r.body["roles"],
            json!([{"id": "3", "name": "member", "organization": "1234"}])
        );
        assert_eq!(
            last_request(&app, P).json.unwrap(),
            json!({"email": "sam@example.com", "admin": false, "custom_role_id": 998877})
        );
    }

    #[tokio::test]
    async fn create_with_a_password_is_a_422_and_nothing_is_sent() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, WS),
                Some(json!({"emails": [{"email": "sam@example.com"}], "password": "hunter2hunter2"})),
            )
            .await;

        let message = assert_error(&r, 422);
        assert!(message.contains("password"), "{message}");
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn create_without_the_workspace_is_a_400_naming_it() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ""),
                Some(json!({"emails": [{"email": "sam@example.com"}]})),
            )
            .await;

        let message = assert_error(&r, 400);
        assert!(message.contains("organization_id"), "{message}");
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn update_changes_the_role_and_keeps_what_is_not_given() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("456"), WS),
                Some(json!({"user_type": "admin"})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            request_lines(&app, P),
            ["GET /api/v2/team", "PUT /api/v2/team/1234/user/456"]
        );
        assert_eq!(
            last_request(&app, P).json.unwrap(),
            json!({"username": "Jane Roe", "admin": true, "custom_role_id": 998877})
        );
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "456", "name": "Jane Roe",
                "emails": [{"email": "jane.roe@example.com", "is_primary": true}],
                "status": "active", "user_type": "admin",
                "roles": [
                    {"id": "2", "name": "admin", "organization": "1234"},
                    {"id": "998877", "name": "member custom", "organization": "1234"}
                ],
                "organizations": [{"id": "1234"}],
                "last_active_at": "2024-06-02T08:00:00.000Z"
            })
        );
    }

    #[tokio::test]
    async fn renaming_an_admin_keeps_the_admin() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("812"), WS),
                Some(json!({"name": "Ada Park-Lee"})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            last_request(&app, P).json.unwrap(),
            json!({"username": "Ada Park-Lee", "admin": true})
        );
        assert_eq!(r.body["name"], "Ada Park-Lee");
        assert_eq!(r.body["user_type"], "admin");
    }

    #[tokio::test]
    async fn an_email_cannot_be_changed() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("456"), WS),
                Some(json!({"emails": [{"email": "jane@example.org"}]})),
            )
            .await;

        let message = assert_error(&r, 422);
        assert!(message.contains("emails"), "{message}");
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn delete_removes_the_user_from_the_workspace() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(Method::DELETE, &users_path(&account, Some("184"), WS), None)
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_request(&last_request(&app, P), "DELETE", "/api/v2/team/1234/user/184");
        assert!(app.emulator(P).record("workspace_members", "184").is_none());
    }

    #[tokio::test]
    async fn removing_a_user_clickup_does_not_know_is_clickups_error() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(Method::DELETE, &users_path(&account, Some("999"), WS), None)
            .await;

        assert_remote_error(&r, 401, &json!({"err": "Team not authorized", "ECODE": "OAUTH_027"}));
        assert_request(&last_request(&app, P), "DELETE", "/api/v2/team/1234/user/999");
    }
}

const P: &str = "clickup";
const WS: &str = "&organization_id=1234";
const PRODUCT: &str = "4bfdfcec-6f4f-40a7-b0d6-22660d51870d";

fn dir_path(resource: &str, account: &str, id: Option<&str>) -> String {
    directory_path(resource, account, id, WS)
}

#[tokio::test]
async fn me_is_the_tokens_user() {
    let (app, account) = app_with_account(P).await;

    let me = me(&app, &account, "").await;

    assert_eq!(
        unified(&me),
        json!({"id": "123", "name": "John Doe", "email": "john.doe@example.com"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/api/v2/user");
    assert_eq!(sent.header("authorization"), Some(TOKEN));
}

#[tokio::test]
async fn workspaces_are_the_authorized_teams_in_one_page() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&directory_path("workspaces", &account, None, "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(
        result.iter().map(unified).collect::<Vec<_>>(),
        [
            json!({"id": "1234", "name": "My ClickUp Workspace"}),
            json!({"id": "9015588", "name": "Globex Marketing"})
        ]
    );
    assert!(r.body["next_cursor"].is_null());
    assert_request(&last_request(&app, P), "GET", "/api/v2/team");

    let r = app
        .get(&directory_path("workspaces", &account, Some("9015588"), ""))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(unified(&r.body), json!({"id": "9015588", "name": "Globex Marketing"}));
    let r = app.get(&directory_path("workspaces", &account, Some("777"), "")).await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn user_groups_of_one_workspace_are_listed_and_got() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("groups", &account, None)).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(
        ids(result),
        [PRODUCT, "7a1c2e3f-0b4d-4e5f-8a6b-7c8d9e0f1a2b"],
        "Workspace 1234's groups"
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/api/v2/group");
    assert_eq!(query_pairs(&sent), [("team_id".to_string(), "1234".to_string())]);

    let r = app.get(&dir_path("groups", &account, Some(PRODUCT))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": PRODUCT, "name": "product team", "organization": "1234", "group_type": "group",
               "created_at": "2021-12-21T21:37:19.829Z"})
    );
    assert_eq!(
        query_pairs(&last_request(&app, P)),
        [
            ("team_id".to_string(), "1234".to_string()),
            ("group_ids".to_string(), PRODUCT.to_string())
        ]
    );
}

#[tokio::test]
async fn a_groups_list_without_organization_id_is_a_400_naming_it() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = app.get(&directory_path("groups", &account, None, "")).await;

    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("organization_id"), "{}", r.text);
    assert!(request_lines(&app, P).is_empty());
}

#[tokio::test]
async fn a_user_group_is_created_renamed_and_deleted() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &dir_path("groups", &account, None),
            Some(json!({"name": "support"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "POST", "/api/v2/team/1234/group");
    assert_eq!(sent.json.unwrap(), json!({"name": "support", "members": []}));
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        unified(&r.body),
        json!({"id": id, "name": "support", "organization": "1234", "group_type": "group"})
    );

    let r = app
        .send(
            Method::PATCH,
            &dir_path("groups", &account, Some(&id)),
            Some(json!({"name": "support tier 1"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "PUT", &format!("/api/v2/group/{id}"));
    assert_eq!(sent.json.unwrap(), json!({"name": "support tier 1"}));
    assert_eq!(r.body["name"], "support tier 1");

    let r = app
        .send(Method::DELETE, &dir_path("groups", &account, Some(&id)), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(&last_request(&app, P), "DELETE", &format!("/api/v2/group/{id}"));
    assert!(app.emulator(P).record("groups", &id).is_none());
}

#[tokio::test]
async fn add_user_and_remove_user_change_the_groups_members() {
    let (app, account) = app_with_account(P).await;

    assert_eq!(group_member_ids(&app, &account, PRODUCT, WS).await, ["123", "456"]);
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/api/v2/group");
    assert_eq!(
        query_pairs(&sent),
        [
            ("team_id".to_string(), "1234".to_string()),
            ("group_ids".to_string(), PRODUCT.to_string())
        ]
    );

    let r = app
        .send(
            Method::POST,
            &dir_path("groups/add-user", &account, None),
            Some(json!({"group_id": PRODUCT, "user_id": "812"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(unified(&r.body), json!({"group_id": PRODUCT, "user_id": "812"}));
    let sent = last_request(&app, P);
    assert_request(&sent, "PUT", &format!("/api/v2/group/{PRODUCT}"));
    assert_eq!(sent.header("authorization"), Some(TOKEN));
    assert_eq!(sent.json.unwrap(), json!({"members": {"add": [812], "rem": []}}));
    assert_eq!(
        group_member_ids(&app, &account, PRODUCT, WS).await,
        ["123", "456", "812"]
    );

    let r = app
        .send(
            Method::POST,
            &dir_path("groups/remove-user", &account, None),
            Some(json!({"group_id": PRODUCT, "user_id": "456"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "PUT", &format!("/api/v2/group/{PRODUCT}"));
    assert_eq!(sent.json.unwrap(), json!({"members": {"add": [], "rem": [456]}}));
    assert_eq!(group_member_ids(&app, &account, PRODUCT, WS).await, ["123", "812"]);
}

#[tokio::test]
async fn a_group_member_is_mapped_like_a_user() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&crate::common::users_path(
            &account,
            None,
            &format!("{WS}&group_id={PRODUCT}"),
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body["result"][0]),
        json!({"id": "123", "name": "John Doe", "emails": [{"email": "john.doe@example.com", "is_primary": true}],
               "avatar": "https://clickup.com/avatar.jpg", "user_type": "user"})
    );
}

#[tokio::test]
async fn adding_a_user_clickup_does_not_know_is_clickups_error() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &dir_path("groups/add-user", &account, None),
            Some(json!({"group_id": PRODUCT, "user_id": "999"})),
        )
        .await;

    assert_remote_error(&r, 401, &json!({"err": "Team not authorized", "ECODE": "OAUTH_027"}));
}

#[tokio::test]
async fn roles_are_the_workspaces_custom_roles() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("roles", &account, None)).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(ids(result), ["4547089", "998877"]);
    assert_eq!(
        unified(&result[1]),
        json!({"id": "998877", "name": "member custom", "label": "member custom",
               "description": "Custom role based on member", "type": "custom",
               "applicable_in": ["workspace"], "created_at": "2022-04-28T23:51:41.020Z"})
    );
    assert_request(&last_request(&app, P), "GET", "/api/v2/team/1234/customroles");

    let r = app.get(&dir_path("roles", &account, Some("4547089"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "guest custom");
    let r = app.get(&dir_path("roles", &account, Some("2957195"))).await;
    assert_eq!(r.status, 404, "another Workspace's role: {}", r.text);
}

#[tokio::test]
async fn licenses_are_the_workspaces_member_and_guest_seats() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("licenses", &account, None)).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(unified)
            .collect::<Vec<_>>(),
        [
            json!({"id": "member_seats", "name": "Member seats", "available_quantity": 5, "assigned_quantity": 3}),
            json!({"id": "guest_seats", "name": "Guest seats", "available_quantity": 10, "assigned_quantity": 1})
        ]
    );
    assert_request(&last_request(&app, P), "GET", "/api/v2/team/1234/seats");

    let r = app.get(&dir_path("licenses", &account, Some("guest_seats"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["assigned_quantity"], 1);
}

//! Platform.sh organizations API.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request, walk_list};

const P: &str = "platform-sh";

#[tokio::test]
async fn get_maps_label_type_and_dates() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("01H2X6D1M5NQ7P3R8S9T0V1W2X"), ""))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "01H2X6D1M5NQ7P3R8S9T0V1W2X", "name": "Acme Web Agency", "pricing_plan": "flexible",
               "created_at": "2023-06-27T09:14:36Z", "updated_at": "2024-03-02T17:45:10Z"})
    );
    assert_eq!(r.body["remote_data"]["name"], "acme-web");
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/organizations/01H2X6D1M5NQ7P3R8S9T0V1W2X");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer psh-sandbox-access-token-01HZX8Q5T3")
    );
}

#[tokio::test]
async fn update_patches_the_label() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("01HB7K2N4P6R8T0V2X4Z6B8D0F"), ""),
            Some(json!({"name": "Globex Corp.", "remote_data": {"country": "CA"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Corp.");
    assert_eq!(r.body["remote_data"]["country"], "CA");
    let sent = last_request(&app, P);
    assert_request(&sent, "PATCH", "/organizations/01HB7K2N4P6R8T0V2X4Z6B8D0F");
    assert_eq!(sent.json.unwrap(), json!({"label": "Globex Corp.", "country": "CA"}));
}

#[tokio::test]
async fn delete_removes_the_organization() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::DELETE,
            &app.orgs_path(&account, Some("01HB7K2N4P6R8T0V2X4Z6B8D0F"), ""),
            None,
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"id": "01HB7K2N4P6R8T0V2X4Z6B8D0F"}));
    assert_eq!(last_request(&app, P).method, "DELETE");
}

#[tokio::test]
async fn a_missing_organization_is_a_404_with_the_error_field() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("01NOPE"), "")).await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"], json!({"error": "Not Found"}));
}

#[tokio::test]
async fn list_follows_links_next_page_after_cursors() {
    let (app, account) = app_with_account(P).await;
    for i in 0..3 {
        app.emulator(P).insert_record(
            "organizations",
            json!({"id": format!("01J00000000000000000000E{i}"), "name": format!("extra-{i}"), "label": format!("Extra {i}"), "type": "flexible"}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids.len(), 5, "{ids:?}");
    assert_eq!(ids[4], "01J00000000000000000000E2");
    assert_eq!(pages, 3);
    let q = last_request(&app, P).query;
    assert!(
        q.contains("page%5Bafter%5D=01J00000000000000000000E1") && q.contains("page%5Bsize%5D=2"),
        "{q}"
    );
}

/// Organization members as users: get (with the account), list per organization over
/// `_links.next`, invite, permission change, removal, and Platform.sh's error shape.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{assert_pages_follow_next_links, assert_remote_error, request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_error, assert_request, last_request, walk_records};

    const P: &str = "platform-sh";
    const ORG: &str = "01H2X6D1M5NQ7P3R8S9T0V1W2X";
    const AUTH: &str = "Bearer psh-sandbox-access-token-01HZX8Q5T3";

    /// The unified users path within the sandbox organization.
    fn on(account: &str, id: Option<&str>) -> String {
        users_path(account, id, &format!("&organization_id={ORG}"))
    }

    #[tokio::test]
    async fn get_joins_the_member_and_its_account() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&on(&account, Some("2d4f6a8c-0e1a-4c3e-9f5a-7b9d1f3a5c7e")))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "2d4f6a8c-0e1a-4c3e-9f5a-7b9d1f3a5c7e",
                "username": "rkumar", "first_name": "Ravi", "last_name": "Kumar", "name": "Ravi Kumar",
                "emails": [{"email": "ravi.kumar@acme.example", "is_primary": true}],
                "is_email_verified": true,
                "avatar": "https://accounts.platform.sh/profiles/rkumar/picture.png",
                "status": "active", "user_type": "admin",
                "roles": [{"id": "members", "name": "members"}, {"id": "projects:list", "name": "projects:list"}],
                "organizations": [{"id": ORG}],
                "created_at": "2023-07-03T11:20:00Z", "updated_at": "2024-01-15T08:30:12Z"
            })
        );
        let lines = request_lines(&app, P);
        assert_eq!(
            lines,
            [
                "GET /users/2d4f6a8c-0e1a-4c3e-9f5a-7b9d1f3a5c7e",
                "GET /organizations/01H2X6D1M5NQ7P3R8S9T0V1W2X/members/2d4f6a8c-0e1a-4c3e-9f5a-7b9d1f3a5c7e"
            ]
        );
        assert_eq!(last_request(&app, P).header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn a_deactivated_account_is_inactive_and_the_owner_is_the_owner() {
        let (app, account) = app_with_account(P).await;

        let kevin = app
            .get(&on(&account, Some("4f6b8d0f-2a3c-4e5a-9b7c-9d1f3b5c7e9a")))
            .await;
        let jane = app
            .get(&on(&account, Some("8c5e2f1a-3b4d-4e6f-8a9b-0c1d2e3f4a5b")))
            .await;

        assert_eq!(kevin.body["status"], "inactive", "{}", kevin.text);
        assert_eq!(jane.body["user_type"], "owner", "{}", jane.text);
    }

    #[tokio::test]
    async fn list_follows_links_next_within_the_organization() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_records(&app, &on(&account, None), 2).await;

        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "8c5e2f1a-3b4d-4e6f-8a9b-0c1d2e3f4a5b",
                "2d4f6a8c-0e1a-4c3e-9f5a-7b9d1f3a5c7e",
                "3e5a7c9e-1f2b-4d4f-8a6b-8c0e2a4b6d8f",
                "4f6b8d0f-2a3c-4e5a-9b7c-9d1f3b5c7e9a",
                "5a7c9e1a-3b4d-4f6b-8c8d-0e2a4c6d8f0b"
            ]
        );
        assert_eq!(pages, 3);
        assert_eq!(
            unified(&users[2]),
            json!({"id": "3e5a7c9e-1f2b-4d4f-8a6b-8c0e2a4b6d8f", "status": "active", "user_type": "viewer",
                   "roles": [{"id": "projects:list", "name": "projects:list"}], "organizations": [{"id": ORG}],
                   "created_at": "2023-09-18T14:05:44Z", "updated_at": "2023-09-18T14:05:44Z"})
        );
        let sent = app.emulator(P).requests();
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[0].query, "page%5Bsize%5D=2");
        for req in &sent {
            assert_eq!(req.path, "/organizations/01H2X6D1M5NQ7P3R8S9T0V1W2X/members");
            assert_eq!(req.header("authorization"), Some(AUTH));
        }
        assert_pages_follow_next_links(&app, P, &sent, "/_links/next/href").await;
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
    async fn create_sends_an_invitation() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &on(&account, None),
                Some(json!({"emails": [{"email": "new.dev@acme.example"}], "roles": [{"id": "projects:list"}]})),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/organizations/01H2X6D1M5NQ7P3R8S9T0V1W2X/invitations");
        assert_eq!(
            sent.json.unwrap(),
            json!({"email": "new.dev@acme.example", "permissions": ["projects:list"]})
        );
        let id = r.body["id"].as_str().unwrap();
        assert_eq!(r.body["status"], "invited");
        assert_eq!(r.body["identifiers"], json!({"invitation_id": id}));
        assert_eq!(
            r.body["emails"],
            json!([{"email": "new.dev@acme.example", "is_primary": true}])
        );
        assert_eq!(r.body["organizations"], json!([{"id": ORG}]));
    }

    #[tokio::test]
    async fn update_changes_the_members_permissions() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &on(&account, Some("3e5a7c9e-1f2b-4d4f-8a6b-8c0e2a4b6d8f")),
                Some(json!({"roles": [{"id": "projects:create"}, {"id": "projects:list"}]})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = app
            .emulator(P)
            .requests()
            .into_iter()
            .find(|q| q.method == "PATCH")
            .unwrap();
        assert_request(
            &sent,
            "PATCH",
            "/organizations/01H2X6D1M5NQ7P3R8S9T0V1W2X/members/3e5a7c9e-1f2b-4d4f-8a6b-8c0e2a4b6d8f",
        );
        assert_eq!(
            sent.json.unwrap(),
            json!({"permissions": ["projects:create", "projects:list"]})
        );
        assert_eq!(
            r.body["roles"],
            json!([{"id": "projects:create", "name": "projects:create"}, {"id": "projects:list", "name": "projects:list"}])
        );
    }

    #[tokio::test]
    async fn delete_removes_the_member_from_the_organization() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::DELETE,
                &on(&account, Some("5a7c9e1a-3b4d-4f6b-8c8d-0e2a4c6d8f0b")),
                None,
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_request(
            &last_request(&app, P),
            "DELETE",
            "/organizations/01H2X6D1M5NQ7P3R8S9T0V1W2X/members/5a7c9e1a-3b4d-4f6b-8c8d-0e2a4c6d8f0b",
        );
        assert!(app
            .emulator(P)
            .record("members", "5a7c9e1a-3b4d-4f6b-8c8d-0e2a4c6d8f0b")
            .is_none());
    }

    #[tokio::test]
    async fn an_unknown_member_is_platform_shs_404() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&on(&account, Some("00000000-0000-4000-8000-000000000000")))
            .await;

        assert_remote_error(&r, 404, &json!({"error": "Not Found"}));
    }
}

/// Teams as groups (ULID ids, `_links.next` pages), team membership, projects as
/// workspaces and `me` (`GET /users/me`).
mod directory {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{
        assert_remote_error, change_membership, directory_path, group_members, ids, request_lines, unified,
    };
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const P: &str = "platform-sh";
    const ORG: &str = "01H2X6D1M5NQ7P3R8S9T0V1W2X";
    const AUTH: &str = "Bearer psh-sandbox-access-token-01HZX8Q5T3";
    const DEVS: &str = "01HF3A1B2C3D4E5F6G7H8J9K0M";
    const OPS: &str = "01HF3A1B2C3D4E5F6G7H8J9K0N";
    const BILLING: &str = "01HF3A1B2C3D4E5F6G7H8J9K0P";
    const GLOBEX_ADMINS: &str = "01HG9Z8Y7X6W5V4T3S2R1Q0P9N";
    const JANE: &str = "8c5e2f1a-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
    const RAVI: &str = "2d4f6a8c-0e1a-4c3e-9f5a-7b9d1f3a5c7e";
    const MARIA: &str = "3e5a7c9e-1f2b-4d4f-8a6b-8c0e2a4b6d8f";

    fn in_org() -> String {
        format!("&organization_id={ORG}")
    }

    #[tokio::test]
    async fn a_team_is_a_group_with_its_label_and_dates() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("groups", &account, Some(DEVS), "")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": DEVS, "name": "Developers", "organization": ORG, "group_type": "team",
                "created_at": "2023-11-02T10:00:00Z", "updated_at": "2024-02-14T09:30:00Z"
            })
        );
        assert_eq!(r.body["remote_data"]["counts"]["member_count"], 2);
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/teams/{DEVS}"));
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn the_teams_list_follows_next_links_and_filters_by_organization() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (teams, pages) = walk_records(&app, &directory_path("groups", &account, None, &in_org()), 2).await;

        assert_eq!(ids(&teams), [DEVS, OPS, BILLING], "Acme's teams only");
        assert_eq!(pages, 2);
        assert_eq!(
            request_lines(&app, P),
            [
                format!("GET /teams?filter%5Borganization_id%5D%5Beq%5D={ORG}&page%5Bsize%5D=2"),
                format!("GET /teams?filter%5Borganization_id%5D%5Beq%5D={ORG}&page%5Bsize%5D=2&page%5Bafter%5D={OPS}")
            ]
        );

        let r = app.get(&directory_path("groups", &account, None, "")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            ids(r.body["result"].as_array().unwrap()),
            [DEVS, OPS, BILLING, GLOBEX_ADMINS],
            "without an organization, every team the token sees"
        );
    }

    #[tokio::test]
    async fn team_writes_post_patch_and_delete() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("groups", &account, None, ""),
                Some(json!({"name": "QA", "organization": ORG})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/teams");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(sent.json.unwrap(), json!({"organization_id": ORG, "label": "QA"}));
        let id = r.body["id"].as_str().unwrap().to_string();
        let created = r.body["created_at"].clone();
        assert!(created.is_string(), "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": id, "name": "QA", "organization": ORG, "group_type": "team",
                   "created_at": created, "updated_at": r.body["updated_at"]})
        );

        let r = app
            .send(
                Method::PATCH,
                &directory_path("groups", &account, Some(&id), ""),
                Some(json!({"name": "Quality"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "PATCH", &format!("/teams/{id}"));
        assert_eq!(sent.json.unwrap(), json!({"label": "Quality"}));
        assert_eq!(r.body["name"], "Quality");

        let r = app
            .send(Method::DELETE, &directory_path("groups", &account, Some(&id), ""), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_request(&last_request(&app, P), "DELETE", &format!("/teams/{id}"));
        assert!(app.emulator(P).record("teams", &id).is_none());
    }

    #[tokio::test]
    async fn a_team_without_an_organization_is_platform_shs_400() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("groups", &account, None, ""),
                Some(json!({"name": "Orphans"})),
            )
            .await;

        assert_remote_error(&r, 400, &json!({"error": "Invalid value for organization_id."}));
    }

    #[tokio::test]
    async fn add_user_and_remove_user_change_the_team_members_list() {
        let (app, account) = app_with_account(P).await;

        let before = group_members(&app, &account, DEVS, &in_org()).await;
        assert_eq!(ids(&before), [RAVI, MARIA]);
        assert_eq!(
            unified(&before[0]),
            json!({
                "id": RAVI, "status": "active",
                "groups": [{"id": DEVS, "organization": ORG}],
                "organizations": [{"id": ORG}]
            })
        );
        assert_request(&last_request(&app, P), "GET", &format!("/teams/{DEVS}/members"));

        let r = change_membership(&app, "add-user", &account, "", DEVS, JANE).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(unified(&r.body), json!({"group_id": DEVS, "user_id": JANE}));
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", &format!("/teams/{DEVS}/members"));
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(sent.json.unwrap(), json!({"user_id": JANE}));
        assert_eq!(
            ids(&group_members(&app, &account, DEVS, &in_org()).await),
            [RAVI, MARIA, JANE]
        );

        let r = change_membership(&app, "remove-user", &account, "", DEVS, RAVI).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"group_id": DEVS, "user_id": RAVI}));
        let sent = last_request(&app, P);
        assert_request(&sent, "DELETE", &format!("/teams/{DEVS}/members/{RAVI}"));
        assert!(sent.body.is_empty(), "no body: {}", sent.body_text());
        assert_eq!(
            ids(&group_members(&app, &account, DEVS, &in_org()).await),
            [MARIA, JANE]
        );
        // Still a member of the organization.
        assert!(app.emulator(P).record("members", RAVI).is_some());
    }

    #[tokio::test]
    async fn adding_a_user_who_is_no_member_is_platform_shs_404() {
        let (app, account) = app_with_account(P).await;

        let r = change_membership(&app, "add-user", &account, "", DEVS, "no-such-user").await;

        assert_remote_error(&r, 404, &json!({"error": "Not Found"}));
    }

    #[tokio::test]
    async fn projects_are_workspaces_of_one_organization() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (projects, pages) = walk_records(&app, &directory_path("workspaces", &account, None, &in_org()), 2).await;

        assert_eq!(ids(&projects), ["abcdef1234567", "bcdefa2345678", "cdefab3456789"]);
        assert_eq!(pages, 2);
        assert_eq!(
            unified(&projects[2]),
            json!({
                "id": "cdefab3456789", "name": "Legacy Intranet", "status": "suspended",
                "organization": {"id": ORG},
                "created_at": "2021-02-02T02:02:02Z", "updated_at": "2023-12-31T23:59:59Z"
            })
        );
        assert_eq!(
            request_lines(&app, P),
            [
                format!("GET /organizations/{ORG}/projects?page%5Bsize%5D=2"),
                format!("GET /organizations/{ORG}/projects?page%5Bsize%5D=2&page%5Bafter%5D=bcdefa2345678")
            ]
        );

        let r = app
            .get(&directory_path(
                "workspaces",
                &account,
                Some("abcdef1234567"),
                &in_org(),
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["name"], "Acme Storefront");
        assert_eq!(r.body["remote_data"]["plan"], "upsun/medium");
        assert_request(
            &last_request(&app, P),
            "GET",
            &format!("/organizations/{ORG}/projects/abcdef1234567"),
        );
    }

    #[tokio::test]
    async fn me_is_the_tokens_account() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("me", &account, None, "")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        let records = r.body["result"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{}", r.text);
        assert_eq!(
            unified(&records[0]),
            json!({"id": JANE, "name": "Jane Doe", "email": "jane.doe@acme.example"})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/users/me");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }
}

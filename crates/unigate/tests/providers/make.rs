//! Make: get, list (pg[offset]/pg[limit]), update (PATCH name), zone hosts.

use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, spawn_app, walk_list};

const AUTH: &str = "Token 93a4b6f2-5c1d-4e8f-a7b9-0c2d4e6f8a01";

#[tokio::test]
async fn get_unwraps_the_organization_and_maps_the_product_name() {
    let (app, account) = app_with_account("make").await;

    let org = get_org(&app, &account, "11").await;

    assert_eq!(org["id"], "11");
    assert_eq!(org["name"], "Acme Automations");
    assert_eq!(org["pricing_plan"], "Core");
    assert_eq!(org["remote_data"]["timezoneId"], 113);
    for absent in ["licenses", "created_at", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "make");
    assert_request(&sent, "GET", "/api/v2/organizations/11");
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn a_zone_outside_make_com_is_refused() {
    let app = spawn_app().await;
    let account = app
        .connect_with(
            "make",
            json!({"api_token": "93a4b6f2-5c1d-4e8f-a7b9-0c2d4e6f8a01", "zone": "evil.example/x"}),
        )
        .await;

    let r = app.get(&app.orgs_path(&account, Some("11"), "")).await;

    assert!(r.status.is_client_error() || r.status.is_server_error(), "{}", r.text);
    assert!(app.emulator("make").requests().is_empty());
}

#[tokio::test]
async fn update_patches_the_name_with_remote_data() {
    let (app, account) = app_with_account("make").await;

    let r = update_org(
        &app,
        &account,
        "42",
        json!({"name": "Globex Automation", "remote_data": {"timezoneId": 7}}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Automation");
    assert_eq!(r.body["pricing_plan"], "Pro");
    let sent = last_with_method(&app, "make", "PATCH");
    assert_eq!(sent.path, "/api/v2/organizations/42");
    assert_eq!(sent.header("authorization"), Some(AUTH));
    assert_eq!(
        sent.json.unwrap(),
        json!({"name": "Globex Automation", "timezoneId": 7})
    );
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_makes_detail_and_code() {
    let (app, account) = app_with_account("make").await;

    let r = app.get(&app.orgs_path(&account, Some("999"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"message": "Not found", "detail": "Organization not found.", "code": "IM005"}),
    );
}

#[tokio::test]
async fn list_pages_with_pg_offset_and_pg_limit() {
    let (app, account) = app_with_account("make").await;
    for i in 0..3 {
        app.emulator("make")
            .insert_record("organizations", json!({"id": 100 + i, "name": format!("Extra {i}")}));
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["11", "42", "100", "101", "102"]);
    assert_eq!(pages, 3);
    let sent = last_request(&app, "make");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(sent.query.as_bytes())
        .into_owned()
        .collect();
    assert!(pairs.contains(&("pg[offset]".into(), "4".into())), "{pairs:?}");
    assert!(pairs.contains(&("pg[limit]".into(), "2".into())), "{pairs:?}");
}

/// Make users: the members of one organization (`organization_id` required): list over
/// `pg[offset]`, invite, role change, removal from the organization.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use super::AUTH;
    use crate::common::{last_with_method, request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_request, walk_records};

    const P: &str = "make";
    const ORG: &str = "&organization_id=11";

    #[tokio::test]
    async fn list_walks_one_organizations_users_over_pg_offset() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["318", "305", "287", "164", "12"]);
        assert_eq!(pages, 3);
        assert_eq!(
            unified(&users[0]),
            json!({
                "id": "318", "name": "Wojtek Kowalski",
                "emails": [{"email": "wojtek.kowalski@acme-automations.example", "is_primary": true}],
                "avatar": "https://secure.gravatar.com/avatar/4c1b7c0a3e2f4d5e6a7b8c9d0e1f2a3b",
                "languages": ["pl"]
            })
        );
        assert_eq!(
            unified(&users[3]),
            json!({
                "id": "164", "name": "Jonas Berg",
                "emails": [{"email": "jonas.berg@acme-automations.example", "is_primary": true}],
                "languages": ["de"]
            })
        );
        assert_eq!(users[0]["remote_data"]["timezoneId"], 244);
        assert!(users[0]["remote_data"].get("organizationId").is_none());
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /api/v2/users?organizationId=11&pg%5Blimit%5D=2",
                "GET /api/v2/users?organizationId=11&pg%5Blimit%5D=2&pg%5Boffset%5D=2",
                "GET /api/v2/users?organizationId=11&pg%5Blimit%5D=2&pg%5Boffset%5D=4",
            ]
        );
        for req in app.emulator(P).requests() {
            assert_eq!(req.header("authorization"), Some(AUTH));
        }
    }

    #[tokio::test]
    async fn a_list_without_the_organization_is_a_400_naming_it() {
        let (app, account) = app_with_account(P).await;

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
                &format!("{ORG}&email=LUCIE.dubois@acme-automations.example"),
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let ids: Vec<&str> = r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["287"]);
        assert!(!request_lines(&app, P)[0].contains("email"));
    }

    #[tokio::test]
    async fn create_invites_the_primary_email_with_the_role() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(
                    json!({"name": "Ines Ortega", "emails": [{"email": "ines.ortega@acme-automations.example"}],
                            "roles": [{"id": "14"}]}),
                ),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/api/v2/organizations/11/invite");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(
            sent.json.unwrap(),
            json!({"email": "ines.ortega@acme-automations.example", "name": "Ines Ortega", "usersRoleId": 14})
        );
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "402", "name": "Ines Ortega",
                "emails": [{"email": "ines.ortega@acme-automations.example", "is_primary": true}],
                "languages": ["en"]
            })
        );
        let ids: Vec<String> = app
            .emulator(P)
            .records("users")
            .iter()
            .filter(|u| u["organizationId"] == "11")
            .map(|u| u["id"].to_string())
            .collect();
        assert!(ids.contains(&"402".to_string()), "{ids:?}");
    }

    #[tokio::test]
    async fn an_invite_without_a_role_is_makes_invalid_input_error() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"emails": [{"email": "no.role@acme-automations.example"}]})),
            )
            .await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(r.body["raw_response"]["code"], "IM003", "{}", r.text);
        assert_eq!(r.body["raw_response"]["message"], "Invalid input", "{}", r.text);
    }

    #[tokio::test]
    async fn update_changes_the_organization_role() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("164"), ORG),
                Some(json!({"roles": [{"id": "13"}]})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/api/v2/users/164/user-organization-roles/11");
        assert_eq!(sent.json.unwrap(), json!({"usersRoleId": 13}));
        assert_eq!(
            unified(&r.body),
            json!({"id": "164", "roles": [{"id": "13", "organization": "11"}]})
        );
        assert_eq!(app.emulator(P).record("users", "164").unwrap()["usersRoleId"], 13);
    }

    #[tokio::test]
    async fn a_name_change_is_refused_before_any_call() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("164"), ORG),
                Some(json!({"name": "J. Berg"})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn delete_removes_the_user_from_the_organization_with_an_empty_body() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(Method::DELETE, &users_path(&account, Some("287"), ORG), None)
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/api/v2/users/287/user-organization-roles/11");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(sent.json.unwrap(), json!({}));
    }
}

/// Teams as groups (list by organization, get, create, delete), a team's users through
/// the users list's `group_id`, and `me`.
mod directory {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{directory_path, group_members, ids, request_lines, unified};
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const P: &str = "make";
    const AUTH: &str = "Token 93a4b6f2-5c1d-4e8f-a7b9-0c2d4e6f8a01";
    const ORG: &str = "&organization_id=11";

    #[tokio::test]
    async fn a_team_is_a_group_of_its_organization() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("groups", &account, Some("123"), "")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": "123", "name": "Platform Team", "organization": "11", "group_type": "team"})
        );
        assert_eq!(r.body["remote_data"]["operationsLimit"], 100000);
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/api/v2/teams/123");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn the_teams_list_walks_offset_pages_of_one_organization() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (teams, pages) = walk_records(&app, &directory_path("groups", &account, None, ORG), 2).await;

        assert_eq!(ids(&teams), ["123", "124", "125"], "organization 11's teams only");
        assert_eq!(pages, 2);
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /api/v2/teams?organizationId=11&pg%5Blimit%5D=2",
                "GET /api/v2/teams?organizationId=11&pg%5Blimit%5D=2&pg%5Boffset%5D=2"
            ]
        );
    }

    #[tokio::test]
    async fn team_writes_post_and_delete() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("groups", &account, None, ORG),
                Some(json!({"name": "Finance Automations"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/api/v2/teams");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(
            sent.json.unwrap(),
            json!({"name": "Finance Automations", "organizationId": 11})
        );
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            unified(&r.body),
            json!({"id": id, "name": "Finance Automations", "organization": "11", "group_type": "team"})
        );

        let r = app
            .send(Method::DELETE, &directory_path("groups", &account, Some(&id), ""), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_request(&last_request(&app, P), "DELETE", &format!("/api/v2/teams/{id}"));
        assert!(app.emulator(P).record("teams", &id).is_none());
    }

    #[tokio::test]
    async fn a_team_without_an_organization_is_makes_400() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("groups", &account, None, ""),
                Some(json!({"name": "Orphans"})),
            )
            .await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(r.body["raw_response"]["code"], "IM003", "{}", r.text);
    }

    #[tokio::test]
    async fn the_users_of_a_team_are_read_with_team_id() {
        let (app, account) = app_with_account(P).await;

        let members = group_members(&app, &account, "123", ORG).await;

        assert_eq!(ids(&members), ["318", "305"]);
        assert_eq!(
            unified(&members[1]),
            json!({
                "id": "305", "name": "Amara Nwosu",
                "emails": [{"email": "amara.nwosu@acme-automations.example", "is_primary": true}],
                "avatar": "https://secure.gravatar.com/avatar/9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
                "languages": ["en"]
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/api/v2/users");
        assert_eq!(sent.query, "teamId=123");
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
            json!({"id": "318", "name": "Wojtek Kowalski", "email": "wojtek.kowalski@acme-automations.example"})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/api/v2/users/me");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn add_user_gives_the_team_member_role_and_remove_user_sends_an_empty_body() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let added = crate::common::change_membership(&app, "add-user", &account, "", "123", "287").await;

        assert_eq!(added.status, 200, "{}", added.text);
        assert_eq!(unified(&added.body), json!({"group_id": "123", "user_id": "287"}));
        assert_eq!(added.body["remote_data"]["userTeamRole"]["usersRoleId"], 3);
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /api/v2/users/roles?category=team",
                "POST /api/v2/users/287/user-team-roles/123"
            ]
        );
        let sent = last_request(&app, P);
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(sent.json.unwrap(), json!({"usersRoleId": 3}));
        assert_eq!(
            ids(&group_members(&app, &account, "123", ORG).await),
            ["318", "305", "287"]
        );

        let removed = crate::common::change_membership(&app, "remove-user", &account, "", "123", "305").await;

        assert_eq!(removed.status, 200, "{}", removed.text);
        assert_eq!(unified(&removed.body), json!({"group_id": "123", "user_id": "305"}));
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/api/v2/users/305/user-team-roles/123");
        assert_eq!(sent.json.unwrap(), json!({}));
        assert_eq!(ids(&group_members(&app, &account, "123", ORG).await), ["318", "287"]);
    }

    #[tokio::test]
    async fn adding_an_unknown_user_to_a_team_is_makes_404() {
        let (app, account) = app_with_account(P).await;

        let r = crate::common::change_membership(&app, "add-user", &account, "", "123", "999").await;

        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(r.body["raw_response"]["code"], "IM005", "{}", r.text);
    }
}

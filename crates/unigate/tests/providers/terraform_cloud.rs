//! Terraform Cloud: get by name (JSON:API) with the plan from the subscription, list
//! (page[number]/page[size]).

use serde_json::json;

use crate::common::{assert_remote_error, get_org};
use crate::helpers::{app_with_account, last_request, walk_list};

#[tokio::test]
async fn get_uses_the_organization_name_as_the_id() {
    let (app, account) = app_with_account("terraform-cloud").await;
    app.emulator("terraform-cloud").clear_requests();

    let org = get_org(&app, &account, "hashicorp").await;

    assert_eq!(org["id"], "hashicorp");
    assert_eq!(org["name"], "hashicorp");
    assert_eq!(org["created_at"], "2021-08-24T23:10:04Z");
    assert_eq!(org["remote_data"]["attributes"]["external-id"], "org-Bzyc2JuegvVLAibn");
    assert_eq!(org["pricing_plan"], "Free");
    for absent in ["licenses", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent: Vec<(String, String, Option<String>)> = app
        .emulator("terraform-cloud")
        .requests()
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                r.path.clone(),
                r.header("authorization").map(str::to_string),
            )
        })
        .collect();
    let auth = Some("Bearer sandbox.atlasv1.tfc0sandbox0token0000000000000000000000000000000001".to_string());
    assert_eq!(
        sent,
        [
            (
                "GET".into(),
                "/api/v2/organizations/hashicorp/subscription".into(),
                auth.clone()
            ),
            ("GET".into(), "/api/v2/organizations/hashicorp".into(), auth),
        ]
    );
}

#[tokio::test]
async fn the_pricing_plan_is_the_subscriptions_feature_set_name() {
    let (app, account) = app_with_account("terraform-cloud").await;

    let org = get_org(&app, &account, "acme-infra").await;

    assert_eq!(org["pricing_plan"], "Team");
}

#[tokio::test]
async fn without_a_readable_subscription_the_plan_is_absent_not_an_error() {
    let (app, account) = app_with_account("terraform-cloud").await;
    app.emulator("terraform-cloud").inject(
        unigate_emulator::Fault::respond(403, json!({"errors": [{"status": "403", "title": "forbidden"}]}))
            .on("GET", "/api/v2/organizations/*/subscription"),
    );

    let org = get_org(&app, &account, "hashicorp").await;

    assert_eq!(org["name"], "hashicorp");
    assert!(org.get("pricing_plan").is_none(), "{org}");
}

#[tokio::test]
async fn list_records_carry_no_plan_since_subscriptions_are_read_per_organization() {
    let (app, account) = app_with_account("terraform-cloud").await;

    let r = app.get(&app.orgs_path(&account, None, "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"][0]["id"], "hashicorp");
    assert!(r.body["result"][0].get("pricing_plan").is_none(), "{}", r.text);
    assert!(app
        .emulator("terraform-cloud")
        .requests()
        .iter()
        .all(|q| !q.path.ends_with("/subscription")));
}

#[tokio::test]
async fn an_unknown_org_is_a_jsonapi_404() {
    let (app, account) = app_with_account("terraform-cloud").await;

    let r = app.get(&app.orgs_path(&account, Some("nope"), "")).await;

    assert_remote_error(&r, 404, &json!({"errors": [{"status": "404", "title": "not found"}]}));
}

#[tokio::test]
async fn list_walks_page_numbers_until_next_page_is_null() {
    let (app, account) = app_with_account("terraform-cloud").await;
    for i in 0..3 {
        app.emulator("terraform-cloud").insert_record(
            "organizations",
            json!({"id": format!("extra-{i}"), "type": "organizations",
                   "attributes": {"name": format!("extra-{i}"), "created-at": "2024-01-01T00:00:00.000Z"}}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["hashicorp", "acme-infra", "extra-0", "extra-1", "extra-2"]);
    assert_eq!(pages, 3);
    let sent = last_request(&app, "terraform-cloud");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(sent.query.as_bytes())
        .into_owned()
        .collect();
    assert!(pairs.contains(&("page[number]".into(), "3".into())), "{pairs:?}");
    assert!(pairs.contains(&("page[size]".into(), "2".into())), "{pairs:?}");
}

/// Organization memberships as users: get, list per organization (page[number]), the
/// provider's `filter[email]`/`filter[status]`, invite, remove, and a JSON:API 404.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{assert_remote_error, delete_user, get_user, request_lines, unified, users_path, write_user};
    use crate::helpers::{assert_error, assert_request, last_request, walk_records};

    const P: &str = "terraform-cloud";
    const AUTH: &str = "Bearer sandbox.atlasv1.tfc0sandbox0token0000000000000000000000000000000001";

    #[tokio::test]
    async fn get_maps_the_membership() {
        let (app, account) = crate::helpers::app_with_account(P).await;

        let user = get_user(&app, &account, "ou-8jFq2LbcC3kHpXsV").await;

        assert_eq!(
            unified(&user),
            json!({
                "id": "ou-8jFq2LbcC3kHpXsV",
                "emails": [{"email": "miguel.alvarez@example.com", "is_primary": true}],
                "status": "active",
                "groups": [{"id": "team-97LkM7QciNkwb2nh"}, {"id": "team-6p5jTwJQXwqZBncC"}],
                "organizations": [{"id": "hashicorp"}],
                "identifiers": {"user_id": "user-Zw5kTz3q9NkbAe1c"}
            })
        );
        assert_eq!(user["remote_data"]["type"], "organization-memberships");
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/api/v2/organization-memberships/ou-8jFq2LbcC3kHpXsV");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn list_walks_the_organizations_memberships_page_by_page() {
        let (app, account) = crate::helpers::app_with_account(P).await;

        let (users, pages) = walk_records(&app, &users_path(&account, None, "&organization_id=hashicorp"), 2).await;

        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "ou-tTJph1AQVK5ZmdND",
                "ou-8jFq2LbcC3kHpXsV",
                "ou-Vj9x4rNoQ1UkmE2s",
                "ou-bF4aLq7yKt2WdRcP",
                "ou-Q2cWm8nZsT5yUvXa"
            ]
        );
        assert_eq!(pages, 3);
        assert_eq!(users[2]["status"], "invited");
        assert!(users[2]["identifiers"].is_null(), "{}", users[2]);
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /api/v2/organizations/hashicorp/organization-memberships?page%5Bsize%5D=2&page%5Bnumber%5D=1",
                "GET /api/v2/organizations/hashicorp/organization-memberships?page%5Bsize%5D=2&page%5Bnumber%5D=2",
                "GET /api/v2/organizations/hashicorp/organization-memberships?page%5Bsize%5D=2&page%5Bnumber%5D=3",
            ]
        );
    }

    #[tokio::test]
    async fn the_email_and_status_filters_are_sent_to_terraform() {
        let (app, account) = crate::helpers::app_with_account(P).await;

        let by_email = app
            .get(&users_path(
                &account,
                None,
                "&organization_id=hashicorp&email=Tom.Becker@example.com",
            ))
            .await;
        let invited = app
            .get(&users_path(&account, None, "&organization_id=hashicorp&status=invited"))
            .await;

        assert_eq!(by_email.status, 200, "{}", by_email.text);
        assert_eq!(by_email.body["result"][0]["id"], "ou-bF4aLq7yKt2WdRcP");
        assert_eq!(by_email.body["result"].as_array().unwrap().len(), 1);
        let invited_ids: Vec<&str> = invited.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        assert_eq!(invited_ids, ["ou-Vj9x4rNoQ1UkmE2s", "ou-Q2cWm8nZsT5yUvXa"]);
        let lines = request_lines(&app, P);
        assert!(
            lines[0].contains("filter%5Bemail%5D=Tom.Becker%40example.com"),
            "{lines:?}"
        );
        assert!(lines[1].contains("filter%5Bstatus%5D=invited"), "{lines:?}");
    }

    #[tokio::test]
    async fn a_list_without_the_organization_is_a_400_naming_it() {
        let (app, account) = crate::helpers::app_with_account(P).await;

        let r = app.get(&users_path(&account, None, "")).await;

        let message = assert_error(&r, 400);
        assert!(message.contains("organization_id"), "{message}");
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn create_invites_the_email_to_the_teams() {
        let (app, account) = crate::helpers::app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, "&organization_id=hashicorp"),
                Some(
                    json!({"emails": [{"email": "new.member@example.com", "is_primary": true}],
                            "groups": [{"id": "team-6p5jTwJQXwqZBncC"}]}),
                ),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "POST",
            "/api/v2/organizations/hashicorp/organization-memberships",
        );
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(
            sent.json.unwrap(),
            json!({"data": {"type": "organization-memberships",
                            "attributes": {"email": "new.member@example.com"},
                            "relationships": {"teams": {"data": [{"type": "teams", "id": "team-6p5jTwJQXwqZBncC"}]}}}})
        );
        let id = r.body["id"].as_str().unwrap();
        assert_eq!(
            unified(&r.body),
            json!({
                "id": id,
                "emails": [{"email": "new.member@example.com", "is_primary": true}],
                "status": "invited",
                "groups": [{"id": "team-6p5jTwJQXwqZBncC"}],
                "organizations": [{"id": "hashicorp"}]
            })
        );
    }

    #[tokio::test]
    async fn create_without_the_organization_is_a_400_before_any_call() {
        let (app, account) = crate::helpers::app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"emails": [{"email": "x@example.com"}]}),
        )
        .await;

        let message = assert_error(&r, 400);
        assert!(message.contains("organization_id"), "{message}");
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn delete_removes_the_membership() {
        let (app, account) = crate::helpers::app_with_account(P).await;

        let r = delete_user(&app, &account, "ou-bF4aLq7yKt2WdRcP").await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_request(
            &last_request(&app, P),
            "DELETE",
            "/api/v2/organization-memberships/ou-bF4aLq7yKt2WdRcP",
        );
        assert!(app.emulator(P).record("memberships", "ou-bF4aLq7yKt2WdRcP").is_none());
    }

    #[tokio::test]
    async fn an_unknown_membership_is_a_jsonapi_404() {
        let (app, account) = crate::helpers::app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("ou-nope"), "")).await;

        assert_remote_error(&r, 404, &json!({"errors": [{"status": "404", "title": "not found"}]}));
    }
}

/// Teams as groups (JSON:API; list by organization, get/update/delete by team id), team
/// membership by organization-membership id, workspaces, `me` (`/account/details`) and the
/// audit trail as activities.
mod directory {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{
        assert_remote_error, change_membership, directory_path, group_members, ids, request_lines, unified,
    };
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const P: &str = "terraform-cloud";
    const AUTH: &str = "Bearer sandbox.atlasv1.tfc0sandbox0token0000000000000000000000000000000001";
    const ORG: &str = "&organization_id=hashicorp";
    const OWNERS: &str = "team-97LkM7QciNkwb2nh";
    const CREATION: &str = "team-6p5jTwJQXwqZBncC";
    const SECURITY: &str = "team-Rv8pYq2LmN4sKd7W";
    const SARAH: &str = "ou-tTJph1AQVK5ZmdND";
    const MIGUEL: &str = "ou-8jFq2LbcC3kHpXsV";
    const TOM: &str = "ou-bF4aLq7yKt2WdRcP";
    const PRIYA: &str = "ou-Vj9x4rNoQ1UkmE2s";

    fn not_found() -> serde_json::Value {
        json!({"errors": [{"status": "404", "title": "not found"}]})
    }

    #[tokio::test]
    async fn a_team_is_a_group_by_its_id() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("groups", &account, Some(CREATION), "")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": CREATION, "name": "team-creation-test", "group_type": "team"}),
            "a team answer does not name its organization, and has no description nor dates"
        );
        assert_eq!(r.body["remote_data"]["attributes"]["users-count"], 1);
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/api/v2/teams/{CREATION}"));
        assert_eq!(sent.query, "");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn the_teams_list_walks_page_numbers_of_one_organization() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (teams, pages) = walk_records(&app, &directory_path("groups", &account, None, ORG), 2).await;

        assert_eq!(ids(&teams), [OWNERS, CREATION, SECURITY], "hashicorp's teams only");
        assert_eq!(pages, 2);
        assert_eq!(
            unified(&teams[2]),
            json!({"id": SECURITY, "name": "security-reviewers", "organization": "hashicorp", "group_type": "team"})
        );
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /api/v2/organizations/hashicorp/teams?page%5Bsize%5D=2&page%5Bnumber%5D=1",
                "GET /api/v2/organizations/hashicorp/teams?page%5Bsize%5D=2&page%5Bnumber%5D=2"
            ]
        );
    }

    #[tokio::test]
    async fn team_writes_post_patch_and_delete() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("groups", &account, None, ORG),
                Some(json!({"name": "sre-oncall"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/api/v2/organizations/hashicorp/teams");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(sent.header("content-type"), Some("application/vnd.api+json"));
        assert_eq!(
            sent.json.unwrap(),
            json!({"data": {"type": "teams", "attributes": {"name": "sre-oncall"}}})
        );
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            unified(&r.body),
            json!({"id": id, "name": "sre-oncall", "organization": "hashicorp", "group_type": "team"})
        );
        assert_eq!(r.body["remote_data"]["attributes"]["visibility"], "secret");

        let r = app
            .send(
                Method::PATCH,
                &directory_path("groups", &account, Some(&id), ""),
                Some(json!({"name": "sre-primary"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "PATCH", &format!("/api/v2/teams/{id}"));
        assert_eq!(
            sent.json.unwrap(),
            json!({"data": {"type": "teams", "attributes": {"name": "sre-primary"}}})
        );
        assert_eq!(
            unified(&r.body),
            json!({"id": id, "name": "sre-primary", "group_type": "team"})
        );
        assert_eq!(
            r.body["remote_data"]["attributes"]["visibility"], "secret",
            "the other attributes are kept"
        );

        let r = app
            .send(Method::DELETE, &directory_path("groups", &account, Some(&id), ""), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "DELETE", &format!("/api/v2/teams/{id}"));
        assert!(app.emulator(P).record("teams", &id).is_none());
    }

    #[tokio::test]
    async fn a_team_name_with_spaces_is_terraforms_422() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("groups", &account, None, ORG),
                Some(json!({"name": "SRE on call"})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(
            r.body["raw_response"]["errors"][0]["detail"], "attributes.name must match \"[A-Za-z0-9_-]+\"",
            "{}",
            r.text
        );
    }

    #[tokio::test]
    async fn a_description_cannot_be_set_and_nothing_is_sent() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::POST,
                &directory_path("groups", &account, None, ORG),
                Some(json!({"name": "docs", "description": "Writers"})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.text.contains("description"), "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn an_unknown_team_is_a_jsonapi_404() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path("groups", &account, Some("team-nope"), ""))
            .await;

        assert_remote_error(&r, 404, &not_found());
    }

    #[tokio::test]
    async fn add_user_and_remove_user_change_the_team_members_list() {
        let (app, account) = app_with_account(P).await;

        let before = group_members(&app, &account, CREATION, ORG).await;
        assert_eq!(ids(&before), [MIGUEL]);
        assert_eq!(
            unified(&before[0]),
            json!({
                "id": MIGUEL,
                "emails": [{"email": "miguel.alvarez@example.com", "is_primary": true}],
                "status": "active",
                "groups": [{"id": OWNERS}, {"id": CREATION}],
                "organizations": [{"id": "hashicorp"}],
                "identifiers": {"user_id": "user-Zw5kTz3q9NkbAe1c"}
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/api/v2/teams/{CREATION}"));
        assert_eq!(sent.query, "include=organization-memberships");

        let r = change_membership(&app, "add-user", &account, "", CREATION, TOM).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"group_id": CREATION, "user_id": TOM}));
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "POST",
            &format!("/api/v2/teams/{CREATION}/relationships/organization-memberships"),
        );
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(
            sent.json.unwrap(),
            json!({"data": [{"type": "organization-memberships", "id": TOM}]})
        );
        assert_eq!(ids(&group_members(&app, &account, CREATION, ORG).await), [MIGUEL, TOM]);

        let r = change_membership(&app, "remove-user", &account, "", CREATION, MIGUEL).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"group_id": CREATION, "user_id": MIGUEL}));
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "DELETE",
            &format!("/api/v2/teams/{CREATION}/relationships/organization-memberships"),
        );
        assert_eq!(
            sent.json.unwrap(),
            json!({"data": [{"type": "organization-memberships", "id": MIGUEL}]})
        );
        assert_eq!(ids(&group_members(&app, &account, CREATION, ORG).await), [TOM]);
        // Still a member of the organization and of the owners team.
        assert!(app.emulator(P).record("memberships", MIGUEL).is_some());
        assert_eq!(
            ids(&group_members(&app, &account, OWNERS, ORG).await),
            [SARAH, MIGUEL, TOM]
        );
    }

    #[tokio::test]
    async fn an_invited_membership_can_join_a_team_by_its_membership_id() {
        let (app, account) = app_with_account(P).await;

        let r = change_membership(&app, "add-user", &account, "", SECURITY, PRIYA).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(ids(&group_members(&app, &account, SECURITY, ORG).await), [PRIYA]);
    }

    #[tokio::test]
    async fn adding_an_unknown_membership_is_a_jsonapi_404() {
        let (app, account) = app_with_account(P).await;

        let r = change_membership(&app, "add-user", &account, "", CREATION, "ou-nope").await;

        assert_remote_error(&r, 404, &not_found());
    }

    #[tokio::test]
    async fn workspaces_walk_pages_and_get_by_id() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (workspaces, pages) = walk_records(&app, &directory_path("workspaces", &account, None, ORG), 2).await;

        assert_eq!(
            ids(&workspaces),
            ["ws-SihZTyXKfNXUWuUa", "ws-4q8Fz2RjT7mYwXpL", "ws-Hn3bV9cKe1LpQs6D"]
        );
        assert_eq!(pages, 2);
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /api/v2/organizations/hashicorp/workspaces?page%5Bsize%5D=2&page%5Bnumber%5D=1",
                "GET /api/v2/organizations/hashicorp/workspaces?page%5Bsize%5D=2&page%5Bnumber%5D=2"
            ]
        );
        assert_eq!(
            unified(&workspaces[2]),
            json!({
                "id": "ws-Hn3bV9cKe1LpQs6D", "name": "billing-alerts",
                "organization": {"id": "hashicorp"},
                "created_at": "2023-11-07T15:45:10.120Z", "updated_at": "2023-11-07T15:45:10.120Z"
            }),
            "a null description is left out"
        );

        let r = app
            .get(&directory_path("workspaces", &account, Some("ws-4q8Fz2RjT7mYwXpL"), ""))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "ws-4q8Fz2RjT7mYwXpL", "name": "k8s-prod",
                "description": "Production Kubernetes clusters",
                "organization": {"id": "hashicorp"},
                "created_at": "2022-03-18T08:00:00.000Z", "updated_at": "2024-06-01T12:30:00.000Z"
            })
        );
        assert_eq!(r.body["remote_data"]["attributes"]["locked"], true);
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/api/v2/workspaces/ws-4q8Fz2RjT7mYwXpL");
        assert_eq!(sent.header("authorization"), Some(AUTH));

        let r = app
            .get(&directory_path("workspaces", &account, Some("ws-nope"), ""))
            .await;
        assert_remote_error(&r, 404, &not_found());
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
            json!({"id": "user-hn6v2WK1naDpGadd", "name": "sarahjones", "email": "sarah.jones@example.com"})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/api/v2/account/details");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn activities_map_the_audit_trail_and_send_since() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .get(&directory_path(
                "activities",
                &account,
                None,
                "&created_at[gte]=2024-06-15T00:00:00Z",
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let events = r.body["result"].as_array().unwrap();
        assert_eq!(
            ids(events),
            [
                "ae66e491-db59-457c-8445-9c908ee726ae",
                "b2d7c1f0-3e4a-4b5c-9d6e-7f8a9b0c1d2e"
            ]
        );
        assert_eq!(
            unified(&events[1]),
            json!({
                "id": "b2d7c1f0-3e4a-4b5c-9d6e-7f8a9b0c1d2e",
                "actor": {"id": "user-Zw5kTz3q9NkbAe1c", "name": "miguelalvarez", "type": "Client"},
                "organization": {"id": "org-Bzyc2JuegvVLAibn"},
                "action": "create",
                "entity": {"id": PRIYA},
                "entity_type": "organization_user",
                "context": {"request_id": "5a6b7c8d-9e0f-1a2b-3c4d-5e6f7a8b9c0d"},
                "created_at": "2024-06-21T09:14:03.000Z"
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/api/v2/organization/audit-trail");
        assert_eq!(sent.query, "since=2024-06-15T00%3A00%3A00Z&page%5Bnumber%5D=1");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn the_audit_trail_walks_snake_case_pages() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (events, pages) = walk_records(&app, &directory_path("activities", &account, None, ""), 3).await;

        assert_eq!(events.len(), 4);
        assert_eq!(pages, 2);
        assert_eq!(
            unified(&events[3]),
            json!({
                "id": "d4f9e3b2-5a6c-4d7e-9f80-a1b2c3d4e5f6",
                "actor": {"name": "system", "type": "System"},
                "organization": {"id": "org-Bzyc2JuegvVLAibn"},
                "action": "lock",
                "entity": {"id": "ws-4q8Fz2RjT7mYwXpL"},
                "entity_type": "workspace",
                "context": {"meta": {"reason": "scheduled maintenance"}},
                "created_at": "2024-06-02T03:00:00.000Z"
            })
        );
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /api/v2/organization/audit-trail?page%5Bsize%5D=3&page%5Bnumber%5D=1",
                "GET /api/v2/organization/audit-trail?page%5Bsize%5D=3&page%5Bnumber%5D=2"
            ]
        );
    }
}

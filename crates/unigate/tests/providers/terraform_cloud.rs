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

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

//! Elastic Cloud: get, list (next_page cursor), update (PUT name).

use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

const AUTH: &str = "ApiKey essu_U2FuZGJveEVsYXN0aWNDbG91ZEFQSUtleTAwMDAwMDAx";

#[tokio::test]
async fn get_maps_an_elastic_cloud_org() {
    let (app, account) = app_with_account("elastic-cloud").await;

    let org = get_org(&app, &account, "1801364926").await;

    assert_eq!(org["id"], "1801364926");
    assert_eq!(org["name"], "Acme Observability");
    assert_eq!(org["remote_data"]["billing_contacts"], json!(["billing@acme.example"]));
    for absent in ["pricing_plan", "licenses", "created_at", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "elastic-cloud");
    assert_request(&sent, "GET", "/api/v1/organizations/1801364926");
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn update_puts_only_the_name() {
    let (app, account) = app_with_account("elastic-cloud").await;

    let r = update_org(&app, &account, "2269843017", json!({"name": "Globex Observability"})).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Observability");
    let sent = last_with_method(&app, "elastic-cloud", "PUT");
    assert_eq!(sent.path, "/api/v1/organizations/2269843017");
    assert_eq!(sent.header("authorization"), Some(AUTH));
    assert_eq!(sent.json.unwrap(), json!({"name": "Globex Observability"}));
}

#[tokio::test]
async fn a_too_short_name_is_rejected_with_elastics_error_code() {
    let (app, account) = app_with_account("elastic-cloud").await;

    let r = update_org(&app, &account, "2269843017", json!({"name": "G"})).await;

    assert_remote_error(
        &r,
        400,
        &json!({"errors": [{"code": "organization.invalid_name",
                            "message": "Name must be between 2 and 30 characters.", "fields": ["name"]}]}),
    );
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_elastics_errors() {
    let (app, account) = app_with_account("elastic-cloud").await;

    let r = app.get(&app.orgs_path(&account, Some("42"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"errors": [{"code": "organization.not_found", "message": "Organization not found."}]}),
    );
}

#[tokio::test]
async fn list_follows_the_next_page_cursor() {
    let (app, account) = app_with_account("elastic-cloud").await;
    for i in 0..20 {
        app.emulator("elastic-cloud").insert_record(
            "organizations",
            json!({"id": format!("9{i:09}"), "name": format!("Extra {i}")}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 5).await;

    assert_eq!(ids.len(), 22, "{ids:?}");
    assert_eq!(pages, 2, "Elastic pages hold 20 organizations");
    assert!(last_request(&app, "elastic-cloud").query.starts_with("next_page="));
}

//! Dynamics 365 Sales (Dataverse): get by OData key, list (server-driven paging:
//! `odata.maxpagesize` and `@odata.nextLink`), update (PATCH name).

use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

const ORG: &str = "883278f5-07af-45eb-a0bc-3fea67caa544";
const AUTH: &str = "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.sandbox-dataverse.c2lnbmF0dXJl";

#[tokio::test]
async fn get_addresses_the_row_with_an_odata_key() {
    let (app, account) = app_with_account("dynamics-365-sales").await;

    let org = get_org(&app, &account, ORG).await;

    assert_eq!(org["id"], ORG);
    assert_eq!(org["name"], "Contoso Sales");
    assert_eq!(org["created_at"], "2021-04-22T18:11:02Z");
    assert_eq!(org["updated_at"], "2024-06-03T07:45:10Z");
    assert_eq!(org["remote_data"]["languagecode"], 1033);
    for absent in ["pricing_plan", "licenses"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "dynamics-365-sales");
    assert_request(&sent, "GET", &format!("/api/data/v9.2/organizations({ORG})"));
    assert_eq!(sent.header("authorization"), Some(AUTH));
    assert_eq!(sent.header("odata-version"), Some("4.0"));
}

#[tokio::test]
async fn update_patches_the_name_and_answers_the_representation() {
    let (app, account) = app_with_account("dynamics-365-sales").await;

    let r = update_org(&app, &account, ORG, json!({"name": "Contoso EMEA"})).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Contoso EMEA");
    assert_eq!(r.body["created_at"], "2021-04-22T18:11:02Z");
    assert_ne!(r.body["updated_at"], "2024-06-03T07:45:10Z");
    let sent = last_with_method(&app, "dynamics-365-sales", "PATCH");
    assert_eq!(sent.path, format!("/api/data/v9.2/organizations({ORG})"));
    assert_eq!(sent.header("authorization"), Some(AUTH));
    assert_eq!(sent.header("prefer"), Some("return=representation"));
    assert_eq!(sent.json.unwrap(), json!({"name": "Contoso EMEA"}));
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_the_odata_error() {
    let (app, account) = app_with_account("dynamics-365-sales").await;

    let r = app
        .get(&app.orgs_path(&account, Some("00000000-0000-0000-0000-000000000001"), ""))
        .await;

    assert_remote_error(
        &r,
        404,
        &json!({"error": {"code": "0x80040217",
                "message": "organization With Id = 00000000-0000-0000-0000-000000000001 Does Not Exist"}}),
    );
}

/// Every `Prefer` value of a recorded request.
fn prefer(req: &unigate_emulator::RecordedRequest) -> Vec<String> {
    req.headers
        .iter()
        .filter(|(n, _)| n == "prefer")
        .map(|(_, v)| v.clone())
        .collect()
}

#[tokio::test]
async fn list_returns_the_environments_single_organization_row() {
    let (app, account) = app_with_account("dynamics-365-sales").await;

    let r = app.get(&app.orgs_path(&account, None, "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["result"][0]["id"], ORG);
    assert!(r.body["next_cursor"].is_null());
    let sent = last_request(&app, "dynamics-365-sales");
    assert_eq!(sent.path, "/api/data/v9.2/organizations");
    assert!(sent.query.contains("select=organizationid"), "{}", sent.query);
    assert_eq!(prefer(&sent), ["return=representation"], "no page size without a limit");
}

#[tokio::test]
async fn list_pages_with_odata_maxpagesize_and_follows_the_next_link() {
    let (app, account) = app_with_account("dynamics-365-sales").await;
    let emulator = app.emulator("dynamics-365-sales");
    for i in 0..3 {
        emulator.insert_record(
            "organizations",
            json!({"organizationid": format!("00000000-0000-0000-0000-00000000000{i}"), "name": format!("Extra {i}"),
                   "createdon": "2024-01-01T00:00:00Z", "modifiedon": "2024-01-02T00:00:00Z"}),
        );
    }
    // The link Dataverse itself gives for page 2 of this query.
    let first_page: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/api/data/v9.2/organizations?%24select=organizationid%2Cname%2Ccreatedon%2Cmodifiedon",
            emulator.base_url()
        ))
        .header("authorization", AUTH)
        .header("prefer", "odata.maxpagesize=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let next_link = url::Url::parse(first_page["@odata.nextLink"].as_str().unwrap()).unwrap();
    emulator.clear_requests();

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(
        ids,
        [
            ORG,
            "00000000-0000-0000-0000-000000000000",
            "00000000-0000-0000-0000-000000000001",
            "00000000-0000-0000-0000-000000000002"
        ]
    );
    assert_eq!(pages, 2);
    let sent = emulator.requests();
    assert_eq!(sent.len(), 2);
    for req in &sent {
        assert_eq!(req.path, "/api/data/v9.2/organizations");
        assert_eq!(req.header("authorization"), Some(AUTH));
        assert_eq!(prefer(req), ["return=representation", "odata.maxpagesize=2"]);
    }
    // Page 2 is exactly the next link, not a URL the gateway rebuilt.
    assert_eq!(Some(sent[1].query.as_str()), next_link.query());
    assert!(next_link.query().unwrap().contains("%24skiptoken="), "{next_link}");
}

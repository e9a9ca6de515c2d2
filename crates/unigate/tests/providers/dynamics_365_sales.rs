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

/// Dataverse system users: get, list (`odata.maxpagesize` pages), create with the business
/// unit from `remote_data`, update (names, `isdisabled`), no delete.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use super::{prefer, AUTH};
    use crate::common::{delete_user, get_user, last_with_method, request_lines, unified, walk_users, write_user};
    use crate::helpers::{app_with_account, assert_request, last_request};

    const P: &str = "dynamics-365-sales";
    const NANCY: &str = "c5f1e2a4-7b3d-4e8f-9a1b-2c3d4e5f6a7b";
    const BU: &str = "4b1c2d3e-5f60-4a7b-8c9d-0e1f2a3b4c5d";

    #[tokio::test]
    async fn get_maps_the_systemuser_row() {
        let (app, account) = app_with_account(P).await;

        let user = get_user(&app, &account, NANCY).await;

        assert_eq!(
            unified(&user),
            json!({
                "id": NANCY, "external_id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
                "name": "Nancy Anderson", "first_name": "Nancy", "last_name": "Anderson",
                "username": "nancy@contoso.onmicrosoft.com",
                "emails": [{"email": "nancy.anderson@contoso.com", "type": "work", "is_primary": true}],
                "title": "Sales Manager",
                "phones": [{"number": "+1 425 555 0101", "type": "mobile"}, {"number": "+1 425 555 0100", "type": "work"}],
                "status": "active", "user_type": "Read-Write",
                "organizations": [{"id": BU}],
                "created_at": "2021-04-22T18:20:31Z", "updated_at": "2024-05-30T11:04:52Z"
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/api/data/v9.2/systemusers({NANCY})"));
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(sent.header("odata-version"), Some("4.0"));
    }

    #[tokio::test]
    async fn list_pages_with_maxpagesize_and_maps_disabled_and_application_users() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_users(&app, &account, 2).await;

        assert_eq!(pages, 3);
        let rows: Vec<(&str, &str, &str)> = users
            .iter()
            .map(|u| {
                (
                    u["id"].as_str().unwrap(),
                    u["status"].as_str().unwrap(),
                    u["user_type"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (NANCY, "active", "Read-Write"),
                ("d2a3b4c5-6d7e-4f80-9a1b-3c4d5e6f7a8b", "active", "Read-Write"),
                ("e7f8a9b0-1c2d-4e3f-8a4b-5c6d7e8f9a0b", "inactive", "Read-Write"),
                ("f1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8", "active", "Read"),
                ("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "active", "Non-interactive"),
            ]
        );
        assert_eq!(
            users[4]["identifiers"],
            json!({"application_id": "7d6c5b4a-3928-4170-8a9b-0c1d2e3f4a5b"})
        );
        assert!(users[4].get("first_name").is_none(), "{}", users[4]);
        let sent = app.emulator(P).requests();
        assert_eq!(sent.len(), 3);
        assert!(sent[0].query.contains("select=systemuserid"), "{}", sent[0].query);
        for req in &sent {
            assert_eq!(
                (req.method.as_str(), req.path.as_str()),
                ("GET", "/api/data/v9.2/systemusers")
            );
            assert_eq!(req.header("authorization"), Some(AUTH));
            assert!(
                prefer(req).contains(&"odata.maxpagesize=2".to_string()),
                "{:?}",
                prefer(req)
            );
        }
        assert!(sent[1].query.contains("skiptoken"), "{}", sent[1].query);
        // `$select` keeps the rows to the selected columns.
        assert!(users[0]["remote_data"].get("caltype").is_none(), "{}", users[0]);
    }

    #[tokio::test]
    async fn create_posts_the_row_with_the_business_unit_from_remote_data() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"first_name": "Dan", "last_name": "Park", "title": "Sales Intern",
                   "emails": [{"email": "dan.park@contoso.com", "is_primary": true}],
                   "phones": [{"number": "+1 425 555 0199", "type": "mobile"}],
                   "remote_data": {"businessunitid@odata.bind": format!("/businessunits({BU})")}}),
        )
        .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/api/data/v9.2/systemusers");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(sent.header("prefer"), Some("return=representation"));
        assert_eq!(
            sent.json.unwrap(),
            json!({"firstname": "Dan", "lastname": "Park", "domainname": "dan.park@contoso.com",
                   "internalemailaddress": "dan.park@contoso.com", "title": "Sales Intern",
                   "mobilephone": "+1 425 555 0199",
                   "businessunitid@odata.bind": format!("/businessunits({BU})")})
        );
        let id = r.body["id"].as_str().unwrap();
        assert_eq!(id.len(), 36, "a GUID: {id}");
        assert_eq!(
            (
                &r.body["name"],
                &r.body["username"],
                &r.body["status"],
                &r.body["user_type"]
            ),
            (
                &json!("Dan Park"),
                &json!("dan.park@contoso.com"),
                &json!("active"),
                &json!("Read-Write")
            )
        );
        assert!(
            r.body["remote_data"].get("businessunitid@odata.bind").is_none(),
            "{}",
            r.text
        );
    }

    #[tokio::test]
    async fn create_without_a_last_name_is_dataverses_error() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"first_name": "Dan", "emails": [{"email": "dan.park@contoso.com"}],
                   "remote_data": {"businessunitid@odata.bind": format!("/businessunits({BU})")}}),
        )
        .await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        let error = &r.body["raw_response"]["error"];
        assert_eq!(error["code"], "0x80048d19", "{}", r.text);
        assert!(error["message"].as_str().unwrap().contains("lastname"), "{}", r.text);
    }

    #[tokio::test]
    async fn update_patches_names_and_disables() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::PATCH,
            &account,
            Some(NANCY),
            json!({"last_name": "Davolio", "title": "Sales Director", "status": "inactive"}),
        )
        .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, P, "PATCH");
        assert_request(&sent, "PATCH", &format!("/api/data/v9.2/systemusers({NANCY})"));
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(
            sent.json.unwrap(),
            json!({"lastname": "Davolio", "title": "Sales Director", "isdisabled": true})
        );
        assert_eq!(
            (&r.body["name"], &r.body["title"], &r.body["status"]),
            (&json!("Nancy Davolio"), &json!("Sales Director"), &json!("inactive"))
        );
        assert_eq!(r.body["created_at"], "2021-04-22T18:20:31Z");
        assert_ne!(r.body["updated_at"], "2024-05-30T11:04:52Z");
    }

    #[tokio::test]
    async fn delete_is_not_supported() {
        let (app, account) = app_with_account(P).await;

        let r = delete_user(&app, &account, NANCY).await;

        assert_eq!(r.status, 405, "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }
}

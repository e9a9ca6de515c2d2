//! Salesforce REST API: the Organization sObject.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_saw, last_request, spawn_app};

const P: &str = "salesforce";
const ID: &str = "00D5g000004SbXYEA0";

#[tokio::test]
async fn get_maps_the_organization_sobject() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some(ID), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": ID, "name": "Acme Corporation", "pricing_plan": "Enterprise Edition",
               "licenses": [{"id": "1005g000000AbCdAAK", "name": "Salesforce"},
                            {"id": "1005g000000AbCeAAK", "name": "Salesforce Platform"}],
               "created_at": "2019-08-14T17:32:05Z", "updated_at": "2024-02-20T09:41:12Z"})
    );
    // The UserLicense query, then the sObject.
    let requests = assert_saw(
        &app,
        P,
        &[
            ("GET", "/services/data/v62.0/query"),
            ("GET", "/services/data/v62.0/sobjects/Organization/00D5g000004SbXYEA0"),
        ],
    );
    let soql = &requests[0];
    let q: Vec<(String, String)> = url::form_urlencoded::parse(soql.query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(q, [("q".to_string(), "SELECT Id, Name FROM UserLicense".to_string())]);
    assert_eq!(
        soql.header("authorization"),
        Some("Bearer 00D5g000004SbXY!AQ0AQSandboxAccessTokenValue")
    );
    assert_eq!(
        requests[1].header("authorization"),
        Some("Bearer 00D5g000004SbXY!AQ0AQSandboxAccessTokenValue")
    );
}

#[tokio::test]
async fn list_runs_a_soql_query_over_organization() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, None, "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["result"][0]["id"], ID);
    assert!(r.body["result"][0].get("licenses").is_none(), "{}", r.text);
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    let sent = last_request(&app, P);
    assert_eq!(sent.path, "/services/data/v62.0/query");
    assert!(
        sent.query.contains("FROM+Organization") || sent.query.contains("FROM%20Organization"),
        "{}",
        sent.query
    );
}

#[tokio::test]
async fn update_patches_name_and_reads_the_record_back() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some(ID), ""),
            Some(json!({"name": "Acme Corp", "remote_data": {"Phone": "(415) 555-0199"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Acme Corp");
    assert_eq!(r.body["remote_data"]["Phone"], "(415) 555-0199");
    let sent = app.emulator(P).requests();
    let patch = sent.iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(
        patch.json.clone().unwrap(),
        json!({"Name": "Acme Corp", "Phone": "(415) 555-0199"})
    );
    assert_eq!(sent.last().unwrap().method, "GET");
}

#[tokio::test]
async fn a_missing_record_is_a_404_with_the_salesforce_error_array() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("00D000000000000AAA"), "")).await;

    let msg = assert_error(&r, 404);
    assert!(msg.contains("NOT_FOUND"), "{msg}");
    assert_eq!(
        r.body["raw_response"],
        json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
    );
}

#[tokio::test]
async fn an_instance_url_off_salesforce_is_refused() {
    let app = spawn_app().await;
    let account = app
        .connect_with(
            P,
            json!({"access_token": "x", "instance_url": "https://evil.example.com"}),
        )
        .await;

    let r = app.get(&app.orgs_path(&account, Some(ID), "")).await;

    assert!(r.status.is_client_error() || r.status.is_server_error(), "{}", r.text);
    assert_ne!(r.status, 200);
}

/// The UserLicense query is a side load: when it fails, the organization still answers,
/// without `licenses` (absent, not an empty list that would claim there are none).
#[tokio::test]
async fn a_failing_user_license_query_leaves_licenses_out() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).inject(
        unigate_emulator::Fault::respond(400, json!([{"message": "nope", "errorCode": "INVALID_TYPE"}]))
            .on("GET", "/services/data/v62.0/query"),
    );

    let r = app.get(&app.orgs_path(&account, Some(ID), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], ID);
    assert!(r.body.get("licenses").is_none(), "{}", r.text);
}

/// `User` records as users: get, SOQL list over `nextRecordsUrl` with the batch size in
/// `Sforce-Query-Options`, filters in the SOQL `WHERE`, create, update, and Salesforce's
/// error array.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{
        assert_pages_follow_next_links, assert_remote_error, get_user, unified, users_path, walk_users, write_user,
    };
    use crate::helpers::{app_with_account, assert_request, last_request};

    const P: &str = "salesforce";
    const AUTH: &str = "Bearer 00D5g000004SbXY!AQ0AQSandboxAccessTokenValue";
    const FIELDS: &str = "Id, Username, FirstName, LastName, Name, Title, Email, MobilePhone, Phone, IsActive, UserType, ProfileId, Profile.Name, UserRoleId, UserRole.Name, TimeZoneSidKey, LanguageLocaleKey, FullPhotoUrl, FederationIdentifier, EmployeeNumber, LastLoginDate, CreatedDate, LastModifiedDate";

    fn soql(query: &str) -> String {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "q")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn get_maps_the_user_record() {
        let (app, account) = app_with_account(P).await;

        let user = get_user(&app, &account, "0055g00000BcDeFAAV").await;

        assert_eq!(
            unified(&user),
            json!({
                "id": "0055g00000BcDeFAAV",
                "username": "maria.garcia@acme.example",
                "first_name": "María", "last_name": "García", "name": "María García",
                "title": "Account Executive",
                "emails": [{"email": "maria.garcia@acme.example", "is_primary": true}],
                "phones": [{"number": "(415) 555-0132", "type": "work"}],
                "status": "active", "user_type": "Standard",
                "roles": [{"id": "00e5g000001AbCeAAK"}, {"id": "00E5g000000RoLfEAK"}],
                "timezone": "Europe/Madrid", "languages": ["es"],
                "avatar": "https://acme.file.force.com/profilephoto/7295g00000BcDeF/F",
                "identifiers": {"federation_id": "maria.garcia@idp.acme.example"},
                "last_login_at": "2024-06-02T14:01:09Z",
                "created_at": "2021-03-01T10:00:00Z", "updated_at": "2024-05-11T16:22:31Z"
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/services/data/v62.0/sobjects/User/0055g00000BcDeFAAV");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn list_follows_next_records_url_with_the_batch_size_header() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_users(&app, &account, 2).await;

        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "0055g00000AbCdEAAV",
                "0055g00000BcDeFAAV",
                "0055g00000CdEfGAAV",
                "0055g00000DeFgHAAV",
                "0055g00000EfGhIAAV"
            ]
        );
        assert_eq!(pages, 3);
        assert_eq!(users[3]["status"], "inactive");
        assert_eq!(
            users[1]["roles"],
            json!([{"id": "00e5g000001AbCeAAK", "name": "Standard User"}, {"id": "00E5g000000RoLfEAK", "name": "Sales Rep"}])
        );
        assert_eq!(users[4]["user_type"], "PowerPartner");
        let sent = app.emulator(P).requests();
        assert_eq!(sent.len(), 3);
        for req in &sent {
            assert_eq!(req.path, "/services/data/v62.0/query");
            assert_eq!(soql(&req.query), format!("SELECT {FIELDS} FROM User ORDER BY Id"));
            assert_eq!(req.header("sforce-query-options"), Some("batchSize=2"));
            assert_eq!(req.header("authorization"), Some(AUTH));
        }
        assert_pages_follow_next_links(&app, P, &sent, "/nextRecordsUrl").await;
    }

    #[tokio::test]
    async fn the_email_filter_goes_into_the_soql_where() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, None, "&email=maria.garcia@acme.example"))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let ids: Vec<&str> = r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["0055g00000BcDeFAAV"]);
        assert_eq!(
            soql(&last_request(&app, P).query),
            format!("SELECT {FIELDS} FROM User WHERE Email = 'maria.garcia@acme.example' ORDER BY Id")
        );
    }

    #[tokio::test]
    async fn filter_values_are_quoted_the_soql_way() {
        let (app, account) = app_with_account(P).await;

        // The emulator knows no such query (a 404 here); what matters is the text sent.
        let _ = app
            .get(&users_path(&account, None, "&last_name=O%27Connor&status=inactive"))
            .await;

        assert_eq!(
            soql(&last_request(&app, P).query),
            format!("SELECT {FIELDS} FROM User WHERE LastName = 'O\\'Connor' AND IsActive = false ORDER BY Id")
        );
    }

    #[tokio::test]
    async fn create_fills_salesforces_required_fields() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"first_name": "Grace", "last_name": "Hopper",
                   "emails": [{"email": "grace.hopper@acme.example", "is_primary": true}],
                   "languages": ["en-GB"], "timezone": "Europe/London",
                   "remote_data": {"ProfileId": "00e5g000001AbCeAAK"}}),
        )
        .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/services/data/v62.0/sobjects/User");
        assert_eq!(
            sent.json.unwrap(),
            json!({"Username": "grace.hopper@acme.example", "Email": "grace.hopper@acme.example",
                   "FirstName": "Grace", "LastName": "Hopper", "Alias": "ghopper",
                   "TimeZoneSidKey": "Europe/London", "LocaleSidKey": "en_GB", "LanguageLocaleKey": "en_GB",
                   "EmailEncodingKey": "UTF-8", "ProfileId": "00e5g000001AbCeAAK"})
        );
        let id = r.body["id"].as_str().unwrap();
        assert_eq!(r.body["remote_data"], json!({"id": id, "success": true, "errors": []}));
        assert_eq!(
            unified(&r.body),
            json!({"id": id, "username": "grace.hopper@acme.example", "first_name": "Grace", "last_name": "Hopper",
                   "emails": [{"email": "grace.hopper@acme.example", "is_primary": true}], "status": "active"})
        );
        assert_eq!(app.emulator(P).record("users", id).unwrap()["Name"], "Grace Hopper");
    }

    #[tokio::test]
    async fn a_create_without_a_profile_is_salesforces_field_error() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"last_name": "Nobody", "emails": [{"email": "nobody@acme.example"}]}),
        )
        .await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(
            r.body["raw_response"][0]["errorCode"], "FIELD_INTEGRITY_EXCEPTION",
            "{}",
            r.text
        );
        assert_eq!(r.body["raw_response"][0]["fields"], json!(["ProfileId"]), "{}", r.text);
    }

    #[tokio::test]
    async fn update_deactivates_and_reads_the_user_back() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::PATCH,
            &account,
            Some("0055g00000CdEfGAAV"),
            json!({"status": "inactive", "title": "Senior Support Engineer"}),
        )
        .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let patch = app
            .emulator(P)
            .requests()
            .into_iter()
            .find(|q| q.method == "PATCH")
            .unwrap();
        assert_request(&patch, "PATCH", "/services/data/v62.0/sobjects/User/0055g00000CdEfGAAV");
        assert_eq!(
            patch.json.unwrap(),
            json!({"Title": "Senior Support Engineer", "IsActive": false})
        );
        assert_eq!(
            (&r.body["status"], &r.body["title"]),
            (&json!("inactive"), &json!("Senior Support Engineer"))
        );
    }

    #[tokio::test]
    async fn an_unknown_user_is_salesforces_not_found_array() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("005000000000000AAA"), "")).await;

        assert_remote_error(
            &r,
            404,
            &json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]),
        );
    }
}

//! Salesforce REST API: the Organization sObject; the User Directory's roles (`UserRole`),
//! role assignments (`User.UserRoleId`), public groups (`Group`, `GroupMember`), licences
//! (`UserLicense`) and `me` (Chatter).

use reqwest::Method;
use serde_json::json;

use crate::common::{
    assert_remote_error, directory_path, group_member_ids, ids, last_with_method, me, query_pairs, request_lines,
    unified,
};
use crate::helpers::{
    app_with_account, assert_error, assert_request, assert_saw, last_request, spawn_app, walk_records,
};

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
                            {"id": "1005g000000AbCeAAK", "name": "Salesforce Platform"},
                            {"id": "1005g000000AbCfAAK", "name": "Chatter Free"}],
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

const DATA: &str = "/services/data/v62.0";
const BEARER: &str = "Bearer 00D5g000004SbXY!AQ0AQSandboxAccessTokenValue";
const SALES_EMEA: &str = "00G5g000001AbCdEAK";
const KENJI: &str = "0055g00000CdEfGAAV";

/// The SOQL text of a recorded `/query` request.
fn soql(sent: &unigate_emulator::RecordedRequest) -> String {
    let q = query_pairs(sent);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].0, "q");
    q[0].1.clone()
}

#[tokio::test]
async fn roles_are_the_role_hierarchy_over_soql_batches() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (roles, pages) = walk_records(&app, &directory_path("roles", &account, None, ""), 2).await;

    assert_eq!(
        ids(&roles),
        ["00E5g000000RoLeEAK", "00E5g000000RoLfEAK", "00E5g000000RoLgEAK"]
    );
    assert_eq!(pages, 2);
    assert_eq!(
        unified(&roles[2]),
        json!({"id": "00E5g000000RoLgEAK", "name": "Sales Manager", "label": "Sales Manager",
               "description": "Sales", "type": "None", "updated_at": "2021-11-30T16:45:00Z"})
    );
    let sent = app.emulator(P).requests();
    assert_request(&sent[0], "GET", &format!("{DATA}/query"));
    assert_eq!(
        soql(&sent[0]),
        "SELECT Id, Name, DeveloperName, ParentRoleId, RollupDescription, PortalType, LastModifiedDate FROM UserRole ORDER BY Id"
    );
    assert_eq!(sent[0].header("sforce-query-options"), Some("batchSize=2"));
    assert_eq!(sent[0].header("authorization"), Some(BEARER));
    assert_eq!(sent.len(), 2);
}

#[tokio::test]
async fn a_role_is_got_created_renamed_and_deleted_as_a_userrole_sobject() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&directory_path("roles", &account, Some("00E5g000000RoLeEAK"), ""))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "00E5g000000RoLeEAK", "name": "CEO", "label": "CEO", "description": "Chief Executive Officer",
               "type": "None", "updated_at": "2019-08-14T17:40:00Z"})
    );
    assert_request(
        &last_request(&app, P),
        "GET",
        &format!("{DATA}/sobjects/UserRole/00E5g000000RoLeEAK"),
    );

    let r = app
        .send(
            Method::POST,
            &directory_path("roles", &account, None, ""),
            Some(json!({"name": "Support Lead (EMEA)", "description": "Support"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "POST", &format!("{DATA}/sobjects/UserRole"));
    assert_eq!(
        sent.json.unwrap(),
        json!({"Name": "Support Lead (EMEA)", "DeveloperName": "Support_Lead_EMEA", "RollupDescription": "Support"})
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        unified(&r.body),
        json!({"id": id, "name": "Support Lead (EMEA)", "label": "Support Lead (EMEA)", "description": "Support"})
    );

    let r = app
        .send(
            Method::PATCH,
            &directory_path("roles", &account, Some(&id), ""),
            Some(json!({"name": "Support Lead"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_with_method(&app, P, "PATCH");
    assert_request(&sent, "PATCH", &format!("{DATA}/sobjects/UserRole/{id}"));
    assert_eq!(sent.json.unwrap(), json!({"Name": "Support Lead"}));
    assert_eq!(r.body["name"], "Support Lead", "read back after the 204: {}", r.text);

    let r = app
        .send(Method::DELETE, &directory_path("roles", &account, Some(&id), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(
        &last_request(&app, P),
        "DELETE",
        &format!("{DATA}/sobjects/UserRole/{id}"),
    );
    assert!(app.emulator(P).record("user_roles", &id).is_none());
}

#[tokio::test]
async fn an_unknown_role_is_salesforces_error_array() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&directory_path("roles", &account, Some("00E5g000000NoNeEAK"), ""))
        .await;

    assert_remote_error(
        &r,
        404,
        &json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]),
    );
}

#[tokio::test]
async fn role_assignments_are_the_users_with_a_role() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = app.get(&directory_path("role_assignments", &account, None, "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(
        result.iter().map(unified).collect::<Vec<_>>(),
        [
            json!({"id": "0055g00000AbCdEAAV", "user_id": "0055g00000AbCdEAAV", "role_id": "00E5g000000RoLeEAK", "updated_at": "2024-02-20T09:41:12Z"}),
            json!({"id": "0055g00000BcDeFAAV", "user_id": "0055g00000BcDeFAAV", "role_id": "00E5g000000RoLfEAK", "updated_at": "2024-05-11T16:22:31Z"}),
            json!({"id": "0055g00000DeFgHAAV", "user_id": "0055g00000DeFgHAAV", "role_id": "00E5g000000RoLgEAK", "updated_at": "2024-01-02T09:00:00Z"})
        ],
        "Kenji and Pat hold no role"
    );
    assert_eq!(
        soql(&last_request(&app, P)),
        "SELECT Id, UserRoleId, LastModifiedDate FROM User WHERE UserRoleId != null ORDER BY Id"
    );
}

#[tokio::test]
async fn assigning_and_revoking_a_role_patches_the_users_userroleid() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &directory_path("role_assignments", &account, None, ""),
            Some(json!({"user_id": KENJI, "role_id": "00E5g000000RoLfEAK"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": KENJI, "user_id": KENJI, "role_id": "00E5g000000RoLfEAK"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "PATCH", &format!("{DATA}/sobjects/User/{KENJI}"));
    assert_eq!(sent.json.unwrap(), json!({"UserRoleId": "00E5g000000RoLfEAK"}));
    let r = app
        .get(&directory_path("role_assignments", &account, Some(KENJI), ""))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["role_id"], "00E5g000000RoLfEAK");

    let r = app
        .send(
            Method::DELETE,
            &directory_path("role_assignments", &account, Some(KENJI), ""),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "PATCH", &format!("{DATA}/sobjects/User/{KENJI}"));
    assert_eq!(sent.json.unwrap(), json!({"UserRoleId": null}));
    let r = app
        .get(&directory_path("role_assignments", &account, Some(KENJI), ""))
        .await;
    assert_eq!(r.status, 404, "a user without a role holds no assignment: {}", r.text);
}

#[tokio::test]
async fn groups_are_the_public_groups_only() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (groups, pages) = walk_records(&app, &directory_path("groups", &account, None, ""), 1).await;

    assert_eq!(
        ids(&groups),
        [SALES_EMEA, "00G5g000001AbCfEAK"],
        "the queue is left out"
    );
    assert_eq!(pages, 2);
    assert_eq!(
        unified(&groups[0]),
        json!({"id": SALES_EMEA, "name": "Sales EMEA", "group_type": "group",
               "created_at": "2020-02-10T09:00:00Z", "updated_at": "2023-07-19T14:12:00Z"})
    );
    assert_eq!(
        soql(&app.emulator(P).requests()[0]),
        "SELECT Id, Name, DeveloperName, Type, Email, DoesIncludeBosses, CreatedDate, LastModifiedDate FROM Group WHERE Type = 'Regular' ORDER BY Id"
    );

    let r = app
        .get(&directory_path("groups", &account, Some("00G5g000001AbCeEAK"), ""))
        .await;
    assert_eq!(r.status, 404, "a queue is no group here: {}", r.text);
}

#[tokio::test]
async fn a_group_is_created_renamed_and_deleted_as_a_group_sobject() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &directory_path("groups", &account, None, ""),
            Some(json!({"name": "Field Sales"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "POST", &format!("{DATA}/sobjects/Group"));
    assert_eq!(
        sent.json.unwrap(),
        json!({"Name": "Field Sales", "DeveloperName": "Field_Sales", "Type": "Regular"})
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        unified(&r.body),
        json!({"id": id, "name": "Field Sales", "group_type": "group"})
    );

    let r = app
        .send(
            Method::PATCH,
            &directory_path("groups", &account, Some(&id), ""),
            Some(json!({"name": "Field Sales DACH"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_with_method(&app, P, "PATCH");
    assert_request(&sent, "PATCH", &format!("{DATA}/sobjects/Group/{id}"));
    assert_eq!(sent.json.unwrap(), json!({"Name": "Field Sales DACH"}));
    assert_eq!(r.body["name"], "Field Sales DACH");

    let r = app
        .send(Method::DELETE, &directory_path("groups", &account, Some(&id), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(&last_request(&app, P), "DELETE", &format!("{DATA}/sobjects/Group/{id}"));
    assert!(app.emulator(P).record("groups", &id).is_none());
}

#[tokio::test]
async fn a_group_description_cannot_be_written_and_nothing_is_sent() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = app
        .send(
            Method::POST,
            &directory_path("groups", &account, None, ""),
            Some(json!({"name": "Field Sales", "description": "Everyone in the field"})),
        )
        .await;

    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("description"), "{}", r.text);
    assert!(request_lines(&app, P).is_empty());
}

#[tokio::test]
async fn add_user_inserts_a_group_member_that_the_users_list_then_shows() {
    let (app, account) = app_with_account(P).await;

    assert_eq!(
        group_member_ids(&app, &account, SALES_EMEA, "").await,
        ["0055g00000BcDeFAAV", "0055g00000DeFgHAAV"]
    );
    assert!(
        soql(&last_request(&app, P)).ends_with(&format!(
            " FROM User WHERE Id IN (SELECT UserOrGroupId FROM GroupMember WHERE GroupId = '{SALES_EMEA}') ORDER BY Id"
        )),
        "a semi-join on GroupMember"
    );

    let r = app
        .send(
            Method::POST,
            &directory_path("groups/add-user", &account, None, ""),
            Some(json!({"group_id": SALES_EMEA, "user_id": KENJI})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(unified(&r.body), json!({"group_id": SALES_EMEA, "user_id": KENJI}));
    assert_eq!(r.body["remote_data"]["success"], true, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "POST", &format!("{DATA}/sobjects/GroupMember"));
    assert_eq!(sent.header("authorization"), Some(BEARER));
    assert_eq!(
        sent.json.unwrap(),
        json!({"GroupId": SALES_EMEA, "UserOrGroupId": KENJI})
    );
    assert_eq!(
        group_member_ids(&app, &account, SALES_EMEA, "").await,
        ["0055g00000BcDeFAAV", "0055g00000DeFgHAAV", KENJI]
    );
}

const ALL_MANAGERS: &str = "00G5g000001AbCfEAK";
const MARIA: &str = "0055g00000BcDeFAAV";
const OLIVIA: &str = "0055g00000DeFgHAAV";

async fn remove_user(app: &crate::helpers::TestApp, account: &str, group: &str, user: &str) -> crate::helpers::Reply {
    app.send(
        Method::POST,
        &directory_path("groups/remove-user", account, None, ""),
        Some(json!({"group_id": group, "user_id": user})),
    )
    .await
}

#[tokio::test]
async fn remove_user_finds_the_group_member_row_by_soql_and_deletes_it() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = remove_user(&app, &account, SALES_EMEA, OLIVIA).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(unified(&r.body), json!({"group_id": SALES_EMEA, "user_id": OLIVIA}));
    let sent = assert_saw(
        &app,
        P,
        &[
            ("GET", &format!("{DATA}/sobjects/Group/{SALES_EMEA}")),
            ("GET", &format!("{DATA}/sobjects/User/{OLIVIA}")),
            ("GET", &format!("{DATA}/query")),
            ("DELETE", &format!("{DATA}/sobjects/GroupMember/0115g000001GmAbAAK")),
        ],
    );
    assert_eq!(
        soql(&sent[2]),
        format!("SELECT Id, GroupId, UserOrGroupId FROM GroupMember WHERE GroupId = '{SALES_EMEA}' AND UserOrGroupId = '{OLIVIA}'")
    );
    assert!(sent.iter().all(|q| q.header("authorization") == Some(BEARER)));
    assert_eq!(sent[3].body.len(), 0, "a DELETE without a body");
    assert_eq!(group_member_ids(&app, &account, SALES_EMEA, "").await, [MARIA]);
    // Her other membership stays.
    assert_eq!(group_member_ids(&app, &account, ALL_MANAGERS, "").await, [OLIVIA]);
}

#[tokio::test]
async fn removing_a_user_who_is_not_a_member_is_a_404_and_deletes_nothing() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = remove_user(&app, &account, ALL_MANAGERS, MARIA).await;

    assert_error(&r, 404);
    assert!(r.text.contains("member"), "{}", r.text);
    let lines = request_lines(&app, P);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("GET ")), "{lines:?}");
    assert_eq!(group_member_ids(&app, &account, ALL_MANAGERS, "").await, [OLIVIA]);
}

#[tokio::test]
async fn a_quote_in_an_id_never_reaches_soql_and_a_queue_is_no_public_group() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let injected = remove_user(&app, &account, SALES_EMEA, "x' OR UserOrGroupId != '").await;
    let queue = remove_user(&app, &account, "00G5g000001AbCeEAK", OLIVIA).await;

    assert_remote_error(
        &injected,
        404,
        &json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]),
    );
    assert_error(&queue, 404);
    assert_eq!(
        request_lines(&app, P),
        [
            format!("GET {DATA}/sobjects/Group/{SALES_EMEA}"),
            format!("GET {DATA}/sobjects/User/x%27%20OR%20UserOrGroupId%20%21%3D%20%27"),
            format!("GET {DATA}/sobjects/Group/00G5g000001AbCeEAK"),
        ]
    );
}

#[tokio::test]
async fn licenses_are_the_user_licenses_with_their_seats() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&directory_path("licenses", &account, None, "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(
        ids(result),
        ["1005g000000AbCdAAK", "1005g000000AbCeAAK", "1005g000000AbCfAAK"]
    );
    assert_eq!(
        unified(&result[2]),
        json!({"id": "1005g000000AbCfAAK", "name": "Chatter Free", "available_quantity": 5000,
               "assigned_quantity": 0, "status": "disabled",
               "created_at": "2019-08-14T17:32:05Z", "updated_at": "2019-08-14T17:32:05Z"})
    );
    assert!(soql(&last_request(&app, P)).ends_with(" FROM UserLicense ORDER BY Id"));

    let r = app
        .get(&directory_path("licenses", &account, Some("1005g000000AbCdAAK"), ""))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "1005g000000AbCdAAK", "name": "Salesforce", "available_quantity": 25,
               "assigned_quantity": 18, "status": "active",
               "created_at": "2019-08-14T17:32:05Z", "updated_at": "2024-01-15T08:00:00Z"})
    );
    assert_request(
        &last_request(&app, P),
        "GET",
        &format!("{DATA}/sobjects/UserLicense/1005g000000AbCdAAK"),
    );
}

#[tokio::test]
async fn me_is_the_chatter_user_of_the_token() {
    let (app, account) = app_with_account(P).await;

    let me = me(&app, &account, "").await;

    assert_eq!(
        unified(&me),
        json!({"id": "0055g00000AbCdEAAV", "name": "Dana Admin", "email": "dana.admin@acme.example",
               "organization": {"name": "Acme Corporation"}})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", &format!("{DATA}/chatter/users/me"));
    assert_eq!(sent.header("authorization"), Some(BEARER));
}

#[tokio::test]
async fn activities_are_the_setup_audit_trail_over_soql_batches() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (events, pages) = walk_records(&app, &directory_path("activities", &account, None, ""), 2).await;

    assert_eq!(
        ids(&events),
        ["0Ym5g00000AbC3CAK", "0Ym5g00000AbC2CAK", "0Ym5g00000AbC1CAK"]
    );
    assert_eq!(pages, 2);
    assert_eq!(
        unified(&events[2]),
        json!({
            "id": "0Ym5g00000AbC1CAK",
            "actor": {"id": "0055g00000AbCdEAAV", "name": "Dana Admin", "type": "user"},
            "description": "Created role Sales Manager",
            "action": "createduserrole",
            "entity_type": "Roles",
            "context": {"section": "Roles", "delegate_user": "support@salesforce.example"},
            "created_at": "2021-11-30T16:45:00Z"
        })
    );
    let first = &app.emulator(P).requests()[0];
    assert_eq!(
        soql(first),
        "SELECT Id, Action, Section, Display, CreatedDate, CreatedById, CreatedBy.Name, DelegateUser FROM SetupAuditTrail ORDER BY CreatedDate DESC"
    );
    assert_eq!(first.header("sforce-query-options"), Some("batchSize=2"));
}

#[tokio::test]
async fn created_at_filters_become_soql_datetime_literals() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&directory_path(
            "activities",
            &account,
            None,
            "&created_at[gte]=2024-01-01&created_at[lt]=2024-05-14T11:12:44%2B02:00",
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(r.body["result"].as_array().unwrap()), ["0Ym5g00000AbC2CAK"]);
    assert_eq!(
        soql(&last_request(&app, P)),
        "SELECT Id, Action, Section, Display, CreatedDate, CreatedById, CreatedBy.Name, DelegateUser FROM SetupAuditTrail WHERE CreatedDate >= 2024-01-01T00:00:00Z AND CreatedDate < 2024-05-14T09:12:44Z ORDER BY CreatedDate DESC"
    );
}

//! Cisco Meraki: get, list (startingAfter + Link), update (PUT of given fields), delete.

use reqwest::Method;
use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request};

const AUTH: &str = "Bearer 75dd5334bef4d2bc96f26138e8c4a3b0c1d2e3f4";

#[tokio::test]
async fn get_maps_the_licensing_model_to_the_pricing_plan() {
    let (app, account) = app_with_account("cisco-meraki").await;

    let org = get_org(&app, &account, "2930418").await;

    assert_eq!(org["id"], "2930418");
    assert_eq!(org["name"], "My organization");
    assert_eq!(org["pricing_plan"], "co-term");
    assert_eq!(org["licenses"], json!([{"id": "1234", "name": "MX64-ENT"}]));
    assert_eq!(org["remote_data"]["cloud"]["region"]["name"], "North America");
    let licenses_call = app
        .emulator("cisco-meraki")
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/licenses"))
        .unwrap();
    assert_eq!(licenses_call.path, "/api/v1/organizations/2930418/licenses");
    for absent in ["created_at", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "cisco-meraki");
    assert_request(&sent, "GET", "/api/v1/organizations/2930418");
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn update_puts_the_name_and_remote_data() {
    let (app, account) = app_with_account("cisco-meraki").await;

    let r = update_org(
        &app,
        &account,
        "549236",
        json!({"name": "Globex EMEA", "remote_data": {"api": {"enabled": false}}}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex EMEA");
    assert_eq!(r.body["pricing_plan"], "subscription");
    let sent = last_with_method(&app, "cisco-meraki", "PUT");
    assert_eq!(sent.path, "/api/v1/organizations/549236");
    assert_eq!(sent.header("authorization"), Some(AUTH));
    assert_eq!(
        sent.json.unwrap(),
        json!({"name": "Globex EMEA", "api": {"enabled": false}})
    );
    let stored = app.emulator("cisco-meraki").record("organizations", "549236").unwrap();
    assert_eq!(stored["api"]["enabled"], false);
    assert_eq!(stored["licensing"]["model"], "subscription");
}

#[tokio::test]
async fn delete_removes_the_organization() {
    let (app, account) = app_with_account("cisco-meraki").await;

    let r = app
        .send(Method::DELETE, &app.orgs_path(&account, Some("681155"), ""), None)
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "681155");
    let sent = last_request(&app, "cisco-meraki");
    assert_request(&sent, "DELETE", "/api/v1/organizations/681155");
    assert!(app.emulator("cisco-meraki").record("organizations", "681155").is_none());
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_merakis_errors_list() {
    let (app, account) = app_with_account("cisco-meraki").await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;

    assert_remote_error(&r, 404, &json!({"errors": ["Organization with ID 1 not found"]}));
}

#[tokio::test]
async fn list_follows_the_link_header_and_sends_no_page_size_of_its_own() {
    let (app, account) = app_with_account("cisco-meraki").await;
    for i in 0..3 {
        app.emulator("cisco-meraki").insert_record(
            "organizations",
            json!({"id": format!("90000{i}"), "name": format!("Extra {i}"), "licensing": {"model": "per-device"}}),
        );
    }

    // The spec's GET /organizations declares no paging parameters, so Unigate sends none;
    // a caller may still ask Meraki for small pages through remote_query.
    let mut ids = Vec::new();
    let mut path = app.orgs_path(&account, None, "&limit=2&remote_query[perPage]=2");
    let mut pages = 0;
    loop {
        let r = app.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        pages += 1;
        for o in r.body["result"].as_array().unwrap() {
            ids.push(o["id"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => path = app.orgs_path(&account, None, &format!("&next_cursor={c}")),
            None => break,
        }
    }

    assert_eq!(ids, ["2930418", "549236", "681155", "900000", "900001", "900002"]);
    assert_eq!(pages, 3);
    let first = app
        .emulator("cisco-meraki")
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/organizations"))
        .unwrap();
    assert_eq!(first.query, "perPage=2", "only what the caller asked for");
    let sent = last_request(&app, "cisco-meraki");
    assert!(sent.query.contains("startingAfter="), "{}", sent.query);
}

#[tokio::test]
async fn licenses_are_absent_not_empty_when_meraki_refuses_the_licenses_endpoint() {
    let (app, account) = app_with_account("cisco-meraki").await;
    app.emulator("cisco-meraki").inject(
        unigate_emulator::Fault::respond(
            400,
            json!({"errors": ["Organization does not support per-device licensing"]}),
        )
        .on("GET", "/api/v1/organizations/*/licenses"),
    );

    let org = get_org(&app, &account, "2930418").await;

    assert_eq!(org["name"], "My organization");
    assert!(org.get("licenses").is_none(), "{org}");
}

#[tokio::test]
async fn list_without_remote_query_gets_merakis_default_page() {
    let (app, account) = app_with_account("cisco-meraki").await;

    let r = app.get(&app.orgs_path(&account, None, "&limit=2")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"].as_array().unwrap().len(), 3);
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    assert_eq!(last_request(&app, "cisco-meraki").query, "");
}

/// Dashboard administrators as users: get (picked from the list), list per organization,
/// create with access roles, update, delete, and Meraki's `{"errors": [...]}`.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

    const P: &str = "cisco-meraki";
    const ORG: &str = "&organization_id=2930418";
    const AUTH: &str = "Bearer 75dd5334bef4d2bc96f26138e8c4a3b0c1d2e3f4";

    fn ids(body: &serde_json::Value) -> Vec<&str> {
        body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn get_picks_the_admin_and_maps_its_access() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("212406"), ORG)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "212406", "name": "Miles Meraki",
                "emails": [{"email": "miles@meraki.com", "is_primary": true}],
                "status": "active", "is_2fa_enabled": false, "user_type": "none",
                "roles": [
                    {"id": "none", "name": "none", "organization": "2930418"},
                    {"id": "full", "name": "full", "workspace": "N_24329156"},
                    {"id": "read-only", "name": "read-only", "group": "west"}
                ],
                "workspaces": [{"id": "N_24329156"}],
                "organizations": [{"id": "2930418"}],
                "last_active_at": "2018-02-11T00:00:00Z",
                "identifiers": {"authentication_method": "Email"}
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/api/v1/organizations/2930418/admins");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn list_answers_the_organizations_admins_with_their_statuses() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, None, ORG)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(ids(&r.body), ["212406", "212407", "212408", "212409", "212410"]);
        let statuses: Vec<&str> = r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["active", "active", "invited", "inactive", "invited"]);
        assert!(r.body["next_cursor"].is_null(), "{}", r.text);
        assert_eq!(request_lines(&app, P), ["GET /api/v1/organizations/2930418/admins"]);
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
    async fn create_invites_an_admin_with_its_access() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({
                    "first_name": "Ada", "last_name": "Lovelace",
                    "emails": [{"email": "ada@acme.example", "is_primary": true}],
                    "roles": [{"id": "read-only"}, {"id": "full", "workspace": "N_24329156"}, {"id": "monitor-only", "group": "east"}]
                })),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/api/v1/organizations/2930418/admins");
        assert_eq!(
            sent.json.unwrap(),
            json!({"email": "ada@acme.example", "name": "Ada Lovelace", "orgAccess": "read-only",
                   "networks": [{"id": "N_24329156", "access": "full"}],
                   "tags": [{"tag": "east", "access": "monitor-only"}]})
        );
        assert_eq!(
            (&r.body["status"], &r.body["name"]),
            (&json!("invited"), &json!("Ada Lovelace"))
        );
        assert!(r.body["remote_data"].get("_org").is_none(), "{}", r.text);
    }

    #[tokio::test]
    async fn a_create_without_org_access_is_merakis_error() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"name": "No Access", "emails": [{"email": "no.access@acme.example"}]})),
            )
            .await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        let errors = r.body["raw_response"]["errors"].as_array().unwrap();
        assert!(errors[0].as_str().unwrap().contains("orgAccess"), "{}", r.text);
    }

    #[tokio::test]
    async fn update_puts_the_name_and_access() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("212408"), ORG),
                Some(json!({"name": "Raj Fullaccess", "roles": [{"id": "full"}]})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "PUT", "/api/v1/organizations/2930418/admins/212408");
        assert_eq!(
            sent.json.unwrap(),
            json!({"name": "Raj Fullaccess", "orgAccess": "full"})
        );
        assert_eq!(
            (&r.body["user_type"], &r.body["name"]),
            (&json!("full"), &json!("Raj Fullaccess"))
        );
    }

    #[tokio::test]
    async fn an_email_change_is_refused_before_any_call() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("212408"), ORG),
                Some(json!({"emails": [{"email": "new@acme.example"}]})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn delete_revokes_the_admin() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(Method::DELETE, &users_path(&account, Some("212410"), ORG), None)
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_request(
            &last_request(&app, P),
            "DELETE",
            "/api/v1/organizations/2930418/admins/212410",
        );
        assert!(app.emulator(P).record("admins", "212410").is_none());
    }

    #[tokio::test]
    async fn an_admin_of_another_organization_is_a_404() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("318001"), ORG)).await;

        assert_error(&r, 404);
    }
}

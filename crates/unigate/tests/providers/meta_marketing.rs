//! Meta Marketing API: get a Business node, list /me/businesses (following `paging.next`),
//! update (POST, then read back).

use serde_json::json;

use crate::common::{assert_pages_follow_next_links, assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

const AUTH: &str = "Bearer EAAGsandbox0meta0graph0access0token0ZDZD";

#[tokio::test]
async fn get_maps_graph_times_to_rfc3339_utc() {
    let (app, account) = app_with_account("meta-marketing").await;

    let org = get_org(&app, &account, "1010101010101010").await;

    assert_eq!(org["id"], "1010101010101010");
    assert_eq!(org["name"], "Acme Marketing");
    assert_eq!(org["created_at"], "2019-05-13T20:17:46Z");
    assert_eq!(org["updated_at"], "2024-01-09T08:02:11Z");
    assert_eq!(org["remote_data"]["verification_status"], "verified");
    for absent in ["pricing_plan", "licenses"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "meta-marketing");
    assert_request(&sent, "GET", "/v21.0/1010101010101010");
    assert!(
        sent.query.starts_with("fields=id%2Cname%2Ccreated_time%2Cupdated_time"),
        "{}",
        sent.query
    );
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn update_posts_the_name_and_reads_the_business_back() {
    let (app, account) = app_with_account("meta-marketing").await;

    let r = update_org(&app, &account, "2020202020202020", json!({"name": "Globex Media"})).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "2020202020202020");
    assert_eq!(r.body["name"], "Globex Media");
    assert_eq!(r.body["created_at"], "2021-11-02T14:30:00Z");
    let sent = last_with_method(&app, "meta-marketing", "POST");
    assert_eq!(sent.path, "/v21.0/2020202020202020");
    assert_eq!(sent.header("authorization"), Some(AUTH));
    assert_eq!(sent.json.unwrap(), json!({"name": "Globex Media"}));
    assert_eq!(
        last_request(&app, "meta-marketing").method,
        "GET",
        "read back after {{success: true}}"
    );
}

#[tokio::test]
async fn an_unknown_business_is_graphs_400_graph_method_exception() {
    let (app, account) = app_with_account("meta-marketing").await;

    let r = app.get(&app.orgs_path(&account, Some("42"), "")).await;

    assert_remote_error(
        &r,
        400,
        &json!({"error": {"message": "Unsupported get request. Object with ID '42' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                          "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "AuVwXyZaBcDeFgHi"}}),
    );
}

#[tokio::test]
async fn list_follows_the_paging_next_url() {
    let (app, account) = app_with_account("meta-marketing").await;
    for i in 0..3 {
        app.emulator("meta-marketing").insert_record(
            "businesses",
            json!({"id": format!("30000000000000{i}"), "name": format!("Extra {i}"), "node": "business",
                   "created_time": "2022-01-01T00:00:00+0000", "updated_time": "2022-01-02T00:00:00+0000"}),
        );
    }

    app.emulator("meta-marketing").clear_requests();

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(
        ids,
        [
            "1010101010101010",
            "2020202020202020",
            "300000000000000",
            "300000000000001",
            "300000000000002"
        ]
    );
    assert_eq!(pages, 3);
    let sent = app.emulator("meta-marketing").requests();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].query, "fields=id%2Cname%2Ccreated_time%2Cupdated_time&limit=2");
    for req in &sent {
        assert_eq!(req.path, "/v21.0/me/businesses");
        assert_eq!(req.header("authorization"), Some(AUTH));
    }
    assert_pages_follow_next_links(&app, "meta-marketing", &sent, "/paging/next").await;
}

/// Business users (`organization_id`: the business id): list over `paging.next`, get,
/// invite, update (POST, read back), delete.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use super::AUTH;
    use crate::common::{
        assert_pages_follow_next_links, assert_remote_error, delete_user, get_user, last_with_method, request_lines,
        unified, users_path, write_user,
    };
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const P: &str = "meta-marketing";
    const ORG: &str = "&organization_id=1010101010101010";
    const FIELDS: &str = "fields=id%2Cname%2Cfirst_name%2Clast_name%2Cemail%2Cpending_email%2Ctitle%2Crole%2Ctwo_fac_status%2Cmarked_for_removal%2Cbusiness";

    #[tokio::test]
    async fn get_maps_the_business_user() {
        let (app, account) = app_with_account(P).await;

        let user = get_user(&app, &account, "3141592653589794").await;

        assert_eq!(
            unified(&user),
            json!({
                "id": "3141592653589794", "name": "Mateo Alvarez", "first_name": "Mateo", "last_name": "Alvarez",
                "title": "Media Buyer",
                "emails": [
                    {"email": "mateo.alvarez@acme-marketing.example", "type": "work", "is_primary": true},
                    {"email": "mateo@alvarez.example", "type": "pending", "is_primary": false}
                ],
                "status": "active", "is_2fa_enabled": false,
                "roles": [{"name": "EMPLOYEE", "organization": "1010101010101010"}],
                "organizations": [{"id": "1010101010101010", "name": "Acme Marketing"}]
            })
        );
        assert!(user["remote_data"].get("node").is_none());
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/v21.0/3141592653589794");
        assert_eq!(sent.query, FIELDS);
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn list_follows_paging_next_and_marks_people_marked_for_removal() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "3141592653589793",
                "3141592653589794",
                "3141592653589795",
                "3141592653589796",
                "3141592653589797"
            ]
        );
        assert_eq!(pages, 3);
        let statuses: Vec<&str> = users.iter().map(|u| u["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["active", "active", "active", "inactive", "active"]);
        let sent = app.emulator(P).requests();
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[0].query, format!("{FIELDS}&limit=2"));
        for req in &sent {
            assert_eq!(req.path, "/v21.0/1010101010101010/business_users");
            assert_eq!(req.header("authorization"), Some(AUTH));
        }
        assert_pages_follow_next_links(&app, P, &sent, "/paging/next").await;
    }

    #[tokio::test]
    async fn a_list_without_the_business_is_a_400_naming_it() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, None, "")).await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains("organization_id"), "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn create_invites_the_email_with_a_role() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(
                    json!({"emails": [{"email": "new.hire@acme-marketing.example"}], "roles": [{"name": "EMPLOYEE"}]}),
                ),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/v21.0/1010101010101010/business_users");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(
            sent.json.unwrap(),
            json!({"email": "new.hire@acme-marketing.example", "role": "EMPLOYEE"})
        );
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            unified(&r.body),
            json!({
                "id": id,
                "emails": [{"email": "new.hire@acme-marketing.example", "type": "work", "is_primary": true}],
                "status": "invited",
                "roles": [{"name": "EMPLOYEE", "organization": "1010101010101010"}]
            })
        );
        let stored = app.emulator(P).record("businesses", &id).unwrap();
        assert_eq!(stored["business_id"], "1010101010101010");
    }

    #[tokio::test]
    async fn update_posts_the_changes_and_reads_the_user_back() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::PATCH,
            &account,
            Some("3141592653589795"),
            json!({"title": "Finance Lead", "roles": [{"name": "FINANCE_ANALYST"}]}),
        )
        .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/v21.0/3141592653589795");
        assert_eq!(
            sent.json.unwrap(),
            json!({"title": "Finance Lead", "role": "FINANCE_ANALYST"})
        );
        assert_eq!(
            request_lines(&app, P),
            [
                "POST /v21.0/3141592653589795".to_string(),
                format!("GET /v21.0/3141592653589795?{FIELDS}")
            ]
        );
        assert_eq!(r.body["title"], "Finance Lead");
        assert_eq!(
            r.body["roles"],
            json!([{"name": "FINANCE_ANALYST", "organization": "1010101010101010"}])
        );
    }

    #[tokio::test]
    async fn delete_removes_the_business_user() {
        let (app, account) = app_with_account(P).await;

        let r = delete_user(&app, &account, "3141592653589797").await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "DELETE", "/v21.0/3141592653589797");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert!(app.emulator(P).record("businesses", "3141592653589797").is_none());
    }

    #[tokio::test]
    async fn an_unknown_user_is_graphs_400() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("42"), "")).await;

        assert_remote_error(
            &r,
            400,
            &json!({"error": {"message": "Unsupported get request. Object with ID '42' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                              "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "AuVwXyZaBcDeFgHi"}}),
        );
    }
}

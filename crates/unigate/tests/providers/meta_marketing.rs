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
            json!({"id": format!("30000000000000{i}"), "name": format!("Extra {i}"),
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

//! Platform.sh organizations API.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request, walk_list};

const P: &str = "platform-sh";

#[tokio::test]
async fn get_maps_label_type_and_dates() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("01H2X6D1M5NQ7P3R8S9T0V1W2X"), ""))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "01H2X6D1M5NQ7P3R8S9T0V1W2X", "name": "Acme Web Agency", "pricing_plan": "flexible",
               "created_at": "2023-06-27T09:14:36Z", "updated_at": "2024-03-02T17:45:10Z"})
    );
    assert_eq!(r.body["remote_data"]["name"], "acme-web");
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/organizations/01H2X6D1M5NQ7P3R8S9T0V1W2X");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer psh-sandbox-access-token-01HZX8Q5T3")
    );
}

#[tokio::test]
async fn update_patches_the_label() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("01HB7K2N4P6R8T0V2X4Z6B8D0F"), ""),
            Some(json!({"name": "Globex Corp.", "remote_data": {"country": "CA"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Corp.");
    assert_eq!(r.body["remote_data"]["country"], "CA");
    let sent = last_request(&app, P);
    assert_request(&sent, "PATCH", "/organizations/01HB7K2N4P6R8T0V2X4Z6B8D0F");
    assert_eq!(sent.json.unwrap(), json!({"label": "Globex Corp.", "country": "CA"}));
}

#[tokio::test]
async fn delete_removes_the_organization() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::DELETE,
            &app.orgs_path(&account, Some("01HB7K2N4P6R8T0V2X4Z6B8D0F"), ""),
            None,
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"id": "01HB7K2N4P6R8T0V2X4Z6B8D0F"}));
    assert_eq!(last_request(&app, P).method, "DELETE");
}

#[tokio::test]
async fn a_missing_organization_is_a_404_with_the_error_field() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("01NOPE"), "")).await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"], json!({"error": "Not Found"}));
}

#[tokio::test]
async fn list_follows_links_next_page_after_cursors() {
    let (app, account) = app_with_account(P).await;
    for i in 0..3 {
        app.emulator(P).insert_record(
            "organizations",
            json!({"id": format!("01J00000000000000000000E{i}"), "name": format!("extra-{i}"), "label": format!("Extra {i}"), "type": "flexible"}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids.len(), 5, "{ids:?}");
    assert_eq!(ids[4], "01J00000000000000000000E2");
    assert_eq!(pages, 3);
    let q = last_request(&app, P).query;
    assert!(
        q.contains("page%5Bafter%5D=01J00000000000000000000E1") && q.contains("page%5Bsize%5D=2"),
        "{q}"
    );
}

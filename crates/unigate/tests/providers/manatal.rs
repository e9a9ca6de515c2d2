//! Manatal: get, list (page/page_size, DRF pages), update (PATCH name); trailing slashes.

use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

const AUTH: &str = "Token 4f7b2c9e1a3d5f6b8c0e2a4c6e8f0a1b3d5f7a9c";

#[tokio::test]
async fn get_maps_a_manatal_organization() {
    let (app, account) = app_with_account("manatal").await;

    let org = get_org(&app, &account, "1201").await;

    assert_eq!(org["id"], "1201");
    assert_eq!(org["name"], "Acme Recruiting Client");
    assert_eq!(org["remote_data"]["industry"], "Software");
    let sent = last_request(&app, "manatal");
    assert_request(&sent, "GET", "/open/v3/organizations/1201/");
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn update_patches_the_name() {
    let (app, account) = app_with_account("manatal").await;

    let r = update_org(&app, &account, "1202", json!({"name": "Globex Group"})).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Group");
    let sent = last_with_method(&app, "manatal", "PATCH");
    assert_eq!(sent.path, "/open/v3/organizations/1202/");
    assert_eq!(sent.header("authorization"), Some(AUTH));
    assert_eq!(sent.json.unwrap(), json!({"name": "Globex Group"}));
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_a_detail() {
    let (app, account) = app_with_account("manatal").await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;

    assert_remote_error(&r, 404, &json!({"detail": "Not found."}));
}

#[tokio::test]
async fn list_follows_the_next_page() {
    let (app, account) = app_with_account("manatal").await;
    for i in 0..3 {
        app.emulator("manatal")
            .insert_record("organizations", json!({"id": 2000 + i, "name": format!("Extra {i}")}));
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["1201", "1202", "2000", "2001", "2002"]);
    assert_eq!(pages, 3);
    let sent = last_request(&app, "manatal");
    assert_eq!(sent.path, "/open/v3/organizations/");
    assert!(
        sent.query.contains("page=3") && sent.query.contains("page_size=2"),
        "{}",
        sent.query
    );
}

/// Manatal users (⚠ read only): get, list over DRF pages, Manatal's `detail` error.
mod users {
    use serde_json::json;

    use super::AUTH;
    use crate::common::{assert_remote_error, get_user, request_lines, unified, users_path, walk_users};
    use crate::helpers::{app_with_account, assert_request, last_request};

    const P: &str = "manatal";

    #[tokio::test]
    async fn get_maps_the_full_name_and_email() {
        let (app, account) = app_with_account(P).await;

        let user = get_user(&app, &account, "88").await;

        assert_eq!(
            unified(&user),
            json!({"id": "88", "name": "Arjun Mehta",
                   "emails": [{"email": "arjun.mehta@talentbridge.example", "is_primary": true}]})
        );
        assert_eq!(user["remote_data"]["display_name"], "Arjun");
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/open/v3/users/88/");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn list_walks_the_pages_and_falls_back_to_the_display_name() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_users(&app, &account, 2).await;

        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["87", "88", "91", "104", "117"]);
        assert_eq!(pages, 3);
        assert_eq!(users[3]["name"], "Kwame");
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /open/v3/users/?page_size=2&page=1",
                "GET /open/v3/users/?page_size=2&page=2",
                "GET /open/v3/users/?page_size=2&page=3",
            ]
        );
    }

    #[tokio::test]
    async fn an_unknown_user_is_a_404_with_manatals_detail() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("999"), "")).await;

        assert_remote_error(&r, 404, &json!({"detail": "Not found."}));
    }
}

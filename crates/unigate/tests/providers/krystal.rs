//! Krystal Identity users: the organization's embedded users (partial, unpaged) and a get
//! by id.

use serde_json::json;

use crate::common::{assert_remote_error, get_user, request_lines, unified, users_path};
use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

const P: &str = "krystal";
const AUTH: &str = "Bearer kid_sandbox_6QpX2vN8rT4yB7mK3cJ9";
const ORG: &str = "&organization_id=org_Ty2vQn8RkP4wLm3x";

#[tokio::test]
async fn get_maps_the_whole_user() {
    let (app, account) = app_with_account(P).await;

    let user = get_user(&app, &account, "user_Hk3mW9pQ2sVn7tLb").await;

    assert_eq!(
        unified(&user),
        json!({
            "id": "user_Hk3mW9pQ2sVn7tLb", "name": "Adam Cooke", "first_name": "Adam", "last_name": "Cooke",
            "emails": [{"email": "adam@acme-hosting.example", "is_primary": true}],
            "timezone": "Europe/London", "is_2fa_enabled": true, "roles": [{"name": "admin"}]
        })
    );
    assert_eq!(user["remote_data"]["identity_check_state"], "verified");
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/api/v1/client/users/user_Hk3mW9pQ2sVn7tLb");
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn list_answers_the_organizations_embedded_users() {
    let (app, account) = app_with_account(P).await;

    let (users, pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

    let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "user_Hk3mW9pQ2sVn7tLb",
            "user_Qz8nB4cR6tYw2mKd",
            "user_Lm5vX7dF3gHj9pNs"
        ]
    );
    // Krystal answers the whole array at once: one page whatever the limit.
    assert_eq!(pages, 1);
    let acme = json!([{"id": "org_Ty2vQn8RkP4wLm3x", "name": "Acme Hosting Ltd"}]);
    assert_eq!(
        unified(&users[0]),
        json!({"id": "user_Hk3mW9pQ2sVn7tLb", "user_type": "owner",
               "roles": [{"name": "admin", "organization": "org_Ty2vQn8RkP4wLm3x"}], "organizations": acme})
    );
    assert_eq!(
        unified(&users[2]),
        json!({"id": "user_Lm5vX7dF3gHj9pNs",
               "roles": [{"name": "technical", "organization": "org_Ty2vQn8RkP4wLm3x"},
                         {"name": "billing", "organization": "org_Ty2vQn8RkP4wLm3x"}],
               "organizations": acme})
    );
    assert!(request_lines(&app, P)
        .iter()
        .all(|l| l == "GET /api/v1/client/organizations/org_Ty2vQn8RkP4wLm3x"));
}

#[tokio::test]
async fn a_list_without_the_organization_is_a_400_naming_it() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&users_path(&account, None, "")).await;

    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("organization_id"), "{}", r.text);
    assert!(request_lines(&app, P).is_empty());
}

#[tokio::test]
async fn the_users_of_an_unknown_organization_are_krystals_404() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&users_path(&account, None, "&organization_id=org_missing"))
        .await;

    assert_remote_error(
        &r,
        404,
        &json!({"error": {"code": "organization_not_found",
                          "description": "No organization was found matching any of the criteria provided in the arguments",
                          "detail": {}}}),
    );
}

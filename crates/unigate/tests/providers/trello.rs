//! Trello API v1: organizations (workspaces).

use reqwest::Method;
use serde_json::json;

use crate::common::{directory_path, ids, me, unified};
use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

const P: &str = "trello";

#[tokio::test]
async fn get_maps_display_name_and_the_creation_time_in_the_id() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("5abbe4b7ddc1b351ef961414"), ""))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "5abbe4b7ddc1b351ef961414", "name": "Acme Product Team",
               "pricing_plan": "trello.business_class", "created_at": "2018-03-28T18:53:43Z"})
    );
    assert!(r.body.get("licenses").is_none(), "{}", r.text);
    assert_eq!(r.body["remote_data"]["name"], "acmeproduct");
    assert_eq!(r.body["remote_data"]["products"], json!([110]));
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/1/organizations/5abbe4b7ddc1b351ef961414");
    assert_eq!(
        sent.header("authorization"),
        Some(
            r#"OAuth oauth_consumer_key="0f1e2d3c4b5a69788796a5b4c3d2e1f0", oauth_token="ATTA5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f""#
        )
    );
}

#[tokio::test]
async fn update_puts_the_display_name() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("60d5ecb74f1c2a3b4c5d6e7f"), ""),
            Some(json!({"name": "Globex Operations", "remote_data": {"desc": "Ops boards"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Operations");
    assert_eq!(r.body["pricing_plan"], "trello.free");
    let sent = last_request(&app, P);
    assert_request(&sent, "PUT", "/1/organizations/60d5ecb74f1c2a3b4c5d6e7f");
    assert_eq!(
        sent.json.unwrap(),
        json!({"displayName": "Globex Operations", "desc": "Ops boards"})
    );
}

#[tokio::test]
async fn a_missing_org_is_a_404_with_trellos_plain_text_error() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("000000000000000000000000"), ""))
        .await;

    assert_error(&r, 404);
    assert_eq!(r.body["raw_response"], "model not found");
}

#[tokio::test]
async fn list_answers_the_members_organizations_in_one_page() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).insert_record(
        "organizations",
        json!({"id": "65000000aaaaaaaaaaaaaaaa", "name": "extra", "displayName": "Extra"}),
    );

    let r = app.get(&app.orgs_path(&account, None, "&limit=1")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(result.len(), 3);
    assert_eq!(
        unified(&result[2]),
        json!({"id": "65000000aaaaaaaaaaaaaaaa", "name": "Extra", "created_at": "2023-09-12T06:06:56Z"})
    );
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    assert_eq!(last_request(&app, P).path, "/1/members/me/organizations");
}

/// Workspace members as users: list (memberships, not paged), get (picked from them), role
/// change, removal, each scoped by `organization_id`.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{last_with_method, request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_request, last_request};

    const P: &str = "trello";
    const AUTH: &str = r#"OAuth oauth_consumer_key="0f1e2d3c4b5a69788796a5b4c3d2e1f0", oauth_token="ATTA5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f""#;
    const WS: &str = "5abbe4b7ddc1b351ef961414";
    const ORG: &str = "&organization_id=5abbe4b7ddc1b351ef961414";

    #[tokio::test]
    async fn get_picks_the_membership_of_the_member() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, Some("5b0c1d2e3f4a5b6c7d8e9f01"), ORG))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "5b0c1d2e3f4a5b6c7d8e9f01", "username": "priyas", "name": "Priya Shah",
                "status": "active", "user_type": "user",
                "roles": [{"id": "normal", "name": "normal", "organization": WS}],
                "organizations": [{"id": WS}],
                "avatar": "https://trello-members.s3.amazonaws.com/5b0c1d2e3f4a5b6c7d8e9f01/0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                "created_at": "2018-05-28T15:15:58Z"
            })
        );
        assert_eq!(r.body["remote_data"]["id"], "5b0c1d2e3f4a5b6c7d8e9f91");
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/1/organizations/{WS}/memberships"));
        assert_eq!(sent.query, "filter=all&member=true");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn a_member_not_in_the_workspace_is_a_404() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, Some("000000000000000000000000"), ORG))
            .await;

        assert_eq!(r.status, 404, "{}", r.text);
    }

    #[tokio::test]
    async fn list_gives_every_membership_in_one_call_with_its_status() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app.get(&users_path(&account, None, ORG)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        let rows: Vec<(&str, &str, &str)> = r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["username"].as_str().unwrap(),
                    u["status"].as_str().unwrap(),
                    u["user_type"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("acmelead", "active", "admin"),
                ("priyas", "active", "user"),
                ("tomasz_k", "inactive", "user"),
                ("newhire42", "invited", "user"),
                ("mariagomez", "active", "admin")
            ]
        );
        assert!(r.body["next_cursor"].is_null());
        assert_eq!(
            request_lines(&app, P),
            [format!("GET /1/organizations/{WS}/memberships?filter=all&member=true")]
        );
    }

    #[tokio::test]
    async fn a_list_without_organization_id_is_a_400_naming_it() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app.get(&users_path(&account, None, "")).await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains("organization_id"), "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn update_sends_the_role_as_trellos_type_parameter() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("5b0c1d2e3f4a5b6c7d8e9f01"), ORG),
                Some(json!({"roles": [{"id": "admin"}]})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, P, "PUT");
        assert_request(
            &sent,
            "PUT",
            &format!("/1/organizations/{WS}/members/5b0c1d2e3f4a5b6c7d8e9f01"),
        );
        assert_eq!(sent.query, "type=admin");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(sent.json.unwrap(), json!({}));
        assert_eq!(
            (&r.body["id"], &r.body["user_type"], &r.body["roles"]),
            (
                &json!("5b0c1d2e3f4a5b6c7d8e9f01"),
                &json!("admin"),
                &json!([{"id": "admin", "name": "admin", "organization": WS}])
            )
        );
    }

    #[tokio::test]
    async fn a_role_trello_does_not_have_is_its_plain_text_400() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("5b0c1d2e3f4a5b6c7d8e9f01"), ORG),
                Some(json!({"roles": [{"id": "owner"}]})),
            )
            .await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["raw_response"], "invalid value for type", "{}", r.text);
        assert_eq!(last_with_method(&app, P, "PUT").query, "type=owner");
    }

    #[tokio::test]
    async fn create_invites_by_email_with_trellos_query_parameters() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"first_name": "Robin", "last_name": "Vega",
                            "emails": [{"email": "robin.vega@example.com", "is_primary": true}]})),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "PUT", &format!("/1/organizations/{WS}/members"));
        assert_eq!(
            crate::common::query_pairs(&sent),
            [
                ("email".to_string(), "robin.vega@example.com".to_string()),
                ("fullName".to_string(), "Robin Vega".to_string()),
                ("type".to_string(), "normal".to_string())
            ]
        );
        assert_eq!(sent.header("authorization"), Some(AUTH));
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(id.len(), 24, "{}", r.text);
        let mut expected = json!({
            "id": id, "name": "Robin Vega", "status": "invited", "user_type": "user",
            "roles": [{"id": "normal", "name": "normal", "organization": WS}],
            "organizations": [{"id": WS}]
        });
        expected["created_at"] = r.body["created_at"].clone();
        assert_eq!(unified(&r.body), expected);
        let stored = app.emulator(P).record("memberships", &id).unwrap();
        assert_eq!((&stored["org"], &stored["unconfirmed"]), (&json!(WS), &json!(true)));
    }

    #[tokio::test]
    async fn create_of_an_admin_without_a_name_uses_the_email() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"emails": [{"email": "ops@example.com"}], "user_type": "admin"})),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            last_request(&app, P).query,
            "email=ops%40example.com&fullName=ops&type=admin"
        );
        assert_eq!(r.body["user_type"], "admin");
    }

    #[tokio::test]
    async fn create_with_a_password_is_a_422_and_nothing_is_sent() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"emails": [{"email": "ops@example.com"}], "password": "s3cret-s3cret"})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.text.contains("password"), "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn an_invite_with_a_role_trello_does_not_have_is_its_plain_text_400() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"emails": [{"email": "ops@example.com"}], "roles": [{"id": "owner"}]})),
            )
            .await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["raw_response"], "invalid value for type", "{}", r.text);
    }

    #[tokio::test]
    async fn an_invite_answer_that_is_not_a_membership_is_a_502() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).inject(
            unigate_emulator::Fault::respond(200, json!({"id": WS, "name": "acmeworkspace"}))
                .on("PUT", &format!("/1/organizations/{WS}/members")),
        );

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"emails": [{"email": "ops@example.com"}]})),
            )
            .await;

        assert_eq!(r.status, 502, "{}", r.text);
        assert!(r.text.contains("not a membership"), "{}", r.text);
    }

    #[tokio::test]
    async fn delete_removes_the_member_from_the_workspace() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::DELETE,
                &users_path(&account, Some("5c1d2e3f4a5b6c7d8e9f0a12"), ORG),
                None,
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "DELETE",
            &format!("/1/organizations/{WS}/members/5c1d2e3f4a5b6c7d8e9f0a12"),
        );
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert!(app
            .emulator(P)
            .record("memberships", "5c1d2e3f4a5b6c7d8e9f0a12")
            .is_none());
    }

    #[tokio::test]
    async fn removing_an_unknown_member_is_trellos_plain_text_error() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::DELETE,
                &users_path(&account, Some("000000000000000000000000"), ORG),
                None,
            )
            .await;

        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(r.body["raw_response"], "model not found", "{}", r.text);
    }
}

const AUTH: &str = r#"OAuth oauth_consumer_key="0f1e2d3c4b5a69788796a5b4c3d2e1f0", oauth_token="ATTA5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f""#;

#[tokio::test]
async fn me_is_the_tokens_member() {
    let (app, account) = app_with_account(P).await;

    let me = me(&app, &account, "").await;

    assert_eq!(
        unified(&me),
        json!({"id": "5abbe4b7ddc1b351ef961400", "name": "Avery Lead", "email": "avery.lead@acme.example"})
    );
    assert_eq!(me["remote_data"]["username"], "acmelead");
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/1/members/me");
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn workspaces_are_the_members_organizations_in_one_page() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&directory_path("workspaces", &account, None, "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(ids(result), ["5abbe4b7ddc1b351ef961414", "60d5ecb74f1c2a3b4c5d6e7f"]);
    assert!(r.body["next_cursor"].is_null(), "{}", r.text);
    assert_eq!(
        unified(&result[1]),
        json!({"id": "60d5ecb74f1c2a3b4c5d6e7f", "name": "Globex Ops", "created_at": "2021-06-25T14:48:23Z"}),
        "an empty description is left out"
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/1/members/me/organizations");
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn a_workspace_is_got_with_its_enterprise() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&directory_path(
            "workspaces",
            &account,
            Some("5abbe4b7ddc1b351ef961414"),
            "",
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "5abbe4b7ddc1b351ef961414", "name": "Acme Product Team",
               "description": "Roadmaps and sprint boards",
               "organization": {"id": "5a1b2c3d4e5f60718293a4b5"},
               "created_at": "2018-03-28T18:53:43Z"})
    );
    assert_request(
        &last_request(&app, P),
        "GET",
        "/1/organizations/5abbe4b7ddc1b351ef961414",
    );
}

#[tokio::test]
async fn a_missing_workspace_is_trellos_plain_text_404() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&directory_path(
            "workspaces",
            &account,
            Some("5abbe4b7ddc1b351ef969999"),
            "",
        ))
        .await;

    assert_error(&r, 404);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    assert_eq!(r.body["raw_response"], "model not found", "{}", r.text);
}

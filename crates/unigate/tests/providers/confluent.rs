//! Confluent Cloud: get, list (following the metadata.next URL), update (display_name).

use base64::Engine;
use serde_json::json;

use crate::common::{assert_pages_follow_next_links, assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

fn basic() -> String {
    let creds = "SANDBOXKEY7Q3ZL4XW:sandboxsecret0f8a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a";
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(creds))
}

#[tokio::test]
async fn get_maps_display_name_and_metadata_dates_in_utc() {
    let (app, account) = app_with_account("confluent").await;

    let org = get_org(&app, &account, "1111aaaa-11aa-11aa-11aa-111111aaaaaa").await;

    assert_eq!(org["id"], "1111aaaa-11aa-11aa-11aa-111111aaaaaa");
    assert_eq!(org["name"], "Finance Org");
    assert_eq!(org["created_at"], "2006-01-02T22:04:05Z");
    assert_eq!(org["updated_at"], "2006-01-02T22:04:05Z");
    assert_eq!(org["remote_data"]["jit_enabled"], true);
    for absent in ["pricing_plan", "licenses"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "confluent");
    assert_request(
        &sent,
        "GET",
        "/org/v2/organizations/1111aaaa-11aa-11aa-11aa-111111aaaaaa",
    );
    assert_eq!(sent.header("authorization"), Some(basic().as_str()));
}

#[tokio::test]
async fn update_patches_the_display_name() {
    let (app, account) = app_with_account("confluent").await;

    let r = update_org(
        &app,
        &account,
        "2222bbbb-22bb-22bb-22bb-222222bbbbbb",
        json!({"name": "Streaming Platform", "remote_data": {"jit_enabled": true}}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Streaming Platform");
    assert_eq!(r.body["created_at"], "2022-03-14T09:26:53Z");
    let sent = last_with_method(&app, "confluent", "PATCH");
    assert_eq!(sent.path, "/org/v2/organizations/2222bbbb-22bb-22bb-22bb-222222bbbbbb");
    assert_eq!(sent.header("authorization"), Some(basic().as_str()));
    assert_eq!(
        sent.json.unwrap(),
        json!({"display_name": "Streaming Platform", "jit_enabled": true})
    );
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_confluents_errors() {
    let (app, account) = app_with_account("confluent").await;

    let r = app.get(&app.orgs_path(&account, Some("nope"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"errors": [{"id": "9f8e7d6c5b4a", "status": "404", "code": "resource_not_found",
                            "title": "Not Found", "detail": "Organization \"nope\" was not found"}]}),
    );
}

#[tokio::test]
async fn list_follows_the_metadata_next_url() {
    let (app, account) = app_with_account("confluent").await;
    for i in 0..3 {
        app.emulator("confluent").insert_record(
            "organizations",
            json!({"id": format!("extra-{i}"), "display_name": format!("Extra {i}"),
                   "metadata": {"created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}}),
        );
    }

    app.emulator("confluent").clear_requests();

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(
        ids,
        [
            "1111aaaa-11aa-11aa-11aa-111111aaaaaa",
            "2222bbbb-22bb-22bb-22bb-222222bbbbbb",
            "extra-0",
            "extra-1",
            "extra-2"
        ]
    );
    assert_eq!(pages, 3);
    let sent = app.emulator("confluent").requests();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].query, "page_size=2");
    for req in &sent {
        assert_eq!(req.path, "/org/v2/organizations");
        assert_eq!(req.header("authorization"), Some(basic().as_str()));
    }
    assert_pages_follow_next_links(&app, "confluent", &sent, "/metadata/next").await;
}

#[tokio::test]
async fn an_update_moves_metadata_updated_at() {
    let (app, account) = app_with_account("confluent").await;

    let r = update_org(
        &app,
        &account,
        "1111aaaa-11aa-11aa-11aa-111111aaaaaa",
        json!({"name": "Finance"}),
    )
    .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["created_at"], "2006-01-02T22:04:05Z");
    assert_ne!(r.body["updated_at"], "2006-01-02T22:04:05Z");
    assert_eq!(
        r.body["remote_data"]["metadata"]["resource_name"],
        "crn://confluent.cloud/organization=1111aaaa-11aa-11aa-11aa-111111aaaaaa"
    );
}

/// Confluent IAM v2 users: get, list over `metadata.next`, create as an invitation, update
/// `full_name`, delete, and a refused invitation in Confluent's error shape.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use super::basic;
    use crate::common::{
        assert_pages_follow_next_links, delete_user, get_user, last_with_method, request_lines, unified, walk_users,
        write_user,
    };
    use crate::helpers::{app_with_account, assert_request, last_request};

    const P: &str = "confluent";

    #[tokio::test]
    async fn get_maps_the_iam_user() {
        let (app, account) = app_with_account(P).await;

        let user = get_user(&app, &account, "u-l6xn83").await;

        assert_eq!(
            unified(&user),
            json!({
                "id": "u-l6xn83", "name": "Marty McFly",
                "emails": [{"email": "marty.mcfly@example.com", "is_primary": true}],
                "status": "active", "identifiers": {"auth_type": "AUTH_TYPE_LOCAL"},
                "created_at": "2021-03-08T10:15:42Z", "updated_at": "2024-02-19T16:02:11Z"
            })
        );
        assert_eq!(user["remote_data"]["kind"], "User");
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/iam/v2/users/u-l6xn83");
        assert_eq!(sent.header("authorization"), Some(basic().as_str()));
    }

    #[tokio::test]
    async fn list_follows_metadata_next_and_marks_deleted_users() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_users(&app, &account, 2).await;

        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["u-l6xn83", "u-9zq2wd", "u-4r7pk1", "u-0gm5ex", "u-7ye3jv"]);
        assert_eq!(pages, 3);
        let statuses: Vec<&str> = users.iter().map(|u| u["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["active", "active", "active", "deleted", "active"]);
        assert_eq!(users[1]["identifiers"]["auth_type"], "AUTH_TYPE_SSO");
        let sent = app.emulator(P).requests();
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[0].query, "page_size=2");
        for req in &sent {
            assert_eq!((req.method.as_str(), req.path.as_str()), ("GET", "/iam/v2/users"));
            assert_eq!(req.header("authorization"), Some(basic().as_str()));
        }
        assert_pages_follow_next_links(&app, P, &sent, "/metadata/next").await;
    }

    #[tokio::test]
    async fn create_invites_the_primary_email() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"emails": [{"email": "george.mcfly@example.com", "is_primary": true}]}),
        )
        .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/iam/v2/invitations");
        assert_eq!(sent.header("authorization"), Some(basic().as_str()));
        assert_eq!(
            sent.json.unwrap(),
            json!({"email": "george.mcfly@example.com", "auth_type": "AUTH_TYPE_LOCAL"})
        );
        let invitation = &r.body["remote_data"];
        assert_eq!(invitation["status"], "INVITE_STATUS_SENT");
        assert_eq!(
            unified(&r.body),
            json!({
                "id": invitation["user"]["id"],
                "emails": [{"email": "george.mcfly@example.com", "is_primary": true}],
                "status": "invited",
                "identifiers": {"auth_type": "AUTH_TYPE_LOCAL", "invitation_id": invitation["id"]}
            })
        );
    }

    #[tokio::test]
    async fn create_with_sso_from_remote_data() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"emails": [{"email": "sso.user@example.com"}], "remote_data": {"auth_type": "AUTH_TYPE_SSO"}}),
        )
        .await;

        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            last_with_method(&app, P, "POST").json.unwrap(),
            json!({"email": "sso.user@example.com", "auth_type": "AUTH_TYPE_SSO"})
        );
        assert_eq!(r.body["identifiers"]["auth_type"], "AUTH_TYPE_SSO");
    }

    #[tokio::test]
    async fn an_invalid_email_is_confluents_invalid_input_error() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"emails": [{"email": "not-an-email"}]}),
        )
        .await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        let errors = &r.body["raw_response"]["errors"];
        assert_eq!(
            (&errors[0]["status"], &errors[0]["code"], &errors[0]["title"]),
            (&json!("400"), &json!("invalid_input"), &json!("Bad Request"))
        );
        assert!(errors[0]["detail"].as_str().unwrap().contains("email"), "{}", r.text);
    }

    #[tokio::test]
    async fn update_patches_the_full_name() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::PATCH,
            &account,
            Some("u-9zq2wd"),
            json!({"name": "Lorraine McFly"}),
        )
        .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, P, "PATCH");
        assert_request(&sent, "PATCH", "/iam/v2/users/u-9zq2wd");
        assert_eq!(sent.header("authorization"), Some(basic().as_str()));
        assert_eq!(sent.json.unwrap(), json!({"full_name": "Lorraine McFly"}));
        assert_eq!(
            (&r.body["id"], &r.body["name"]),
            (&json!("u-9zq2wd"), &json!("Lorraine McFly"))
        );
        assert_eq!(r.body["created_at"], "2022-01-17T08:30:00Z");
        assert_ne!(r.body["updated_at"], "2023-11-02T12:45:09Z");
    }

    #[tokio::test]
    async fn an_email_change_is_refused_before_any_call() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::PATCH,
            &account,
            Some("u-9zq2wd"),
            json!({"emails": [{"email": "new@example.com"}]}),
        )
        .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn delete_removes_the_user() {
        let (app, account) = app_with_account(P).await;

        let r = delete_user(&app, &account, "u-4r7pk1").await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"id": "u-4r7pk1"}));
        let sent = last_request(&app, P);
        assert_request(&sent, "DELETE", "/iam/v2/users/u-4r7pk1");
        assert_eq!(sent.header("authorization"), Some(basic().as_str()));
        assert!(app.emulator(P).record("users", "u-4r7pk1").is_none());
    }
}

/// Role bindings as role assignments: list per organization (`crn_pattern`, optionally one
/// user's), get, create (organization or environment scope), delete.
mod role_assignments {
    use reqwest::Method;
    use serde_json::json;

    use super::basic;
    use crate::common::{directory_path, ids, unified};
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const P: &str = "confluent";
    const ORG: &str = "1111aaaa-11aa-11aa-11aa-111111aaaaaa";

    fn in_org() -> String {
        format!("&organization_id={ORG}")
    }

    #[tokio::test]
    async fn a_binding_maps_its_principal_role_and_environment() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path("role_assignments", &account, Some("rb-7g8h9i"), ""))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "rb-7g8h9i", "user_id": "u-9zq2wd", "role_id": "CloudClusterAdmin",
                "workspace": [{"id": "env-x9y8z7"}],
                "created_at": "2022-06-01T12:00:00Z", "updated_at": "2022-06-01T12:00:00Z"
            })
        );
        assert_eq!(
            r.body["remote_data"]["crn_pattern"],
            format!("crn://confluent.cloud/organization={ORG}/environment=env-x9y8z7/cloud-cluster=lkc-abc123")
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/iam/v2/role-bindings/rb-7g8h9i");
        assert_eq!(sent.header("authorization"), Some(basic().as_str()));
    }

    #[tokio::test]
    async fn the_list_walks_the_organizations_bindings_over_next_links() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (bindings, pages) =
            walk_records(&app, &directory_path("role_assignments", &account, None, &in_org()), 2).await;

        assert_eq!(
            ids(&bindings),
            ["rb-1a2b3c", "rb-4d5e6f", "rb-7g8h9i", "rb-0j1k2l", "rb-3m4n5o"],
            "this organization's bindings only"
        );
        assert_eq!(pages, 3);
        assert_eq!(
            unified(&bindings[3]),
            json!({
                "id": "rb-0j1k2l", "group_id": "group-a1b2", "group_type": "group",
                "role_id": "MetricsViewer",
                "created_at": "2023-09-19T15:45:00Z", "updated_at": "2023-09-19T15:45:00Z"
            })
        );
        let first = &app.emulator(P).requests()[0];
        assert_eq!(
            url::form_urlencoded::parse(first.query.as_bytes())
                .find(|(k, _)| k == "crn_pattern")
                .map(|(_, v)| v.into_owned()),
            Some(format!("crn://confluent.cloud/organization={ORG}"))
        );
    }

    #[tokio::test]
    async fn one_users_bindings_are_asked_for_by_principal() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path(
                "role_assignments",
                &account,
                None,
                &format!("{}&user_id=u-9zq2wd", in_org()),
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(ids(r.body["result"].as_array().unwrap()), ["rb-4d5e6f", "rb-7g8h9i"]);
        let sent = last_request(&app, P);
        assert!(sent.query.contains("principal=User%3Au-9zq2wd"), "{}", sent.query);
    }

    #[tokio::test]
    async fn create_binds_a_role_in_an_environment_and_delete_removes_it() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("role_assignments", &account, None, &in_org()),
                Some(
                    json!({"user_id": "u-4r7pk1", "role_id": "EnvironmentAdmin", "workspace": [{"id": "env-x9y8z7"}]}),
                ),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/iam/v2/role-bindings");
        assert_eq!(sent.header("authorization"), Some(basic().as_str()));
        assert_eq!(
            sent.json.unwrap(),
            json!({
                "principal": "User:u-4r7pk1", "role_name": "EnvironmentAdmin",
                "crn_pattern": format!("crn://confluent.cloud/organization={ORG}/environment=env-x9y8z7")
            })
        );
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            unified(&r.body),
            json!({
                "id": id, "user_id": "u-4r7pk1", "role_id": "EnvironmentAdmin",
                "workspace": [{"id": "env-x9y8z7"}],
                "created_at": r.body["created_at"], "updated_at": r.body["updated_at"]
            })
        );
        assert!(r.body["created_at"].is_string(), "{}", r.text);

        let r = app
            .send(
                Method::DELETE,
                &directory_path("role_assignments", &account, Some(&id), ""),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_request(&last_request(&app, P), "DELETE", &format!("/iam/v2/role-bindings/{id}"));
        assert!(app.emulator(P).record("role_bindings", &id).is_none());
    }

    #[tokio::test]
    async fn a_binding_without_a_principal_is_confluents_400() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("role_assignments", &account, None, &in_org()),
                Some(json!({"role_id": "OrganizationAdmin"})),
            )
            .await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(
            r.body["raw_response"]["errors"][0]["code"], "invalid_input",
            "{}",
            r.text
        );
    }
}

/// Environments as workspaces: list over `metadata.next` links, get, Confluent's 404.
mod workspaces {
    use serde_json::json;

    use super::basic;
    use crate::common::{assert_pages_follow_next_links, directory_path, ids, unified};
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const P: &str = "confluent";
    const ORG: &str = "1111aaaa-11aa-11aa-11aa-111111aaaaaa";

    #[tokio::test]
    async fn environments_walk_next_links_and_map_their_organization() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (envs, pages) = walk_records(&app, &directory_path("workspaces", &account, None, ""), 2).await;

        assert_eq!(ids(&envs), ["env-x9y8z7", "env-a1b2c3", "env-d4e5f6"]);
        assert_eq!(pages, 2);
        assert_eq!(
            unified(&envs[0]),
            json!({
                "id": "env-x9y8z7", "name": "production", "organization": {"id": ORG},
                "created_at": "2022-05-10T07:00:00Z", "updated_at": "2024-01-15T10:20:30Z"
            })
        );
        let sent = app.emulator(P).requests();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].path, "/org/v2/environments");
        assert_pages_follow_next_links(&app, P, &sent, "/metadata/next").await;
        assert_eq!(sent[1].header("authorization"), Some(basic().as_str()));
    }

    #[tokio::test]
    async fn an_environment_is_read_by_id() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path("workspaces", &account, Some("env-d4e5f6"), ""))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "env-d4e5f6", "name": "sandbox", "organization": {"id": ORG},
                "created_at": "2023-11-30T16:00:00Z", "updated_at": "2024-03-03T03:03:03Z"
            })
        );
        assert_eq!(
            r.body["remote_data"]["stream_governance_config"]["package"],
            "ESSENTIALS"
        );
        assert_request(&last_request(&app, P), "GET", "/org/v2/environments/env-d4e5f6");

        let r = app
            .get(&directory_path("workspaces", &account, Some("env-nope"), ""))
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(
            r.body["raw_response"]["errors"][0]["code"], "resource_not_found",
            "{}",
            r.text
        );
    }
}

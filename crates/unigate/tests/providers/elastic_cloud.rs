//! Elastic Cloud: get, list (next_page cursor), update (PUT name).

use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

const AUTH: &str = "ApiKey essu_U2FuZGJveEVsYXN0aWNDbG91ZEFQSUtleTAwMDAwMDAx";

#[tokio::test]
async fn get_maps_an_elastic_cloud_org() {
    let (app, account) = app_with_account("elastic-cloud").await;

    let org = get_org(&app, &account, "1801364926").await;

    assert_eq!(org["id"], "1801364926");
    assert_eq!(org["name"], "Acme Observability");
    assert_eq!(org["remote_data"]["billing_contacts"], json!(["billing@acme.example"]));
    for absent in ["pricing_plan", "licenses", "created_at", "updated_at"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "elastic-cloud");
    assert_request(&sent, "GET", "/api/v1/organizations/1801364926");
    assert_eq!(sent.header("authorization"), Some(AUTH));
}

#[tokio::test]
async fn update_puts_only_the_name() {
    let (app, account) = app_with_account("elastic-cloud").await;

    let r = update_org(&app, &account, "2269843017", json!({"name": "Globex Observability"})).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Observability");
    let sent = last_with_method(&app, "elastic-cloud", "PUT");
    assert_eq!(sent.path, "/api/v1/organizations/2269843017");
    assert_eq!(sent.header("authorization"), Some(AUTH));
    assert_eq!(sent.json.unwrap(), json!({"name": "Globex Observability"}));
}

#[tokio::test]
async fn a_too_short_name_is_rejected_with_elastics_error_code() {
    let (app, account) = app_with_account("elastic-cloud").await;

    let r = update_org(&app, &account, "2269843017", json!({"name": "G"})).await;

    assert_remote_error(
        &r,
        400,
        &json!({"errors": [{"code": "organization.invalid_name",
                            "message": "Name must be between 2 and 30 characters.", "fields": ["name"]}]}),
    );
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_elastics_errors() {
    let (app, account) = app_with_account("elastic-cloud").await;

    let r = app.get(&app.orgs_path(&account, Some("42"), "")).await;

    assert_remote_error(
        &r,
        404,
        &json!({"errors": [{"code": "organization.not_found", "message": "Organization not found."}]}),
    );
}

#[tokio::test]
async fn list_follows_the_next_page_cursor() {
    let (app, account) = app_with_account("elastic-cloud").await;
    for i in 0..20 {
        app.emulator("elastic-cloud").insert_record(
            "organizations",
            json!({"id": format!("9{i:09}"), "name": format!("Extra {i}")}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 5).await;

    assert_eq!(ids.len(), 22, "{ids:?}");
    assert_eq!(pages, 2, "Elastic pages hold 20 organizations");
    assert!(last_request(&app, "elastic-cloud").query.starts_with("next_page="));
}

/// Organization members as users: list (one unpaged call), get (picked from it),
/// invitation and removal, each scoped by `organization_id`.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use super::AUTH;
    use crate::common::{assert_remote_error, last_with_method, request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_request, last_request};

    const P: &str = "elastic-cloud";
    const ORG: &str = "&organization_id=1801364926";

    #[tokio::test]
    async fn get_picks_the_member_and_maps_its_role_assignments() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("2894455012"), ORG)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "2894455012", "name": "Luis Romero",
                "emails": [{"email": "luis.romero@acme.example", "is_primary": true}],
                "status": "active", "user_type": "user",
                "roles": [
                    {"id": "billing-admin", "name": "billing-admin", "organization": "1801364926"},
                    {"id": "deployment-viewer", "name": "deployment-viewer", "organization": "1801364926"}
                ],
                "organizations": [{"id": "1801364926"}],
                "created_at": "2020-02-14T09:00:00Z"
            })
        );
        assert_eq!(r.body["remote_data"]["role_assignments"]["deployment"][0]["all"], true);
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/api/v1/organizations/1801364926/members");
        assert_eq!(sent.header("authorization"), Some(AUTH));
    }

    #[tokio::test]
    async fn a_member_of_another_organization_is_not_found_here() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("5170023498"), ORG)).await;

        assert_eq!(r.status, 404, "{}", r.text);
    }

    #[tokio::test]
    async fn list_returns_the_organizations_members_in_one_call() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app.get(&users_path(&account, None, ORG)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        let users = r.body["result"].as_array().unwrap();
        let rows: Vec<(&str, &str)> = users
            .iter()
            .map(|u| (u["id"].as_str().unwrap(), u["user_type"].as_str().unwrap()))
            .collect();
        assert_eq!(
            rows,
            [
                ("1559401683", "admin"),
                ("2894455012", "user"),
                ("3312087745", "user"),
                ("4021937766", "user")
            ]
        );
        assert!(r.body["next_cursor"].is_null());
        assert_eq!(request_lines(&app, P), ["GET /api/v1/organizations/1801364926/members"]);
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
    async fn removing_an_unknown_member_is_elastics_404() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(Method::DELETE, &users_path(&account, Some("999"), ORG), None)
            .await;

        assert_remote_error(
            &r,
            404,
            &json!({"errors": [{"code": "organization.not_found", "message": "Organization not found."}]}),
        );
    }

    #[tokio::test]
    async fn create_sends_an_invitation() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({
                    "emails": [{"email": "new.sre@acme.example", "is_primary": true}],
                    "remote_data": {"role_assignments": {"organization": [{"role_id": "billing-admin", "organization_id": "1801364926"}]}}
                })),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/api/v1/organizations/1801364926/invitations");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(
            sent.json.unwrap(),
            json!({"emails": ["new.sre@acme.example"],
                   "role_assignments": {"organization": [{"role_id": "billing-admin", "organization_id": "1801364926"}]}})
        );
        let token = r.body["remote_data"]["token"].clone();
        assert_eq!(
            unified(&r.body),
            json!({
                "id": token, "emails": [{"email": "new.sre@acme.example", "is_primary": true}],
                "status": "invited",
                "roles": [{"id": "billing-admin", "name": "billing-admin", "organization": "1801364926"}],
                "organizations": [{"id": "1801364926"}],
                "identifiers": {"invitation_token": token},
                "created_at": r.body["remote_data"]["created_at"]
            })
        );
    }

    #[tokio::test]
    async fn delete_removes_the_member() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(Method::DELETE, &users_path(&account, Some("4021937766"), ORG), None)
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "DELETE", "/api/v1/organizations/1801364926/members/4021937766");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert!(app.emulator(P).record("members", "4021937766").is_none());
    }

    #[tokio::test]
    async fn update_adds_role_assignments_and_reads_the_member_back() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("1559401683"), ORG),
                Some(json!({"roles": [{"id": "billing-admin"}, {"name": "deployment-viewer"}]})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body)["roles"],
            json!([
                {"id": "organization-admin", "name": "organization-admin", "organization": "1801364926"},
                {"id": "billing-admin", "name": "billing-admin", "organization": "1801364926"},
                {"id": "deployment-viewer", "name": "deployment-viewer", "organization": "1801364926"}
            ]),
            "the roles given are added to the one held"
        );
        assert_eq!(r.body["id"], "1559401683");
        assert_eq!(
            request_lines(&app, P),
            [
                "POST /api/v1/users/1559401683/role_assignments",
                "GET /api/v1/organizations/1801364926/members"
            ]
        );
        let sent = last_with_method(&app, P, "POST");
        assert_eq!(sent.header("authorization"), Some(AUTH));
        assert_eq!(
            sent.json.unwrap(),
            json!({
                "organization": [{"role_id": "billing-admin", "organization_id": "1801364926"}],
                "deployment": [{"role_id": "deployment-viewer", "organization_id": "1801364926", "all": true}]
            })
        );
    }

    #[tokio::test]
    async fn an_update_of_a_name_is_refused_before_any_call() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("1559401683"), ORG),
                Some(json!({"name": "Dana W."})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.text.contains("name"), "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn adding_roles_to_an_unknown_user_is_an_elastic_error() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("9999999999"), ORG),
                Some(json!({"roles": [{"id": "billing-admin"}]})),
            )
            .await;

        assert_remote_error(
            &r,
            404,
            &json!({"errors": [{"code": "organization.not_found", "message": "Organization not found."}]}),
        );
    }

    fn assignments_path(account: &str, id: Option<&str>) -> String {
        crate::common::directory_path("role_assignments", account, id, ORG)
    }

    #[tokio::test]
    async fn role_assignments_are_every_members_assignments() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&assignments_path(&account, None)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        let records: Vec<_> = r.body["result"].as_array().unwrap().iter().map(unified).collect();
        assert_eq!(
            records,
            [
                json!({"id": "1559401683:organization-admin", "user_id": "1559401683", "role_id": "organization-admin"}),
                json!({"id": "2894455012:billing-admin", "user_id": "2894455012", "role_id": "billing-admin"}),
                json!({"id": "2894455012:deployment-viewer", "user_id": "2894455012", "role_id": "deployment-viewer"}),
                json!({"id": "3312087745:deployment-editor", "user_id": "3312087745", "role_id": "deployment-editor",
                       "workspace": [{"id": "a1b2c3d4e5f60718293a4b5c6d7e8f90"}]}),
                json!({"id": "4021937766:deployment-admin", "user_id": "4021937766", "role_id": "deployment-admin"})
            ]
        );
        assert_eq!(
            r.body["result"][2]["remote_data"],
            json!({"user_id": "2894455012", "scope": "deployment",
                   "assignment": {"role_id": "deployment-viewer", "organization_id": "1801364926", "all": true}})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/api/v1/organizations/1801364926/members");
        assert_eq!(sent.header("authorization"), Some(AUTH));

        let one = app
            .get(&assignments_path(&account, Some("3312087745:deployment-editor")))
            .await;
        let none = app
            .get(&assignments_path(&account, Some("3312087745:billing-admin")))
            .await;
        assert_eq!(one.status, 200, "{}", one.text);
        assert_eq!(one.body["role_id"], "deployment-editor");
        assert_eq!(none.status, 404, "{}", none.text);
    }

    #[tokio::test]
    async fn role_assignment_create_adds_and_delete_removes_the_exact_assignment() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &assignments_path(&account, None),
                Some(json!({"user_id": "1559401683", "role_id": "deployment-viewer",
                            "workspace": [{"id": "f00dfeedf00dfeedf00dfeedf00dfeed"}]})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": "1559401683:deployment-viewer", "user_id": "1559401683", "role_id": "deployment-viewer",
                   "workspace": [{"id": "f00dfeedf00dfeedf00dfeedf00dfeed"}]})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/api/v1/users/1559401683/role_assignments");
        assert_eq!(
            sent.json.unwrap(),
            json!({"deployment": [{"role_id": "deployment-viewer", "organization_id": "1801364926", "all": false,
                                   "deployment_ids": ["f00dfeedf00dfeedf00dfeedf00dfeed"]}]})
        );

        app.emulator(P).clear_requests();
        let r = app
            .send(
                Method::DELETE,
                &assignments_path(&account, Some("3312087745:deployment-editor")),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /api/v1/organizations/1801364926/members",
                "DELETE /api/v1/users/3312087745/role_assignments"
            ]
        );
        assert_eq!(
            last_request(&app, P).json.unwrap(),
            json!({"deployment": [{"role_id": "deployment-editor", "organization_id": "1801364926", "all": false,
                                   "deployment_ids": ["a1b2c3d4e5f60718293a4b5c6d7e8f90"]}]})
        );
        assert_eq!(
            app.emulator(P).record("members", "3312087745").unwrap()["role_assignments"],
            json!({"deployment": []})
        );
    }

    #[tokio::test]
    async fn two_roles_in_one_scope_are_two_assignments() {
        let (app, account) = app_with_account(P).await;
        let added = app
            .send(
                Method::POST,
                &assignments_path(&account, None),
                Some(json!({"user_id": "1559401683", "role_id": "billing-admin"})),
            )
            .await;
        assert_eq!(added.status, 201, "{}", added.text);

        let r = app.get(&assignments_path(&account, None)).await;
        let got = app
            .get(&assignments_path(&account, Some("1559401683:billing-admin")))
            .await;

        let ids: Vec<&str> = r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert_eq!(&ids[..2], ["1559401683:organization-admin", "1559401683:billing-admin"]);
        assert_eq!(got.status, 200, "{}", got.text);
        assert_eq!(
            unified(&got.body),
            json!({"id": "1559401683:billing-admin", "user_id": "1559401683", "role_id": "billing-admin"})
        );
    }

    #[tokio::test]
    async fn a_workspace_on_an_organization_role_is_refused_before_any_call() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .send(
                Method::POST,
                &assignments_path(&account, None),
                Some(json!({"user_id": "1559401683", "role_id": "billing-admin", "workspace": [{"id": "x"}]})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.text.contains("deployment roles only"), "{}", r.text);
        assert!(request_lines(&app, P).is_empty());
    }
}

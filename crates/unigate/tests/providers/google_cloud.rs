//! Google Cloud: get by organization number, list (organizations:search, pageToken).

use serde_json::json;

use crate::common::{assert_remote_error, get_org};
use crate::helpers::{app_with_account, assert_request, last_request, walk_list};

#[tokio::test]
async fn get_strips_the_organizations_prefix_from_the_id() {
    let (app, account) = app_with_account("google-cloud").await;

    let org = get_org(&app, &account, "123456789012").await;

    assert_eq!(org["id"], "123456789012");
    assert_eq!(org["name"], "acme.example");
    assert_eq!(org["created_at"], "2016-03-08T19:02:03.514Z");
    assert_eq!(org["updated_at"], "2023-10-11T07:15:42.118Z");
    assert_eq!(org["remote_data"]["name"], "organizations/123456789012");
    assert!(org["remote_data"].get("number").is_none());
    for absent in ["pricing_plan", "licenses"] {
        assert!(org.get(absent).is_none(), "{absent}: {org}");
    }
    let sent = last_request(&app, "google-cloud");
    assert_request(&sent, "GET", "/v3/organizations/123456789012");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer ya29.a0Sandbox0GoogleCloud0AccessToken0000000001")
    );
}

#[tokio::test]
async fn an_unknown_org_is_a_403_permission_denied_as_google_answers() {
    let (app, account) = app_with_account("google-cloud").await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;

    assert_remote_error(
        &r,
        403,
        &json!({"error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}}),
    );
}

#[tokio::test]
async fn list_searches_with_page_size_and_page_token() {
    let (app, account) = app_with_account("google-cloud").await;
    for i in 0..3 {
        app.emulator("google-cloud").insert_record(
            "organizations",
            json!({"number": format!("55500{i}"), "name": format!("organizations/55500{i}"),
                   "displayName": format!("extra{i}.example"), "state": "ACTIVE"}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["123456789012", "987654321098", "555000", "555001", "555002"]);
    assert_eq!(pages, 3);
    let sent = last_request(&app, "google-cloud");
    assert_eq!(sent.path, "/v3/organizations:search");
    assert!(
        sent.query.contains("pageSize=2") && sent.query.contains("pageToken="),
        "{}",
        sent.query
    );
}

/// Google Cloud users: the user and service-account members of an organization's IAM
/// policy (`organization_id`: the number); create grants roles and update sets them, both
/// a read-modify-write of the policy with its etag.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{assert_remote_error, request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_request, walk_records};

    const P: &str = "google-cloud";
    const ORG: &str = "&organization_id=123456789012";
    const AUTH: &str = "Bearer ya29.a0Sandbox0GoogleCloud0AccessToken0000000001";

    fn roles(names: &[&str]) -> serde_json::Value {
        names
            .iter()
            .map(|n| json!({"name": n, "organization": "123456789012"}))
            .collect()
    }

    #[tokio::test]
    async fn get_collects_the_members_roles_from_the_policy() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("user:ada@acme.example"), ORG)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "user:ada@acme.example",
                "emails": [{"email": "ada@acme.example", "is_primary": true}],
                "user_type": "user", "status": "active",
                "roles": roles(&["roles/resourcemanager.organizationAdmin", "roles/billing.admin"])
            })
        );
        let sent = app.emulator(P).requests();
        assert_eq!(sent.len(), 1);
        assert_request(&sent[0], "POST", "/v3/organizations/123456789012:getIamPolicy");
        assert_eq!(sent[0].header("authorization"), Some(AUTH));
        assert_eq!(
            sent[0].json.clone().unwrap(),
            json!({"options": {"requestedPolicyVersion": 3}})
        );
    }

    #[tokio::test]
    async fn get_of_a_group_member_is_a_404() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, Some("group:cloud-admins@acme.example"), ORG))
            .await;

        assert_eq!(r.status, 404, "{}", r.text);
    }

    #[tokio::test]
    async fn list_answers_every_user_and_service_account_member_once() {
        let (app, account) = app_with_account(P).await;

        let (users, _pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "user:ada@acme.example",
                "user:grace@acme.example",
                "user:linus@acme.example",
                "serviceAccount:ci-deployer@acme-ci.iam.gserviceaccount.com",
                "deleted:user:old.timer@acme.example?uid=112233445566778899001",
                "user:temp.contractor@partner.example",
            ]
        );
        assert_eq!(users[2]["roles"], roles(&["roles/viewer", "roles/browser"]));
        assert_eq!(
            unified(&users[3]),
            json!({
                "id": "serviceAccount:ci-deployer@acme-ci.iam.gserviceaccount.com",
                "emails": [{"email": "ci-deployer@acme-ci.iam.gserviceaccount.com", "is_primary": true}],
                "user_type": "service-account", "status": "active", "roles": roles(&["roles/viewer"])
            })
        );
        assert_eq!(
            unified(&users[4]),
            json!({
                "id": "deleted:user:old.timer@acme.example?uid=112233445566778899001",
                "emails": [{"email": "old.timer@acme.example", "is_primary": true}],
                "user_type": "user", "status": "deleted", "roles": roles(&["roles/viewer"])
            })
        );
        assert!(request_lines(&app, P)
            .iter()
            .all(|l| l == "POST /v3/organizations/123456789012:getIamPolicy"));
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
    async fn create_adds_the_member_to_each_roles_binding_with_the_etag() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"emails": [{"email": "new.analyst@acme.example"}],
                            "roles": [{"name": "roles/viewer"}, {"name": "roles/logging.viewer"}]})),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            request_lines(&app, P),
            [
                "POST /v3/organizations/123456789012:getIamPolicy",
                "POST /v3/organizations/123456789012:setIamPolicy"
            ]
        );
        let sent = app.emulator(P).requests()[1].json.clone().unwrap();
        assert_eq!(sent["policy"]["etag"], "BwYMd8vA3aQ=");
        assert_eq!(sent["policy"]["version"], 3);
        let bindings = sent["policy"]["bindings"].as_array().unwrap();
        assert_eq!(bindings.len(), 5);
        assert_eq!(
            bindings[2]["members"],
            json!([
                "user:linus@acme.example",
                "serviceAccount:ci-deployer@acme-ci.iam.gserviceaccount.com",
                "deleted:user:old.timer@acme.example?uid=112233445566778899001",
                "domain:acme.example",
                "user:new.analyst@acme.example"
            ])
        );
        assert_eq!(bindings[3]["condition"]["title"], "expires-2025");
        assert_eq!(
            bindings[4],
            json!({"role": "roles/logging.viewer", "members": ["user:new.analyst@acme.example"]})
        );
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "user:new.analyst@acme.example",
                "emails": [{"email": "new.analyst@acme.example", "is_primary": true}],
                "user_type": "user", "status": "active",
                "roles": roles(&["roles/viewer", "roles/logging.viewer"])
            })
        );
        let stored = app.emulator(P).record("policies", "123456789012").unwrap();
        assert_ne!(stored["etag"], "BwYMd8vA3aQ=");
    }

    #[tokio::test]
    async fn update_sets_exactly_the_roles_given_and_drops_emptied_bindings() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("user:grace@acme.example"), ORG),
                Some(json!({"roles": [{"name": "roles/viewer"}]})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = app.emulator(P).requests().last().unwrap().clone();
        assert_request(&sent, "POST", "/v3/organizations/123456789012:setIamPolicy");
        let bindings = sent.json.unwrap()["policy"]["bindings"].clone();
        assert_eq!(
            bindings[1],
            json!({"role": "roles/billing.admin", "members": ["user:ada@acme.example"]})
        );
        assert_eq!(
            bindings[2]["members"].as_array().unwrap().last().unwrap(),
            "user:grace@acme.example"
        );
        assert_eq!(unified(&r.body)["roles"], roles(&["roles/viewer"]));
    }

    #[tokio::test]
    async fn update_with_no_roles_removes_the_member_from_the_policy() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(
                    &account,
                    Some("user:hank@globex.example"),
                    "&organization_id=987654321098",
                ),
                Some(json!({"roles": []})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = app.emulator(P).requests().last().unwrap().clone();
        assert_eq!(sent.json.unwrap()["policy"]["bindings"], json!([]));
        let stored = app.emulator(P).record("policies", "987654321098").unwrap();
        assert_eq!(stored["bindings"], json!([]));
    }

    #[tokio::test]
    async fn delete_writes_the_policy_back_without_the_member() {
        let (app, account) = app_with_account(P).await;
        let before = app.emulator(P).record("policies", "123456789012").unwrap();

        let r = app
            .send(
                Method::DELETE,
                &users_path(&account, Some("user:ada@acme.example"), ORG),
                None,
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["id"], "user:ada@acme.example");
        let sent = app.emulator(P).requests().last().unwrap().clone();
        assert_request(&sent, "POST", "/v3/organizations/123456789012:setIamPolicy");
        let body = sent.json.unwrap();
        assert_eq!(
            body["policy"]["etag"], before["etag"],
            "the etag read, so a concurrent change is refused"
        );
        let stored = app.emulator(P).record("policies", "123456789012").unwrap();
        let members: Vec<&serde_json::Value> = stored["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| b["members"].as_array().unwrap())
            .collect();
        assert!(!members.iter().any(|m| *m == "user:ada@acme.example"), "{stored}");
        assert!(!members.is_empty(), "the other members stay: {stored}");
        let r = app.get(&users_path(&account, Some("user:ada@acme.example"), ORG)).await;
        assert_eq!(r.status, 404, "{}", r.text);
    }

    #[tokio::test]
    async fn an_unknown_organization_is_googles_403() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, None, "&organization_id=555")).await;

        assert_remote_error(
            &r,
            403,
            &json!({"error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}}),
        );
    }

    #[tokio::test]
    async fn a_get_without_the_organization_is_a_400_too() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("user:ada@acme.example"), "")).await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains("organization_id"), "{}", r.text);
    }
}

//! JumpCloud: get (plan and licenses from the entitlement), list (skip/limit), update
//! (read-modify-write of settings).

use serde_json::json;

use crate::common::{assert_remote_error, get_org, last_with_method, update_org};
use crate::helpers::{app_with_account, assert_request, last_request, spawn_app, walk_list};

const ORG: &str = "5c48b4e3c9d7a8163a7b3e1f";
const KEY: &str = "jca_SandboxJumpCloudApiKey000000000000001";

#[tokio::test]
async fn get_maps_the_entitlement_to_plan_and_licenses() {
    let (app, account) = app_with_account("jumpcloud").await;

    let org = get_org(&app, &account, ORG).await;

    assert_eq!(org["id"], ORG);
    assert_eq!(org["name"], "Acme Corp");
    assert_eq!(org["pricing_plan"], "PLATFORM");
    assert_eq!(
        org["licenses"],
        json!([{"id": "platform", "name": "JumpCloud Platform"}, {"id": "di-premium", "name": "Directory Insights Premium"}])
    );
    assert_eq!(org["created_at"], "2019-01-23T18:13:29.470Z");
    assert!(org.get("updated_at").is_none());
    let sent = last_request(&app, "jumpcloud");
    assert_request(&sent, "GET", &format!("/api/organizations/{ORG}"));
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("x-org-id"), None, "no org_id in the context");
}

#[tokio::test]
async fn an_org_id_in_the_context_is_sent_as_x_org_id() {
    let app = spawn_app().await;
    let context = app.sandbox_context("jumpcloud", json!({"org_id": ORG}));
    let account = app.connect_with("jumpcloud", json!(context)).await;

    get_org(&app, &account, ORG).await;
    let sent = last_request(&app, "jumpcloud");
    assert_eq!(sent.header("x-org-id"), Some(ORG));
    assert_eq!(sent.header("x-api-key"), Some(KEY));

    let r = app.get(&app.orgs_path(&account, None, "")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = last_request(&app, "jumpcloud");
    assert_request(&sent, "GET", "/api/organizations");
    assert_eq!(sent.header("x-org-id"), Some(ORG));
}

#[tokio::test]
async fn a_single_license_is_still_a_list() {
    let (app, account) = app_with_account("jumpcloud").await;

    let org = get_org(&app, &account, "60a7f2d1e4b0c9a8d7e6f5a4").await;

    assert_eq!(org["licenses"], json!([{"id": "sso", "name": "SSO"}]));
    assert_eq!(org["pricing_plan"], "A_LA_CARTE");
}

#[tokio::test]
async fn update_writes_settings_name_keeping_the_other_settings() {
    let (app, account) = app_with_account("jumpcloud").await;

    let r = update_org(&app, &account, ORG, json!({"name": "Acme Corporation"})).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Acme Corporation");
    let sent = last_with_method(&app, "jumpcloud", "PUT");
    assert_eq!(sent.path, format!("/api/organizations/{ORG}"));
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    let body = sent.json.unwrap();
    assert_eq!(body["settings"]["name"], "Acme Corporation");
    assert_eq!(body["settings"]["contactEmail"], "admin@acme.example");
    assert_eq!(body["settings"]["passwordPolicy"]["maxHistory"], 3);
    assert_eq!(body.as_object().unwrap().len(), 1, "only settings is sent: {body}");
}

#[tokio::test]
async fn an_unknown_org_is_a_404_with_jumpclouds_error() {
    let (app, account) = app_with_account("jumpcloud").await;

    let r = app
        .get(&app.orgs_path(&account, Some("000000000000000000000000"), ""))
        .await;

    assert_remote_error(
        &r,
        404,
        &json!({"code": 404, "message": "Organization not found", "status": "Not Found"}),
    );
}

#[tokio::test]
async fn list_pages_with_skip_and_limit() {
    let (app, account) = app_with_account("jumpcloud").await;
    for i in 0..3 {
        app.emulator("jumpcloud").insert_record(
            "organizations",
            json!({"_id": format!("aaaaaaaaaaaaaaaaaaaaaaa{i}"), "displayName": format!("Extra {i}")}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids.len(), 5, "{ids:?}");
    assert_eq!(ids[0], ORG);
    assert_eq!(pages, 3);
    assert!(last_request(&app, "jumpcloud").query.contains("skip=4"));
}

/// JumpCloud system users: get, list over `skip`/`limit`, create, update (partial `PUT`),
/// delete, and a refused write in JumpCloud's error shape.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{
        delete_user, get_user, last_with_method, request_lines, unified, users_path, walk_users, write_user,
    };
    use crate::helpers::{app_with_account, assert_request, last_request};

    const KEY: &str = "jca_SandboxJumpCloudApiKey000000000000001";
    const ADA: &str = "5f3d2a1b9c8e7d6f5a4b3c21";

    #[tokio::test]
    async fn get_maps_a_system_user() {
        let (app, account) = app_with_account("jumpcloud").await;

        let user = get_user(&app, &account, ADA).await;

        assert_eq!(
            unified(&user),
            json!({
                "id": ADA, "username": "ada.lovelace", "first_name": "Ada", "last_name": "Lovelace",
                "name": "Ada Lovelace", "title": "Head of Engineering",
                "emails": [{"email": "ada.lovelace@acme.example", "type": "work", "is_primary": true},
                           {"email": "ada@personal.example", "type": "alternate", "is_primary": false}],
                "phones": [{"number": "+44 20 7946 0101", "type": "work"}, {"number": "+44 7700 900101", "type": "mobile"}],
                "status": "active", "is_2fa_enabled": true, "user_type": "Full-time",
                "roles": [{"id": "Administrator", "name": "Administrator"}],
                "identifiers": {"employee_identifier": "E-1001"},
                "created_at": "2020-08-19T14:22:03.114Z"
            })
        );
        assert_eq!(user["remote_data"]["unix_uid"], 5101);
        let sent = last_request(&app, "jumpcloud");
        assert_request(&sent, "GET", &format!("/api/systemusers/{ADA}"));
        assert_eq!(sent.header("x-api-key"), Some(KEY));
    }

    #[tokio::test]
    async fn list_walks_skip_and_limit_and_maps_each_state() {
        let (app, account) = app_with_account("jumpcloud").await;

        let (users, pages) = walk_users(&app, &account, 2).await;

        assert_eq!((users.len(), pages), (5, 3));
        let status: Vec<(&str, &str)> = users
            .iter()
            .map(|u| (u["username"].as_str().unwrap(), u["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            status,
            [
                ("ada.lovelace", "active"),
                ("grace.hopper", "inactive"),
                ("alan.turing", "inactive"),
                ("katherine.johnson", "invited"),
                ("margaret.hamilton", "active"),
            ]
        );
        assert_eq!(
            users[1]["name"], "Grace Hopper",
            "first and last name without a displayname"
        );
        assert_eq!(
            request_lines(&app, "jumpcloud"),
            [
                "GET /api/systemusers?limit=2",
                "GET /api/systemusers?limit=2&skip=2",
                "GET /api/systemusers?limit=2&skip=4",
            ]
        );
    }

    #[tokio::test]
    async fn create_posts_a_staged_user_for_an_invitation() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"first_name": "Hedy", "last_name": "Lamarr", "title": "Inventor", "status": "invited",
                   "emails": [{"email": "hedy.lamarr@acme.example", "is_primary": true}],
                   "phones": [{"number": "+1 310 555 0142", "type": "mobile"}]}),
        )
        .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, "jumpcloud", "POST");
        assert_eq!(sent.path, "/api/systemusers");
        assert_eq!(sent.header("x-api-key"), Some(KEY));
        assert_eq!(
            sent.json.unwrap(),
            json!({"email": "hedy.lamarr@acme.example", "username": "hedy.lamarr", "firstname": "Hedy",
                   "lastname": "Lamarr", "jobTitle": "Inventor", "state": "STAGED",
                   "phoneNumbers": [{"number": "+1 310 555 0142", "type": "mobile"}]})
        );
        let id = r.body["id"].as_str().unwrap();
        assert_eq!(id.len(), 24, "{id}");
        assert_eq!(
            (&r.body["username"], &r.body["status"], &r.body["name"]),
            (&json!("hedy.lamarr"), &json!("invited"), &json!("Hedy Lamarr"))
        );
        assert!(app.emulator("jumpcloud").record("systemusers", id).is_some());
    }

    #[tokio::test]
    async fn a_create_without_email_is_jumpclouds_400() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = write_user(&app, Method::POST, &account, None, json!({"first_name": "Nobody"})).await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        let raw = &r.body["raw_response"];
        assert_eq!((&raw["code"], &raw["status"]), (&json!(400), &json!("Bad Request")));
        assert!(raw["message"].as_str().unwrap().contains("email"), "{raw}");
    }

    #[tokio::test]
    async fn update_puts_only_the_changed_fields_and_suspends() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = write_user(
            &app,
            Method::PATCH,
            &account,
            Some(ADA),
            json!({"title": "CTO", "status": "inactive"}),
        )
        .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, "jumpcloud", "PUT");
        assert_eq!(sent.path, format!("/api/systemusers/{ADA}"));
        assert_eq!(sent.header("x-api-key"), Some(KEY));
        assert_eq!(sent.json.unwrap(), json!({"jobTitle": "CTO", "state": "SUSPENDED"}));
        assert_eq!(
            (&r.body["title"], &r.body["status"], &r.body["first_name"]),
            (&json!("CTO"), &json!("inactive"), &json!("Ada"))
        );
    }

    #[tokio::test]
    async fn update_cannot_put_a_user_back_to_staged() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = write_user(&app, Method::PATCH, &account, Some(ADA), json!({"status": "invited"})).await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["raw_response"]["code"], 400, "{}", r.text);
    }

    #[tokio::test]
    async fn delete_deletes_the_system_user() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = delete_user(&app, &account, ADA).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["id"], ADA);
        assert_eq!(
            r.body["remote_data"]["username"], "ada.lovelace",
            "JumpCloud answers the deleted user"
        );
        assert_eq!(
            request_lines(&app, "jumpcloud"),
            [format!("DELETE /api/systemusers/{ADA}")]
        );
        assert!(app.emulator("jumpcloud").record("systemusers", ADA).is_none());
    }

    #[tokio::test]
    async fn an_unknown_user_is_jumpclouds_404() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = app
            .get(&users_path(&account, Some("000000000000000000000000"), ""))
            .await;

        // The emulator's 404 message is the organizations one; the shape is JumpCloud's.
        assert_eq!(r.status, 404, "{}", r.text);
        let raw = &r.body["raw_response"];
        assert_eq!(
            (&raw["code"], &raw["status"]),
            (&json!(404), &json!("Not Found")),
            "{raw}"
        );
    }
}

/// JumpCloud user groups (API v2): get, list over `skip`/`limit`, create, update (full
/// `PUT` after a read), delete, membership through `add-user`, `remove-user` and the users
/// list's `group_id`, and a 404 in JumpCloud's shape.
mod groups {
    use reqwest::Method;
    use serde_json::{json, Value};

    use crate::common::{request_lines, unified};
    use crate::helpers::{app_with_account, last_request, result_ids, walk_records, TestApp};

    const ENGINEERING: &str = "64a1b2c3d4e5f60718293a01";
    const ORG: &str = "5c48b4e3c9d7a8163a7b3e1f";
    const ADA: &str = "5f3d2a1b9c8e7d6f5a4b3c21";
    const GRACE: &str = "5f3d2a1b9c8e7d6f5a4b3c22";
    const MARGARET: &str = "5f3d2a1b9c8e7d6f5a4b3c25";

    fn path(resource: &str, account: &str, id: Option<&str>, extra: &str) -> String {
        let id = id.map(|i| format!("/{i}")).unwrap_or_default();
        format!("/unified/user-directory/{resource}{id}?integrated_account_id={account}{extra}")
    }

    async fn members(app: &TestApp, account: &str, group: &str) -> Vec<Value> {
        let r = app
            .get(&path("users", account, None, &format!("&group_id={group}")))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["result"].as_array().unwrap().clone()
    }

    #[tokio::test]
    async fn a_user_group_is_mapped() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = app.get(&path("groups", &account, Some(ENGINEERING), "")).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": ENGINEERING, "name": "Engineering", "description": "Everyone who ships code",
                "organization": ORG, "group_type": "group"
            })
        );
        assert_eq!(r.body["remote_data"]["membershipMethod"], "STATIC");
        assert_eq!(
            request_lines(&app, "jumpcloud"),
            [format!("GET /api/v2/usergroups/{ENGINEERING}")]
        );
    }

    #[tokio::test]
    async fn the_groups_list_walks_skip_and_limit() {
        let (app, account) = app_with_account("jumpcloud").await;

        let (groups, pages) = walk_records(&app, &path("groups", &account, None, ""), 2).await;

        let ids: Vec<&str> = groups.iter().map(|g| g["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [ENGINEERING, "64a1b2c3d4e5f60718293a02", "64a1b2c3d4e5f60718293a03"]
        );
        assert_eq!(pages, 2);
        assert!(
            groups[1].get("description").is_none(),
            "an empty description is left out"
        );
        assert_eq!(
            request_lines(&app, "jumpcloud"),
            [
                "GET /api/v2/usergroups?limit=2",
                "GET /api/v2/usergroups?limit=2&skip=2"
            ]
        );
    }

    #[tokio::test]
    async fn group_writes_post_put_the_whole_group_and_delete() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = app
            .send(
                Method::POST,
                &path("groups", &account, None, ""),
                Some(json!({"name": "Support", "description": "Tier 1 and 2"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, "jumpcloud");
        assert_eq!(
            (sent.method.as_str(), sent.path.as_str()),
            ("POST", "/api/v2/usergroups")
        );
        assert_eq!(
            sent.json.unwrap(),
            json!({"name": "Support", "description": "Tier 1 and 2"})
        );
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            unified(&r.body),
            json!({"id": id, "name": "Support", "description": "Tier 1 and 2", "organization": ORG, "group_type": "group"})
        );

        // A full update: the group is read, what is not given is sent as it was.
        let r = app
            .send(
                Method::PATCH,
                &path("groups", &account, Some(ENGINEERING), ""),
                Some(json!({"name": "Platform Engineering"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, "jumpcloud");
        assert_eq!(
            (sent.method.as_str(), sent.path.clone()),
            ("PUT", format!("/api/v2/usergroups/{ENGINEERING}"))
        );
        assert_eq!(
            sent.json.unwrap(),
            json!({
                "name": "Platform Engineering", "description": "Everyone who ships code",
                "email": "engineering@acme.example", "membershipMethod": "STATIC",
                "attributes": {"sudo": {"enabled": false, "withoutPassword": false}, "posixGroups": [{"id": 5201, "name": "engineering"}]}
            })
        );
        assert_eq!(r.body["name"], "Platform Engineering");
        assert_eq!(r.body["description"], "Everyone who ships code");

        let r = app
            .send(Method::DELETE, &path("groups", &account, Some(&id), ""), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, "jumpcloud");
        assert_eq!(
            (sent.method.as_str(), sent.path.clone()),
            ("DELETE", format!("/api/v2/usergroups/{id}"))
        );
        assert!(app.emulator("jumpcloud").record("usergroups", &id).is_none());
    }

    #[tokio::test]
    async fn an_unknown_group_is_jumpclouds_404() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = app
            .get(&path("groups", &account, Some("000000000000000000000000"), ""))
            .await;

        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        let raw = &r.body["raw_response"];
        assert_eq!(
            (&raw["code"], &raw["status"]),
            (&json!(404), &json!("Not Found")),
            "{raw}"
        );
    }

    #[tokio::test]
    async fn add_user_and_remove_user_change_the_group_id_users_list() {
        let (app, account) = app_with_account("jumpcloud").await;

        // The membership gives ids only.
        let before = members(&app, &account, ENGINEERING).await;
        let before: Vec<Value> = before.iter().map(unified).collect();
        assert_eq!(before, [json!({"id": ADA}), json!({"id": GRACE})]);
        assert_eq!(
            last_request(&app, "jumpcloud").path,
            format!("/api/v2/usergroups/{ENGINEERING}/membership")
        );

        let r = app
            .send(
                Method::POST,
                &path("groups/add-user", &account, None, ""),
                Some(json!({"group_id": ENGINEERING, "user_id": MARGARET})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(unified(&r.body), json!({"group_id": ENGINEERING, "user_id": MARGARET}));
        let sent = last_request(&app, "jumpcloud");
        assert_eq!(
            (sent.method.as_str(), sent.path.clone()),
            ("POST", format!("/api/v2/usergroups/{ENGINEERING}/members"))
        );
        assert_eq!(sent.json.unwrap(), json!({"op": "add", "type": "user", "id": MARGARET}));
        let r = app
            .get(&path("users", &account, None, &format!("&group_id={ENGINEERING}")))
            .await;
        assert_eq!(result_ids(&r), [ADA, GRACE, MARGARET]);

        let r = app
            .send(
                Method::POST,
                &path("groups/remove-user", &account, None, ""),
                Some(json!({"group_id": ENGINEERING, "user_id": ADA})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, "jumpcloud");
        assert_eq!(
            (sent.method.as_str(), sent.path.clone()),
            ("POST", format!("/api/v2/usergroups/{ENGINEERING}/members"))
        );
        assert_eq!(sent.json.unwrap(), json!({"op": "remove", "type": "user", "id": ADA}));
        let r = app
            .get(&path("users", &account, None, &format!("&group_id={ENGINEERING}")))
            .await;
        assert_eq!(result_ids(&r), [GRACE, MARGARET]);
    }

    #[tokio::test]
    async fn adding_an_unknown_user_to_a_group_is_jumpclouds_404() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = app
            .send(
                Method::POST,
                &path("groups/add-user", &account, None, ""),
                Some(json!({"group_id": ENGINEERING, "user_id": "000000000000000000000000"})),
            )
            .await;

        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["raw_response"]["code"], 404, "{}", r.text);
    }
}

/// The organization's entitlement products as licenses.
mod licenses {
    use serde_json::json;

    use crate::common::{directory_path, ids, unified};
    use crate::helpers::{app_with_account, assert_request, last_request};

    const KEY: &str = "jca_SandboxJumpCloudApiKey000000000000001";
    const ACME: &str = "&organization_id=5c48b4e3c9d7a8163a7b3e1f";

    #[tokio::test]
    async fn the_entitlement_products_are_the_licenses() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = app.get(&directory_path("licenses", &account, None, ACME)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        let licenses = r.body["result"].as_array().unwrap();
        assert_eq!(ids(licenses), ["platform", "di-premium"]);
        assert_eq!(
            unified(&licenses[0]),
            json!({"id": "platform", "name": "JumpCloud Platform", "available_quantity": 500,
                   "unit_amount": 15, "is_paid": true})
        );
        assert_eq!(licenses[0]["remote_data"]["committedUsers"], 100);
        let sent = last_request(&app, "jumpcloud");
        assert_request(&sent, "GET", "/api/organizations/5c48b4e3c9d7a8163a7b3e1f");
        assert_eq!(sent.header("x-api-key"), Some(KEY));
    }

    #[tokio::test]
    async fn a_license_is_picked_by_its_product_code() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = app
            .get(&directory_path("licenses", &account, Some("di-premium"), ACME))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": "di-premium", "name": "Directory Insights Premium", "available_quantity": 500,
                   "unit_amount": 2, "is_paid": true})
        );

        let r = app
            .get(&directory_path("licenses", &account, Some("no-such-product"), ACME))
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
    }

    #[tokio::test]
    async fn an_unknown_organization_is_jumpclouds_404() {
        let (app, account) = app_with_account("jumpcloud").await;

        let r = app
            .get(&directory_path(
                "licenses",
                &account,
                None,
                "&organization_id=000000000000000000000000",
            ))
            .await;

        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(
            r.body["raw_response"]["message"], "Organization not found",
            "{}",
            r.text
        );
    }
}

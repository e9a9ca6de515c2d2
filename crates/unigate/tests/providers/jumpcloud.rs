//! JumpCloud: get (plan and licenses from the entitlement), list (skip/limit), update
//! (read-modify-write of settings); Directory Insights activities on their own host.

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

/// Directory Insights events: another host (`api.jumpcloud.com`), a JSON query body, and
/// `search_after` paging (from the `X-Search_after` header into the next body).
mod activities {
    use serde_json::{json, Value};
    use unigate_emulator::Fault;

    use crate::common::{assert_remote_error, directory_path, ids, unified};
    use crate::helpers::{app_with_account, last_request, walk_records};

    const P: &str = "jumpcloud";
    const KEY: &str = "jca_SandboxJumpCloudApiKey000000000000001";
    const EVENTS: &str = "/insights/directory/v1/events";

    #[tokio::test]
    async fn events_page_by_search_after_in_the_body_on_the_insights_host() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();
        let day_before = chrono::Utc::now().date_naive();

        let (events, pages) = walk_records(&app, &directory_path("activities", &account, None, ""), 2).await;

        assert_eq!(
            ids(&events),
            [
                "6650a1f2e4b0c9a8d7e6f505",
                "6650a1f2e4b0c9a8d7e6f504",
                "6650a1f2e4b0c9a8d7e6f503",
                "6650a1f2e4b0c9a8d7e6f502",
                "6650a1f2e4b0c9a8d7e6f501"
            ]
        );
        assert_eq!(pages, 3);
        assert_eq!(
            unified(&events[0]),
            json!({
                "id": "6650a1f2e4b0c9a8d7e6f505",
                "actor": {"id": "5f3d2a1b9c8e7d6f5a4b3c99", "name": "admin@acme.example",
                          "email": "admin@acme.example", "type": "user"},
                "organization": {"id": "5c48b4e3c9d7a8163a7b3e1f"},
                "description": "admin@acme.example user_create margaret.hamilton",
                "action": "user_create",
                "entity": {"id": "5f3d2a1b9c8e7d6f5a4b3c25", "name": "margaret.hamilton"},
                "entity_type": "user",
                "context": {"ip_address": "203.0.113.24", "service": "directory", "success": true,
                            "location": "England, GB", "user_agent": "Chrome"},
                "created_at": "2024-05-21T14:03:27.512Z"
            })
        );
        assert_eq!(
            unified(&events[1]),
            json!({
                "id": "6650a1f2e4b0c9a8d7e6f504",
                "actor": {"id": "5f3d2a1b9c8e7d6f5a4b3c99", "name": "admin@acme.example",
                          "email": "admin@acme.example", "type": "user"},
                "organization": {"id": "5c48b4e3c9d7a8163a7b3e1f"},
                "group": {"id": "64a1b2c3d4e5f60718293a02", "name": "Contractors"},
                "description": "admin@acme.example user_group_update Contractors",
                "action": "user_group_update",
                "entity": {"id": "64a1b2c3d4e5f60718293a02", "name": "Contractors"},
                "entity_type": "user_group",
                "context": {"ip_address": "203.0.113.24", "service": "directory", "success": true},
                "created_at": "2024-05-20T09:15:00.000Z"
            })
        );
        // An API key's event, and an event with no resource.
        assert_eq!(
            events[3]["actor"],
            json!({"id": "6650a1f2e4b0c9a8d7e6f5ff", "type": "api"})
        );
        assert_eq!(events[4].get("entity"), None);
        assert_eq!(events[4]["action"], "admin_login_attempt");
        // The provider record, without the emulator's own key.
        assert_eq!(events[0]["remote_data"]["changes"][0]["field"], "email");
        assert_eq!(events[0]["remote_data"].get("_sort"), None);

        let sent = app.emulator(P).requests();
        assert_eq!(sent.len(), 3, "one request per page");
        let bodies: Vec<Value> = sent.iter().map(|r| r.json.clone().unwrap()).collect();
        for r in &sent {
            assert_eq!(
                (r.method.as_str(), r.path.as_str(), r.query.as_str()),
                ("POST", EVENTS, "")
            );
            assert_eq!(r.header("x-api-key"), Some(KEY));
            assert_eq!(r.header("content-type"), Some("application/json"));
        }
        // Without a lower bound: JumpCloud's whole retention, from midnight UTC 90 days
        // before today.
        let start = bodies[0]["start_time"].as_str().unwrap();
        let start = chrono::DateTime::parse_from_rfc3339(start)
            .unwrap()
            .with_timezone(&chrono::Utc);
        // (The day the walk began or, past midnight, the next.)
        let days: Vec<_> = [day_before, chrono::Utc::now().date_naive()]
            .iter()
            .map(|d| *d - chrono::Days::new(90))
            .collect();
        assert!(days.contains(&start.date_naive()), "{start}");
        assert_eq!(start.time(), chrono::NaiveTime::MIN, "{start}");
        let mut first = bodies[0].clone();
        first.as_object_mut().unwrap().remove("start_time");
        assert_eq!(first, json!({"service": ["all"], "sort": "DESC", "limit": 2}));
        // Each later page: the same query, with the previous page's `X-Search_after` as it
        // was (a JSON array of the time in milliseconds and the id).
        for (body, after) in bodies[1..].iter().zip([
            json!([1716196500000_u64, "6650a1f2e4b0c9a8d7e6f504"]),
            json!([1714670529000_u64, "6650a1f2e4b0c9a8d7e6f502"]),
        ]) {
            let mut expected = bodies[0].clone();
            expected["search_after"] = after;
            assert_eq!(body, &expected);
        }
    }

    #[tokio::test]
    async fn a_stream_follows_the_body_cursor_over_every_page() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .get(&directory_path(
                "activities",
                &account,
                None,
                "&limit=2&truto_response_format=stream",
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let streamed: Vec<Value> = r.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        // Every event, no `{"error": ...}` line: each body position is a page of its own.
        assert_eq!(streamed.len(), 5, "{}", r.text);
        assert_eq!(streamed[4]["id"], "6650a1f2e4b0c9a8d7e6f501");
        let afters: Vec<Value> = app
            .emulator(P)
            .requests()
            .iter()
            .map(|r| r.json.as_ref().unwrap()["search_after"].clone())
            .collect();
        assert_eq!(
            afters,
            [
                Value::Null,
                json!([1716196500000_u64, "6650a1f2e4b0c9a8d7e6f504"]),
                json!([1714670529000_u64, "6650a1f2e4b0c9a8d7e6f502"])
            ]
        );
    }

    #[tokio::test]
    async fn created_at_filters_are_sent_as_start_and_end_time_and_kept_exactly() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path(
                "activities",
                &account,
                None,
                "&created_at[gt]=2024-05-02T17:22:09Z&created_at[lte]=2024-05-20",
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        // JumpCloud's own bounds are its business: 05-02T17:22:09 (not after itself) and
        // 05-20T09:15 (after midnight) are left out by Unigate.
        assert_eq!(ids(r.body["result"].as_array().unwrap()), ["6650a1f2e4b0c9a8d7e6f503"]);
        let sent = last_request(&app, P);
        assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", EVENTS));
        assert_eq!(
            sent.json.unwrap(),
            json!({"service": ["all"], "start_time": "2024-05-02T17:22:09Z",
                   "end_time": "2024-05-20T00:00:00Z", "sort": "DESC"})
        );
    }

    #[tokio::test]
    async fn a_refused_query_is_jumpclouds_error() {
        let (app, account) = app_with_account(P).await;
        let body = json!({"message": "start_time must be within the retention period"});
        app.emulator(P)
            .inject(Fault::respond(400, body.clone()).on("POST", EVENTS));

        let r = app.get(&directory_path("activities", &account, None, "")).await;

        assert_remote_error(&r, 400, &body);
        assert!(
            r.body["message"].as_str().unwrap().contains("retention period"),
            "{}",
            r.text
        );
    }
}

//! Zoho Projects: portals.

use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

const P: &str = "zoho-projects";

#[tokio::test]
async fn get_picks_the_portal_and_maps_its_plan() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("680404658"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "680404658", "name": "acmeconsulting", "pricing_plan": "Enterprise"})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/restapi/portal/680404658/");
    assert_eq!(
        sent.header("authorization"),
        Some("Zoho-oauthtoken 1000.sandbox8f7e6d5c4b3a2910.0a1b2c3d4e5f60718293a4b5c6d7e8f9")
    );
}

#[tokio::test]
async fn list_answers_every_portal_in_one_page() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, None, "&limit=1")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(
        unified(&result[0]),
        json!({"id": "647154632", "name": "zylkerevents", "pricing_plan": "Free"})
    );
    assert_eq!(result.len(), 2);
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    assert_eq!(last_request(&app, P).path, "/restapi/portals/");
}

#[tokio::test]
async fn a_missing_portal_is_a_404_in_zoho_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("1"), "")).await;

    assert_error(&r, 404);
    assert_eq!(
        r.body["raw_response"],
        json!({"error": {"code": 6404, "message": "Given portal does not exist."}})
    );
}

/// Portal users: list per portal (`user_type`), get by picking from the list, delete, and
/// Zoho's error shape.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{request_lines, unified, users_path};
    use crate::helpers::{app_with_account, assert_error, assert_request, last_request};

    const P: &str = "zoho-projects";
    const PORTAL: &str = "&organization_id=647154632";

    fn ids(body: &serde_json::Value) -> Vec<&str> {
        body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn get_picks_the_user_from_the_portals_users() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("2060761"), PORTAL)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": "2060761", "name": "Einhard Klein",
                   "emails": [{"email": "dieterk@zillum.com", "is_primary": true}],
                   "status": "inactive", "roles": [{"id": "manager", "name": "manager"}],
                   "organizations": [{"id": "647154632"}]})
        );
        assert_eq!(
            r.body["remote_data"],
            json!({"id": "2060761", "name": "Einhard Klein", "active": false,
                                                 "email": "dieterk@zillum.com", "role": "manager"})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/restapi/portal/647154632/users/");
        assert_eq!(sent.query, "user_type=all");
        assert_eq!(
            sent.header("authorization"),
            Some("Zoho-oauthtoken 1000.sandbox8f7e6d5c4b3a2910.0a1b2c3d4e5f60718293a4b5c6d7e8f9")
        );
    }

    #[tokio::test]
    async fn list_asks_for_every_user_of_the_portal_in_one_answer() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, None, PORTAL)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(ids(&r.body), ["2060758", "2060761", "2063348", "2063354", "2071102"]);
        assert!(r.body["next_cursor"].is_null(), "{}", r.text);
        assert_eq!(
            request_lines(&app, P),
            ["GET /restapi/portal/647154632/users/?user_type=all"]
        );
    }

    #[tokio::test]
    async fn the_status_filter_is_zohos_user_type() {
        let (app, account) = app_with_account(P).await;

        let inactive = app
            .get(&users_path(&account, None, &format!("{PORTAL}&status=inactive")))
            .await;
        let active = app
            .get(&users_path(&account, None, &format!("{PORTAL}&status=active")))
            .await;

        assert_eq!(ids(&inactive.body), ["2060761"]);
        assert_eq!(ids(&active.body), ["2060758", "2063348", "2063354", "2071102"]);
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /restapi/portal/647154632/users/?user_type=inactive",
                "GET /restapi/portal/647154632/users/?user_type=active"
            ]
        );
    }

    #[tokio::test]
    async fn a_list_without_the_portal_is_a_400_naming_it() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, None, "")).await;

        let message = assert_error(&r, 400);
        assert!(message.contains("organization_id"), "{message}");
        assert!(request_lines(&app, P).is_empty());
    }

    #[tokio::test]
    async fn delete_removes_the_user_from_the_portal() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(Method::DELETE, &users_path(&account, Some("2071102"), PORTAL), None)
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_request(
            &last_request(&app, P),
            "DELETE",
            "/restapi/portal/647154632/users/2071102/",
        );
        assert!(app.emulator(P).record("portal_users", "2071102").is_none());
    }

    #[tokio::test]
    async fn a_user_not_in_the_portal_is_a_404() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, Some("3104470"), PORTAL)).await;

        assert_error(&r, 404);
    }

    #[tokio::test]
    async fn an_unknown_portal_is_zohos_error() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).inject(
            unigate_emulator::Fault::respond(
                404,
                json!({"error": {"code": 6404, "message": "Given portal does not exist."}}),
            )
            .on("GET", "/restapi/portal/*/users/"),
        );

        let r = app.get(&users_path(&account, None, "&organization_id=1")).await;

        crate::common::assert_remote_error(
            &r,
            404,
            &json!({"error": {"code": 6404, "message": "Given portal does not exist."}}),
        );
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .ends_with("Given portal does not exist."),
            "{}",
            r.text
        );
    }

    /// The form fields of a recorded request, in order.
    fn form(sent: &unigate_emulator::RecordedRequest) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&sent.body).into_owned().collect()
    }

    #[tokio::test]
    async fn create_adds_the_address_to_the_portal_with_form_parameters() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, PORTAL),
                Some(json!({"emails": [{"email": "new.hire@zillum.com"}], "roles": [{"id": "manager"}]})),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": "3104471", "emails": [{"email": "new.hire@zillum.com", "is_primary": true}],
                   "status": "active", "roles": [{"id": "manager", "name": "manager"}],
                   "organizations": [{"id": "647154632"}]})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", "/restapi/portal/647154632/users/");
        assert_eq!(sent.header("content-type"), Some("application/x-www-form-urlencoded"));
        assert_eq!(
            form(&sent),
            [
                ("email".to_owned(), "new.hire@zillum.com".to_owned()),
                ("role".to_owned(), "manager".to_owned())
            ]
        );
        assert_eq!(
            sent.header("authorization"),
            Some("Zoho-oauthtoken 1000.sandbox8f7e6d5c4b3a2910.0a1b2c3d4e5f60718293a4b5c6d7e8f9")
        );
        // The portal lists the new user.
        let listed = app.get(&users_path(&account, None, PORTAL)).await;
        assert!(ids(&listed.body).contains(&"3104471"), "{}", listed.text);
    }

    #[tokio::test]
    async fn update_changes_the_role_with_a_form_parameter() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("2063348"), PORTAL),
                Some(json!({"roles": [{"name": "manager"}]})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": "2063348", "name": "Charles Stone",
                   "emails": [{"email": "charless@zillum.com", "is_primary": true}],
                   "status": "active", "roles": [{"id": "manager", "name": "manager"}],
                   "organizations": [{"id": "647154632"}]})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "PATCH", "/restapi/portal/647154632/users/2063348");
        assert_eq!(form(&sent), [("role".to_owned(), "manager".to_owned())]);
        assert_eq!(
            app.emulator(P).record("portal_users", "2063348").unwrap()["role"],
            "manager"
        );
    }

    #[tokio::test]
    async fn a_role_zoho_does_not_have_is_zohos_error() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, PORTAL),
                Some(json!({"emails": [{"email": "new.hire@zillum.com"}], "roles": [{"id": "owner"}]})),
            )
            .await;

        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(r.body["raw_response"]["error"]["code"], 6500, "{}", r.text);
        assert_eq!(app.emulator(P).records("portal_users").len(), 6);
    }

    #[tokio::test]
    async fn a_name_cannot_be_written_and_nothing_is_sent() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("2063348"), PORTAL),
                Some(json!({"name": "Charlie Stone"})),
            )
            .await;

        let message = assert_error(&r, 422);
        assert!(message.contains("name"), "{message}");
        assert!(request_lines(&app, P).is_empty());
    }
}

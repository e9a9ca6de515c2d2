//! Webex: /v1/organizations and the identity API.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, assert_saw, last_request};

const P: &str = "webex";
const ACME: &str = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE";

#[tokio::test]
async fn get_maps_display_name_and_created() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some(ACME), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": ACME, "name": "Acme, Inc.", "created_at": "2015-10-18T14:26:16Z",
               "licenses": [
                   {"id": "Y2lzY29zcGFyazovL3VzL0xJQ0VOU0UvOTZhYmMyYWEtM2RjYy0xMWU1LWExNTItZmUzNDgxOWNkYzlh",
                    "name": "Meeting - Webex Meeting Center"},
                   {"id": "Y2lzY29zcGFyazovL3VzL0xJQ0VOU0UvOTZhYmMyYWEtM2RjYy0xMWU1LWExNTItZmUzNDgxOWNkYzli",
                    "name": "Messaging"}]})
    );
    // The licenses, then the organization.
    let org = format!("/v1/organizations/{ACME}");
    let requests = assert_saw(&app, P, &[("GET", "/v1/licenses"), ("GET", &org)]);
    assert_eq!(requests[0].query, format!("orgId={ACME}"));
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer NDk1ZjQ3YjMtY2U1Ni00OGQ3LWI0ZjQtZDhlNjgwNTk2ZjQ4YmE2_PF84_sandbox")
    );
    assert_eq!(
        requests[1].header("authorization"),
        Some("Bearer NDk1ZjQ3YjMtY2U1Ni00OGQ3LWI0ZjQtZDhlNjgwNTk2ZjQ4YmE2_PF84_sandbox")
    );
}

#[tokio::test]
async fn an_org_without_licenses_gets_an_empty_list() {
    let (app, account) = app_with_account(P).await;
    let globex = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi84MmFkYWNmNC00NTNmLTRlMmItYTQwNi0yOTM5ZmRkY2FhZDI";

    let r = app.get(&app.orgs_path(&account, Some(globex), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Customer Org");
    assert_eq!(r.body["licenses"], json!([]));
}

#[tokio::test]
async fn update_patches_the_identity_org_by_its_uuid_with_scim_schemas() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some(ACME), ""),
            Some(json!({"name": "Acme_New, Inc.", "remote_data": {"preferredLanguage": "en_GB"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": ACME, "name": "Acme_New, Inc.", "created_at": "2015-10-18T14:26:16Z", "updated_at": "2024-05-16T12:25:16Z"})
    );
    let sent = last_request(&app, P);
    assert_request(
        &sent,
        "PATCH",
        "/identity/organizations/96abc2aa-3dcc-11e5-a152-fe34819cdc9a",
    );
    assert_eq!(
        sent.json.unwrap(),
        json!({"schemas": ["urn:cisco:codev:identity:organization:core:1.0"], "displayName": "Acme_New, Inc.", "preferredLanguage": "en_GB"})
    );
}

#[tokio::test]
async fn delete_removes_the_org() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(Method::DELETE, &app.orgs_path(&account, Some(ACME), ""), None)
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"id": ACME}));
    assert_eq!(last_request(&app, P).method, "DELETE");
    assert!(app.emulator(P).record("organizations", ACME).is_none());
}

#[tokio::test]
async fn a_missing_org_is_a_404_in_webex_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("bm9wZQ"), "")).await;

    assert_error(&r, 404);
    assert_eq!(
        r.body["raw_response"]["message"],
        "The requested resource could not be found."
    );
    assert_eq!(
        r.body["raw_response"]["errors"],
        json!([{"description": "The requested resource could not be found."}])
    );
    assert!(r.body["raw_response"]["trackingId"].is_string());
}

#[tokio::test]
async fn list_answers_the_items_in_one_page() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, None, "&limit=1")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.body["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[1]["name"], "Globex Customer Org");
    assert_eq!(result[1]["created_at"], "2021-05-13T15:51:09Z");
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
}

/// The licenses are a side load: when it fails, the organization still answers, without
/// `licenses` (absent, not an empty list that would claim there are none).
#[tokio::test]
async fn a_failing_licenses_side_load_leaves_licenses_out() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P)
        .inject(unigate_emulator::Fault::respond(500, json!({"message": "boom"})).on("GET", "/v1/licenses"));

    let r = app.get(&app.orgs_path(&account, Some(ACME), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Acme, Inc.");
    assert!(r.body.get("licenses").is_none(), "{}", r.text);
}

/// Webex people: get, list over `max` and the `Link` header, create, update (read, then
/// the whole person `PUT` back), delete, and an unknown person in Webex's error shape.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use crate::common::{
        delete_user, get_user, last_with_method, request_lines, unified, users_path, walk_users, write_user,
    };
    use crate::helpers::{app_with_account, assert_request, last_request};

    const P: &str = "webex";
    const TOKEN: &str = "Bearer NDk1ZjQ3YjMtY2U1Ni00OGQ3LWI0ZjQtZDhlNjgwNTk2ZjQ4YmE2_PF84_sandbox";
    const JOHN: &str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY";
    const MARIA: &str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS8yYjNjNGQ1ZS02ZjdhLTRiOGMtOWQwZS0xZjJhM2I0YzVkNmU";

    #[tokio::test]
    async fn get_maps_a_person() {
        let (app, account) = app_with_account(P).await;

        let user = get_user(&app, &account, JOHN).await;

        assert_eq!(
            unified(&user),
            json!({
                "id": JOHN, "name": "John Andersen", "first_name": "John", "last_name": "Andersen", "title": "GM",
                "emails": [{"email": "john.andersen@example.com", "type": "work", "is_primary": true}],
                "phones": [{"number": "+1 408 526 7209", "type": "work"}, {"number": "+1 408 555 0101", "type": "mobile"}],
                "status": "active", "user_type": "person",
                "roles": [{"id": "Y2lzY29zcGFyazovL3VzL1JPTEUvOTZhYmMyYWEtM2RjYy0xMWU1LWExNTItZmUzNDgxOWNkYzlh"}],
                "licenses": [{"id": "Y2lzY29zcGFyazovL3VzL0xJQ0VOU0UvOTZhYmMyYWEtM2RjYy0xMWU1LWExNTItZmUzNDgxOWNkYzlh"}],
                "avatar": "https://1efa7a94ed21783e352-c62266528714497a17239ececf39e9e2.ssl.cf1.rackcdn.com/V1~54c844c89e678e5a7b16a306bc2897b9~wx29yGtlTpilEFlYzqPKag==~1600",
                "timezone": "America/Denver", "last_active_at": "2024-05-02T09:26:16.028Z",
                "created_at": "2015-10-18T14:26:16.000Z", "updated_at": "2015-10-18T14:26:16.000Z"
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/v1/people/{JOHN}"));
        assert_eq!(sent.header("authorization"), Some(TOKEN));
    }

    #[tokio::test]
    async fn list_follows_the_link_header_and_maps_login_and_invitation_states() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_users(&app, &account, 2).await;

        assert_eq!((users.len(), pages), (5, 3));
        let status: Vec<(&str, &str)> = users
            .iter()
            .map(|u| (u["name"].as_str().unwrap(), u["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            status,
            [
                ("John Andersen", "active"),
                ("Maria Rossi", "active"),
                ("Kenji Sato", "inactive"),
                ("New Starter", "invited"),
                ("Helpdesk Bot", "active"),
            ]
        );
        assert_eq!(users[4]["user_type"], "bot");
        let lines = request_lines(&app, P);
        assert_eq!(lines[0], "GET /v1/people?max=2");
        assert_eq!(lines.len(), 3, "{lines:?}");
        let pages = app.emulator(P).requests();
        assert!(pages.iter().all(|r| r.header("authorization") == Some(TOKEN)));
        for next in &pages[1..] {
            assert!(
                next.query.contains("cursor=") && next.query.contains("max=2"),
                "a next page is the Link header's URL: {}",
                next.query
            );
        }
    }

    #[tokio::test]
    async fn the_email_filter_is_webexs_own_people_search() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, None, "&email=Maria.Rossi@example.com"))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["result_count"], 1, "{}", r.text);
        assert_eq!(r.body["result"][0]["id"], MARIA);
        // Webex was asked for that person, not for the whole list.
        assert_eq!(
            request_lines(&app, P),
            ["GET /v1/people?email=Maria.Rossi%40example.com"]
        );
        // ... and `GET /integration/webex` says so; the other filters are the gateway's.
        let r = app.get("/integration/webex").await;
        let filters = &r.body["filters"]["user-directory"]["users"];
        assert_eq!(filters["email"], "provider", "{filters}");
        assert_eq!(filters["status"], "gateway", "{filters}");

        // A filter Webex cannot apply is applied to the mapped people.
        let (users, _) = crate::helpers::walk_records(&app, &users_path(&account, None, "&status=inactive"), 2).await;
        let names: Vec<&str> = users.iter().map(|u| u["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Kenji Sato"]);
    }

    #[tokio::test]
    async fn create_posts_the_person() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"first_name": "Ada", "last_name": "Byron", "title": "Analyst",
                   "emails": [{"email": "ada.byron@example.com", "is_primary": true}],
                   "phones": [{"number": "+44 20 7946 0199", "type": "work"}, {"number": "+44 7700 900199", "type": "mobile"}]}),
        )
        .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_eq!(sent.path, "/v1/people");
        assert_eq!(sent.header("authorization"), Some(TOKEN));
        assert_eq!(
            sent.json.unwrap(),
            json!({"emails": ["ada.byron@example.com"], "displayName": "Ada Byron", "firstName": "Ada",
                   "lastName": "Byron", "title": "Analyst",
                   "phoneNumbers": [{"type": "work", "value": "+44 20 7946 0199"}]})
        );
        assert_eq!(
            (&r.body["name"], &r.body["status"], &r.body["emails"][0]["email"]),
            (&json!("Ada Byron"), &json!("invited"), &json!("ada.byron@example.com"))
        );
    }

    #[tokio::test]
    async fn update_puts_the_whole_person_back_with_the_changes() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::PATCH,
            &account,
            Some(MARIA),
            json!({"title": "Sales Director", "status": "inactive"}),
        )
        .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            request_lines(&app, P),
            [format!("GET /v1/people/{MARIA}"), format!("PUT /v1/people/{MARIA}")]
        );
        let sent = last_with_method(&app, P, "PUT");
        assert_eq!(sent.header("authorization"), Some(TOKEN));
        assert_eq!(
            sent.json.unwrap(),
            json!({"emails": ["maria.rossi@example.com"], "displayName": "Maria Rossi",
                   "firstName": "Maria", "lastName": "Rossi",
                   "orgId": "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE",
                   "roles": [], "licenses": ["Y2lzY29zcGFyazovL3VzL0xJQ0VOU0UvOTZhYmMyYWEtM2RjYy0xMWU1LWExNTItZmUzNDgxOWNkYzli"],
                   "title": "Sales Director", "loginEnabled": false})
        );
        assert_eq!(
            (&r.body["title"], &r.body["status"], &r.body["first_name"]),
            (&json!("Sales Director"), &json!("inactive"), &json!("Maria"))
        );
    }

    #[tokio::test]
    async fn delete_removes_the_person() {
        let (app, account) = app_with_account(P).await;

        let r = delete_user(&app, &account, MARIA).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["id"], MARIA);
        assert_eq!(request_lines(&app, P), [format!("DELETE /v1/people/{MARIA}")]);
        assert!(app.emulator(P).record("people", MARIA).is_none());
    }

    #[tokio::test]
    async fn an_unknown_person_is_webexs_404() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, Some("Y2lzY29zcGFyazovL3VzL1BFT1BMRS9ub25l"), ""))
            .await;

        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(
            r.body["raw_response"],
            json!({"message": "The requested resource could not be found.",
                   "errors": [{"description": "The requested resource could not be found."}],
                   "trackingId": "ROUTER_6650A3F1-6D4B-01BB-00A1-0A2B3C4D5E6F"})
        );
    }
}

const SALES_GROUP: &str = "Y2lzY29zcGFyazovL3VzL1NDSU1fR1JPVVAvMjUxMDRiZTAtZjg3NC00MzQzLTk2MDctZGYwMmRmMzdiNWMxOjM0OGFkYjgxLTI4ZjktNGFiNS1iMmQ2LWU5YjQ5NGU3MmEwNg";

fn dir_path(resource: &str, account: &str, id: Option<&str>) -> String {
    let id = id.map(|i| format!("/{i}")).unwrap_or_default();
    format!("/unified/user-directory/{resource}{id}?integrated_account_id={account}")
}

#[tokio::test]
async fn a_group_maps_display_name_org_and_dates() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("groups", &account, Some(SALES_GROUP))).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({
            "id": SALES_GROUP, "name": "Sales Group", "organization": ACME, "group_type": "group",
            "created_at": "2022-02-17T02:13:29.706Z", "updated_at": "2022-02-17T02:13:29.706Z"
        })
    );
    assert_request(&last_request(&app, P), "GET", &format!("/v1/groups/{SALES_GROUP}"));
}

#[tokio::test]
async fn the_groups_list_reads_the_groups_array() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("groups", &account, None)).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<&str> = r.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Sales Group", "Support Engineers"]);
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    assert_request(&last_request(&app, P), "GET", "/v1/groups");
}

#[tokio::test]
async fn an_unknown_group_is_webexs_404() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("groups", &account, Some("nope"))).await;

    assert_error(&r, 404);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    assert_eq!(
        r.body["raw_response"]["message"],
        "The requested resource could not be found."
    );
}

#[tokio::test]
async fn me_is_the_tokens_person() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&dir_path("me", &account, None)).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body["result"][0]),
        json!({
            "id": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY",
            "name": "John Andersen", "email": "john.andersen@example.com",
            "organization": {"id": ACME}
        })
    );
    assert_request(&last_request(&app, P), "GET", "/v1/people/me");
}

#[tokio::test]
async fn a_group_is_created_with_scim_schemas_and_deleted() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &dir_path("groups", &account, None),
            Some(json!({"name": "Field Sales"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "POST", "/v1/groups");
    assert_eq!(
        sent.json.unwrap(),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                        "urn:scim:schemas:extension:cisco:webexidentity:2.0:Group"],
            "displayName": "Field Sales"
        })
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        unified(&r.body),
        json!({
            "id": id, "name": "Field Sales", "organization": ACME, "group_type": "group",
            "created_at": r.body["remote_data"]["created"],
            "updated_at": r.body["remote_data"]["lastModified"]
        })
    );

    let r = app
        .send(Method::DELETE, &dir_path("groups", &account, Some(&id)), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(&last_request(&app, P), "DELETE", &format!("/v1/groups/{id}"));
    assert!(app.emulator(P).record("groups", &id).is_none());
}

#[tokio::test]
async fn roles_list_and_get_map_id_and_name() {
    let (app, account) = app_with_account(P).await;
    let full = "Y2lzY29zcGFyazovL3VzL1JPTEUvOTZhYmMyYWEtM2RjYy0xMWU1LWExNTItZmUzNDgxOWNkYzlh";

    let r = app.get(&dir_path("roles", &account, None)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result_count"], 3, "{}", r.text);
    assert_request(&last_request(&app, P), "GET", "/v1/roles");

    let r = app.get(&dir_path("roles", &account, Some(full))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(unified(&r.body), json!({"id": full, "name": "Full Administrator"}));
    assert_request(&last_request(&app, P), "GET", &format!("/v1/roles/{full}"));
}

#[tokio::test]
async fn a_license_maps_total_and_consumed_units() {
    let (app, account) = app_with_account(P).await;
    let meeting = "Y2lzY29zcGFyazovL3VzL0xJQ0VOU0UvOTZhYmMyYWEtM2RjYy0xMWU1LWExNTItZmUzNDgxOWNkYzlh";

    let r = app.get(&dir_path("licenses", &account, Some(meeting))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": meeting, "name": "Meeting - Webex Meeting Center",
               "available_quantity": 50, "assigned_quantity": 5})
    );
    assert_request(&last_request(&app, P), "GET", &format!("/v1/licenses/{meeting}"));

    let r = app.get(&dir_path("licenses", &account, None)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result_count"], 2, "{}", r.text);
    assert_eq!(r.body["result"][1]["assigned_quantity"], 12);
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/v1/licenses");
    assert_eq!(sent.query, "");
}

/// The admin audit log as activities: the required time window from the `created_at`
/// filters (or the last 30 days), `max`/`offset` pages, and Webex's 401.
mod activities {
    use serde_json::json;

    use crate::common::{assert_remote_error, directory_path, ids, request_lines, unified};
    use crate::helpers::{app_with_account, assert_request, last_request, spawn_app, walk_records};

    const P: &str = "webex";
    const TOKEN: &str = "Bearer NDk1ZjQ3YjMtY2U1Ni00OGQ3LWI0ZjQtZDhlNjgwNTk2ZjQ4YmE2_PF84_sandbox";
    const ACME: &str = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE";
    const JOHN: &str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY";
    const MARIA: &str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS8yYjNjNGQ1ZS02ZjdhLTRiOGMtOWQwZS0xZjJhM2I0YzVkNmU";

    fn org() -> String {
        format!("&organization_id={ACME}")
    }

    /// The query parameters of a recorded request, decoded.
    fn params(query: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
    }

    #[tokio::test]
    async fn the_created_at_bounds_are_the_required_from_and_to() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path(
                "activities",
                &account,
                None,
                &format!(
                    "{}&created_at[gte]=2024-06-01T00:00:00Z&created_at[lt]=2024-06-11T00:00:00Z",
                    org()
                ),
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let events = r.body["result"].as_array().unwrap();
        assert_eq!(
            ids(events),
            [
                "N2E0YjJjMWQtM2U0Zi00YTViLTljNmQtN2U4ZjlhMGIxYzJk",
                "OGI1YzNkMmUtNGY1YS00YjZjLThkN2UtOWYwYTFiMmMzZDRl"
            ],
            "Acme's events inside the bounds"
        );
        assert_eq!(
            unified(&events[0]),
            json!({
                "id": "N2E0YjJjMWQtM2U0Zi00YTViLTljNmQtN2U4ZjlhMGIxYzJk",
                "actor": {"id": JOHN, "name": "John Andersen", "email": "john.andersen@example.com"},
                "organization": {"id": ACME, "name": "Acme, Inc."},
                "description": "John Andersen modified user Maria Rossi",
                "action": "EventCategory.USERS",
                "entity": {"id": MARIA, "name": "Maria Rossi"},
                "entity_type": "TargetResourceType.USER",
                "context": {
                    "ip_address": "128.107.241.191",
                    "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/71.0.3578.98 Safari/537.36",
                    "admin_roles": ["Full_Admin"],
                    "event_description": "A user was modified",
                    "tracking_id": "ATLAS_6f23a878-bcd4-c204-a4db-e701b42b0e5c_0"
                },
                "created_at": "2024-06-10T09:12:03.120Z"
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/v1/adminAudit/events");
        assert_eq!(sent.header("authorization"), Some(TOKEN));
        let sent = params(&sent.query);
        for (name, value) in [
            ("orgId", ACME),
            ("from", "2024-06-01T00:00:00Z"),
            ("to", "2024-06-11T00:00:00Z"),
        ] {
            assert!(
                sent.contains(&(name.to_string(), value.to_string())),
                "{name}={value} in {sent:?}"
            );
        }
    }

    #[tokio::test]
    async fn without_bounds_the_window_is_the_last_30_days() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("activities", &account, None, &org())).await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = params(&last_request(&app, P).query);
        let time = |name: &str| {
            let value = &sent.iter().find(|(k, _)| k == name).unwrap().1;
            chrono::DateTime::parse_from_rfc3339(value).unwrap_or_else(|e| panic!("{name}={value}: {e}"))
        };
        assert_eq!(time("to") - time("from"), chrono::Duration::days(30));
    }

    #[tokio::test]
    async fn the_audit_log_walks_max_and_offset_pages() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (events, pages) = walk_records(
            &app,
            &directory_path(
                "activities",
                &account,
                None,
                &format!(
                    "{}&created_at[gte]=2024-01-01T00:00:00Z&created_at[lte]=2024-12-31T00:00:00Z",
                    org()
                ),
            ),
            3,
        )
        .await;

        assert_eq!(events.len(), 4, "Acme's four events");
        assert_eq!(events[3]["action"], "EventCategory.GROUPS");
        assert_eq!(pages, 2);
        let lines = request_lines(&app, P);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let second = params(lines[1].split_once('?').unwrap().1);
        assert!(second.contains(&("offset".into(), "3".into())), "{second:?}");
        assert!(second.contains(&("max".into(), "3".into())), "{second:?}");
    }

    #[tokio::test]
    async fn an_invalid_token_is_webexs_401() {
        let app = spawn_app().await;
        let account = app.connect_with(P, json!({"access_token": "wrong"})).await;

        let r = app.get(&directory_path("activities", &account, None, &org())).await;

        assert_remote_error(
            &r,
            401,
            &json!({
                "message": "The request requires a valid access token set in the Authorization request header.",
                "errors": [{"description": "The request requires a valid access token set in the Authorization request header."}],
                "trackingId": "ROUTER_6650A3F1-6D4B-01BB-00A1-0A2B3C4D5E6F"
            }),
        );
    }
}

/// A group's members through the users list's `group_id`.
mod group_members {
    use serde_json::json;

    use crate::common::{assert_remote_error, group_members, ids, unified, users_path};
    use crate::helpers::{app_with_account, assert_request, last_request};

    const P: &str = "webex";
    const SALES: &str = "Y2lzY29zcGFyazovL3VzL1NDSU1fR1JPVVAvMjUxMDRiZTAtZjg3NC00MzQzLTk2MDctZGYwMmRmMzdiNWMxOjM0OGFkYjgxLTI4ZjktNGFiNS1iMmQ2LWU5YjQ5NGU3MmEwNg";
    const SUPPORT: &str = "Y2lzY29zcGFyazovL3VzL1NDSU1fR1JPVVAvOWExYjJjM2QtNGU1Zi00YTZiLThjN2QtOWUwZjFhMmIzYzRkOjk2YWJjMmFhLTNkY2MtMTFlNS1hMTUyLWZlMzQ4MTljZGM5YQ";
    const MARIA: &str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS8yYjNjNGQ1ZS02ZjdhLTRiOGMtOWQwZS0xZjJhM2I0YzVkNmU";

    #[tokio::test]
    async fn the_users_list_with_group_id_maps_the_groups_members() {
        let (app, account) = app_with_account(P).await;

        let members = group_members(&app, &account, SALES, "").await;

        assert_eq!(ids(&members), [MARIA]);
        assert_eq!(
            unified(&members[0]),
            json!({"id": MARIA, "name": "Maria Rossi", "user_type": "user", "groups": [{"id": SALES}]})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/v1/groups/{SALES}/members"));
        assert_eq!(
            sent.header("authorization"),
            Some("Bearer NDk1ZjQ3YjMtY2U1Ni00OGQ3LWI0ZjQtZDhlNjgwNTk2ZjQ4YmE2_PF84_sandbox")
        );
        assert!(group_members(&app, &account, SUPPORT, "").await.is_empty());
    }

    #[tokio::test]
    async fn an_unknown_group_is_webexs_404() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&users_path(&account, None, "&group_id=nope")).await;

        assert_remote_error(
            &r,
            404,
            &json!({
                "message": "The requested resource could not be found.",
                "errors": [{"description": "The requested resource could not be found."}],
                "trackingId": "ROUTER_6650A3F1-6D4B-01BB-00A1-0A2B3C4D5E6F"
            }),
        );
    }

    /// The body of a SCIM 2.0 PatchOp with these operations.
    fn patch_op(operations: serde_json::Value) -> serde_json::Value {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
    }

    const JOHN: &str = "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY";

    #[tokio::test]
    async fn add_user_and_remove_user_send_scim_patch_ops_on_members() {
        let (app, account) = app_with_account(P).await;

        let added = crate::common::change_membership(&app, "add-user", &account, "", SALES, JOHN).await;

        assert_eq!(added.status, 200, "{}", added.text);
        assert_eq!(unified(&added.body), json!({"group_id": SALES, "user_id": JOHN}));
        let sent = last_request(&app, P);
        assert_request(&sent, "PATCH", &format!("/v1/groups/{SALES}"));
        assert_eq!(
            sent.header("authorization"),
            Some("Bearer NDk1ZjQ3YjMtY2U1Ni00OGQ3LWI0ZjQtZDhlNjgwNTk2ZjQ4YmE2_PF84_sandbox")
        );
        assert_eq!(
            sent.json.unwrap(),
            patch_op(json!([{"op": "add", "path": "members", "value": [{"value": JOHN}]}]))
        );
        assert_eq!(ids(&group_members(&app, &account, SALES, "").await), [MARIA, JOHN]);

        let removed = crate::common::change_membership(&app, "remove-user", &account, "", SALES, MARIA).await;

        assert_eq!(removed.status, 200, "{}", removed.text);
        assert_eq!(unified(&removed.body), json!({"group_id": SALES, "user_id": MARIA}));
        assert_eq!(
            last_request(&app, P).json.unwrap(),
            patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{MARIA}\"]")}]))
        );
        assert_eq!(ids(&group_members(&app, &account, SALES, "").await), [JOHN]);
    }

    #[tokio::test]
    async fn adding_an_unknown_person_is_webexs_404() {
        let (app, account) = app_with_account(P).await;

        let r = crate::common::change_membership(&app, "add-user", &account, "", SUPPORT, "nobody").await;

        assert_remote_error(
            &r,
            404,
            &json!({
                "message": "The requested resource could not be found.",
                "errors": [{"description": "The requested resource could not be found."}],
                "trackingId": "ROUTER_6650A3F1-6D4B-01BB-00A1-0A2B3C4D5E6F"
            }),
        );
        assert!(group_members(&app, &account, SUPPORT, "").await.is_empty());
    }

    #[tokio::test]
    async fn update_replaces_the_display_name_with_a_patch_op() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                reqwest::Method::PATCH,
                &crate::common::directory_path("groups", &account, Some(SUPPORT), ""),
                Some(json!({"name": "Support Engineers EMEA"})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let group = unified(&r.body);
        assert_eq!(
            (&group["id"], &group["name"], &group["group_type"], &group["created_at"]),
            (
                &json!(SUPPORT),
                &json!("Support Engineers EMEA"),
                &json!("group"),
                &json!("2023-05-09T11:20:00.000Z")
            )
        );
        assert_ne!(group["updated_at"], "2024-02-01T09:45:12.318Z", "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "PATCH", &format!("/v1/groups/{SUPPORT}"));
        assert_eq!(
            sent.json.unwrap(),
            patch_op(json!([{"op": "replace", "path": "displayName", "value": "Support Engineers EMEA"}]))
        );
        let refused = app
            .send(
                reqwest::Method::PATCH,
                &crate::common::directory_path("groups", &account, Some(SUPPORT), ""),
                Some(json!({"description": "x"})),
            )
            .await;
        assert_eq!(refused.status, 422, "{}", refused.text);
    }
}

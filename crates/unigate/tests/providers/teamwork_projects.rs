//! Teamwork Projects API v3: companies; `me`; teams (API v1) as groups.

use reqwest::Method;
use serde_json::json;

use crate::common::{directory_path, ids, me, request_lines, unified};
use crate::helpers::{
    app_with_account, assert_error, assert_request, assert_saw, last_request, walk_list, walk_records,
};

const P: &str = "teamwork-projects";

fn basic() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("twp_SandboxApiKey0123456789abcdef:x")
    )
}

#[tokio::test]
async fn get_maps_a_company_with_basic_auth_on_the_site() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("999"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "999", "name": "Acme Digital", "pricing_plan": "Deliver",
               "created_at": "2016-03-02T10:11:12Z", "updated_at": "2024-01-15T08:00:00Z"})
    );
    // The site's account, then the company.
    let requests = assert_saw(
        &app,
        P,
        &[("GET", "/account.json"), ("GET", "/projects/api/v3/companies/999.json")],
    );
    assert_eq!(requests[0].header("authorization"), Some(basic().as_str()));
    assert_eq!(requests[1].header("authorization"), Some(basic().as_str()));
}

#[tokio::test]
async fn a_client_company_has_no_site_plan() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("1001"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex Client Services");
    assert!(r.body.get("pricing_plan").is_none(), "{}", r.text);
}

#[tokio::test]
async fn update_patches_the_wrapped_company() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("1001"), ""),
            Some(json!({"name": "Globex CS"})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex CS");
    let sent = last_request(&app, P);
    assert_request(&sent, "PATCH", "/projects/api/v3/companies/1001.json");
    assert_eq!(sent.json.unwrap(), json!({"company": {"name": "Globex CS"}}));
}

#[tokio::test]
async fn a_missing_company_is_a_404_in_teamwork_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&app.orgs_path(&account, Some("5"), "")).await;

    let msg = assert_error(&r, 404);
    assert!(msg.contains("Company 5 not found"), "{msg}");
    assert_eq!(r.body["raw_response"]["errors"][0]["detail"], "Company 5 not found");
}

#[tokio::test]
async fn list_walks_pages_until_has_more_is_false() {
    let (app, account) = app_with_account(P).await;
    for i in 0..3 {
        app.emulator(P)
            .insert_record("companies", json!({"id": 2000 + i, "name": format!("Client {i}")}));
    }

    let (ids, pages) = walk_list(&app, &account, 2).await;

    assert_eq!(ids, ["999", "1001", "2000", "2001", "2002"]);
    assert_eq!(pages, 3);
    assert!(last_request(&app, P).query.contains("page=3"));
}

/// Teamwork people: get and list through API v3 (`page`/`pageSize`, `meta.page.hasMore`),
/// create, update and delete through API v1 (`{"person": {...}}` with kebab-case keys).
mod users {
    use reqwest::Method;
    use serde_json::json;

    use super::{basic, P};
    use crate::common::{delete_user, get_user, last_with_method, request_lines, unified, walk_users, write_user};
    use crate::helpers::{app_with_account, assert_request, assert_saw, last_request};

    #[tokio::test]
    async fn get_maps_the_v3_person() {
        let (app, account) = app_with_account(P).await;

        let user = get_user(&app, &account, "238045").await;

        assert_eq!(
            unified(&user),
            json!({
                "id": "238045", "first_name": "Aoife", "last_name": "Murphy", "name": "Aoife Murphy",
                "emails": [{"email": "aoife.murphy@acme.example", "is_primary": true}],
                "title": "Project Director", "status": "active", "user_type": "account",
                "organizations": [{"id": "999"}], "identifiers": {"is_admin": true},
                "created_at": "2016-03-02T10:15:00Z", "updated_at": "2024-05-14T09:30:12Z"
            })
        );
        assert!(user["remote_data"].get("first-name").is_none(), "{user}");
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", "/projects/api/v3/people/238045.json");
        assert_eq!(sent.header("authorization"), Some(basic().as_str()));
    }

    #[tokio::test]
    async fn list_walks_pages_and_maps_deleted_people_and_their_types() {
        let (app, account) = app_with_account(P).await;

        let (users, pages) = walk_users(&app, &account, 2).await;

        assert_eq!(pages, 3);
        let rows: Vec<(&str, &str, &str)> = users
            .iter()
            .map(|u| {
                (
                    u["id"].as_str().unwrap(),
                    u["status"].as_str().unwrap(),
                    u["user_type"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("238045", "active", "account"),
                ("238046", "active", "account"),
                ("238101", "deleted", "account"),
                ("240510", "active", "collaborator"),
                ("240611", "active", "contact"),
            ]
        );
        assert!(
            users[4].get("title").is_none(),
            "an empty title is left out: {}",
            users[4]
        );
        assert_eq!(users[3]["organizations"], json!([{"id": "1001"}]));
        assert_eq!(
            request_lines(&app, P),
            [
                "GET /projects/api/v3/people.json?pageSize=2&page=1",
                "GET /projects/api/v3/people.json?pageSize=2&page=2",
                "GET /projects/api/v3/people.json?pageSize=2&page=3",
            ]
        );
        for sent in app.emulator(P).requests() {
            assert_eq!(sent.header("authorization"), Some(basic().as_str()));
        }
    }

    #[tokio::test]
    async fn create_posts_a_v1_person_and_answers_the_new_id() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"first_name": "Niamh", "last_name": "Kelly", "title": "QA Engineer",
                   "emails": [{"email": "niamh.kelly@acme.example", "is_primary": true}]}),
        )
        .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", "/people.json");
        assert_eq!(sent.header("authorization"), Some(basic().as_str()));
        assert_eq!(
            sent.json.unwrap(),
            json!({"person": {"first-name": "Niamh", "last-name": "Kelly",
                              "email-address": "niamh.kelly@acme.example", "title": "QA Engineer"}})
        );
        assert_eq!(unified(&r.body), json!({"id": "240612"}));
        assert_eq!(r.body["remote_data"]["STATUS"], "OK");
        let created = get_user(&app, &account, "240612").await;
        assert_eq!(
            (&created["name"], &created["emails"], &created["status"]),
            (
                &json!("Niamh Kelly"),
                &json!([{"email": "niamh.kelly@acme.example", "is_primary": true}]),
                &json!("active")
            )
        );
    }

    #[tokio::test]
    async fn a_person_without_a_last_name_is_teamworks_error() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::POST,
            &account,
            None,
            json!({"first_name": "Niamh", "emails": [{"email": "niamh.kelly@acme.example"}]}),
        )
        .await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(
            r.body["raw_response"],
            json!({"errors": [{"title": "Bad Request", "detail": "Invalid value for last-name", "id": ""}]})
        );
    }

    #[tokio::test]
    async fn update_puts_the_v1_person_and_reads_it_back() {
        let (app, account) = app_with_account(P).await;

        let r = write_user(
            &app,
            Method::PATCH,
            &account,
            Some("238046"),
            json!({"last_name": "Walsh-Brennan", "title": "Lead Designer"}),
        )
        .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = assert_saw(
            &app,
            P,
            &[
                ("PUT", "/people/238046.json"),
                ("GET", "/projects/api/v3/people/238046.json"),
            ],
        );
        assert_eq!(sent[0].header("authorization"), Some(basic().as_str()));
        assert_eq!(
            sent[0].json.clone().unwrap(),
            json!({"person": {"last-name": "Walsh-Brennan", "title": "Lead Designer"}})
        );
        assert_eq!(
            (&r.body["first_name"], &r.body["name"], &r.body["title"]),
            (&json!("Conor"), &json!("Conor Walsh-Brennan"), &json!("Lead Designer"))
        );
        assert_eq!(r.body["created_at"], "2018-09-11T08:00:00Z");
        assert_ne!(r.body["updated_at"], "2024-02-27T16:45:03Z");
    }

    #[tokio::test]
    async fn delete_removes_the_person() {
        let (app, account) = app_with_account(P).await;

        let r = delete_user(&app, &account, "240611").await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"id": "240611", "remote_data": {"STATUS": "OK"}}));
        let sent = last_request(&app, P);
        assert_request(&sent, "DELETE", "/people/240611.json");
        assert_eq!(sent.header("authorization"), Some(basic().as_str()));
        assert!(app.emulator(P).record("people", "240611").is_none());
    }
}

#[tokio::test]
async fn me_is_the_api_keys_person() {
    let (app, account) = app_with_account(P).await;

    let me = me(&app, &account, "").await;

    assert_eq!(
        unified(&me),
        json!({"id": "238112", "name": "Dana Owner", "email": "dana.owner@acme-digital.example",
               "organization": {"id": "999"}})
    );
    let sent = last_request(&app, P);
    assert_request(&sent, "GET", "/projects/api/v3/me.json");
    assert_eq!(sent.header("authorization"), Some(basic().as_str()));
}

#[tokio::test]
async fn teams_are_groups_over_x_pages() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let (teams, pages) = walk_records(&app, &directory_path("groups", &account, None, ""), 2).await;

    assert_eq!(ids(&teams), ["101", "102", "103"]);
    assert_eq!(pages, 2);
    assert_eq!(
        unified(&teams[0]),
        json!({"id": "101", "name": "Design", "description": "Product and brand design", "organization": "999",
               "group_type": "team", "created_at": "2021-03-04T10:00:00Z", "updated_at": "2024-01-12T08:15:00Z"})
    );
    assert_eq!(
        request_lines(&app, P),
        ["GET /teams.json?pageSize=2&page=1", "GET /teams.json?pageSize=2&page=2"]
    );
}

#[tokio::test]
async fn a_team_is_created_renamed_and_deleted_with_api_v1() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::POST,
            &directory_path("groups", &account, None, ""),
            Some(json!({"name": "Support", "description": "First line"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sent = last_request(&app, P);
    assert_request(&sent, "POST", "/teams.json");
    assert_eq!(
        sent.json.unwrap(),
        json!({"team": {"name": "Support", "description": "First line"}})
    );
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        unified(&r.body),
        json!({"id": id, "name": "Support", "description": "First line", "group_type": "team"})
    );

    let r = app
        .send(
            Method::PATCH,
            &directory_path("groups", &account, Some(&id), ""),
            Some(json!({"name": "Customer Support"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_saw(
        &app,
        P,
        &[
            ("POST", "/teams.json"),
            ("PUT", &format!("/teams/{id}.json")),
            ("GET", &format!("/teams/{id}.json")),
        ],
    );
    assert_eq!(r.body["name"], "Customer Support", "read back: {}", r.text);
    assert_eq!(r.body["description"], "First line");

    let r = app
        .send(Method::DELETE, &directory_path("groups", &account, Some(&id), ""), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_request(&last_request(&app, P), "DELETE", &format!("/teams/{id}.json"));
    assert!(app.emulator(P).record("teams", &id).is_none());
}

#[tokio::test]
async fn an_unknown_team_is_teamworks_error() {
    let (app, account) = app_with_account(P).await;

    let r = app.get(&directory_path("groups", &account, Some("998"), "")).await;

    assert_error(&r, 404);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    assert_eq!(r.body["raw_response"]["errors"][0]["title"], "Not Found", "{}", r.text);
}

#[tokio::test]
async fn add_user_writes_the_teams_members_with_the_new_person() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = crate::common::change_membership(&app, "add-user", &account, "", "102", "238101").await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(unified(&r.body), json!({"group_id": "102", "user_id": "238101"}));
    let sent = assert_saw(&app, P, &[("GET", "/teams/102.json"), ("PUT", "/teams/102.json")]);
    assert!(sent.iter().all(|q| q.header("authorization") == Some(basic().as_str())));
    assert_eq!(
        sent[1].json.clone().unwrap(),
        json!({"team": {"userIds": "240510,238101"}})
    );
    assert_eq!(
        app.emulator(P).record("teams", "102").unwrap()["members"],
        json!([{"id": "240510", "type": "users"}, {"id": 238101, "type": "users"}])
    );
}

#[tokio::test]
async fn adding_an_unknown_person_is_teamworks_404_and_remove_user_is_not_offered() {
    let (app, account) = app_with_account(P).await;

    let unknown = crate::common::change_membership(&app, "add-user", &account, "", "102", "1").await;
    app.emulator(P).clear_requests();
    let remove = crate::common::change_membership(&app, "remove-user", &account, "", "102", "240510").await;

    assert_error(&unknown, 404);
    assert_eq!(unknown.body["truto_is_remote_error"], true, "{}", unknown.text);
    assert_eq!(remove.status, 405, "{}", remove.text);
    assert!(request_lines(&app, P).is_empty());
    assert_eq!(
        app.emulator(P).record("teams", "102").unwrap()["members"],
        json!([{"id": "240510", "type": "users"}])
    );
}

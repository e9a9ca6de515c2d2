//! MongoDB Atlas Admin API v2.

use reqwest::Method;
use serde_json::json;

use crate::common::unified;
use crate::helpers::{app_with_account, assert_error, assert_request, last_request, spawn_app, walk_list};

const P: &str = "mongodb-atlas";

const PUBLIC_KEY: &str = "sbxqkvne";
const PRIVATE_KEY: &str = "7c1f0b5e-2d4a-4e39-9b8c-5a6d7e8f9a0b";

/// Asserts that `requests` is one Digest handshake: a bare probe, then the same request
/// with an `Authorization: Digest` answer that verifies with the private key.
fn assert_digest_handshake(requests: &[unigate_emulator::RecordedRequest], method: &str, uri: &str) {
    assert_eq!(requests.len(), 2, "a probe and the answered request");
    let (probe, answered) = (&requests[0], &requests[1]);
    assert_eq!(probe.header("authorization"), None);
    for r in requests {
        assert_eq!(r.method, method);
        assert_eq!(r.header("accept"), Some("application/vnd.atlas.2023-01-01+json"));
        let target = if r.query.is_empty() {
            r.path.clone()
        } else {
            format!("{}?{}", r.path, r.query)
        };
        assert_eq!(target, uri);
    }
    let header = answered.header("authorization").unwrap();
    let sent = digest_auth::AuthorizationHeader::parse(header.strip_prefix("Digest ").unwrap()).unwrap();
    assert_eq!(sent.username, PUBLIC_KEY);
    assert_eq!(sent.realm, "MMS Public API");
    assert_eq!(sent.uri, uri);
    assert_eq!(sent.qop, Some(digest_auth::Qop::AUTH));
    assert_eq!(sent.algorithm.algo, digest_auth::AlgorithmType::MD5);
    let mut recomputed = sent.clone();
    recomputed.digest(&digest_auth::AuthContext::new_with_method(
        PUBLIC_KEY,
        PRIVATE_KEY,
        uri,
        Option::<&[u8]>::None,
        digest_auth::HttpMethod(method.to_string().into()),
    ));
    assert_eq!(recomputed.response, sent.response, "the answer proves the private key");
    assert!(!header.contains(PRIVATE_KEY));
}

#[tokio::test]
async fn get_answers_atlas_digest_challenge_with_the_api_key() {
    let (app, account) = app_with_account(P).await;
    app.emulator(P).clear_requests();

    let r = app
        .get(&app.orgs_path(&account, Some("5f4d3c2b1a0e9d8c7b6a5f4e"), ""))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        unified(&r.body),
        json!({"id": "5f4d3c2b1a0e9d8c7b6a5f4e", "name": "Acme-Data-Platform", "created_at": "2020-08-31T18:06:35Z"})
    );
    assert_eq!(r.body["remote_data"]["isDeleted"], false);
    assert_digest_handshake(
        &app.emulator(P).requests(),
        "GET",
        "/api/atlas/v2/orgs/5f4d3c2b1a0e9d8c7b6a5f4e",
    );
}

#[tokio::test]
async fn a_wrong_private_key_is_atlas_401_after_one_answered_challenge() {
    let app = spawn_app().await;
    let account = app
        .connect_with(
            P,
            json!({"public_key": PUBLIC_KEY, "private_key": "00000000-0000-0000-0000-000000000000"}),
        )
        .await;
    app.emulator(P).clear_requests();

    let r = app
        .get(&app.orgs_path(&account, Some("5f4d3c2b1a0e9d8c7b6a5f4e"), ""))
        .await;

    assert_error(&r, 401);
    assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
    assert_eq!(
        r.body["raw_response"],
        json!({"detail": "You are not authorized for this resource.", "error": 401,
               "errorCode": "NOT_ORG_GROUP_CREATOR", "parameters": [], "reason": "Unauthorized"})
    );
    let sent = app.emulator(P).requests();
    assert_eq!(sent.len(), 2, "the challenge is answered once, not retried");
    assert!(sent[1].header("authorization").unwrap().starts_with("Digest "));
}

#[tokio::test]
async fn the_emulator_challenges_like_atlas() {
    let app = spawn_app().await;

    let r = reqwest::Client::new()
        .get(format!("{}/api/atlas/v2/orgs", app.emulator(P).base_url()))
        .header("accept", "application/vnd.atlas.2023-01-01+json")
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_string();
    let parsed = digest_auth::parse(&challenge).unwrap();
    assert_eq!(parsed.realm, "MMS Public API");
    assert_eq!(parsed.qop, Some(vec![digest_auth::Qop::AUTH]));
    assert_eq!(parsed.algorithm.algo, digest_auth::AlgorithmType::MD5);
    assert!(!parsed.stale);
    assert!(!parsed.nonce.is_empty());
}

#[tokio::test]
async fn update_patches_the_name_and_remote_data() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("5e2211c17a3e5a48f5497de3"), ""),
            Some(json!({"name": "Globex-Data", "remote_data": {"skipDefaultAlertsSettings": false}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Globex-Data");
    let patches: Vec<_> = app
        .emulator(P)
        .requests()
        .into_iter()
        .filter(|q| q.method == "PATCH")
        .collect();
    assert_digest_handshake(&patches, "PATCH", "/api/atlas/v2/orgs/5e2211c17a3e5a48f5497de3");
    assert_eq!(patches[0].json, patches[1].json, "the probe carries the same body");
    let sent = last_request(&app, P);
    assert_request(&sent, "PATCH", "/api/atlas/v2/orgs/5e2211c17a3e5a48f5497de3");
    assert_eq!(
        sent.json.unwrap(),
        json!({"name": "Globex-Data", "skipDefaultAlertsSettings": false})
    );
}

#[tokio::test]
async fn an_invalid_name_is_refused_in_atlas_error_shape() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("5e2211c17a3e5a48f5497de3"), ""),
            Some(json!({"name": "no/slashes allowed"})),
        )
        .await;

    assert_error(&r, 400);
    assert_eq!(r.body["raw_response"]["errorCode"], "INVALID_ATTRIBUTE");
    assert_eq!(r.body["raw_response"]["error"], 400);
}

#[tokio::test]
async fn a_missing_org_is_a_404_with_atlas_error_body() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .get(&app.orgs_path(&account, Some("000000000000000000000000"), ""))
        .await;

    assert_error(&r, 404);
    assert_eq!(
        r.body["raw_response"],
        json!({"detail": "Organization 000000000000000000000000 not found.", "error": 404,
               "errorCode": "ORG_NOT_FOUND", "parameters": ["000000000000000000000000"], "reason": "Not Found"})
    );
}

#[tokio::test]
async fn delete_removes_the_org() {
    let (app, account) = app_with_account(P).await;

    let r = app
        .send(
            Method::DELETE,
            &app.orgs_path(&account, Some("6512a3c4e1b2f3a4b5c6d7e8"), ""),
            None,
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "6512a3c4e1b2f3a4b5c6d7e8");
    assert_eq!(last_request(&app, P).method, "DELETE");
    assert!(app.emulator(P).record("orgs", "6512a3c4e1b2f3a4b5c6d7e8").is_none());
}

#[tokio::test]
async fn list_walks_page_num_pages() {
    let (app, account) = app_with_account(P).await;
    for i in 0..4 {
        app.emulator(P).insert_record(
            "orgs",
            json!({"id": format!("66000000000000000000000{i}"), "name": format!("Extra-{i}")}),
        );
    }

    let (ids, pages) = walk_list(&app, &account, 3).await;

    assert_eq!(ids.len(), 7, "{ids:?}");
    assert_eq!(ids[0], "5f4d3c2b1a0e9d8c7b6a5f4e");
    assert_eq!(ids[6], "660000000000000000000003");
    assert_eq!(pages, 3);
    let last = last_request(&app, P);
    assert!(last.query.contains("pageNum=3"), "{}", last.query);
    assert!(last
        .header("authorization")
        .unwrap()
        .contains(&format!("uri=\"/api/atlas/v2/orgs?{}\"", last.query)));
}

/// Organization users (2025-02-19 media type): get, list over `pageNum` pages with the
/// `email` and `status` filters applied by Atlas, invitation, role change, removal, each
/// scoped by `organization_id`; every call a Digest handshake.
mod users {
    use reqwest::Method;
    use serde_json::json;

    use super::P;
    use crate::common::{assert_remote_error, last_with_method, unified, users_path};
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const ORG_ID: &str = "5f4d3c2b1a0e9d8c7b6a5f4e";
    const ORG: &str = "&organization_id=5f4d3c2b1a0e9d8c7b6a5f4e";
    const MEDIA: &str = "application/vnd.atlas.2025-02-19+json";

    /// The answered (second) request of each handshake, as `METHOD path?query`.
    pub(super) fn answered_lines(app: &crate::helpers::TestApp) -> Vec<String> {
        app.emulator(P)
            .requests()
            .iter()
            .filter(|r| r.header("authorization").is_some())
            .map(|r| {
                if r.query.is_empty() {
                    format!("{} {}", r.method, r.path)
                } else {
                    format!("{} {}?{}", r.method, r.path, r.query)
                }
            })
            .collect()
    }

    #[tokio::test]
    async fn get_maps_the_org_user() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, Some("5b7e2a1f9c3d4e5f6a7b8c90"), ORG))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "5b7e2a1f9c3d4e5f6a7b8c90", "username": "ana.costa@acme-data.example",
                "first_name": "Ana", "last_name": "Costa", "name": "Ana Costa",
                "emails": [{"email": "ana.costa@acme-data.example", "is_primary": true}],
                "phones": [{"number": "+351912345678", "type": "mobile"}],
                "status": "active", "user_type": "admin",
                "roles": [
                    {"id": "ORG_OWNER", "name": "ORG_OWNER", "organization": ORG_ID},
                    {"id": "GROUP_OWNER", "name": "GROUP_OWNER", "organization": ORG_ID, "workspace": "60d1a2b3c4d5e6f7a8b9c0d1"}
                ],
                "groups": [{"id": "61a0b1c2d3e4f5a6b7c8d9e0", "organization": ORG_ID}],
                "organizations": [{"id": ORG_ID}],
                "last_login_at": "2024-06-01T08:15:00Z",
                "created_at": "2018-05-02T10:20:30Z"
            })
        );
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "GET",
            &format!("/api/atlas/v2/orgs/{ORG_ID}/users/5b7e2a1f9c3d4e5f6a7b8c90"),
        );
        assert_eq!(sent.header("accept"), Some(MEDIA));
        // The users resource's `Accept` replaces the integration's, not beside it.
        assert_eq!(sent.headers.iter().filter(|(n, _)| n == "accept").count(), 1);
        assert!(sent.header("authorization").unwrap().starts_with("Digest "));
    }

    #[tokio::test]
    async fn a_pending_user_is_invited() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&users_path(&account, Some("5e0b5d4c2f6a7b8c9d0e1f23"), ORG))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "5e0b5d4c2f6a7b8c9d0e1f23", "username": "dev.intern@acme-data.example",
                "emails": [{"email": "dev.intern@acme-data.example", "is_primary": true}],
                "status": "invited", "user_type": "user",
                "roles": [{"id": "ORG_READ_ONLY", "name": "ORG_READ_ONLY", "organization": ORG_ID}],
                "organizations": [{"id": ORG_ID}],
                "created_at": "2024-05-30T11:00:00Z"
            })
        );
    }

    #[tokio::test]
    async fn list_walks_page_num_pages() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (users, pages) = walk_records(&app, &users_path(&account, None, ORG), 2).await;

        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "5b7e2a1f9c3d4e5f6a7b8c90",
                "5c8f3b2a0d4e5f6a7b8c9d01",
                "5d9a4c3b1e5f6a7b8c9d0e12",
                "5e0b5d4c2f6a7b8c9d0e1f23",
                "5f1c6e5d3a7b8c9d0e1f2a34"
            ]
        );
        assert_eq!(users[2]["name"], "Chloé Martin");
        assert_eq!(pages, 3);
        assert_eq!(
            answered_lines(&app),
            [
                format!("GET /api/atlas/v2/orgs/{ORG_ID}/users?itemsPerPage=2&pageNum=1"),
                format!("GET /api/atlas/v2/orgs/{ORG_ID}/users?itemsPerPage=2&pageNum=2"),
                format!("GET /api/atlas/v2/orgs/{ORG_ID}/users?itemsPerPage=2&pageNum=3")
            ]
        );
    }

    #[tokio::test]
    async fn email_and_status_filters_are_sent_to_atlas() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .get(&users_path(
                &account,
                None,
                &format!("{ORG}&email=ben.oyelaran@acme-data.example&status=active"),
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let ids: Vec<&str> = r.body["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["5c8f3b2a0d4e5f6a7b8c9d01"]);
        let sent = last_request(&app, P);
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(sent.query.as_bytes())
            .into_owned()
            .collect();
        assert!(
            pairs.contains(&("username".into(), "ben.oyelaran@acme-data.example".into())),
            "{pairs:?}"
        );
        assert!(
            pairs.contains(&("orgMembershipStatuses".into(), "ACTIVE".into())),
            "{pairs:?}"
        );
    }

    #[tokio::test]
    async fn a_status_no_atlas_user_has_is_not_sent_and_gives_nothing() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .get(&users_path(&account, None, &format!("{ORG}&status=inactive")))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["result"], json!([]));
        let sent = last_request(&app, P);
        assert!(!sent.query.contains("orgMembershipStatuses"), "{}", sent.query);
    }

    #[tokio::test]
    async fn a_list_without_organization_id_is_a_400_naming_it() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app.get(&users_path(&account, None, "")).await;

        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains("organization_id"), "{}", r.text);
        assert!(app.emulator(P).requests().is_empty());
    }

    #[tokio::test]
    async fn create_invites_with_org_roles() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(
                    json!({"emails": [{"email": "fatou.diallo@acme-data.example", "is_primary": true}],
                            "roles": [{"id": "ORG_GROUP_CREATOR"}]}),
                ),
            )
            .await;

        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_with_method(&app, P, "POST");
        assert_request(&sent, "POST", &format!("/api/atlas/v2/orgs/{ORG_ID}/users"));
        assert_eq!(sent.header("content-type"), Some(MEDIA));
        assert_eq!(
            sent.json.unwrap(),
            json!({"username": "fatou.diallo@acme-data.example", "roles": {"orgRoles": ["ORG_GROUP_CREATOR"]}})
        );
        let id = r.body["remote_data"]["id"].clone();
        assert_eq!(
            unified(&r.body),
            json!({
                "id": id, "username": "fatou.diallo@acme-data.example",
                "emails": [{"email": "fatou.diallo@acme-data.example", "is_primary": true}],
                "status": "invited", "user_type": "user",
                "roles": [{"id": "ORG_GROUP_CREATOR", "name": "ORG_GROUP_CREATOR", "organization": ORG_ID}],
                "organizations": [{"id": ORG_ID}],
                "created_at": r.body["remote_data"]["invitationCreatedAt"]
            })
        );
    }

    #[tokio::test]
    async fn an_invalid_username_is_atlas_invalid_attribute() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &users_path(&account, None, ORG),
                Some(json!({"emails": [{"email": "not-an-email"}]})),
            )
            .await;

        assert_remote_error(
            &r,
            400,
            &json!({"detail": "Invalid attribute username specified.", "error": 400, "errorCode": "INVALID_ATTRIBUTE",
                    "parameters": ["username"], "reason": "Bad Request"}),
        );
    }

    #[tokio::test]
    async fn update_replaces_the_org_roles() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::PATCH,
                &users_path(&account, Some("5f1c6e5d3a7b8c9d0e1f2a34"), ORG),
                Some(json!({"roles": [{"id": "ORG_OWNER"}]})),
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_with_method(&app, P, "PATCH");
        assert_request(
            &sent,
            "PATCH",
            &format!("/api/atlas/v2/orgs/{ORG_ID}/users/5f1c6e5d3a7b8c9d0e1f2a34"),
        );
        assert_eq!(sent.header("content-type"), Some(MEDIA));
        assert_eq!(sent.json.unwrap(), json!({"roles": {"orgRoles": ["ORG_OWNER"]}}));
        assert_eq!(
            (&r.body["user_type"], &r.body["roles"]),
            (
                &json!("admin"),
                &json!([{"id": "ORG_OWNER", "name": "ORG_OWNER", "organization": ORG_ID}])
            )
        );
    }

    #[tokio::test]
    async fn delete_removes_the_user_from_the_organization() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::DELETE,
                &users_path(&account, Some("5e0b5d4c2f6a7b8c9d0e1f23"), ORG),
                None,
            )
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "DELETE",
            &format!("/api/atlas/v2/orgs/{ORG_ID}/users/5e0b5d4c2f6a7b8c9d0e1f23"),
        );
        assert!(app.emulator(P).record("users", "5e0b5d4c2f6a7b8c9d0e1f23").is_none());
    }
}

/// Teams as groups (each scoped by `organization_id`), team membership (`:addUser`,
/// `:removeUser`), projects as workspaces and organization events as activities; every
/// call a Digest handshake.
mod directory {
    use reqwest::Method;
    use serde_json::json;

    use super::users::answered_lines;
    use super::P;
    use crate::common::{change_membership, directory_path, group_members, ids, unified};
    use crate::helpers::{app_with_account, assert_request, last_request, walk_records};

    const ORG_ID: &str = "5f4d3c2b1a0e9d8c7b6a5f4e";
    const ORG: &str = "&organization_id=5f4d3c2b1a0e9d8c7b6a5f4e";
    const V2023: &str = "application/vnd.atlas.2023-01-01+json";
    const V2025: &str = "application/vnd.atlas.2025-02-19+json";
    const ANALYSTS: &str = "619f0a1b2c3d4e5f6a7b8c9d";
    const ADMINS: &str = "61a0b1c2d3e4f5a6b7c8d9e0";
    const ONCALL: &str = "61a1c2d3e4f5a6b7c8d9e0f1";
    const ANA: &str = "5b7e2a1f9c3d4e5f6a7b8c90";
    const BEN: &str = "5c8f3b2a0d4e5f6a7b8c9d01";
    const ERIK: &str = "5f1c6e5d3a7b8c9d0e1f2a34";

    #[tokio::test]
    async fn a_team_is_a_group_of_the_organization() {
        let (app, account) = app_with_account(P).await;

        let r = app.get(&directory_path("groups", &account, Some(ADMINS), ORG)).await;

        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": ADMINS, "name": "Data-Platform-Admins", "organization": ORG_ID, "group_type": "team"})
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/api/atlas/v2/orgs/{ORG_ID}/teams/{ADMINS}"));
        assert_eq!(sent.header("accept"), Some(V2023));
        assert!(sent.header("authorization").unwrap().starts_with("Digest "));
    }

    #[tokio::test]
    async fn the_teams_list_walks_page_num_pages() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (teams, pages) = walk_records(&app, &directory_path("groups", &account, None, ORG), 2).await;

        assert_eq!(
            ids(&teams),
            [ANALYSTS, ADMINS, ONCALL],
            "this organization's teams only"
        );
        assert_eq!(pages, 2);
        assert_eq!(
            answered_lines(&app),
            [
                format!("GET /api/atlas/v2/orgs/{ORG_ID}/teams?itemsPerPage=2&pageNum=1"),
                format!("GET /api/atlas/v2/orgs/{ORG_ID}/teams?itemsPerPage=2&pageNum=2")
            ]
        );
    }

    #[tokio::test]
    async fn team_writes_post_patch_and_delete() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("groups", &account, None, ORG),
                Some(json!({"name": "Schema-Reviewers"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "POST", &format!("/api/atlas/v2/orgs/{ORG_ID}/teams"));
        assert_eq!(sent.header("content-type"), Some(V2023));
        assert_eq!(sent.json.unwrap(), json!({"name": "Schema-Reviewers", "usernames": []}));
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(id.len(), 24, "{id}");
        assert_eq!(
            unified(&r.body),
            json!({"id": id, "name": "Schema-Reviewers", "organization": ORG_ID, "group_type": "team"})
        );

        let r = app
            .send(
                Method::PATCH,
                &directory_path("groups", &account, Some(&id), ORG),
                Some(json!({"name": "Schema-Council"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(&sent, "PATCH", &format!("/api/atlas/v2/orgs/{ORG_ID}/teams/{id}"));
        assert_eq!(sent.header("content-type"), Some(V2023));
        assert_eq!(sent.json.unwrap(), json!({"name": "Schema-Council"}));
        assert_eq!(r.body["name"], "Schema-Council");

        let r = app
            .send(
                Method::DELETE,
                &directory_path("groups", &account, Some(&id), ORG),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_request(
            &last_request(&app, P),
            "DELETE",
            &format!("/api/atlas/v2/orgs/{ORG_ID}/teams/{id}"),
        );
        assert!(app.emulator(P).record("teams", &id).is_none());
    }

    #[tokio::test]
    async fn an_unknown_team_is_atlas_404() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path(
                "groups",
                &account,
                Some("000000000000000000000000"),
                ORG,
            ))
            .await;

        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(r.body["raw_response"]["error"], 404, "{}", r.text);
        assert_eq!(r.body["raw_response"]["reason"], "Not Found", "{}", r.text);
    }

    #[tokio::test]
    async fn add_user_and_remove_user_change_the_team_members_list() {
        let (app, account) = app_with_account(P).await;

        let before = group_members(&app, &account, ADMINS, ORG).await;
        assert_eq!(ids(&before), [ANA, ERIK]);
        assert_eq!(
            unified(&before[1]),
            json!({
                "id": ERIK, "username": "erik.lund@acme-data.example",
                "first_name": "Erik", "last_name": "Lund", "name": "Erik Lund",
                "emails": [{"email": "erik.lund@acme-data.example", "is_primary": true}],
                "status": "active", "user_type": "user",
                "roles": [{"id": "ORG_MEMBER", "name": "ORG_MEMBER", "organization": ORG_ID}],
                "groups": [{"id": ADMINS, "organization": ORG_ID}],
                "organizations": [{"id": ORG_ID}],
                "last_login_at": "2024-06-02T06:00:00Z",
                "created_at": "2022-09-19T07:30:00Z"
            })
        );
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "GET",
            &format!("/api/atlas/v2/orgs/{ORG_ID}/teams/{ADMINS}/users"),
        );
        assert_eq!(sent.header("accept"), Some(V2025));

        let r = change_membership(&app, "add-user", &account, ORG, ADMINS, BEN).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(unified(&r.body), json!({"group_id": ADMINS, "user_id": BEN}));
        assert_eq!(r.body["remote_data"]["username"], "ben.oyelaran@acme-data.example");
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "POST",
            &format!("/api/atlas/v2/orgs/{ORG_ID}/teams/{ADMINS}:addUser"),
        );
        assert_eq!(
            (sent.header("accept"), sent.header("content-type")),
            (Some(V2025), Some(V2025))
        );
        assert_eq!(sent.json.unwrap(), json!({"id": BEN}));
        assert_eq!(ids(&group_members(&app, &account, ADMINS, ORG).await), [ANA, ERIK, BEN]);

        let r = change_membership(&app, "remove-user", &account, ORG, ADMINS, ANA).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(unified(&r.body), json!({"group_id": ADMINS, "user_id": ANA}));
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "POST",
            &format!("/api/atlas/v2/orgs/{ORG_ID}/teams/{ADMINS}:removeUser"),
        );
        assert_eq!(sent.json.unwrap(), json!({"id": ANA}));
        assert_eq!(ids(&group_members(&app, &account, ADMINS, ORG).await), [ERIK, BEN]);
        // Still a user of the organization.
        assert!(app.emulator(P).record("users", ANA).is_some());
    }

    #[tokio::test]
    async fn adding_an_unknown_user_is_atlas_404() {
        let (app, account) = app_with_account(P).await;

        let r = change_membership(&app, "add-user", &account, ORG, ADMINS, "000000000000000000000000").await;

        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
        assert_eq!(
            r.body["raw_response"]["parameters"],
            json!(["000000000000000000000000"])
        );
    }

    #[tokio::test]
    async fn projects_are_workspaces_of_the_key_or_of_one_organization() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let (all, pages) = walk_records(&app, &directory_path("workspaces", &account, None, ""), 3).await;
        assert_eq!(
            ids(&all),
            [
                "60d1a2b3c4d5e6f7a8b9c0d1",
                "60d2b3c4d5e6f7a8b9c0d1e2",
                "60d3c4d5e6f7a8b9c0d1e2f3",
                "60e4d5e6f7a8b9c0d1e2f3a4"
            ]
        );
        assert_eq!(pages, 2);
        assert_eq!(
            answered_lines(&app),
            [
                "GET /api/atlas/v2/groups?itemsPerPage=3&pageNum=1",
                "GET /api/atlas/v2/groups?itemsPerPage=3&pageNum=2"
            ]
        );

        let r = app.get(&directory_path("workspaces", &account, None, ORG)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let in_org = r.body["result"].as_array().unwrap();
        assert_eq!(in_org.len(), 3, "{}", r.text);
        assert_request(
            &last_request(&app, P),
            "GET",
            &format!("/api/atlas/v2/orgs/{ORG_ID}/groups"),
        );

        let r = app
            .get(&directory_path(
                "workspaces",
                &account,
                Some("60d1a2b3c4d5e6f7a8b9c0d1"),
                "",
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({
                "id": "60d1a2b3c4d5e6f7a8b9c0d1", "name": "Production",
                "organization": {"id": ORG_ID}, "created_at": "2021-06-22T09:00:00Z"
            })
        );
        assert_eq!(r.body["remote_data"]["clusterCount"], 4);
        assert_request(
            &last_request(&app, P),
            "GET",
            "/api/atlas/v2/groups/60d1a2b3c4d5e6f7a8b9c0d1",
        );
    }

    #[tokio::test]
    async fn activities_send_min_and_max_date_and_map_the_events() {
        let (app, account) = app_with_account(P).await;
        app.emulator(P).clear_requests();

        let r = app
            .get(&directory_path(
                "activities",
                &account,
                None,
                &format!("{ORG}&created_at[gte]=2024-06-01T00:00:00Z&created_at[lt]=2024-06-05T00:00:00Z"),
            ))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let events = r.body["result"].as_array().unwrap();
        assert_eq!(
            ids(events),
            ["665f9e8d7c6b5a4f3e2d1c0b", "665e1a2b3c4d5e6f7a8b9c0d"],
            "Unigate keeps the bounds Atlas was sent"
        );
        assert_eq!(
            unified(&events[0]),
            json!({
                "id": "665f9e8d7c6b5a4f3e2d1c0b",
                "actor": {"id": ANA, "email": "ana.costa@acme-data.example", "type": "user"},
                "organization": {"id": ORG_ID},
                "action": "INVITED_TO_ORG",
                "entity": {"name": "dev.intern@acme-data.example"},
                "entity_type": "user",
                "context": {"ip_address": "198.51.100.23"},
                "created_at": "2024-06-04T08:01:00Z"
            })
        );
        assert_eq!(
            unified(&events[1]),
            json!({
                "id": "665e1a2b3c4d5e6f7a8b9c0d",
                "actor": {"id": "6650f0e1d2c3b4a5f6e7d8c9", "name": "sbxqkvne", "type": "api_key"},
                "organization": {"id": ORG_ID},
                "action": "ORG_API_KEY_ADDED",
                "context": {"ip_address": "203.0.113.40"},
                "created_at": "2024-06-03T22:45:31Z"
            })
        );
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/api/atlas/v2/orgs/{ORG_ID}/events"));
        assert_eq!(
            sent.query,
            "minDate=2024-06-01T00%3A00%3A00Z&maxDate=2024-06-05T00%3A00%3A00Z&pageNum=1"
        );
        assert_eq!(sent.header("accept"), Some(V2023));
    }

    #[tokio::test]
    async fn a_team_event_names_its_team_and_the_events_walk_pages() {
        let (app, account) = app_with_account(P).await;

        let (events, pages) = walk_records(&app, &directory_path("activities", &account, None, ORG), 3).await;

        assert_eq!(events.len(), 4, "this organization's events only");
        assert_eq!(pages, 2);
        assert_eq!(
            unified(&events[0]),
            json!({
                "id": "6660a1b2c3d4e5f6a7b8c9d0",
                "actor": {"id": ANA, "email": "ana.costa@acme-data.example", "type": "user"},
                "organization": {"id": ORG_ID},
                "group": {"id": ADMINS},
                "action": "JOINED_TEAM",
                "entity": {"name": "erik.lund@acme-data.example"},
                "entity_type": "user",
                "context": {"ip_address": "198.51.100.23"},
                "created_at": "2024-06-05T14:22:10Z"
            })
        );
        assert_eq!(
            events[3]["context"],
            json!({"ip_address": "192.0.2.10", "project_id": "60d3c4d5e6f7a8b9c0d1e2f3"})
        );
    }

    const CHLOE: &str = "5d9a4c3b1e5f6a7b8c9d0e12";

    fn roles_of(user: &str) -> String {
        format!("{ORG}&user_id={user}")
    }

    #[tokio::test]
    async fn a_users_organization_roles_are_its_role_assignments() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .get(&directory_path("role_assignments", &account, None, &roles_of(CHLOE)))
            .await;

        assert_eq!(r.status, 200, "{}", r.text);
        let records: Vec<_> = r.body["result"].as_array().unwrap().iter().map(unified).collect();
        assert_eq!(
            records,
            [
                json!({"id": "ORG_BILLING_ADMIN", "user_id": CHLOE, "role_id": "ORG_BILLING_ADMIN"}),
                json!({"id": "ORG_MEMBER", "user_id": CHLOE, "role_id": "ORG_MEMBER"})
            ]
        );
        assert_eq!(
            r.body["result"][0]["remote_data"],
            json!({"orgRole": "ORG_BILLING_ADMIN"})
        );
        assert_eq!(r.body["next_cursor"], json!(null), "one user's roles are one answer");
        let sent = last_request(&app, P);
        assert_request(&sent, "GET", &format!("/api/atlas/v2/orgs/{ORG_ID}/users/{CHLOE}"));
        assert_eq!(sent.header("accept"), Some(V2025));
    }

    #[tokio::test]
    async fn role_assignments_need_the_user_and_get_one_role_it_holds() {
        let (app, account) = app_with_account(P).await;

        let missing = app.get(&directory_path("role_assignments", &account, None, ORG)).await;
        let held = app
            .get(&directory_path(
                "role_assignments",
                &account,
                Some("ORG_MEMBER"),
                &roles_of(CHLOE),
            ))
            .await;
        let not_held = app
            .get(&directory_path(
                "role_assignments",
                &account,
                Some("ORG_OWNER"),
                &roles_of(CHLOE),
            ))
            .await;

        assert_eq!(missing.status, 400, "{}", missing.text);
        assert!(missing.text.contains("user_id"), "{}", missing.text);
        assert_eq!(held.status, 200, "{}", held.text);
        assert_eq!(
            unified(&held.body),
            json!({"id": "ORG_MEMBER", "user_id": CHLOE, "role_id": "ORG_MEMBER"})
        );
        assert_eq!(not_held.status, 404, "{}", not_held.text);
    }

    #[tokio::test]
    async fn create_adds_an_org_role_and_delete_removes_one() {
        let (app, account) = app_with_account(P).await;

        let r = app
            .send(
                Method::POST,
                &directory_path("role_assignments", &account, None, ORG),
                Some(json!({"user_id": BEN, "role_id": "ORG_BILLING_READ_ONLY"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            unified(&r.body),
            json!({"id": "ORG_BILLING_READ_ONLY", "user_id": BEN, "role_id": "ORG_BILLING_READ_ONLY"})
        );
        assert_eq!(
            r.body["remote_data"]["roles"]["orgRoles"],
            json!(["ORG_MEMBER", "ORG_BILLING_READ_ONLY"])
        );
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "POST",
            &format!("/api/atlas/v2/orgs/{ORG_ID}/users/{BEN}:addRole"),
        );
        assert_eq!(
            (sent.header("accept"), sent.header("content-type")),
            (Some(V2025), Some(V2025))
        );
        assert_eq!(sent.json.unwrap(), json!({"orgRole": "ORG_BILLING_READ_ONLY"}));

        let r = app
            .send(
                Method::DELETE,
                &directory_path("role_assignments", &account, Some("ORG_MEMBER"), &roles_of(BEN)),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let sent = last_request(&app, P);
        assert_request(
            &sent,
            "POST",
            &format!("/api/atlas/v2/orgs/{ORG_ID}/users/{BEN}:removeRole"),
        );
        assert_eq!(sent.header("content-type"), Some(V2025));
        assert_eq!(sent.json.unwrap(), json!({"orgRole": "ORG_MEMBER"}));
        assert_eq!(
            app.emulator(P).record("users", BEN).unwrap()["roles"]["orgRoles"],
            json!(["ORG_BILLING_READ_ONLY"])
        );
    }

    #[tokio::test]
    async fn an_unknown_role_or_a_users_last_role_is_refused_in_atlas_shape() {
        let (app, account) = app_with_account(P).await;

        let unknown = app
            .send(
                Method::POST,
                &directory_path("role_assignments", &account, None, ORG),
                Some(json!({"user_id": BEN, "role_id": "ORG_EMPEROR"})),
            )
            .await;
        let last = app
            .send(
                Method::DELETE,
                &directory_path("role_assignments", &account, Some("ORG_MEMBER"), &roles_of(BEN)),
                None,
            )
            .await;

        for r in [&unknown, &last] {
            assert_eq!(r.status, 400, "{}", r.text);
            assert_eq!(r.body["truto_is_remote_error"], true, "{}", r.text);
            assert_eq!(r.body["raw_response"]["errorCode"], "INVALID_ATTRIBUTE", "{}", r.text);
        }
        assert_eq!(unknown.body["raw_response"]["parameters"], json!(["orgRole"]));
        assert_eq!(last.body["raw_response"]["parameters"], json!(["roles.orgRoles"]));
        assert_eq!(
            app.emulator(P).record("users", BEN).unwrap()["roles"]["orgRoles"],
            json!(["ORG_MEMBER"])
        );
    }
}

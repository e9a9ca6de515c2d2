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

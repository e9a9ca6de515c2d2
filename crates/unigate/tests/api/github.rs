//! GitHub: every unified method, every query parameter, every response format.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{app_with_account, assert_error, assert_request, spawn_app};

#[tokio::test]
async fn get_maps_a_github_org_to_the_unified_shape() {
    let (app, account) = app_with_account("github").await;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "octo-org");
    assert_eq!(r.body["name"], "Octo Org");
    assert_eq!(r.body["pricing_plan"], "team");
    assert_eq!(r.body["created_at"], "2014-02-28T09:12:45Z");
    assert_eq!(r.body["updated_at"], "2024-05-17T13:20:11Z");
    assert_eq!(r.body["remote_data"]["id"], 6811672);
    assert!(r.body.get("licenses").is_none(), "GitHub has no licenses: {}", r.text);
    let sent = app.emulator("github").requests();
    let last = sent.last().unwrap();
    assert_request(last, "GET", "/orgs/octo-org");
    assert_eq!(last.header("x-github-api-version"), Some("2022-11-28"));
    assert!(last.header("authorization").unwrap().starts_with("Bearer ghp_"));
}

#[tokio::test]
async fn raw_format_returns_the_provider_body_untouched() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .get(&app.orgs_path(&account, Some("octo-org"), "&truto_response_format=raw"))
        .await;

    assert_eq!(r.status, 200);
    assert_eq!(r.body["login"], "octo-org");
    assert_eq!(r.body["plan"]["seats"], 50);
    assert!(r.body.get("remote_data").is_none());
}

#[tokio::test]
async fn remote_data_is_the_provider_body_as_sent_with_the_unified_fields_first() {
    let (app, account) = app_with_account("github").await;
    let raw = app
        .get(&app.orgs_path(&account, Some("octo-org"), "&truto_response_format=raw"))
        .await;

    // Written out from the provider's bytes (not parsed and serialized again): the same
    // JSON, in the provider's key order, after the mapped fields; other exclusions apply.
    let r = app
        .get(&app.orgs_path(&account, Some("octo-org"), "&truto_exclude_fields[]=name"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["remote_data"], raw.body);
    assert!(r.body.get("name").is_none(), "{}", r.text);
    let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
    assert_eq!(keys.first().map(|k| k.as_str()), Some("id"));
    assert_eq!(keys.last().map(|k| k.as_str()), Some("remote_data"));
    let remote_keys: Vec<&String> = r.body["remote_data"].as_object().unwrap().keys().collect();
    let raw_keys: Vec<&String> = raw.body.as_object().unwrap().keys().collect();
    assert_eq!(remote_keys, raw_keys);
    assert!(r.text.ends_with("}}"), "{}", r.text);
}

#[tokio::test]
async fn normalized_format_keeps_only_model_fields() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .get(&app.orgs_path(&account, Some("github"), "&truto_response_format=normalized"))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({"id": "github", "name": "github", "pricing_plan": "Medium",
               "created_at": "2008-01-14T04:33:35Z", "updated_at": "2014-03-03T18:58:10Z"})
    );
}

#[tokio::test]
async fn stream_format_passes_the_provider_body_through() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .get(&app.orgs_path(&account, Some("octo-org"), "&truto_response_format=stream"))
        .await;

    assert_eq!(r.status, 200);
    assert_eq!(r.body["login"], "octo-org");
}

#[tokio::test]
async fn ignore_remote_data_and_exclude_fields_shape_the_answer() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .get(&app.orgs_path(
            &account,
            Some("octo-org"),
            "&truto_ignore_remote_data=true&truto_exclude_fields[]=pricing_plan&truto_exclude_fields[]=created_at",
        ))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("remote_data").is_none());
    assert!(r.body.get("pricing_plan").is_none());
    assert!(r.body.get("created_at").is_none());
    assert_eq!(r.body["name"], "Octo Org");

    let r = app
        .get(&app.orgs_path(
            &account,
            Some("octo-org"),
            "&truto_exclude_fields[]=remote_data.plan.seats",
        ))
        .await;
    assert_eq!(r.body["remote_data"]["plan"]["name"], "team");
    assert!(r.body["remote_data"]["plan"].get("seats").is_none());
}

#[tokio::test]
async fn remote_query_reaches_the_provider_untransformed() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .get(&app.orgs_path(
            &account,
            Some("octo-org"),
            "&remote_query[foo]=bar&remote_query[filter][kind]=a%20b&remote_query[f][0][x]=1&remote_query[f][1][x]=2\
             &remote_query[a][b][c][d][e][f]=deep&remote_query[t][]=1&remote_query[t][]=2",
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let q = app.emulator("github").requests().last().unwrap().query.clone();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
    let want = [
        ("foo", "bar"),
        ("filter[kind]", "a b"),
        ("f[0][x]", "1"),
        ("f[1][x]", "2"),
        ("a[b][c][d][e][f]", "deep"),
        ("t[]", "1"),
        ("t[]", "2"),
    ];
    let want: Vec<(String, String)> = want.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(pairs, want, "indexes, depth, repeats and order as sent: {q}");
}

#[tokio::test]
async fn list_walks_link_header_pages_with_signed_cursors() {
    let (app, account) = app_with_account("github").await;
    for i in 0..7 {
        app.emulator("github").insert_record(
            "orgs",
            json!({"login": format!("extra-{i}"), "id": 1000 + i, "name": format!("Extra {i}")}),
        );
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let extra = match &cursor {
            Some(c) => format!("&limit=4&next_cursor={c}"),
            None => "&limit=4".into(),
        };
        let r = app.get(&app.orgs_path(&account, None, &extra)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        for o in r.body["result"].as_array().unwrap() {
            seen.push(o["id"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }

    assert_eq!(seen.len(), 10, "{seen:?}");
    assert!(seen.contains(&"octo-org".to_string()) && seen.contains(&"extra-6".to_string()));
    let pages: Vec<_> = app
        .emulator("github")
        .requests()
        .iter()
        .map(|r| r.query.clone())
        .collect();
    assert!(pages.iter().any(|q| q.contains("page=3")), "{pages:?}");
}

#[tokio::test]
async fn a_cursor_from_another_account_is_refused() {
    let (app, a) = app_with_account("github").await;
    let b = app.connect("github").await;
    let r = app.get(&app.orgs_path(&a, None, "&limit=1")).await;
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();

    let r = app
        .get(&app.orgs_path(&b, None, &format!("&next_cursor={cursor}")))
        .await;

    let msg = assert_error(&r, 400);
    assert!(msg.contains("next_cursor"));
}

#[tokio::test]
async fn list_streams_every_page_as_ndjson() {
    let (app, account) = app_with_account("github").await;
    for i in 0..250 {
        app.emulator("github")
            .insert_record("orgs", json!({"login": format!("bulk-{i:03}"), "id": 5000 + i}));
    }

    let r = app
        .get(&app.orgs_path(&account, None, "&truto_response_format=stream&limit=100"))
        .await;

    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/x-ndjson");
    let lines: Vec<serde_json::Value> = r.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 253);
    assert!(lines
        .iter()
        .all(|l| l["id"].is_string() && l["remote_data"].is_object()));
}

#[tokio::test]
async fn patch_sends_the_mapped_body_merged_with_remote_data() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("octo-org"), ""),
            Some(json!({"name": "Octo Renamed", "remote_data": {"description": "via remote_data", "company": "Octo GmbH"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Octo Renamed");
    let sent = app.emulator("github").requests();
    let patch = sent.iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(
        patch.json.clone().unwrap(),
        json!({"name": "Octo Renamed", "description": "via remote_data", "company": "Octo GmbH"})
    );
    let stored = app.emulator("github").record("orgs", "octo-org").unwrap();
    assert_eq!(stored["description"], "via remote_data");
    assert_eq!(stored["name"], "Octo Renamed");
}

#[tokio::test]
async fn remote_data_wins_over_mapped_fields() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("octo-org"), ""),
            Some(json!({"name": "Unified Name", "remote_data": {"name": "Remote Name"}})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Remote Name");
}

#[tokio::test]
async fn put_is_a_unified_update_too() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .send(
            Method::PUT,
            &app.orgs_path(&account, Some("github"), ""),
            Some(json!({"name": "GH"})),
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.emulator("github").record("orgs", "github").unwrap()["name"], "GH");
}

#[tokio::test]
async fn delete_removes_the_org_and_answers_its_id() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .send(
            Method::DELETE,
            &app.orgs_path(&account, Some("acme-robotics"), ""),
            None,
        )
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], "acme-robotics");
    assert!(app.emulator("github").record("orgs", "acme-robotics").is_none());
}

#[tokio::test]
async fn a_missing_org_is_a_remote_404_with_the_raw_response() {
    let (app, account) = app_with_account("github").await;

    let r = app.get(&app.orgs_path(&account, Some("no-such-org"), "")).await;

    let msg = assert_error(&r, 404);
    assert!(msg.contains("github") && msg.contains("Not Found"), "{msg}");
    assert_eq!(r.body["truto_is_remote_error"], true);
    assert_eq!(r.body["raw_response"]["message"], "Not Found");
}

#[tokio::test]
async fn bad_credentials_are_a_401_asking_for_reauthorization() {
    let app = spawn_app().await;
    let account = app.connect_with("github", json!({"access_token": "ghp_wrong"})).await;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    let msg = assert_error(&r, 401);
    assert!(msg.contains("re-authorized"), "{msg}");
    assert_eq!(r.body["raw_response"]["message"], "Bad credentials");
}

#[tokio::test]
async fn an_id_cannot_change_the_provider_path() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .get(&app.orgs_path(&account, Some("octo-org%2F..%2F..%2Fuser%2Forgs"), ""))
        .await;

    assert_error(&r, 404);
    let last = app.emulator("github").requests().last().unwrap().clone();
    assert_eq!(last.path, "/orgs/octo-org%2F..%2F..%2Fuser%2Forgs");
    // A bare `..` id never gets this far: HTTP clients normalize it away, and the path
    // template refuses it anyway (mapping::template tests).
}

#[tokio::test]
async fn a_raw_list_returns_the_provider_records_untouched() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .get(&app.orgs_path(&account, None, "&truto_response_format=raw"))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let first = &r.body["result"][0];
    assert_eq!(first["login"], "github");
    assert!(first["repos_url"].is_string() && first.get("remote_data").is_none());
}

#[tokio::test]
async fn list_records_honour_exclusions_and_ignore_remote_data() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .get(&app.orgs_path(
            &account,
            None,
            "&truto_ignore_remote_data=true&truto_exclude_fields[]=name",
        ))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    for o in r.body["result"].as_array().unwrap() {
        assert_eq!(o.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["id"], "{o}");
    }
}

/// A field no mapping of the write reads (read-only, or not a field at all) is refused with
/// a 422 naming it, before anything is sent, instead of being dropped.
#[tokio::test]
async fn a_write_of_a_field_the_mapping_does_not_send_is_refused() {
    let (app, account) = app_with_account("github").await;

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("octo-org"), ""),
            Some(
                json!({"name": "Octo Renamed", "created_at": "2020-01-01T00:00:00Z", "nmae": "typo", "id": "octo-org"}),
            ),
        )
        .await;

    let msg = crate::helpers::assert_error(&r, 422);
    assert!(msg.contains("`created_at`") && msg.contains("`nmae`"), "{msg}");
    assert!(!msg.contains("`name`") && !msg.contains("`id`"), "{msg}");
    assert_eq!(r.body["details"]["unsupported_fields"], json!(["created_at", "nmae"]));
    assert!(app.emulator("github").requests().iter().all(|r| r.method == "GET"));
    assert_eq!(
        app.emulator("github").record("orgs", "octo-org").unwrap()["name"],
        "Octo Org"
    );
}

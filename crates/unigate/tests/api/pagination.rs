//! The `range` and `dynamic` pagination formats, and what a list says when the provider
//! cannot take the client's `limit`; each walked over HTTP against an emulator.

use serde_json::json;

use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with, CustomProvider};
use crate::helpers::{assert_error, TestApp};

/// Follows `next_cursor` through the Proxy API list of `items`; returns the ids and the
/// number of pages.
async fn walk(app: &TestApp, account: &str, limit: Option<u32>) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 20, "pagination does not end");
        let mut path = format!("/proxy/items?integrated_account_id={account}");
        if let Some(l) = limit {
            path.push_str(&format!("&limit={l}"));
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&next_cursor={c}"));
        }
        let r = app.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        for item in r.body["result"].as_array().unwrap() {
            ids.push(item["id"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (ids, pages),
        }
    }
}

fn ids(range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range.map(|i| i.to_string()).collect()
}

fn range_headers(provider: &CustomProvider) -> Vec<String> {
    provider
        .emulator
        .requests()
        .iter()
        .map(|r| r.header("range").unwrap_or("-").to_string())
        .collect()
}

async fn ranged(name: &str, count: usize, paginate: &str, pagination: &str) -> CustomProvider {
    let routes = format!("  - {{ method: GET, path: /items, op: list, collection: items, paginate: {paginate} }}\n");
    let rest = format!("pagination: {pagination}\nresources:\n  items:\n    list: {{ method: get, path: /items }}\n");
    custom_provider(
        name,
        &integration_yaml(name, "https://api.ranged.example", &rest),
        &emulator_yaml(count, &routes),
    )
    .await
}

#[tokio::test]
async fn range_pagination_asks_for_each_range_until_the_known_total() {
    let provider = ranged(
        "ranged-total",
        7,
        "{ style: range, default_size: 50 }",
        "{ format: range }",
    )
    .await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;

    let (got, pages) = walk(&app, &account, Some(3)).await;

    assert_eq!(got, ids(1..=7));
    assert_eq!(pages, 3);
    assert_eq!(range_headers(&provider), ["items=0-2", "items=3-5", "items=6-8"]);
}

#[tokio::test]
async fn range_pagination_without_a_limit_uses_the_declared_page_size_and_unit() {
    let provider = ranged(
        "ranged-size",
        5,
        "{ style: range, range_unit: records }",
        "{ format: range, range_unit: records, page_size: 2 }",
    )
    .await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;

    let (got, pages) = walk(&app, &account, None).await;

    assert_eq!(got, ids(1..=5));
    assert_eq!(pages, 3);
    assert_eq!(range_headers(&provider), ["records=0-1", "records=2-3", "records=4-5"]);
}

#[tokio::test]
async fn range_pagination_of_unknown_length_ends_at_a_short_page_or_a_416() {
    let provider = ranged(
        "ranged-unknown",
        6,
        "{ style: range, hide_total: true }",
        "{ format: range }",
    )
    .await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;

    // 6 records in pages of 3: the third range is past the end, answered 416.
    let (got, pages) = walk(&app, &account, Some(3)).await;

    assert_eq!(got, ids(1..=6));
    assert_eq!(pages, 3);
    assert_eq!(range_headers(&provider), ["items=0-2", "items=3-5", "items=6-8"]);
    // With pages of 4 the second is short, so there is no third request.
    provider.emulator.clear_requests();
    let (got, pages) = walk(&app, &account, Some(4)).await;
    assert_eq!(got, ids(1..=6));
    assert_eq!(pages, 2);
    assert_eq!(range_headers(&provider), ["items=0-3", "items=4-7"]);
}

const PAGED_ROUTE: &str = "  - { method: GET, path: /items, op: list, collection: items, paginate: { style: page, page_param: p, size_param: n, default_size: 2, envelope: { data: \"{{items}}\", more: \"{{has_more}}\", following: \"{{next_page}}\", next: \"{{next_url}}\" } } }\n";

async fn dynamic(name: &str, pagination: &str) -> CustomProvider {
    let rest = format!(
        "pagination:\n{pagination}\nresources:\n  items:\n    list: {{ method: get, path: /items, response_path: response.data }}\n"
    );
    custom_provider(
        name,
        &integration_yaml(name, "https://api.dynamic.example", &rest),
        &emulator_yaml(5, PAGED_ROUTE),
    )
    .await
}

#[tokio::test]
async fn dynamic_pagination_sends_the_values_its_expressions_give() {
    let provider = dynamic(
        "dynamic-values",
        "  format: dynamic\n  limit_param: n\n  get_initial_pagination_values_expression: '{ \"p\": 1 }'\n  get_pagination_values_expression: 'body.more ? { \"p\": paginationValues.p + 1 } : null'",
    )
    .await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;

    let (got, pages) = walk(&app, &account, Some(2)).await;

    assert_eq!(got, ids(1..=5));
    assert_eq!(pages, 3);
    let queries: Vec<String> = provider.emulator.requests().iter().map(|r| r.query.clone()).collect();
    assert_eq!(queries, ["n=2&p=1", "n=2&p=2", "n=2&p=3"]);
}

#[tokio::test]
async fn dynamic_pagination_follows_a_url_its_expression_gives() {
    let provider = dynamic(
        "dynamic-url",
        "  format: dynamic\n  get_pagination_values_expression: 'response.next'",
    )
    .await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;

    let (got, pages) = walk(&app, &account, None).await;

    assert_eq!(got, ids(1..=5));
    assert_eq!(pages, 3);
    let queries: Vec<String> = provider.emulator.requests().iter().map(|r| r.query.clone()).collect();
    assert_eq!(queries, ["", "p=2", "p=3"]);
}

#[tokio::test]
async fn a_dynamic_expression_giving_something_else_is_a_502() {
    let provider = dynamic(
        "dynamic-bad",
        "  format: dynamic\n  get_pagination_values_expression: '42'",
    )
    .await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;

    let r = app.get(&format!("/proxy/items?integrated_account_id={account}")).await;

    let msg = assert_error(&r, 502);
    assert!(msg.contains("get_pagination_values_expression"), "{msg}");
}

#[tokio::test]
async fn a_dynamic_expression_that_repeats_its_values_is_stopped() {
    let provider = dynamic(
        "dynamic-loop",
        "  format: dynamic\n  get_pagination_values_expression: '{ \"p\": 1 }'",
    )
    .await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;
    let first = app.get(&format!("/proxy/items?integrated_account_id={account}")).await;
    let cursor = first.body["next_cursor"].as_str().unwrap();

    let r = app
        .get(&format!(
            "/proxy/items?integrated_account_id={account}&next_cursor={cursor}"
        ))
        .await;

    let msg = assert_error(&r, 502);
    assert!(msg.contains("same page position twice"), "{msg}");
}

#[tokio::test]
async fn a_limit_the_provider_cannot_take_is_reported_not_silently_dropped() {
    let name = "unpaged";
    let rest = "resources:\n  items:\n    list: { method: get, path: /items, pagination: { format: none } }\n";
    let provider = custom_provider(
        name,
        &integration_yaml(name, "https://api.unpaged.example", rest),
        &emulator_yaml(4, "  - { method: GET, path: /items, op: list, collection: items }\n"),
    )
    .await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;

    let limited = app
        .get(&format!("/proxy/items?integrated_account_id={account}&limit=2"))
        .await;
    let unlimited = app.get(&format!("/proxy/items?integrated_account_id={account}")).await;

    assert_eq!(limited.status, 200, "{}", limited.text);
    assert_eq!(limited.body["result"].as_array().unwrap().len(), 4);
    assert_eq!(limited.headers["x-unigate-limit"], "ignored");
    assert!(unlimited.headers.get("x-unigate-limit").is_none());
    let described = app.get("/integration/unpaged").await;
    assert_eq!(
        described.body["limit_honoured"],
        json!({ "items.list": false }),
        "{}",
        described.text
    );
}

#[tokio::test]
async fn a_limit_a_provider_takes_is_not_reported() {
    let provider = ranged("ranged-honest", 3, "{ style: range }", "{ format: range }").await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;

    let r = app
        .get(&format!("/proxy/items?integrated_account_id={account}&limit=2"))
        .await;

    assert_eq!(r.body["result"].as_array().unwrap().len(), 2, "{}", r.text);
    assert!(r.headers.get("x-unigate-limit").is_none());
    let described = app.get("/integration/ranged-honest").await;
    assert_eq!(
        described.body["limit_honoured"],
        json!({ "items.list": true }),
        "{}",
        described.text
    );
    let (github, gh) = crate::helpers::app_with_account("github").await;
    let listed = github.get(&github.orgs_path(&gh, None, "&limit=1")).await;
    assert_eq!(
        listed.body["result"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.text
    );
    assert!(listed.headers.get("x-unigate-limit").is_none());
}

#[test]
fn validate_reports_broken_range_dynamic_budget_and_network_settings() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("integrations/broken-paging");
    std::fs::create_dir_all(&folder).unwrap();
    let rest = "allowed_private_networks: [\"10.0.0.0/33\"]\nrate_limit:\n  budget: { requests: 0, per_ms: 1000 }\nresources:\n  items:\n    list: { method: get, path: /items, pagination: { format: range, range_unit: \"it ems\" } }\n    search: { method: get, path: /search, pagination: { format: dynamic, get_pagination_values_expression: '{ \"p\": ' } }\n    other: { method: get, path: /other, pagination: { format: dynamic } }\n";
    std::fs::write(
        folder.join("integration.yaml"),
        integration_yaml("broken-paging", "https://x.example", rest),
    )
    .unwrap();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_unigate"))
        .arg("validate")
        .arg(dir.path())
        .output()
        .unwrap();

    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    println!("{err}");
    assert!(err.contains("integrations/broken-paging/integration.yaml"), "{err}");
    assert!(err.contains("get_pagination_values_expression"), "{err}");
}

#[test]
fn validate_reports_each_broken_setting_once_the_file_parses() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("integrations/broken-settings");
    std::fs::create_dir_all(&folder).unwrap();
    let rest = "allowed_private_networks: [\"10.0.0.0/33\"]\nrate_limit:\n  budget: { requests: 0, per_ms: 1000 }\nresources:\n  items:\n    list: { method: get, path: /items, pagination: { format: range, range_unit: \"it ems\" } }\n    search: { method: get, path: /search, pagination: { format: dynamic, get_pagination_values_expression: '{ \"p\": ' } }\n";
    std::fs::write(
        folder.join("integration.yaml"),
        integration_yaml("broken-settings", "https://x.example", rest),
    )
    .unwrap();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_unigate"))
        .arg("validate")
        .arg(dir.path())
        .output()
        .unwrap();

    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "allowed_private_networks",
        "10.0.0.0/33",
        "rate_limit.budget",
        "range_unit",
        "pagination.get_pagination_values_expression",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

/// `remote_query` may choose the first page (`p=2`), but each later page is the paginator's:
/// the walk goes on from there instead of asking for page 2 forever.
#[tokio::test]
async fn a_remote_query_start_position_is_followed_by_the_next_pages() {
    let rest = "pagination:\n  format: page\n  page_param: p\n  limit_param: n\n  start: 1\n  has_more: response.more\nresources:\n  items:\n    list: { method: get, path: /items, response_path: response.data }\n";
    let provider = custom_provider(
        "paged-remote-start",
        &integration_yaml("paged-remote-start", "https://api.paged.example", rest),
        &emulator_yaml(5, PAGED_ROUTE),
    )
    .await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;

    let mut got = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut path = format!("/proxy/items?integrated_account_id={account}&limit=2&remote_query[p]=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&next_cursor={c}"));
        }
        let r = app.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        got.extend(
            r.body["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string()),
        );
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }

    assert_eq!(got, ids(3..=5));
    let queries: Vec<String> = provider.emulator.requests().iter().map(|r| r.query.clone()).collect();
    assert_eq!(queries, ["n=2&p=2", "n=2&p=3"]);
}

/// A stream stops with an error line when the provider leads back to a page it already
/// gave (1, 2, 1), not only when it repeats the last one.
#[tokio::test]
async fn a_stream_that_leads_back_to_an_earlier_page_is_stopped() {
    let provider = dynamic(
        "dynamic-cycle",
        "  format: dynamic\n  limit_param: n\n  get_initial_pagination_values_expression: '{ \"p\": 1 }'\n  get_pagination_values_expression: '{ \"p\": paginationValues.p = 2 ? 1 : 2 }'",
    )
    .await;
    std::fs::write(
        provider.dir.path().join("integrations/dynamic-cycle/user-directory.yaml"),
        "organizations:\n  list:\n    resource: items.list\n    response_mapping: '{ \"id\": response.id, \"name\": response.name }'\n",
    )
    .unwrap();
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;

    let r = app
        .get(&app.orgs_path(&account, None, "&limit=2&truto_response_format=stream"))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let lines: Vec<&str> = r.text.lines().collect();
    assert_eq!(lines.len(), 5, "two pages of two, then the error: {}", r.text);
    assert!(lines[4].contains("led back to a page already read"), "{}", lines[4]);
    let queries: Vec<String> = provider.emulator.requests().iter().map(|r| r.query.clone()).collect();
    assert_eq!(
        queries,
        ["n=2&p=1", "n=2&p=2", "n=2&p=1"],
        "the repeated page is read, not sent"
    );
}

//! A request-side mapping that fails is answered before any provider is called: 422 when
//! the client's input made it fail, 500 naming the integration and the mapping when the
//! definition is at fault (never 502 "Mapping the provider's answer failed", since no
//! provider answered).

use serde_json::json;

use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with, CustomProvider};
use crate::helpers::{assert_error, TestApp};

/// A custom integration whose `organizations` list and get carry the query mappings given.
async fn with_query_mappings(name: &str, list_query: &str, get_query: &str) -> CustomProvider {
    let rest = "resources:\n  organizations:\n    list: { method: get, path: /items }\n    get: { method: get, path: \"/items/{{id}}\" }\n";
    let routes = "  - { method: GET, path: /items, op: list, collection: items }\n  - { method: GET, path: \"/items/{id}\", op: get, collection: items }\n";
    let provider = custom_provider(
        name,
        &integration_yaml(name, "https://api.mapfail.example", rest),
        &emulator_yaml(3, routes),
    )
    .await;
    let mappings = format!(
        "organizations:\n  list:\n    resource: organizations.list\n    query_params: {{ since: {{ description: Only items since this many seconds. }} }}\n    query_mapping: '{list_query}'\n    response_mapping: '{{ \"id\": response.id }}'\n  get:\n    resource: organizations.get\n    query_mapping: '{get_query}'\n    response_mapping: '{{ \"id\": response.id }}'\n"
    );
    std::fs::write(
        provider
            .dir
            .path()
            .join("integrations")
            .join(name)
            .join("user-directory.yaml"),
        mappings,
    )
    .unwrap();
    provider
}

async fn app_and_account(provider: &CustomProvider) -> (TestApp, String) {
    let app = spawn_with(provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, provider, json!({})).await;
    (app, account)
}

#[tokio::test]
async fn a_query_mapping_that_fails_on_the_clients_input_is_a_422_and_calls_no_provider() {
    let provider = with_query_mappings("mapfail-input", r#"{ "since": $number(query.since) }"#, "{}").await;
    let (app, account) = app_and_account(&provider).await;

    let r = app
        .get(&format!(
            "/unified/user-directory/organizations?integrated_account_id={account}&since=yesterday"
        ))
        .await;

    let msg = assert_error(&r, 422);
    assert!(
        msg.contains("`mapfail-input`") && msg.contains("query_mapping"),
        "{msg}"
    );
    assert_eq!(r.body["details"]["mapping"], "query_mapping", "{}", r.text);
    assert!(provider.emulator.requests().is_empty(), "no provider call");
}

#[tokio::test]
async fn a_query_mapping_that_fails_whatever_the_input_is_a_500_naming_the_integration() {
    let provider = with_query_mappings("mapfail-definition", "{}", r#"{ "x": $number("not a number") }"#).await;
    let (app, account) = app_and_account(&provider).await;

    let r = app
        .get(&format!(
            "/unified/user-directory/organizations/1?integrated_account_id={account}"
        ))
        .await;

    let msg = assert_error(&r, 500);
    assert!(
        msg.contains("`mapfail-definition`") && msg.contains("query_mapping"),
        "{msg}"
    );
    assert!(msg.contains("No provider was called"), "{msg}");
    assert_eq!(r.body["details"]["integration"], "mapfail-definition", "{}", r.text);
    assert!(provider.emulator.requests().is_empty(), "no provider call");
}

#[tokio::test]
async fn a_query_mapping_that_gives_no_object_is_a_500() {
    let provider = with_query_mappings("mapfail-shape", "[1, 2]", "{}").await;
    let (app, account) = app_and_account(&provider).await;

    let r = app
        .get(&format!(
            "/unified/user-directory/organizations?integrated_account_id={account}"
        ))
        .await;

    let msg = assert_error(&r, 500);
    assert!(msg.contains("must give an object of query parameters"), "{msg}");
    assert!(provider.emulator.requests().is_empty(), "no provider call");
}

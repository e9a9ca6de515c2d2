//! No URL Unigate follows reaches a private, loopback or link-local address unless the
//! integration declares the network or the operator pointed it there: per-account hosts,
//! host names that resolve privately, next-page links and redirects.

use serde_json::json;
use unigate_emulator::Fault;

use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with, CustomProvider};
use crate::helpers::{app_with_account, assert_error};

const GET_ROUTE: &str = "  - { method: GET, path: \"/items/{id}\", op: get, collection: items }\n";

async fn provider(name: &str, base_url: &str, extra: &str) -> CustomProvider {
    let rest = format!("{extra}resources:\n  items:\n    get: {{ method: get, path: \"/items/{{{{id}}}}\" }}\n");
    custom_provider(
        name,
        &integration_yaml(name, base_url, &rest),
        &emulator_yaml(2, GET_ROUTE),
    )
    .await
}

#[tokio::test]
async fn a_host_name_that_resolves_to_loopback_is_refused_before_any_call() {
    let p = provider("ssrf-localhost", "http://localhost:{{emulator_port}}", "").await;
    let app = spawn_with(&p, false, |_| {}).await;
    let account = crate::custom::connect(&app, &p, json!({})).await;

    let r = app
        .get(&format!("/proxy/items/1?integrated_account_id={account}"))
        .await;

    let msg = assert_error(&r, 502);
    assert!(msg.contains("ssrf-localhost") && msg.contains("localhost"), "{msg}");
    assert!(msg.contains("allowed_private_networks"), "{msg}");
    assert!(p.emulator.requests().is_empty(), "nothing may reach the address");
}

#[tokio::test]
async fn an_integration_that_declares_the_network_reaches_it() {
    let p = provider(
        "ssrf-declared",
        "http://localhost:{{emulator_port}}",
        "allowed_private_networks: [\"127.0.0.0/8\", \"::1\"]\n",
    )
    .await;
    let app = spawn_with(&p, false, |_| {}).await;
    let account = crate::custom::connect(&app, &p, json!({})).await;

    let r = app
        .get(&format!("/proxy/items/1?integrated_account_id={account}"))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "item 1");
}

#[tokio::test]
async fn the_operators_override_host_is_trusted_even_by_name() {
    let p = provider("ssrf-override", "https://api.override.example", "").await;
    let port = p.emulator.local_addr().port();
    let app = spawn_with(&p, false, |c| {
        c.upstream
            .base_url_overrides
            .insert("ssrf-override".into(), format!("http://localhost:{port}"));
    })
    .await;
    let account = crate::custom::connect(&app, &p, json!({})).await;

    let r = app
        .get(&format!("/proxy/items/1?integrated_account_id={account}"))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn a_per_account_host_that_is_a_private_address_is_a_400_even_when_its_pattern_admits_it() {
    let p = provider(
        "ssrf-context",
        "https://{{context.host}}/api",
        "allowed_hosts: [\"*.ssrf.example\", \"169.254.169.254\"]\n",
    )
    .await;
    let app = spawn_with(&p, false, |_| {}).await;
    let account = crate::custom::connect(&app, &p, json!({ "host": "169.254.169.254" })).await;

    let r = app
        .get(&format!("/proxy/items/1?integrated_account_id={account}"))
        .await;

    let msg = assert_error(&r, 400);
    assert!(msg.contains("ssrf-context") && msg.contains("169.254.169.254"), "{msg}");
    assert!(msg.contains("not a public address"), "{msg}");
}

#[tokio::test]
async fn a_next_page_link_to_another_host_is_never_followed() {
    let (app, account) = app_with_account("github").await;
    app.emulator("github").inject(
        Fault::respond(200, json!([]))
            .with_header("link", "<http://169.254.169.254/latest/meta-data/>; rel=\"next\"")
            .on("GET", "/user/orgs")
            .times(1),
    );
    let first = app.get(&app.orgs_path(&account, None, "")).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let before = app.emulator("github").requests().len();

    let r = app
        .get(&app.orgs_path(&account, None, &format!("&next_cursor={cursor}")))
        .await;

    let msg = assert_error(&r, 502);
    assert!(msg.contains("github") && msg.contains("another host"), "{msg}");
    assert_eq!(app.emulator("github").requests().len(), before);
}

#[tokio::test]
async fn a_redirect_is_a_502_and_is_not_followed() {
    let (app, account) = app_with_account("github").await;
    app.emulator("github").inject(
        Fault::respond(302, json!({}))
            .with_header("location", "http://169.254.169.254/latest/meta-data/")
            .on("GET", "/orgs/*"),
    );
    let before = app.emulator("github").requests().len();

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    let msg = assert_error(&r, 502);
    assert!(
        msg.contains("github") && msg.contains("redirect") && msg.contains("169.254.169.254"),
        "{msg}"
    );
    assert_eq!(
        app.emulator("github").requests().len(),
        before + 1,
        "answered once, never retried or followed"
    );
}

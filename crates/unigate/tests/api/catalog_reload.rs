//! The catalog given with `--catalog` reloads while the gateway runs: a change on disk is
//! validated and swapped in whole; an invalid one leaves the running catalog serving, and
//! `POST /integration/reload` does the same on demand, answering every error.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with, CustomProvider};
use crate::helpers::{assert_error, TestApp};

const NAME: &str = "reloady";

async fn provider() -> CustomProvider {
    let rest = "resources:\n  organizations:\n    get: { method: get, path: \"/items/{{id}}\" }\n";
    let routes = "  - { method: GET, path: \"/items/{id}\", op: get, collection: items }\n";
    let p = custom_provider(
        NAME,
        &integration_yaml(NAME, "https://api.reloady.example", rest),
        &emulator_yaml(2, routes),
    )
    .await;
    write_mapping(&p, "response.name");
    p
}

/// The organizations `get` mapping, its `name` given by `name_expr`.
fn write_mapping(p: &CustomProvider, name_expr: &str) {
    let mapping = format!(
        "organizations:\n  get:\n    resource: organizations.get\n    response_mapping: '{{ \"id\": response.id, \"name\": {name_expr} }}'\n"
    );
    let path = p.dir.path().join("integrations").join(NAME).join("user-directory.yaml");
    // Written aside and renamed, as editors save: the watcher never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, mapping).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

async fn name_of(app: &TestApp, account: &str) -> String {
    let r = app
        .get(&format!(
            "/unified/user-directory/organizations/1?integrated_account_id={account}"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["name"].as_str().unwrap().to_string()
}

/// Polls until the organization's name is `want` (the watcher runs every 50 ms here).
async fn wait_for_name(app: &TestApp, account: &str, want: &str) {
    let start = Instant::now();
    loop {
        let got = name_of(app, account).await;
        if got == want {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "still `{got}`, not `{want}`");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_changed_file_is_swapped_in_and_an_invalid_one_keeps_the_running_catalog() {
    let p = provider().await;
    let app = spawn_with(&p, true, |c| c.catalog_watch_interval_ms = 50).await;
    let account = crate::custom::connect(&app, &p, json!({})).await;
    assert_eq!(name_of(&app, &account).await, "item 1");

    write_mapping(&p, "$uppercase(response.name)");
    wait_for_name(&app, &account, "ITEM 1").await;

    // Broken on disk: the watcher refuses it, the running catalog keeps serving, and a
    // reload on demand says why.
    write_mapping(&p, "$uppercase(response.name");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(name_of(&app, &account).await, "ITEM 1");
    let r = app.send(Method::POST, "/integration/reload", None).await;
    let message = assert_error(&r, 422);
    assert!(message.contains("user-directory.yaml"), "names the file: {message}");
    assert!(
        r.body["details"]["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{}",
        r.text
    );
    assert_eq!(name_of(&app, &account).await, "ITEM 1");

    write_mapping(&p, "$lowercase(response.name) & \"!\"");
    wait_for_name(&app, &account, "item 1!").await;
}

#[tokio::test]
async fn a_reload_on_demand_swaps_the_catalog_when_the_watch_is_off() {
    let p = provider().await;
    let app = spawn_with(&p, true, |c| c.catalog_watch_interval_ms = 0).await;
    let account = crate::custom::connect(&app, &p, json!({})).await;
    write_mapping(&p, "\"renamed\"");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        name_of(&app, &account).await,
        "item 1",
        "no watch: nothing changes by itself"
    );
    let r = app.send(Method::POST, "/integration/reload", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["reloaded"], true);
    assert!(r.body["integrations"].as_u64().unwrap() > 30, "{}", r.text);
    assert_eq!(name_of(&app, &account).await, "renamed");
    // The shipped integrations are still there.
    assert_eq!(app.get("/integration/github").await.status, 200);
}

//! Retries and rate limits: what the client gets, and that writes are never repeated.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use unigate_emulator::Fault;

use crate::helpers::{assert_error, spawn_app};

fn count(app: &crate::helpers::TestApp, method: &str) -> usize {
    app.emulator("github")
        .requests()
        .iter()
        .filter(|r| r.method == method)
        .count()
}

#[tokio::test]
async fn a_read_that_meets_503s_is_retried_until_it_succeeds() {
    let app = spawn_app().await;
    let account = app.connect("github").await;
    app.emulator("github").inject(
        Fault::respond(503, json!({"message": "busy"}))
            .on("GET", "/orgs/*")
            .times(2),
    );

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(count(&app, "GET"), 3);
}

#[tokio::test]
async fn a_read_whose_connection_drops_once_is_retried() {
    let app = spawn_app().await;
    let account = app.connect("github").await;
    app.emulator("github")
        .inject(Fault::drop_connection().on("GET", "/orgs/*").times(1));

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(count(&app, "GET"), 2);
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out() {
    let app = spawn_app().await;
    let account = app.connect("github").await;
    app.emulator("github")
        .inject(Fault::rate_limited(1).on("GET", "/orgs/*").times(1));
    let start = Instant::now();

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert!(start.elapsed() >= Duration::from_millis(950), "{:?}", start.elapsed());
    assert_eq!(count(&app, "GET"), 2);
}

#[tokio::test]
async fn a_long_retry_after_is_answered_at_once_as_429() {
    let app = spawn_app().await;
    let account = app.connect("github").await;
    app.emulator("github")
        .inject(Fault::rate_limited(120).on("GET", "/orgs/*"));

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_error(&r, 429);
    assert_eq!(r.headers["retry-after"], "120");
    assert_eq!(count(&app, "GET"), 1);
}

#[tokio::test]
async fn githubs_403_with_no_remaining_quota_is_a_429_with_the_reset_time() {
    let app = spawn_app().await;
    let account = app.connect("github").await;
    let reset = chrono::Utc::now().timestamp() + 60;
    app.emulator("github").inject(
        Fault::respond(403, json!({"message": "API rate limit exceeded for user ID 1."}))
            .with_header("x-ratelimit-remaining", "0")
            .with_header("x-ratelimit-reset", &reset.to_string())
            .on("GET", "/orgs/*"),
    );

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    let msg = assert_error(&r, 429);
    assert!(msg.contains("rate limit"), "{msg}");
    let retry_after: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((55..=60).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn a_failed_patch_is_never_sent_twice() {
    let app = spawn_app().await;
    let account = app.connect("github").await;
    app.emulator("github").inject(
        Fault::respond(503, json!({"message": "busy"}))
            .on("PATCH", "/orgs/*")
            .times(1),
    );

    let r = app
        .send(
            Method::PATCH,
            &app.orgs_path(&account, Some("octo-org"), ""),
            Some(json!({"name": "Once"})),
        )
        .await;

    assert_error(&r, 502);
    assert_eq!(
        count(&app, "PATCH"),
        1,
        "a write that may have been applied is not repeated"
    );
}

#[tokio::test]
async fn retries_give_up_after_the_configured_attempts() {
    let app = spawn_app().await;
    let account = app.connect("github").await;
    app.emulator("github")
        .inject(Fault::respond(503, json!({"message": "down"})).on("GET", "/orgs/*"));

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_error(&r, 502);
    assert_eq!(count(&app, "GET"), 3);
}

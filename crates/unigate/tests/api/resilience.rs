//! Retries and rate limits: what the client gets, and that writes are never repeated.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use unigate_emulator::Fault;

use crate::helpers::{app_with_account, assert_error};

fn count(app: &crate::helpers::TestApp, method: &str) -> usize {
    app.emulator("github")
        .requests()
        .iter()
        .filter(|r| r.method == method)
        .count()
}

#[tokio::test]
async fn a_read_that_meets_503s_is_retried_until_it_succeeds() {
    let (app, account) = app_with_account("github").await;
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
    let (app, account) = app_with_account("github").await;
    app.emulator("github")
        .inject(Fault::drop_connection().on("GET", "/orgs/*").times(1));

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(count(&app, "GET"), 2);
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out() {
    let (app, account) = app_with_account("github").await;
    app.emulator("github")
        .inject(Fault::rate_limited(1).on("GET", "/orgs/*").times(1));
    // Real time, as everywhere with `spawn_app`: see there why not a paused clock.
    let start = Instant::now();

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert!(start.elapsed() >= Duration::from_millis(950), "{:?}", start.elapsed());
    assert_eq!(count(&app, "GET"), 2);
}

#[tokio::test]
async fn a_long_retry_after_is_answered_at_once_as_429() {
    let (app, account) = app_with_account("github").await;
    app.emulator("github")
        .inject(Fault::rate_limited(120).on("GET", "/orgs/*"));

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_error(&r, 429);
    assert_eq!(r.headers["retry-after"], "120");
    assert_eq!(count(&app, "GET"), 1);
}

#[tokio::test]
async fn githubs_403_with_no_remaining_quota_is_a_429_with_the_reset_time() {
    let (app, account) = app_with_account("github").await;
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
    let (app, account) = app_with_account("github").await;
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
    let (app, account) = app_with_account("github").await;
    app.emulator("github")
        .inject(Fault::respond(503, json!({"message": "down"})).on("GET", "/orgs/*"));

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_error(&r, 502);
    assert_eq!(count(&app, "GET"), 3);
}

#[tokio::test]
async fn retries_stop_when_the_next_wait_would_pass_the_total_retry_time() {
    // 4 attempts allowed, but 1500 ms in all: after the first Retry-After of 1 s, a second
    // one would end 2 s after the first attempt.
    let app = crate::helpers::spawn_app_with(|c| {
        c.upstream.retry.max_attempts = 4;
        c.upstream.retry.max_total_ms = 1500;
    })
    .await;
    let account = app.connect("github").await;
    app.emulator("github")
        .inject(Fault::rate_limited(1).on("GET", "/orgs/*").times(3));
    let before = count(&app, "GET");

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_error(&r, 429);
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(
        count(&app, "GET") - before,
        2,
        "one retry fits in 1500 ms, a second does not"
    );
}

#[tokio::test]
async fn the_total_retry_time_is_generous_enough_by_default_for_short_retry_afters() {
    let (app, account) = app_with_account("github").await;
    app.emulator("github")
        .inject(Fault::rate_limited(1).on("GET", "/orgs/*").times(2));
    let before = count(&app, "GET");

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(count(&app, "GET") - before, 3);
}

#[tokio::test]
async fn an_integration_can_declare_its_own_retry_limits() {
    use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with};
    let rest = "retry: { max_attempts: 5, max_total_ms: 1500 }\nresources:\n  items:\n    get: { method: get, path: \"/items/{{id}}\" }\n";
    let provider = custom_provider(
        "retry-own",
        &integration_yaml("retry-own", "https://api.retry.example", rest),
        &emulator_yaml(
            1,
            "  - { method: GET, path: \"/items/{id}\", op: get, collection: items }\n",
        ),
    )
    .await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;
    provider.emulator.inject(Fault::rate_limited(1).on("GET", "/items/*"));

    let r = app
        .get(&format!("/proxy/items/1?integrated_account_id={account}"))
        .await;

    // The global defaults (3 attempts, 10 s) would have made 3 attempts.
    assert_error(&r, 429);
    assert_eq!(provider.emulator.requests().len(), 2);
}

/// A stream whose first page fails answers like every other format: the provider's 429
/// with its `Retry-After`, not a 200 holding one error line.
#[tokio::test]
async fn a_stream_whose_first_page_fails_answers_with_that_status() {
    let (app, account) = app_with_account("github").await;
    app.emulator("github")
        .inject(Fault::rate_limited(120).on("GET", "/user/orgs"));

    let r = app
        .get(&app.orgs_path(&account, None, "&truto_response_format=stream"))
        .await;

    assert_error(&r, 429);
    assert_eq!(r.headers["retry-after"], "120");
}

/// A provider that says "rate limited" in a 403's body (Google's quota errors): the
/// integration's rule reads the body, and the client gets a 429, not a 403 that reads
/// like a permission problem. A 403 that is a permission problem stays a 403.
#[tokio::test]
async fn a_rate_limit_said_in_the_body_of_a_403_is_answered_429() {
    let (app, account) = app_with_account("google-workspace").await;
    let quota = json!({"error": {"code": 403, "message": "Quota exceeded for quota metric 'Queries'.",
        "errors": [{"message": "Quota exceeded", "domain": "usageLimits", "reason": "userRateLimitExceeded"}]}});
    app.emulator("google-workspace").inject(
        Fault::respond(403, quota)
            .on("GET", "/admin/directory/v1/users")
            .times(1),
    );

    let r = app
        .get(&format!(
            "/unified/user-directory/users?integrated_account_id={account}"
        ))
        .await;

    let msg = assert_error(&r, 429);
    assert!(msg.contains("Quota exceeded"), "{msg}");

    let denied = json!({"error": {"code": 403, "message": "Not Authorized to access this resource/api",
        "errors": [{"message": "Not Authorized to access this resource/api", "domain": "global", "reason": "forbidden"}]}});
    app.emulator("google-workspace").inject(
        Fault::respond(403, denied)
            .on("GET", "/admin/directory/v1/users")
            .times(1),
    );
    let r = app
        .get(&format!(
            "/unified/user-directory/users?integrated_account_id={account}"
        ))
        .await;
    assert_error(&r, 403);
}

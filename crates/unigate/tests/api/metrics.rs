//! `GET /metrics`: behind an admin token on the main listener, open on `metrics_listen`;
//! counters that move with unified, proxy and admin calls; no id in any label; and the
//! text accepted by Prometheus' own checker (`promtool check metrics`, Debian's
//! `prometheus` package: the test skips itself without it, unless `REQUIRE_PROMTOOL=1`,
//! which CI sets).

use reqwest::Method;
use serde_json::json;

use crate::helpers::{app_with_account, assert_error, spawn_app, spawn_app_with, TestApp};

/// The scrape's text (an admin token's).
async fn scrape(app: &TestApp) -> String {
    let r = app.get("/metrics").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let content_type = r.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    r.text
}

/// A series as `name{a="x",b="y"}`, its labels in any order: name and sorted pairs.
fn series(text: &str) -> (String, Vec<String>) {
    let (name, labels) = text.split_once('{').unwrap_or((text, "}"));
    let mut labels: Vec<String> = labels
        .trim_end_matches('}')
        .split("\",")
        .filter(|p| !p.is_empty())
        .map(|p| p.trim_end_matches('"').to_string())
        .collect();
    labels.sort();
    (name.to_string(), labels)
}

/// The value of the sample of `wanted` (`name{labels}`, every label, in any order).
fn sample(text: &str, wanted: &str) -> Option<f64> {
    let wanted = series(wanted);
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (s, value) = l.rsplit_once(' ')?;
        (series(s) == wanted).then(|| value.parse().unwrap())
    })
}

fn requests(text: &str, labels: &str) -> f64 {
    sample(text, &format!("unigate_requests_total{{{labels}}}")).unwrap_or(0.0)
}

#[tokio::test]
async fn the_scrape_needs_an_admin_token() {
    let app = spawn_app().await;

    let anonymous = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let r = app
        .send(
            Method::POST,
            "/api-token",
            Some(json!({"name": "backend", "scope": "api"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let api_token = r.body["token"].as_str().unwrap().to_string();
    let r = app.send_as(&api_token, Method::GET, "/metrics", None).await;
    assert!(assert_error(&r, 403).contains("admin"), "{}", r.text);

    let text = scrape(&app).await;
    assert!(text.contains("unigate_build_info{version=\""), "{text}");
}

#[tokio::test]
async fn counters_move_with_unified_proxy_and_admin_calls_and_no_id_is_a_label() {
    let (app, account) = app_with_account("github").await;
    let before = scrape(&app).await;
    let unified_ok = r#"api="unified",integration="github",resource="organizations",method="GET",status="2xx""#;
    let unified_404 = r#"api="unified",integration="github",resource="organizations",method="GET",status="4xx""#;
    let proxy_ok = r#"api="proxy",integration="github",resource="organizations",method="GET",status="2xx""#;
    let admin_ok = r#"api="admin",integration="none",resource="integrated-account",method="GET",status="2xx""#;

    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.get(&app.orgs_path(&account, Some("no-such-org"), "")).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app
        .get(&format!(
            "/proxy/organizations/octo-org?integrated_account_id={account}"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.get(&format!("/integrated-account/{account}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A call for an account that does not exist: no integration is known.
    let r = app.get(&app.orgs_path("no-such-account", Some("octo-org"), "")).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let after = scrape(&app).await;

    assert_eq!(
        requests(&after, unified_ok) - requests(&before, unified_ok),
        1.0,
        "{after}"
    );
    assert_eq!(
        requests(&after, unified_404) - requests(&before, unified_404),
        1.0,
        "{after}"
    );
    assert_eq!(requests(&after, proxy_ok) - requests(&before, proxy_ok), 1.0, "{after}");
    assert_eq!(requests(&after, admin_ok) - requests(&before, admin_ok), 1.0, "{after}");
    let unknown = r#"api="unified",integration="unknown",resource="organizations",method="GET",status="4xx""#;
    assert_eq!(requests(&after, unknown), 1.0, "{after}");
    // The provider's side: three attempts at GitHub, one answered 404.
    assert_eq!(
        sample(
            &after,
            r#"unigate_provider_request_duration_seconds_count{integration="github"}"#
        ),
        Some(3.0),
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            r#"unigate_provider_errors_total{integration="github",kind="http_4xx"}"#
        ),
        Some(1.0),
        "{after}"
    );
    assert!(
        sample(
            &after,
            r#"unigate_request_duration_seconds_count{api="unified",integration="github"}"#
        )
        .is_some_and(|n| n >= 2.0),
        "{after}"
    );
    assert!(after.contains("unigate_db_pool_connections{backend="), "{after}");
    assert!(after.contains("unigate_webhook_outbox_depth "), "{after}");
    assert!(after.contains("unigate_request_log_dropped_total "), "{after}");

    // No id of an account, an environment or a path in any label.
    let env = app.state.store.first_environment().await.unwrap().unwrap();
    for id in [
        account.as_str(),
        env.id.as_str(),
        "octo-org",
        "no-such-org",
        "no-such-account",
    ] {
        assert!(!after.contains(id), "`{id}` in the metrics:\n{after}");
    }
}

#[tokio::test]
async fn metrics_listen_serves_the_scrape_without_a_token() {
    // Port 0: `metrics_listen` binds a free port when the app is built (a port found free
    // and released first could be taken meanwhile by another test).
    let app = spawn_app_with(|c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let port = app.metrics_address.unwrap().port();
    let r = app.get("/health").await;
    assert_eq!(r.status, 200);

    let r = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert_eq!(
        sample(
            &text,
            r#"unigate_requests_total{api="meta",integration="none",resource="health",method="GET",status="2xx"}"#
        ),
        Some(1.0),
        "{text}"
    );
    // Only the scrape there: the API stays on the main listener.
    let r = app
        .client
        .get(format!("http://127.0.0.1:{port}/integrated-account"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_scrape_passes_promtool_check_metrics() {
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    if std::process::Command::new(&promtool).arg("--version").output().is_err() {
        assert!(
            std::env::var("REQUIRE_PROMTOOL").as_deref() != Ok("1"),
            "REQUIRE_PROMTOOL=1 but `{promtool}` is missing (apt-get install prometheus)"
        );
        eprintln!("skipped: `{promtool}` not found (apt-get install prometheus)");
        return;
    }
    let (app, account) = app_with_account("github").await;
    // Every kind of series: unified, proxy, admin and meta calls, a provider error.
    app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;
    app.get(&app.orgs_path(&account, Some("no-such-org"), "")).await;
    app.get(&format!("/proxy/organizations?integrated_account_id={account}"))
        .await;
    app.get("/integrated-account").await;
    app.get("/health").await;
    let text = scrape(&app).await;

    let mut child = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- the scrape:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The counters of the provider side move with what happened: retries after 503s, a
/// rate-limited answer, an OAuth refresh by outcome, and waits for an account's budget.
#[tokio::test]
async fn retries_rate_limits_refreshes_and_budget_waits_are_counted() {
    let (app, account) = app_with_account("github").await;
    let counter = |text: &str, name: &str, labels: &str| sample(text, &format!("{name}{{{labels}}}")).unwrap_or(0.0);

    // Two 503s, then the answer: two attempts made again.
    app.emulator("github").inject(
        unigate_emulator::Fault::respond(503, json!({"message": "busy"}))
            .on("GET", "/orgs/*")
            .times(2),
    );
    assert_eq!(
        app.get(&app.orgs_path(&account, Some("octo-org"), "")).await.status,
        200
    );
    let text = scrape(&app).await;
    assert_eq!(
        counter(&text, "unigate_provider_retries_total", "integration=\"github\""),
        2.0,
        "{text}"
    );
    // A 429 with a short Retry-After: counted as rate limited, and retried.
    app.emulator("github")
        .inject(unigate_emulator::Fault::rate_limited(1).on("GET", "/orgs/*").times(1));
    assert_eq!(
        app.get(&app.orgs_path(&account, Some("octo-org"), "")).await.status,
        200
    );
    let text = scrape(&app).await;
    assert_eq!(
        counter(&text, "unigate_provider_rate_limited_total", "integration=\"github\""),
        1.0,
        "{text}"
    );
    assert_eq!(
        counter(&text, "unigate_provider_retries_total", "integration=\"github\""),
        3.0,
        "{text}"
    );

    // A forced OAuth refresh that succeeds.
    let (oauth_account, _) = crate::oauth::github_oauth_account(&app, &crate::oauth::future()).await;
    assert_eq!(
        crate::oauth::refresh_credentials(&app, &oauth_account).await.status,
        200
    );
    let text = scrape(&app).await;
    assert_eq!(
        counter(
            &text,
            "unigate_token_refreshes_total",
            "integration=\"github\",outcome=\"success\""
        ),
        1.0,
        "{text}"
    );

    // A budget of 2 calls a second: the third and fourth of four concurrent calls wait.
    let provider = crate::budget::paced("paced-metrics", "{ requests: 2, per_ms: 1000 }").await;
    let paced_app = crate::custom::spawn_with(&provider, true, |_| {}).await;
    let paced_account = crate::custom::connect(&paced_app, &provider, json!({})).await;
    let path = format!("/proxy/items/1?integrated_account_id={paced_account}");
    let replies = futures::future::join_all((0..4).map(|_| paced_app.get(&path))).await;
    assert!(replies.iter().all(|r| r.status == 200));
    let text = scrape(&paced_app).await;
    let waits = counter(&text, "unigate_budget_waits_total", "integration=\"paced-metrics\"");
    assert!(waits >= 2.0, "{text}");
    assert!(
        counter(
            &text,
            "unigate_budget_wait_seconds_total",
            "integration=\"paced-metrics\""
        ) > 0.0,
        "{text}"
    );
}

/// A refresh the provider refuses (the account becomes `needs_reauth`) and refreshes whose
/// token endpoint fails (a 500 with an HTML page, a 200 without a token) move their own
/// outcomes, and none of them counts as a success.
#[tokio::test]
async fn refused_and_failed_token_refreshes_are_counted_by_outcome() {
    let app = spawn_app().await;
    let gh = app.emulator("github");
    let refreshes = |text: &str, outcome: &str| {
        sample(
            text,
            &format!(r#"unigate_token_refreshes_total{{integration="github",outcome="{outcome}"}}"#),
        )
        .unwrap_or(0.0)
    };
    let token_path = "/login/oauth/access_token";

    // The token endpoint fails twice: a 500 with a page, then a 200 that is not a token.
    let (failing, _) = crate::oauth::github_oauth_account(&app, &crate::oauth::future()).await;
    gh.inject(
        unigate_emulator::Fault::status(500)
            .with_raw_body("<html>Internal Server Error</html>")
            .on("POST", token_path)
            .times(1),
    );
    let r = crate::oauth::refresh_credentials(&app, &failing).await;
    assert!(assert_error(&r, 502).contains("500"), "{}", r.text);
    gh.inject(
        unigate_emulator::Fault::status(200)
            .with_raw_body("garbage")
            .on("POST", token_path)
            .times(1),
    );
    let r = crate::oauth::refresh_credentials(&app, &failing).await;
    assert!(assert_error(&r, 502).contains("access_token"), "{}", r.text);
    let text = scrape(&app).await;
    assert_eq!(refreshes(&text, "error"), 2.0, "{text}");
    assert_eq!(refreshes(&text, "needs_reauth"), 0.0, "{text}");
    assert_eq!(refreshes(&text, "success"), 0.0, "{text}");
    // A failed token endpoint is not a refused grant: the account stays active.
    let view = app.get(&format!("/integrated-account/{failing}")).await;
    assert_eq!(view.body["status"], "active", "{}", view.text);

    // The provider refuses the refresh token of an expired account: needs_reauth, once.
    let (revoked, _) = crate::oauth::github_oauth_account(&app, "2020-01-01T00:00:00Z").await;
    gh.oauth_revoke_refresh_tokens();
    let r = app.get(&app.orgs_path(&revoked, Some("octo-org"), "")).await;
    assert!(assert_error(&r, 401).contains("re-authorized"), "{}", r.text);
    let r = app.get(&app.orgs_path(&revoked, Some("octo-org"), "")).await;
    assert_error(&r, 401);
    let text = scrape(&app).await;
    assert_eq!(refreshes(&text, "needs_reauth"), 1.0, "{text}");
    assert_eq!(refreshes(&text, "error"), 2.0, "{text}");
    assert_eq!(refreshes(&text, "success"), 0.0, "{text}");
    let view = app.get(&format!("/integrated-account/{revoked}")).await;
    assert_eq!(view.body["status"], "needs_reauth", "{}", view.text);
}

/// A call refused because its account's budget has no slot within the longest wait is
/// counted as exhausted (not as a wait, not as a provider attempt), and answered 429.
#[tokio::test]
async fn a_call_refused_for_an_exhausted_budget_is_counted() {
    let provider = crate::budget::paced("exhausted-metrics", "{ requests: 1, per_ms: 60000, max_wait_ms: 100 }").await;
    let app = crate::custom::spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;
    let path = format!("/proxy/items/1?integrated_account_id={account}");
    let counter =
        |text: &str, name: &str| sample(text, &format!(r#"{name}{{integration="exhausted-metrics"}}"#)).unwrap_or(0.0);
    assert_eq!(app.get(&path).await.status, 200);
    let before = scrape(&app).await;
    assert_eq!(counter(&before, "unigate_budget_exhausted_total"), 0.0, "{before}");

    let r = app.get(&path).await;

    assert!(assert_error(&r, 429).contains("budget"), "{}", r.text);
    let after = scrape(&app).await;
    assert_eq!(counter(&after, "unigate_budget_exhausted_total"), 1.0, "{after}");
    assert_eq!(counter(&after, "unigate_budget_waits_total"), 0.0, "{after}");
    assert_eq!(
        counter(&after, "unigate_provider_request_duration_seconds_count"),
        1.0,
        "only the first call reached the provider:\n{after}"
    );
    assert_eq!(
        requests(
            &after,
            r#"api="proxy",integration="exhausted-metrics",resource="items",method="GET",status="4xx""#
        ),
        1.0,
        "{after}"
    );
}

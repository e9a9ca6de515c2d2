//! Proactive per-account request budgets (`rate_limit.budget`): calls are spaced so the
//! provider never sees more than the budget in any window, across instances sharing a
//! store; a call that would wait too long is a 429 with `Retry-After`.
//!
//! Spacing is the behaviour here, so these tests assert on the emulator's arrival times,
//! with slack for scheduling (a window may look up to 100 ms short, never a call early).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use unigate::config::Config;
use unigate::startup::{Application, BuildOptions};
use unigate::store::{BudgetLanes, RateSlot};

use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with, CustomProvider, TOKEN};
use crate::helpers::{assert_error, fresh_postgres_database, TEST_KEY};

const ROUTES: &str = "  - { method: GET, path: \"/items/{id}\", op: get, collection: items }\n";

pub(crate) async fn paced(name: &str, budget: &str) -> CustomProvider {
    let rest = format!(
        "rate_limit:\n  budget: {budget}\nresources:\n  items:\n    get: {{ method: get, path: \"/items/{{{{id}}}}\" }}\n"
    );
    custom_provider(
        name,
        &integration_yaml(name, "https://api.paced.example", &rest),
        &emulator_yaml(3, ROUTES),
    )
    .await
}

/// Arrival times at the emulator, in order.
fn arrivals(provider: &CustomProvider) -> Vec<DateTime<Utc>> {
    let mut at: Vec<_> = provider.emulator.requests().iter().map(|r| r.received_at).collect();
    at.sort();
    at
}

/// Asserts that no window of `per_ms` held more than `requests` arrivals: the call after
/// every run of `requests` came at least `per_ms` (minus `slack_ms`) after its first.
fn assert_spaced(at: &[DateTime<Utc>], requests: usize, per_ms: i64, slack_ms: i64) {
    let mut narrowest = i64::MAX;
    for i in requests..at.len() {
        let gap = (at[i] - at[i - requests]).num_milliseconds();
        narrowest = narrowest.min(gap);
        assert!(
            gap >= per_ms - slack_ms,
            "calls {} and {i} were {gap} ms apart, under the budget's {per_ms} ms: {at:?}",
            i - requests
        );
    }
    println!(
        "the narrowest window holding {} calls spanned {narrowest} ms",
        requests + 1
    );
}

#[tokio::test]
async fn concurrent_calls_are_spread_at_the_declared_rate() {
    let provider = paced("paced-one", "{ requests: 5, per_ms: 1000 }").await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;
    let path = format!("/proxy/items/1?integrated_account_id={account}");

    let calls = (0..12).map(|_| app.get(&path));
    let replies = futures::future::join_all(calls).await;

    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let at = arrivals(&provider);
    assert_eq!(at.len(), 12);
    assert_spaced(&at, 5, 1000, 100);
    let spread = (at[11] - at[0]).num_milliseconds();
    println!("12 calls at 5 per 1000 ms arrived over {spread} ms");
    assert!(spread >= 1900, "12 calls at 5/s cannot arrive within {spread} ms");
}

#[tokio::test]
async fn a_call_that_would_wait_too_long_is_a_429_with_retry_after_and_never_sent() {
    let provider = paced("paced-short", "{ requests: 2, per_ms: 60000, max_wait_ms: 200 }").await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;
    let path = format!("/proxy/items/1?integrated_account_id={account}");
    assert_eq!(app.get(&path).await.status, 200);
    assert_eq!(app.get(&path).await.status, 200);

    let r = app.get(&path).await;

    let msg = assert_error(&r, 429);
    assert!(msg.contains("paced-short") && msg.contains("budget"), "{msg}");
    let retry_after: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((50..=61).contains(&retry_after), "{retry_after}");
    assert_eq!(
        provider.emulator.requests().len(),
        2,
        "the refused call never reached the provider"
    );
    let described = app.get("/integration/paced-short").await;
    assert_eq!(
        described.body["request_budget"],
        json!({ "requests": 2, "per_ms": 60000 })
    );
}

#[tokio::test]
async fn each_account_has_a_budget_of_its_own() {
    let provider = paced("paced-accounts", "{ requests: 1, per_ms: 60000, max_wait_ms: 100 }").await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let a = crate::custom::connect(&app, &provider, json!({})).await;
    let b = crate::custom::connect(&app, &provider, json!({})).await;

    let first_a = app.get(&format!("/proxy/items/1?integrated_account_id={a}")).await;
    let first_b = app.get(&format!("/proxy/items/1?integrated_account_id={b}")).await;
    let second_a = app.get(&format!("/proxy/items/1?integrated_account_id={a}")).await;

    assert_eq!(first_a.status, 200, "{}", first_a.text);
    assert_eq!(first_b.status, 200, "{}", first_b.text);
    assert_error(&second_a, 429);
}

#[tokio::test]
async fn the_store_reserves_slots_within_the_budget_and_refuses_beyond_the_wait() {
    let app = crate::helpers::spawn_app().await;
    let store = &app.state.store;
    let lanes = BudgetLanes::new(3, 1000);
    let key = format!("test:{}", uuid::Uuid::new_v4());

    for _ in 0..3 {
        assert_eq!(
            store.reserve_rate_slot(&key, lanes, 0).await.unwrap(),
            RateSlot::Granted { wait_ms: 0 }
        );
    }
    let refused = store.reserve_rate_slot(&key, lanes, 0).await.unwrap();
    let waited = store.reserve_rate_slot(&key, lanes, 5000).await.unwrap();
    let after = store.reserve_rate_slot(&key, lanes, 5000).await.unwrap();

    match refused {
        RateSlot::Exhausted { retry_after_ms } => assert!((800..=1020).contains(&retry_after_ms), "{retry_after_ms}"),
        other => panic!("expected no slot, got {other:?}"),
    }
    let RateSlot::Granted { wait_ms: w1 } = waited else {
        panic!("expected a slot, got {waited:?}")
    };
    let RateSlot::Granted { wait_ms: w2 } = after else {
        panic!("expected a slot, got {after:?}")
    };
    // Each waits for the next lane to free up, about one spacing after the burst.
    assert!((800..=1020).contains(&w1), "{w1}");
    assert!((800..=1020).contains(&w2), "{w2}");
}

#[test]
fn large_budgets_are_kept_in_at_most_a_hundred_lanes_and_never_exceeded() {
    // Spacings carry a jitter margin: 2%, at least 10 ms, at most 1 s.
    assert_eq!(
        BudgetLanes::new(5, 1000),
        BudgetLanes {
            lanes: 5,
            spacing_ms: 1020,
            window_ms: 1000
        }
    );
    let mist = BudgetLanes::new(5000, 3_600_000);
    assert_eq!((mist.lanes, mist.spacing_ms), (100, 73_000));
    for (requests, per_ms) in [
        (101, 1000),
        (150, 60_000),
        (7, 999),
        (1000, 10_000),
        (12_345, 86_400_000),
    ] {
        let l = BudgetLanes::new(requests, per_ms);
        assert!(l.lanes >= 1 && l.lanes <= BudgetLanes::MAX_LANES);
        // Each lane fits at most ceil(per / spacing) calls in a window.
        let per_lane = per_ms.div_ceil(l.spacing_ms);
        assert!(
            u64::from(l.lanes) * per_lane <= u64::from(requests),
            "{requests}/{per_ms}: {l:?}"
        );
    }
}

/// An instance of the gateway on a given database, pointed at the provider's emulator.
async fn instance(database_url: &str, provider: &CustomProvider) -> (String, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        database_url: Some(database_url.to_string()),
        encryption_key: Some(TEST_KEY.into()),
        catalog_dir: Some(provider.dir.path().to_path_buf()),
        ..Config::default()
    };
    config
        .upstream
        .base_url_overrides
        .insert(provider.name.clone(), provider.emulator.base_url());
    let app = Application::build(config, BuildOptions::default()).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let token = app.bootstrap_token.clone();
    tokio::spawn(async move {
        let _dir = dir;
        app.run_until_stopped(std::future::pending()).await
    });
    (base, token)
}

#[tokio::test]
async fn two_instances_on_one_store_share_an_accounts_budget() {
    let provider = paced("paced-shared", "{ requests: 3, per_ms: 1000 }").await;
    let shared = tempfile::tempdir().unwrap();
    let db = match fresh_postgres_database().await {
        Some(url) => url,
        None => format!("sqlite://{}", shared.path().join("shared.db").display()),
    };
    let (a, token) = instance(&db, &provider).await;
    let (b, _) = instance(&db, &provider).await;
    let token = token.unwrap();
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("{a}/integrated-account"))
        .bearer_auth(&token)
        .json(&json!({ "tenant_id": "t", "integration_name": "paced-shared", "context": { "token": TOKEN } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let account = created["id"].as_str().unwrap().to_string();

    // Six calls through each instance at once: twelve calls against 3 per second.
    let calls = (0..12).map(|i| {
        let base = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (client, token, account) = (client.clone(), token.clone(), account.clone());
        async move {
            client
                .get(format!("{base}/proxy/items/2?integrated_account_id={account}"))
                .bearer_auth(token)
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(calls).await;

    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let at = arrivals(&provider);
    assert_eq!(at.len(), 12);
    assert_spaced(&at, 3, 1000, 100);
    println!(
        "12 calls through 2 instances at 3 per 1000 ms arrived over {} ms",
        (at[11] - at[0]).num_milliseconds()
    );
}

//! Outbound webhooks over HTTP: a real receiver on 127.0.0.1 (allowed for the test through
//! `webhooks.allowed_private_networks`) that checks both signatures the way a receiver
//! written for Truto, or for Standard Webhooks, would: recomputing the HMAC here.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use unigate::config::Config;
use unigate::startup::{Application, BuildOptions};
use unigate::store::TokenScope;

use crate::helpers::{assert_error, fresh_postgres_database, serve_on_any_port, spawn_app_with, TestApp, TEST_KEY};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn event(&self) -> String {
        self.json()["event"].as_str().unwrap().to_string()
    }
}

/// A webhook target: records every request, answers the statuses it is told to (then 200).
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
    /// Each answer waits for a permit; [`Receiver::start`]'s has plenty.
    gate: Arc<tokio::sync::Semaphore>,
}

impl Receiver {
    async fn start() -> Receiver {
        Receiver::gated(tokio::sync::Semaphore::MAX_PERMITS).await
    }

    /// A receiver that records each request at once but answers only when given a permit
    /// ([`Receiver::release`]).
    async fn gated(permits: usize) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answers: Arc<Mutex<VecDeque<u16>>> = Arc::default();
        let gate = Arc::new(tokio::sync::Semaphore::new(permits));
        let (g, a, w) = (got.clone(), answers.clone(), gate.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (g, a, w) = (g.clone(), a.clone(), w.clone());
                async move {
                    g.lock().unwrap().push(Received { headers, body });
                    let _permit = w.acquire().await.unwrap();
                    let status = a.lock().unwrap().pop_front().unwrap_or(200);
                    (StatusCode::from_u16(status).unwrap(), "receiver says so")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url,
            got,
            answers,
            gate,
        }
    }

    fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }

    fn answer_next(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived (at most a minute: a safety net, not a measure).
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..3000 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let events: Vec<String> = self.received().iter().map(Received::event).collect();
        panic!("expected {n} webhook requests, got {}: {events:?}", events.len());
    }
}

fn hmac_base64(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// As a Truto receiver checks `X-Truto-Signature: format=sha256,v=<base64 HMAC of the raw
/// body>`: true when one `v=` value is the HMAC under `secret`.
fn truto_signed_with(secret: &str, r: &Received) -> bool {
    let header = r.headers["x-truto-signature"].to_str().unwrap();
    let mut parts = header.split(',');
    assert_eq!(parts.next(), Some("format=sha256"), "{header}");
    let expected = hmac_base64(secret, &r.body);
    parts.any(|p| p.strip_prefix("v=") == Some(expected.as_str()))
}

/// As a Standard Webhooks receiver checks `webhook-signature` over
/// `{webhook-id}.{webhook-timestamp}.{body}`.
fn standard_signed_with(secret: &str, r: &Received) -> bool {
    let id = r.headers["webhook-id"].to_str().unwrap();
    let ts = r.headers["webhook-timestamp"].to_str().unwrap();
    let ts_value: i64 = ts.parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - ts_value).abs() < 600,
        "a fresh timestamp"
    );
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(&r.body);
    let expected = hmac_base64(secret, &signed);
    r.headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

fn assert_signed(secret: &str, r: &Received) {
    assert!(truto_signed_with(secret, r), "X-Truto-Signature of {}", r.event());
    assert!(standard_signed_with(secret, r), "webhook-signature of {}", r.event());
    assert_eq!(r.headers["webhook-id"].to_str().unwrap(), r.json()["id"]);
}

fn test_config(c: &mut Config) {
    c.webhooks.allowed_private_networks = vec!["127.0.0.1".into()];
    c.webhooks.allow_http = true;
    c.webhooks.poll_interval_ms = 50;
    c.webhooks.retry_schedule_secs = vec![1, 1];
}

async fn app() -> TestApp {
    spawn_app_with(test_config).await
}

/// Creates a webhook to `url`; returns its id and secret.
async fn webhook(app: &TestApp, url: &str, event_types: Option<&[&str]>) -> (String, String) {
    let mut body = json!({ "target_url": url, "is_active": true });
    if let Some(types) = event_types {
        body["event_types"] = json!(types);
    }
    let r = app.send(Method::POST, "/webhook", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    (
        r.body["id"].as_str().unwrap().to_string(),
        r.body["secret"].as_str().unwrap().to_string(),
    )
}

async fn create_account(app: &TestApp, tenant: &str) -> String {
    let r = app
        .send(
            Method::POST,
            "/integrated-account",
            Some(json!({"tenant_id": tenant, "integration_name": "github", "context": {"access_token": "ghp_secret_value"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn webhooks_are_managed_on_trutos_paths_and_the_secret_is_shown_only_when_made() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let (id, secret) = webhook(&app, &receiver.url, Some(&["integrated_account:created"])).await;
    assert!(uuid::Uuid::parse_str(&secret).is_ok(), "a UUID, as Truto's: {secret}");
    let (second, _) = webhook(&app, &receiver.url, None).await;

    let r = app.get(&format!("/webhook/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["target_url"], receiver.url);
    assert_eq!(r.body["event_types"], json!(["integrated_account:created"]));
    assert_eq!(r.body["is_active"], true);
    assert!(r.body.get("secret").is_none(), "{}", r.text);
    assert!(!r.text.contains(&secret));

    // Paginated like every admin list.
    let page = app.get("/webhook?limit=1").await;
    assert_eq!(page.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["result"][0]["id"], id.as_str());
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let next = app.get(&format!("/webhook?limit=1&next_cursor={cursor}")).await;
    assert_eq!(next.body["result"][0]["id"], second.as_str());
    assert_eq!(next.body["next_cursor"], Value::Null);
    assert!(!page.text.contains(&secret) && !next.text.contains(&secret));

    let r = app
        .send(
            Method::PATCH,
            &format!("/webhook/{id}"),
            Some(json!({"is_active": false, "event_types": []})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["is_active"], false);
    assert_eq!(r.body["event_types"], json!([]));

    // Rotation answers the new secret, once.
    let r = app
        .send(Method::POST, &format!("/webhook/{id}/rotate-secret"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rotated = r.body["secret"].as_str().unwrap().to_string();
    assert_ne!(rotated, secret);
    assert!(r.body["previous_secret_expires_at"].is_string());
    assert!(app.get(&format!("/webhook/{id}")).await.body.get("secret").is_none());

    let r = app.send(Method::DELETE, &format!("/webhook/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_error(&app.get(&format!("/webhook/{id}")).await, 404);

    // Admin tokens only; another environment sees nothing.
    let env = app.state.store.first_environment().await.unwrap().unwrap();
    let api = unigate::tokens::generate_token();
    app.state
        .store
        .create_api_token(&env.id, "api", &unigate::tokens::hash_token(&api), TokenScope::Api)
        .await
        .unwrap();
    assert_error(&app.send_as(&api, Method::GET, "/webhook", None).await, 403);
    let other = app.state.store.create_environment("other").await.unwrap();
    let admin = unigate::tokens::generate_token();
    app.state
        .store
        .create_api_token(&other.id, "a", &unigate::tokens::hash_token(&admin), TokenScope::Admin)
        .await
        .unwrap();
    assert_error(
        &app.send_as(&admin, Method::GET, &format!("/webhook/{second}"), None)
            .await,
        404,
    );
    let r = app.send_as(&admin, Method::GET, "/webhook", None).await;
    assert_eq!(r.body["result"], json!([]));
}

#[tokio::test]
async fn bad_webhook_input_is_refused_with_a_clear_message() {
    let app = spawn_app_with(|c| c.webhooks.allow_http = true).await;
    let cases = [
        (json!({}), "`target_url` is required"),
        (json!({"target_url": "not a url"}), "not an absolute URL"),
        (json!({"target_url": "ftp://example.com/x"}), "must be an https:// URL"),
        (
            json!({"target_url": "https://example.com/x", "event_types": ["account:nope"]}),
            "`account:nope` is not an event type",
        ),
        (
            json!({"target_url": "https://example.com/x", "event_types": "integrated_account:created"}),
            "must be an array",
        ),
        (
            json!({"target_url": "https://example.com/x", "is_active": "yes"}),
            "`is_active` must be true or false",
        ),
        (
            json!({"target_url": "https://example.com/x", "secret": "mine"}),
            "Unknown field `secret`",
        ),
        (
            json!({"target_url": "https://user:pw@example.com/x"}),
            "may not hold a user name or password",
        ),
        // Private targets are refused unless the operator allows their network.
        (
            json!({"target_url": "http://127.0.0.1:9/hook"}),
            "webhooks.allowed_private_networks",
        ),
        (
            json!({"target_url": "https://169.254.169.254/latest"}),
            "169.254.169.254",
        ),
        (json!({"target_url": "https://[::1]/x"}), "private, loopback"),
        (json!({"target_url": "https://localhost/x"}), "private, loopback"),
    ];
    for (body, message) in cases {
        let r = app.send(Method::POST, "/webhook", Some(body.clone())).await;
        let text = assert_error(&r, 400);
        assert!(text.contains(message), "{body}: {text}");
    }
    let r = app.send(Method::POST, "/webhook/test", Some(json!({}))).await;
    assert!(assert_error(&r, 400).contains("`id` is required"));
    assert_error(
        &app.send(Method::POST, "/webhook/test", Some(json!({"id": "nope"})))
            .await,
        404,
    );

    // HTTPS only, unless allowed.
    let strict = spawn_app_with(|c| c.webhooks.allowed_private_networks = vec!["127.0.0.1".into()]).await;
    let r = strict
        .send(
            Method::POST,
            "/webhook",
            Some(json!({"target_url": "http://127.0.0.1:9/hook"})),
        )
        .await;
    assert!(assert_error(&r, 400).contains("must be an https:// URL"));
    let r = strict
        .send(
            Method::POST,
            "/webhook",
            Some(json!({"target_url": "https://127.0.0.1:9/hook"})),
        )
        .await;
    assert_eq!(r.status, 201, "an allowed network: {}", r.text);
}

#[tokio::test]
async fn every_account_change_sends_its_event_once_signed_both_ways() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let (webhook_id, secret) = webhook(&app, &receiver.url, None).await;
    let env = app.state.store.first_environment().await.unwrap().unwrap();

    let account = create_account(&app, "acme").await;
    let patch = |body: Value| {
        let (app, path) = (&app, format!("/integrated-account/{account}"));
        async move {
            let r = app.send(Method::PATCH, &path, Some(body)).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    };
    patch(json!({"tenant_id": "acme-2"})).await;
    patch(json!({"status": "needs_reauth"})).await;
    patch(json!({"status": "active"})).await;
    let r = app
        .send(Method::DELETE, &format!("/integrated-account/{account}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let got = receiver.wait_for(8).await;
    let names: Vec<String> = got.iter().map(Received::event).collect();
    assert_eq!(
        names,
        [
            "integrated_account:created",
            "integrated_account:active",
            "integrated_account:updated",
            "integrated_account:updated",
            "integrated_account:authentication_error",
            "integrated_account:updated",
            "integrated_account:reactivated",
            "integrated_account:deleted",
        ],
        "in order, each once"
    );
    let mut ids = std::collections::HashSet::new();
    for r in &got {
        assert_signed(&secret, r);
        let body = r.json();
        assert!(ids.insert(body["id"].as_str().unwrap().to_string()), "one id per event");
        assert_eq!(body["webhook_id"], webhook_id.as_str());
        assert_eq!(body["environment_id"], env.id.as_str());
        assert!(body["created_at"].is_string());
        assert_eq!(body["payload"]["id"], account.as_str());
        assert!(!r.body.windows(16).any(|w| w == b"ghp_secret_value"), "never a secret");
        assert_eq!(r.headers["content-type"], "application/json");
    }
    assert_eq!(got[2].json()["payload"]["tenant_id"], "acme-2");
    assert_eq!(got[4].json()["payload"]["status"], "needs_reauth");
    assert_eq!(got[6].json()["payload"]["status"], "active");

    // A signature under another secret does not verify: the check can fail.
    assert!(!truto_signed_with("another-secret", &got[0]));
    assert!(!standard_signed_with("another-secret", &got[0]));

    // Every delivery is recorded, delivered at the first attempt. The receiver has the
    // requests before the worker records their answers: wait (bounded) for the records.
    let mut r = app.get(&format!("/webhook/{webhook_id}/deliveries")).await;
    for _ in 0..250 {
        let done = r.body["result"]
            .as_array()
            .is_some_and(|d| d.len() == 8 && d.iter().all(|x| x["status"] != "pending"));
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        r = app.get(&format!("/webhook/{webhook_id}/deliveries")).await;
    }
    assert_eq!(r.status, 200, "{}", r.text);
    let deliveries = r.body["result"].as_array().unwrap();
    assert_eq!(deliveries.len(), 8);
    for d in deliveries {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["attempt_log"][0]["status_code"], 200);
    }
}

#[tokio::test]
async fn token_events_and_test_events_reach_the_webhooks_that_want_them() {
    // No polling to speak of: the instance that commits an event sends it at once.
    let app = spawn_app_with(|c| {
        test_config(c);
        c.webhooks.poll_interval_ms = 3_600_000;
    })
    .await;
    let receiver = Receiver::start().await;
    let (webhook_id, secret) = webhook(&app, &receiver.url, Some(&["api_token:created", "api_token:deleted"])).await;

    // Not subscribed: no delivery.
    create_account(&app, "acme").await;
    let r = app
        .send(Method::POST, "/api-token", Some(json!({"name": "ci", "scope": "api"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token_id = r.body["id"].as_str().unwrap().to_string();
    let token_value = r.body["token"].as_str().unwrap().to_string();
    let r = app.send(Method::DELETE, &format!("/api-token/{token_id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].event(), "api_token:created");
    assert_eq!(got[1].event(), "api_token:deleted");
    for r in &got {
        assert_signed(&secret, r);
        assert_eq!(r.json()["payload"]["id"], token_id.as_str());
        assert!(
            !String::from_utf8_lossy(&r.body).contains(&token_value),
            "never the token"
        );
    }

    // A test event, even to an inactive webhook.
    let r = app
        .send(
            Method::PATCH,
            &format!("/webhook/{webhook_id}"),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .send(Method::POST, "/webhook/test", Some(json!({"id": webhook_id})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].event(), "test");
    assert_eq!(got[2].json()["id"], r.body["id"]);
    assert_signed(&secret, &got[2]);
    let deliveries = app.get(&format!("/webhook/{webhook_id}/deliveries")).await;
    assert_eq!(
        deliveries.body["result"].as_array().unwrap().len(),
        3,
        "{}",
        deliveries.text
    );
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_event_on_the_third_try_and_deliveries_show_why() {
    let app = app().await;
    let receiver = Receiver::start().await;
    receiver.answer_next(&[500, 503]);
    let (webhook_id, secret) = webhook(&app, &receiver.url, Some(&["integrated_account:created"])).await;
    create_account(&app, "acme").await;

    let got = receiver.wait_for(3).await;
    let id = got[0].json()["id"].clone();
    for r in &got {
        assert_eq!(r.json()["id"], id, "the same event each time");
        assert_signed(&secret, r);
    }
    // Recorded once the third attempt is: wait for the delivery to settle.
    let mut delivery = Value::Null;
    for _ in 0..500 {
        let r = app.get(&format!("/webhook/{webhook_id}/deliveries")).await;
        delivery = r.body["result"][0].clone();
        if delivery["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(delivery["attempts"], 3);
    assert_eq!(delivery["event_id"], id);
    assert_eq!(delivery["event"], "integrated_account:created");
    let log = delivery["attempt_log"].as_array().unwrap();
    let codes: Vec<&Value> = log.iter().map(|a| &a["status_code"]).collect();
    assert_eq!(codes, [&json!(500), &json!(503), &json!(200)]);
    assert_eq!(log[0]["attempt"], 1);
    assert!(log[0]["error"].as_str().unwrap().contains("500"), "{}", log[0]);
    assert!(log[0]["error"].as_str().unwrap().contains("receiver says so"));
    assert!(log[0]["duration_ms"].is_u64());
    assert_eq!(log[2]["error"], Value::Null);

    // Sent again on request, with the same event id.
    let delivery_id = delivery["id"].as_str().unwrap();
    let r = app
        .send(
            Method::POST,
            &format!("/webhook/{webhook_id}/deliveries/{delivery_id}/retry"),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let got = receiver.wait_for(4).await;
    assert_eq!(got[3].json()["id"], id);
    assert_error(
        &app.send(
            Method::POST,
            &format!("/webhook/{webhook_id}/deliveries/nope/retry"),
            None,
        )
        .await,
        404,
    );
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_marked_failed_after_the_schedule() {
    let app = spawn_app_with(|c| {
        test_config(c);
        c.webhooks.retry_schedule_secs = vec![0];
        c.webhooks.disable_after_failures = 2;
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.answer_next(&[500, 500, 500]);
    let (webhook_id, _) = webhook(&app, &receiver.url, Some(&["integrated_account:created"])).await;
    let watcher = Receiver::start().await;
    let (_, watcher_secret) = webhook(&app, &watcher.url, Some(&["webhook:disabled"])).await;
    create_account(&app, "acme").await;
    receiver.wait_for(2).await;
    // The other webhook hears of it.
    let told = watcher.wait_for(1).await;
    assert_eq!(told[0].event(), "webhook:disabled");
    assert_eq!(told[0].json()["payload"]["id"], webhook_id.as_str());
    assert_eq!(told[0].json()["payload"]["is_active"], false);
    assert_signed(&watcher_secret, &told[0]);
    let mut last = app.get(&format!("/webhook/{webhook_id}")).await;
    for _ in 0..500 {
        if last.body["is_active"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        last = app.get(&format!("/webhook/{webhook_id}")).await;
    }
    assert_eq!(
        last.body["is_active"], false,
        "set inactive after two failures in a row"
    );
    let r = app.get(&format!("/webhook/{webhook_id}/deliveries")).await;
    assert_eq!(r.body["result"][0]["status"], "failed", "{}", r.text);
    assert_eq!(r.body["result"][0]["attempts"], 2);
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_for_a_day() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let (webhook_id, old) = webhook(&app, &receiver.url, Some(&["integrated_account:created"])).await;
    let r = app
        .send(Method::POST, &format!("/webhook/{webhook_id}/rotate-secret"), None)
        .await;
    let new = r.body["secret"].as_str().unwrap().to_string();
    create_account(&app, "acme").await;
    let got = receiver.wait_for(1).await;
    for secret in [&old, &new] {
        assert!(truto_signed_with(secret, &got[0]));
        assert!(standard_signed_with(secret, &got[0]));
    }
    // The new secret's signature comes first.
    let header = got[0].headers["x-truto-signature"].to_str().unwrap();
    assert_eq!(
        header.split(",v=").nth(1),
        Some(hmac_base64(&new, &got[0].body).as_str())
    );
}

#[tokio::test]
async fn a_change_that_rolls_back_leaves_no_event_and_no_event_goes_without_its_change() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let (webhook_id, _) = webhook(&app, &receiver.url, None).await;
    let account = create_account(&app, "acme").await;
    receiver.wait_for(2).await;
    let store = &app.state.store;
    let env = store.first_environment().await.unwrap().unwrap();
    let record = store.get_account(&env.id, &account).await.unwrap().unwrap();

    // The account insert fails (its id exists): its event is rolled back with it.
    let event = unigate::webhooks::event(&env.id, "integrated_account:created", json!({}), &account);
    assert!(store.insert_account_emitting(&record, &[event]).await.is_err());
    // The event's insert fails (its id exists): the account's change is rolled back.
    let taken = store.list_deliveries(&env.id, &webhook_id, None, 10).await.unwrap()[0]
        .event_id
        .clone();
    let mut changed = record.clone();
    changed.tenant_id = "rolled-back".into();
    let mut event = unigate::webhooks::event(&env.id, "integrated_account:updated", json!({}), &account);
    event.id = taken;
    assert!(store.update_account_emitting(&changed, &[event]).await.is_err());
    let now = store.get_account(&env.id, &account).await.unwrap().unwrap();
    assert_eq!(now.tenant_id, "acme", "the change rolled back with its event");
    assert_eq!(
        store
            .list_deliveries(&env.id, &webhook_id, None, 10)
            .await
            .unwrap()
            .len(),
        2,
        "no event for what rolled back"
    );
}

/// A gateway on a given database (shared by the instances of one test), its worker on or
/// off; returns its address and a handle that stops it.
async fn instance(
    database_url: &str,
    delivery: bool,
) -> (
    String,
    Option<String>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        database_url: Some(database_url.to_string()),
        encryption_key: Some(TEST_KEY.into()),
        ..Config::default()
    };
    test_config(&mut config);
    config.webhooks.delivery = delivery;
    let app = Application::build(config, BuildOptions::default()).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let token = app.bootstrap_token.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _dir = dir;
        app.run_until_stopped(async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (base, token, stop, task)
}

async fn shared_database(dir: &tempfile::TempDir) -> String {
    match fresh_postgres_database().await {
        Some(url) => url,
        None => format!("sqlite://{}", dir.path().join("shared.db").display()),
    }
}

#[tokio::test]
async fn an_event_committed_before_a_stop_is_delivered_by_the_next_gateway_on_the_store() {
    let shared = tempfile::tempdir().unwrap();
    let db = shared_database(&shared).await;
    let receiver = Receiver::start().await;
    let client = reqwest::Client::new();

    // A gateway that commits changes but never sends (as one killed before its worker ran).
    let (first, token, stop, task) = instance(&db, false).await;
    let token = token.unwrap();
    let created: Value = client
        .post(format!("{first}/webhook"))
        .bearer_auth(&token)
        .json(&json!({"target_url": receiver.url, "event_types": ["integrated_account:created"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    let account: Value = client
        .post(format!("{first}/integrated-account"))
        .bearer_auth(&token)
        .json(&json!({"tenant_id": "t", "integration_name": "github", "context": {"access_token": "x"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stop.send(()).unwrap();
    task.await.unwrap();
    assert!(receiver.received().is_empty());

    // The next gateway on the same store sends it.
    let (_second, _, _keep, _task) = instance(&db, true).await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].event(), "integrated_account:created");
    assert_eq!(got[0].json()["payload"]["id"], account["id"]);
    assert_signed(&secret, &got[0]);
}

#[tokio::test]
async fn two_gateways_on_one_store_deliver_each_event_once() {
    let shared = tempfile::tempdir().unwrap();
    let db = shared_database(&shared).await;
    let receiver = Receiver::start().await;
    let client = reqwest::Client::new();
    let (a, token, _stop_a, _task_a) = instance(&db, true).await;
    let (b, _, _stop_b, _task_b) = instance(&db, true).await;
    let token = token.unwrap();
    let r = client
        .post(format!("{a}/webhook"))
        .bearer_auth(&token)
        .json(&json!({"target_url": receiver.url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let webhook_id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();

    // 100 accounts through both instances: 200 events (created, active).
    let creates = (0..100).map(|i| {
        let base = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (client, token) = (client.clone(), token.clone());
        async move {
            let r = client
                .post(format!("{base}/integrated-account"))
                .bearer_auth(&token)
                .json(&json!({"tenant_id": format!("t{i}"), "integration_name": "github", "context": {"access_token": "x"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
    });
    futures::future::join_all(creates).await;
    receiver.wait_for(200).await;
    // Once every delivery is recorded delivered, none can be sent again; each was claimed
    // (and sent) once.
    let mut deliveries = Vec::new();
    for _ in 0..1500 {
        let r: Value = client
            .get(format!("{b}/webhook/{webhook_id}/deliveries?limit=1000"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        deliveries = r["result"].as_array().unwrap().clone();
        if deliveries.len() == 200 && deliveries.iter().all(|d| d["status"] == "delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(deliveries.len(), 200);
    for d in &deliveries {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempts"], 1, "claimed once: {d}");
    }
    let got = receiver.received();
    assert_eq!(got.len(), 200, "no event sent twice");
    let ids: std::collections::HashSet<String> = got
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 200, "200 distinct events");
}

/// The consent path of a link, as the connect page and a person allowing access on the
/// provider's (emulated) consent page take it; returns the account's id.
async fn connect_by_consent(app: &TestApp, integration: &str) -> String {
    let r = app
        .send(Method::POST, "/link-token", Some(json!({"tenant_id": "acme"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.body["link_token"].as_str().unwrap().to_string();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirects
        .get(format!(
            "{}/connect/oauth/start?link_token={token}&integration={integration}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let mut form: Vec<(String, String)> = to.query_pairs().into_owned().collect();
    form.push(("decision".into(), "allow".into()));
    let mut consent_page = to.clone();
    consent_page.set_query(None);
    let back = no_redirects.post(consent_page).form(&form).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_string();
    let page = app.client.get(&callback).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-status=\"active\""), "{page}");
    page.split("data-account=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_oauth_connect_flow_and_a_refused_refresh_send_their_events() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let (_, secret) = webhook(&app, &receiver.url, None).await;

    let account = connect_by_consent(&app, "github").await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].event(), "integrated_account:created");
    assert_eq!(got[0].json()["payload"]["status"], "connecting");
    assert_eq!(got[1].event(), "integrated_account:active");
    assert_eq!(got[1].json()["payload"]["status"], "active");

    // The provider refuses the refresh token: the account needs re-authorization.
    app.emulator("github").oauth_revoke_refresh_tokens();
    let r = app
        .send(
            Method::POST,
            "/integrated-account/refresh-credentials",
            Some(json!({ "id": account })),
        )
        .await;
    assert_error(&r, 401);
    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].event(), "integrated_account:authentication_error");
    assert_eq!(got[2].json()["payload"]["status"], "needs_reauth");
    for r in &got {
        assert_signed(&secret, r);
        assert_eq!(r.json()["payload"]["id"], account.as_str());
        let context = r.json()["payload"]["context"].clone();
        for secret in ["access_token", "refresh_token", "oauth"] {
            assert!(context.get(secret).is_none(), "{context}");
        }
    }
}

/// A `unigate serve` process on `data_dir` (and `database_url`, if any); SIGKILLed when
/// dropped.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn unigate(data_dir: &std::path::Path, database_url: Option<&str>, delivery: bool) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_unigate"));
    c.env("UNIGATE_ENCRYPTION_KEY", TEST_KEY)
        .env("UNIGATE_DATA_DIR", data_dir)
        .env("UNIGATE_WEBHOOKS__DELIVERY", delivery.to_string())
        .env("UNIGATE_WEBHOOKS__ALLOW_HTTP", "true")
        .env("UNIGATE_WEBHOOKS__ALLOWED_PRIVATE_NETWORKS", "[\"127.0.0.1\"]")
        .env("UNIGATE_WEBHOOKS__POLL_INTERVAL_MS", "50")
        .env("UNIGATE_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(db) = database_url {
        c.env("UNIGATE_DATABASE_URL", db);
    }
    c
}

async fn serve(data_dir: &std::path::Path, database_url: Option<&str>, delivery: bool) -> (Process, String) {
    let mut command = unigate(data_dir, database_url, delivery);
    // The line that gives the address is at `info`; the rest stays at `warn`.
    command.env("UNIGATE_LOG", "warn,unigate=info");
    let stderr = data_dir.join(format!(
        "stderr-{}.log",
        if delivery { "delivering" } else { "serving" }
    ));
    let (child, base) = serve_on_any_port(command, &stderr).await;
    (Process(child), base)
}

#[tokio::test]
async fn a_gateway_killed_after_committing_a_change_still_delivers_its_event_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_postgres_database().await;
    let out = unigate(dir.path(), db.as_deref(), false)
        .args(["token", "create", "--name", "t"])
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let receiver = Receiver::start().await;
    let client = reqwest::Client::new();

    // A process whose worker never runs: every change it commits is still to be sent when
    // it is SIGKILLed.
    let (mut first, base) = serve(dir.path(), db.as_deref(), false).await;
    let created: Value = client
        .post(format!("{base}/webhook"))
        .bearer_auth(&token)
        .json(&json!({"target_url": receiver.url}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    let r = client
        .post(format!("{base}/integrated-account"))
        .bearer_auth(&token)
        .json(&json!({"tenant_id": "t", "integration_name": "github", "context": {"access_token": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let account: Value = r.json().await.unwrap();
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    assert!(receiver.received().is_empty());

    let (_second, _) = serve(dir.path(), db.as_deref(), true).await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].event(), "integrated_account:created");
    assert_eq!(got[1].event(), "integrated_account:active");
    for r in &got {
        assert_eq!(r.json()["payload"]["id"], account["id"]);
        assert_signed(&secret, r);
    }
}

#[tokio::test]
async fn a_master_key_rotation_reseals_webhook_secrets_too() {
    use unigate::crypto::Keyring;
    const KEY_B: &str = "Ym9iLWJvYi1ib2ItYm9iLWJvYi1ib2ItYm9iLWJvYiE=";
    let app = spawn_app_with(|c| {
        test_config(c);
        c.encryption_key = Some(TEST_KEY.into());
    })
    .await;
    let receiver = Receiver::start().await;
    let (id, secret) = webhook(&app, &receiver.url, None).await;
    let r = app
        .send(Method::POST, &format!("/webhook/{id}/rotate-secret"), None)
        .await;
    let rotated_secret = r.body["secret"].as_str().unwrap().to_string();
    let env = app.state.store.first_environment().await.unwrap().unwrap();

    let both =
        Keyring::from_key(Keyring::decode_key(KEY_B).unwrap()).with_previous(Keyring::decode_key(TEST_KEY).unwrap());
    let report = unigate::webhooks::reseal_all(app.state.store.as_ref(), &both)
        .await
        .unwrap();
    assert_eq!((report.webhooks, report.resealed), (1, 1));
    let again = unigate::webhooks::reseal_all(app.state.store.as_ref(), &both)
        .await
        .unwrap();
    assert_eq!(again.resealed, 0, "re-running is a no-op");

    // Only the new key is needed to sign, with both secrets.
    let only_b = Keyring::from_key(Keyring::decode_key(KEY_B).unwrap());
    let stored = app.state.store.get_webhook(&env.id, &id).await.unwrap().unwrap();
    let secrets = unigate::webhooks::signing_secrets(&only_b, &stored, chrono::Utc::now()).unwrap();
    assert_eq!(secrets, [rotated_secret, secret]);
}

#[tokio::test]
async fn a_target_that_does_not_answer_does_not_hold_up_other_targets() {
    // Longer than any wait of this test: a worker that sent one delivery at a time would
    // keep the second target waiting past it.
    let app = spawn_app_with(|c| {
        test_config(c);
        c.webhooks.timeout_ms = 120_000;
    })
    .await;
    let stuck = Receiver::gated(0).await;
    let fine = Receiver::start().await;
    webhook(&app, &stuck.url, Some(&["integrated_account:created"])).await;
    let (_, secret) = webhook(&app, &fine.url, Some(&["api_token:created"])).await;
    create_account(&app, "acme").await;
    stuck.wait_for(1).await;

    // While the first target holds its request, the second gets its event.
    let r = app.send(Method::POST, "/api-token", Some(json!({"name": "ci"}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let got = fine.wait_for(1).await;
    assert_signed(&secret, &got[0]);
    assert_eq!(
        stuck.gate.available_permits(),
        0,
        "the first request is still unanswered"
    );
    stuck.release(10);
}

#[tokio::test]
async fn an_unanswered_attempt_times_out_and_is_retried_later() {
    let app = spawn_app_with(|c| {
        test_config(c);
        c.webhooks.timeout_ms = 300;
        c.webhooks.retry_schedule_secs = vec![3600];
    })
    .await;
    let stuck = Receiver::gated(0).await;
    let (stuck_id, _) = webhook(&app, &stuck.url, Some(&["integrated_account:created"])).await;
    create_account(&app, "acme").await;
    stuck.wait_for(1).await;
    let mut delivery = Value::Null;
    for _ in 0..500 {
        let r = app.get(&format!("/webhook/{stuck_id}/deliveries")).await;
        delivery = r.body["result"][0].clone();
        if delivery["attempt_log"].as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(delivery["status"], "pending", "{delivery}");
    assert_eq!(delivery["attempt_log"][0]["status_code"], Value::Null);
    assert_eq!(delivery["attempt_log"][0]["error"], "No answer within 300 ms.");
    assert!(delivery["next_attempt_at"].is_string());
    stuck.release(10);
}

/// A change of the environment's mapping overrides sends `environment_unified_model:updated`
/// with the model as it now is (Truto's environment unified model shape); an account's
/// override change is an `integrated_account:updated`.
#[tokio::test]
async fn mapping_override_changes_send_their_events() {
    let app = app().await;
    let receiver = Receiver::start().await;
    let (_, secret) = webhook(
        &app,
        &receiver.url,
        Some(&["environment_unified_model:updated", "integrated_account:updated"]),
    )
    .await;
    let rows = "/environment-unified-model-resource-method";
    let r = app
        .send(
            Method::POST,
            rows,
            Some(
                json!({"resource_name": "organizations", "integration_name": "github", "method_name": "get",
                        "config": {"response_mapping": "{ \"blog\": response.blog }"}}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].event(), "environment_unified_model:updated");
    assert_signed(&secret, &got[0]);
    let payload = &got[0].json()["payload"];
    assert_eq!(payload["id"], "user-directory");
    assert_eq!(
        payload["override"]["resources"]["organizations"]["integration_mapping"]["github"]["get"]["response_mapping"],
        "{ \"blog\": response.blog }"
    );

    let r = app.send(Method::DELETE, &format!("{rows}/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].event(), "environment_unified_model:updated");
    assert_eq!(got[1].json()["payload"]["override"]["resources"], json!({}));

    let account = create_account(&app, "acme").await;
    let r = app
        .send(
            Method::PATCH,
            &format!("/integrated-account/{account}"),
            Some(
                json!({"unified_model_override": {"user-directory": {"organizations": {"get": {
                "response_mapping": "{ \"blog\": response.blog }"}}}}}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].event(), "integrated_account:updated");
    assert!(
        got[2].json()["payload"]["unified_model_override"]["user-directory"].is_object(),
        "{}",
        got[2].json()
    );
    // Stored with the event: the account reads back its override.
    let r = app.get(&format!("/integrated-account/{account}")).await;
    assert!(
        r.body["unified_model_override"]["user-directory"].is_object(),
        "{}",
        r.text
    );
}

//! OpenTelemetry traces (docs/traces.md), from outside: the gateway binary as a child
//! process (the tracing subscriber is process-global, so not the in-process test apps),
//! exporting over OTLP/HTTP to a receiver in this test that decodes the protobuf, in front
//! of the GitHub emulator. The process is stopped with SIGTERM and waited for before the
//! receiver is read: a graceful stop exports every span still buffered.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use serde_json::{json, Value};
use unigate_emulator::{Fault, RunningEmulator};

use crate::helpers::{catalog_dir, fresh_postgres_database, serve_on_any_port, TEST_KEY};

const GITHUB_TOKEN: &str = "ghp_SandboxToken0000000000000000000001";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// A span as the receiver decoded it.
#[derive(Debug, Clone)]
struct Span {
    trace_id: String,
    span_id: String,
    parent_id: String,
    name: String,
    kind: i32,
    attributes: Vec<(String, String)>,
}

impl Span {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Received {
    exports: usize,
    content_types: Vec<String>,
    resource: Vec<(String, String)>,
    spans: Vec<Span>,
}

/// An OTLP/HTTP receiver: `POST /v1/traces` with a protobuf `ExportTraceServiceRequest`.
struct Receiver {
    url: String,
    received: Arc<Mutex<Received>>,
}

fn text(kv: &KeyValue) -> (String, String) {
    let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    };
    (kv.key.clone(), value)
}

async fn export(State(received): State<Arc<Mutex<Received>>>, headers: axum::http::HeaderMap, body: Bytes) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
    let mut r = received.lock().unwrap();
    r.exports += 1;
    r.content_types.push(
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    );
    for rs in request.resource_spans {
        if let Some(resource) = &rs.resource {
            r.resource = resource.attributes.iter().map(text).collect();
        }
        for ss in rs.scope_spans {
            for s in ss.spans {
                r.spans.push(Span {
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_id: hex(&s.parent_span_id),
                    name: s.name.clone(),
                    kind: s.kind,
                    attributes: s.attributes.iter().map(text).collect(),
                });
            }
        }
    }
    // An empty `ExportTraceServiceResponse`: everything accepted.
    Vec::new()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Receiver {
    async fn start() -> Receiver {
        let received = Arc::new(Mutex::new(Received::default()));
        let app = axum::Router::new()
            .route("/v1/traces", post(export))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, received }
    }
}

/// A `unigate serve` child process; SIGKILLed if dropped before [`Gateway::stop`].
struct Gateway {
    child: Child,
    base: String,
    stderr: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    /// SIGTERM, then waits for the process to end (bounded) and returns its stderr.
    async fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        for _ in 0..400 {
            if self.child.try_wait().unwrap().is_some() {
                return std::fs::read_to_string(&self.stderr).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the gateway did not stop within 20 s of SIGTERM");
    }
}

struct Setup {
    dir: tempfile::TempDir,
    database_url: Option<String>,
    github: RunningEmulator,
    /// Gateways started so far, naming each one's stderr file.
    started: std::sync::atomic::AtomicUsize,
}

impl Setup {
    async fn new() -> Setup {
        let file = catalog_dir().join("integrations/github/emulator.yaml");
        let github = unigate_emulator::start(unigate_emulator::EmulatorSpec::from_file(&file).unwrap())
            .await
            .unwrap();
        Setup {
            dir: tempfile::tempdir().unwrap(),
            database_url: fresh_postgres_database().await,
            github,
            started: Default::default(),
        }
    }

    fn command(&self, env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_unigate"));
        c.env("UNIGATE_ENCRYPTION_KEY", TEST_KEY)
            .env("UNIGATE_DATA_DIR", self.dir.path())
            .env("UNIGATE_UPSTREAM__BASE_URL_OVERRIDES__GITHUB", self.github.base_url())
            .env("UNIGATE_LOG", "info")
            .env("UNIGATE_OAUTH__APPS__GITHUB__CLIENT_ID", "Iv23liSandbox00000001")
            .env(
                "UNIGATE_OAUTH__APPS__GITHUB__CLIENT_SECRET",
                "sandbox0github0app0client0secret0000001",
            )
            // The standard OpenTelemetry variables must not turn traces on by themselves.
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        if let Some(db) = &self.database_url {
            c.env("UNIGATE_DATABASE_URL", db);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    fn token(&self) -> String {
        let out = self
            .command(&[])
            .args(["token", "create", "--name", "t"])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    async fn start(&self, env: &[(&str, &str)]) -> Gateway {
        let n = self.started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stderr = self.dir.path().join(format!("stderr-{n}.log"));
        let (child, base) = serve_on_any_port(self.command(env), &stderr).await;
        Gateway { child, base, stderr }
    }
}

async fn create_account(base: &str, token: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{base}/integrated-account"))
        .bearer_auth(token)
        .json(&json!({"tenant_id": "t", "integration_name": "github", "context": {"access_token": GITHUB_TOKEN}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string()
}

/// GET `path` with the trace headers a traced client sends.
async fn traced_get(base: &str, token: &str, path: &str, traceparent: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .header("traceparent", traceparent)
        .header("tracestate", "vendor=opaque")
        .header("baggage", "user=alice")
        .send()
        .await
        .unwrap()
        .status()
}

fn assert_no_trace_headers(github: &RunningEmulator) {
    let requests = github.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        for h in ["traceparent", "tracestate", "baggage"] {
            assert!(
                r.header(h).is_none(),
                "{h} reached the provider on {} {}",
                r.method,
                r.path
            );
        }
    }
}

fn parent_of<'a>(spans: &'a [Span], child: &Span) -> &'a Span {
    spans
        .iter()
        .find(|s| s.span_id == child.parent_id)
        .unwrap_or_else(|| panic!("the parent of {} was not exported: {spans:#?}", child.name))
}

fn only<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one `{name}` span expected: {spans:#?}");
    found[0]
}

#[tokio::test]
async fn a_traced_call_exports_its_spans_under_the_callers_trace_and_providers_never_see_trace_headers() {
    let setup = Setup::new().await;
    let token = setup.token();
    let receiver = Receiver::start().await;
    let gateway = setup
        .start(&[("UNIGATE_TRACES__OTLP_ENDPOINT", receiver.url.as_str())])
        .await;
    let account = create_account(&gateway.base, &token).await;
    // The first attempt fails: a 503 is retried (a GET is idempotent), so two attempts.
    setup
        .github
        .inject(Fault::status(503).on("GET", "/orgs/github").times(1));
    setup.github.clear_requests();

    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let path = format!("/unified/user-directory/organizations/github?integrated_account_id={account}");
    assert_eq!(traced_get(&gateway.base, &token, &path, &traceparent).await, 200);
    // The Proxy API passes no incoming header on either.
    let proxy = format!("/proxy/organizations/github?integrated_account_id={account}");
    assert_eq!(traced_get(&gateway.base, &token, &proxy, &traceparent).await, 200);
    // An OAuth account whose token is due: refreshed on the way (and the new token stored).
    let tokens = setup.github.oauth_issue().unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/integrated-account", gateway.base))
        .bearer_auth(&token)
        .json(&json!({"tenant_id": "t", "integration_name": "github", "context": {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339(),
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let oauth_account = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let refreshing = "00-33333333333333333333333333333333-4444444444444444-01";
    let oauth_path = format!("/unified/user-directory/organizations/github?integrated_account_id={oauth_account}");
    assert_eq!(traced_get(&gateway.base, &token, &oauth_path, refreshing).await, 200);
    // A caller that did not sample its trace: nothing of it is exported.
    let unsampled = "00-11111111111111111111111111111111-2222222222222222-00";
    assert_eq!(traced_get(&gateway.base, &token, &path, unsampled).await, 200);
    // A keyed write, then the same again (replayed from the record), each in its own trace.
    let keyed = "00-55555555555555555555555555555555-6666666666666666-01";
    let replayed = "00-77777777777777777777777777777777-6666666666666666-01";
    for traceparent in [keyed, replayed] {
        let r = reqwest::Client::new()
            .patch(format!("{}{path}", gateway.base))
            .bearer_auth(&token)
            .header("traceparent", traceparent)
            .header("Idempotency-Key", "traced-write")
            .json(&json!({"name": "Traced"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let stderr = gateway.stop().await;

    assert_no_trace_headers(&setup.github);
    let received = receiver.received.lock().unwrap();
    assert!(received.exports > 0);
    assert!(
        received.content_types.iter().all(|c| c == "application/x-protobuf"),
        "{:?}",
        received.content_types
    );
    assert!(received
        .resource
        .contains(&("service.name".to_string(), "unigate".to_string())));
    assert!(
        !received
            .spans
            .iter()
            .any(|s| s.trace_id == "11111111111111111111111111111111"),
        "an unsampled trace was exported"
    );
    let ours: Vec<Span> = received
        .spans
        .iter()
        .filter(|s| s.trace_id == TRACE_ID)
        .cloned()
        .collect();
    let calls: Vec<&Span> = ours.iter().filter(|s| s.parent_id == PARENT_ID).collect();
    assert_eq!(
        calls.len(),
        2,
        "the unified and the proxy call, children of the caller's span: {ours:#?}"
    );
    let unified = calls
        .iter()
        .find(|s| s.name == "GET /unified/{category}/{resource}/{id}")
        .unwrap_or_else(|| panic!("{calls:#?}"));
    assert_eq!(unified.kind, SpanKind::Server as i32);
    assert_eq!(unified.attribute("http.response.status_code"), Some("200"));
    assert_eq!(
        unified.attribute("http.route"),
        Some("/unified/{category}/{resource}/{id}")
    );
    assert!(
        calls.iter().any(|s| s.name == "GET /proxy/{resource}/{id}"),
        "{calls:#?}"
    );

    // The unified call's own spans.
    let mine: Vec<Span> = ours
        .iter()
        .filter(|s| {
            let mut s = (*s).clone();
            loop {
                if s.span_id == unified.span_id {
                    return true;
                }
                match ours.iter().find(|p| p.span_id == s.parent_id) {
                    Some(p) => s = p.clone(),
                    None => return false,
                }
            }
        })
        .cloned()
        .collect();
    let account_load = only(&mine, "account.load");
    assert_eq!(account_load.parent_id, unified.span_id);
    assert_eq!(account_load.attribute("unigate.integration"), Some("github"));
    assert_eq!(parent_of(&mine, only(&mine, "store.get_account")).name, "account.load");
    for name in ["mapping.request", "mapping.response"] {
        let found: Vec<&Span> = mine.iter().filter(|s| s.name == name).collect();
        assert!(!found.is_empty(), "no `{name}` span: {mine:#?}");
        assert!(found.iter().all(|s| s.parent_id == unified.span_id), "{found:#?}");
    }
    let mut attempts: Vec<&Span> = mine.iter().filter(|s| s.name == "GET github").collect();
    attempts.sort_by_key(|s| s.attribute("unigate.attempt").map(str::to_string));
    assert_eq!(attempts.len(), 2, "{mine:#?}");
    for (attempt, (number, status)) in attempts.iter().zip([("1", "503"), ("2", "200")]) {
        assert_eq!(attempt.kind, SpanKind::Client as i32);
        assert_eq!(attempt.parent_id, unified.span_id);
        assert_eq!(attempt.attribute("unigate.attempt"), Some(number));
        assert_eq!(attempt.attribute("http.response.status_code"), Some(status));
        assert_eq!(attempt.attribute("server.address"), Some("127.0.0.1"));
    }

    // The refresh, inside the account's loading.
    let refreshed: Vec<Span> = received
        .spans
        .iter()
        .filter(|s| s.trace_id == "33333333333333333333333333333333")
        .cloned()
        .collect();
    let refresh = only(&refreshed, "oauth.refresh");
    assert_eq!(parent_of(&refreshed, refresh).name, "account.load");
    assert_eq!(refresh.attribute("unigate.reason"), Some("due"));

    // The keyed write: its key claimed, then its answer stored, both in the call's span.
    let in_trace = |id: &str| -> Vec<Span> { received.spans.iter().filter(|s| s.trace_id == id).cloned().collect() };
    let first = in_trace("55555555555555555555555555555555");
    let claim = only(&first, "idempotency.claim");
    let call = parent_of(&first, claim);
    assert_eq!(call.name, "PATCH /unified/{category}/{resource}/{id}");
    assert_eq!(claim.attribute("unigate.idempotency.outcome"), Some("started"));
    let finish = only(&first, "idempotency.finish");
    assert_eq!(finish.parent_id, call.span_id);
    assert_eq!(finish.attribute("unigate.idempotency.outcome"), Some("stored"));
    assert!(first.iter().any(|s| s.name == "PATCH github"), "{first:#?}");
    // The replay: claimed as a replay, nothing finished, nothing sent.
    let second = in_trace("77777777777777777777777777777777");
    let claim = only(&second, "idempotency.claim");
    assert_eq!(claim.attribute("unigate.idempotency.outcome"), Some("replay"));
    assert!(
        !second
            .iter()
            .any(|s| s.name == "idempotency.finish" || s.name == "PATCH github"),
        "{second:#?}"
    );

    // The request log: a span per batch written, each a trace of its own, holding every
    // unified and proxy call above (six).
    let batches: Vec<&Span> = received
        .spans
        .iter()
        .filter(|s| s.name == "request_log.write")
        .collect();
    assert!(!batches.is_empty(), "no `request_log.write` span");
    assert!(batches.iter().all(|s| s.parent_id.is_empty()), "{batches:#?}");
    let logged: u64 = batches
        .iter()
        .map(|s| s.attribute("unigate.entries").unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(logged, 6, "{batches:#?}");

    // No credential in any span: neither the accounts' nor the caller's API token.
    for s in &received.spans {
        for (k, v) in &s.attributes {
            assert!(
                !v.contains(GITHUB_TOKEN)
                    && !v.contains(&token)
                    && !v.contains(&tokens.access_token)
                    && !v.contains(tokens.refresh_token.as_deref().unwrap())
                    && !v.contains("integrated_account_id"),
                "{}: {k} = {v}",
                s.name
            );
        }
    }
    // The log goes to a file here: no ANSI colour codes in it.
    assert!(stderr.contains("exporting traces over OTLP"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}

#[tokio::test]
async fn with_traces_off_nothing_is_exported_even_with_the_standard_otel_variables_set() {
    let setup = Setup::new().await;
    let token = setup.token();
    let receiver = Receiver::start().await;
    let gateway = setup
        .start(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str()),
            ("OTEL_TRACES_EXPORTER", "otlp"),
        ])
        .await;
    let account = create_account(&gateway.base, &token).await;
    setup.github.clear_requests();

    let path = format!("/unified/user-directory/organizations/github?integrated_account_id={account}");
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    assert_eq!(traced_get(&gateway.base, &token, &path, &traceparent).await, 200);
    let stderr = gateway.stop().await;

    assert_no_trace_headers(&setup.github);
    assert_eq!(receiver.received.lock().unwrap().exports, 0);
    assert!(!stderr.contains("exporting traces"), "{stderr}");
    assert!(stderr.contains("unigate is listening"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}

/// Trace headers are the gateway's own business even when a catalog names one: the
/// provider request builder drops them (the gateway in-process here: no trace export is
/// involved, only the request a provider receives).
#[tokio::test]
async fn a_catalog_cannot_send_trace_headers_to_a_provider() {
    use crate::custom::{custom_provider, emulator_yaml, integration_yaml, spawn_with};
    let rest = "headers:\n  traceparent: \"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"\n  Baggage: \"user=alice\"\n  X-Kept: \"yes\"\nresources:\n  items:\n    get: { method: get, path: \"/items/{{id}}\" }\n";
    let provider = custom_provider(
        "trace-headers",
        &integration_yaml("trace-headers", "https://api.traced.example", rest),
        &emulator_yaml(
            1,
            "  - { method: GET, path: \"/items/{id}\", op: get, collection: items }\n",
        ),
    )
    .await;
    let app = spawn_with(&provider, true, |_| {}).await;
    let account = crate::custom::connect(&app, &provider, json!({})).await;

    let r = app
        .get(&format!("/proxy/items/1?integrated_account_id={account}"))
        .await;

    assert_eq!(r.status, 200, "{}", r.text);
    let sent = provider.emulator.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("x-kept"), Some("yes"));
    assert_no_trace_headers(&provider.emulator);
}

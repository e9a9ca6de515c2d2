//! `spawn_app()`: the gateway on port 0 with a temporary data directory, and one emulator
//! per catalog provider, with the gateway's base URLs pointed at them.

// Shared by several test binaries (api, providers, conformance), each
// using a subset of these helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use unigate::config::Config;
use unigate::startup::{Application, BuildOptions};
use unigate::state::AppState;
use unigate_emulator::{EmulatorSpec, RecordedRequest, RunningEmulator};

pub struct TestApp {
    pub address: String,
    /// Where `metrics_listen` listens, when set (port 0 in the config: the one it got).
    pub metrics_address: Option<std::net::SocketAddr>,
    pub token: String,
    pub client: reqwest::Client,
    pub emulators: HashMap<String, RunningEmulator>,
    /// The credentials each emulator accepts.
    pub credentials: HashMap<String, Map<String, Value>>,
    pub state: AppState,
    pub data_dir: tempfile::TempDir,
    /// Stops the server gracefully ([`TestApp::stop`]); dropped, it does nothing.
    shutdown: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    server: std::sync::Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
}

pub fn catalog_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../catalog")
}

/// The gateway on the test's runtime, with its store and emulators.
///
/// Tests of it wait in real time, not on a paused tokio clock: the gateway waits on SQLite's
/// threads and on sockets, and a paused clock jumps to the next timer whenever the runtime
/// waits, so timeouts and a provider's injected delays would pass early (tried on the
/// Retry-After test: under load the clock ran days ahead during one call).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The gateway with one account of `integration`, imported with the credentials its
/// emulator accepts ([`TestApp::connect`]): the app, and the account's id.
pub async fn app_with_account(integration: &str) -> (TestApp, String) {
    let app = spawn_app().await;
    let account = app.connect(integration).await;
    (app, account)
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.path().to_path_buf(),
        ..Config::default()
    };
    let mut emulators = HashMap::new();
    let mut credentials = HashMap::new();
    for entry in std::fs::read_dir(catalog_dir().join("integrations")).unwrap() {
        let dir = entry.unwrap().path();
        let file = dir.join("emulator.yaml");
        if !file.exists() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let spec = EmulatorSpec::from_file(&file).unwrap();
        credentials.insert(name.clone(), spec.credentials().clone());
        // The gateway's OAuth apps are the ones the emulators' OAuth servers know.
        if let Some((client_id, secret)) = spec.oauth_client() {
            config.oauth.apps.insert(
                name.clone(),
                unigate::config::OAuthApp {
                    client_id,
                    client_secret: secret.into(),
                },
            );
        }
        let running = unigate_emulator::start(spec).await.unwrap();
        config
            .upstream
            .base_url_overrides
            .insert(name.clone(), running.base_url());
        emulators.insert(name, running);
    }
    if let Some(url) = fresh_postgres_database().await {
        config.database_url = Some(url);
        config.encryption_key = Some(TEST_KEY.into());
    }
    configure(&mut config);
    let app = Application::build(config, BuildOptions::default()).await.unwrap();
    let address = format!("http://{}", app.local_addr());
    let metrics_address = app.metrics_addr();
    let token = app.bootstrap_token.clone().unwrap();
    let state = app.state().clone();
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        if stop.await.is_err() {
            // The test let go of its handle: keep serving.
            std::future::pending::<()>().await;
        }
    }));
    TestApp {
        address,
        metrics_address,
        token,
        client: reqwest::Client::new(),
        emulators,
        credentials,
        state,
        data_dir,
        shutdown: std::sync::Mutex::new(Some(shutdown)),
        server: std::sync::Mutex::new(Some(server)),
    }
}

/// The master key test instances share when they share a PostgreSQL database.
pub const TEST_KEY: &str = "dW5pZ2F0ZS10ZXN0LWtleS0zMi1ieXRlcy1sb25nISE=";

/// With `TEST_POSTGRES_URL` set (a PostgreSQL server URL), every test app gets a
/// database of its own on that server; otherwise the SQLite default is used.
pub async fn fresh_postgres_database() -> Option<String> {
    use sqlx::Connection;
    let admin = std::env::var("TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())?;
    let name = format!("unigate_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

/// A reply: status, headers and the body parsed as JSON (or a string if it is not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    /// Stops the server as a SIGTERM does (graceful shutdown) and waits until it has.
    pub async fn stop(&self) {
        if let Some(tx) = self.shutdown.lock().unwrap().take() {
            let _ = tx.send(());
        }
        let server = self.server.lock().unwrap().take();
        if let Some(server) = server {
            server.await.unwrap().unwrap();
        }
    }
    pub fn emulator(&self, name: &str) -> &RunningEmulator {
        &self.emulators[name]
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send_as(&self.token, method, path, body).await
    }

    pub async fn send_as(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.address, path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    /// The credentials the named emulator accepts, plus `extra` context values.
    pub fn sandbox_context(&self, integration: &str, extra: Value) -> Map<String, Value> {
        let mut ctx = self.credentials[integration].clone();
        if let Value::Object(e) = extra {
            ctx.extend(e);
        }
        ctx
    }

    /// Imports an account for `integration` with the emulator's credentials; required
    /// context values the emulator does not name (a tenant host, say) are set to `acme`.
    pub async fn connect(&self, integration: &str) -> String {
        let mut context = self.sandbox_context(integration, json!({}));
        let registry = self.state.registry();
        let def = registry.integration(integration).unwrap();
        for f in &def.config.credentials.fields {
            if f.required && !context.contains_key(&f.name) {
                context.insert(f.name.clone(), json!("acme"));
            }
        }
        self.connect_with(integration, Value::Object(context)).await
    }

    pub async fn connect_with(&self, integration: &str, context: Value) -> String {
        let r = self
            .send(
                Method::POST,
                "/integrated-account",
                Some(json!({ "tenant_id": "acme-1", "integration_name": integration, "context": context })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().to_string()
    }

    pub fn orgs_path(&self, account: &str, id: Option<&str>, extra: &str) -> String {
        let base = match id {
            Some(id) => format!("/unified/user-directory/organizations/{id}"),
            None => "/unified/user-directory/organizations".to_string(),
        };
        format!("{base}?integrated_account_id={account}{extra}")
    }
}

/// Asserts the Truto error shape and returns the message.
pub fn assert_error(r: &Reply, status: u16) -> String {
    assert_eq!(r.status.as_u16(), status, "unexpected status; body: {}", r.text);
    assert_eq!(r.body["statusCode"], json!(status), "{}", r.text);
    assert!(r.body["error"].is_string(), "{}", r.text);
    let message = r.body["message"].as_str().unwrap_or_default().to_string();
    assert!(!message.is_empty(), "{}", r.text);
    message
}

/// The `id` of each record of a unified list answer, in order.
pub fn result_ids(r: &Reply) -> Vec<&str> {
    let records = r.body["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no result: {}", r.text));
    records.iter().map(|x| x["id"].as_str().unwrap()).collect()
}

/// The last request the named emulator received.
pub fn last_request(app: &TestApp, provider: &str) -> RecordedRequest {
    app.emulator(provider).requests().last().cloned().unwrap()
}

/// Asserts one request's method and path.
#[track_caller]
pub fn assert_request(sent: &RecordedRequest, method: &str, path: &str) {
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        (method, path),
        "the provider's request (method, path)"
    );
}

/// Asserts that the named emulator received exactly these requests (method, path), in
/// this order; returns them, for their headers and bodies.
#[track_caller]
pub fn assert_saw(app: &TestApp, provider: &str, expected: &[(&str, &str)]) -> Vec<RecordedRequest> {
    let requests = app.emulator(provider).requests();
    let seen: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    assert_eq!(seen, expected, "the requests {provider} received (method, path)");
    requests
}

/// Whether any request for `path` reached the named emulator.
pub fn provider_saw(app: &TestApp, provider: &str, path: &str) -> bool {
    app.emulator(provider).requests().iter().any(|q| q.path == path)
}

/// Walks a unified list from `path` (a list path with its `?integrated_account_id=...`)
/// with `limit`, following `next_cursor`; returns the records in order and how many unified
/// pages were fetched. Fails if paging does not end.
pub async fn walk_records(app: &TestApp, path: &str, limit: u32) -> (Vec<Value>, usize) {
    let mut records = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        pages += 1;
        assert!(pages < 50, "pagination does not end");
        let extra = match &cursor {
            Some(c) => format!("&limit={limit}&next_cursor={c}"),
            None => format!("&limit={limit}"),
        };
        let r = app.get(&format!("{path}{extra}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let page = r.body["result"].as_array().unwrap();
        // Truto's envelope on every page: the count of this page's records, no way back.
        assert_eq!(r.body["result_count"], page.len(), "{}", r.text);
        assert!(r.body["prev_cursor"].is_null(), "{}", r.text);
        records.extend(page.iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (records, pages),
        }
    }
}

/// Walks the unified organizations list with `limit` ([`walk_records`]); returns the ids.
pub async fn walk_list(app: &TestApp, account: &str, limit: u32) -> (Vec<String>, usize) {
    let (records, pages) = walk_records(app, &app.orgs_path(account, None, ""), limit).await;
    let ids = records.iter().map(|o| o["id"].as_str().unwrap().to_string()).collect();
    (ids, pages)
}

/// A Python venv under `target/<name>` with `package` from PyPI installed, ready when
/// `check` (Python code) runs without error in it: the venv's directory, or `None` after
/// a message when python3, its venv module or the install is missing outside CI (under
/// `CI=true` that is a failure).
pub fn python_venv(name: &str, package: &str, check: &str) -> Option<std::path::PathBuf> {
    use std::process::Command;
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target")
        .join(name);
    let python = venv.join("bin/python");
    let ready = |p: &std::path::Path| Command::new(p).args(["-c", check]).status().is_ok_and(|s| s.success());
    if python.exists() && ready(&python) {
        return Some(venv);
    }
    let installed = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", package])
            .status()
            .is_ok_and(|s| s.success());
    if !installed || !ready(&python) {
        assert!(
            !ci,
            "{name}: python3 -m venv and pip install {package} are required under CI"
        );
        eprintln!("{name}: skipped, could not install {package} (python3 -m venv, pip)");
        return None;
    }
    Some(venv)
}

/// Runs `command` (a `unigate` binary with its environment set) as `unigate serve` on a port
/// the kernel picks, and returns the child and the base URL the gateway logged
/// ("unigate is listening", which needs `UNIGATE_LOG` to let `unigate=info` through). Its
/// stderr goes to `stderr_file`, which the caller may read afterwards.
///
/// Picking a free port first (bind port 0, close, pass the number) races with every other
/// test: another server can take the port in between, and its `/health` would answer for ours.
pub async fn serve_on_any_port(
    mut command: std::process::Command,
    stderr_file: &std::path::Path,
) -> (std::process::Child, String) {
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(stderr_file).unwrap())
        .spawn()
        .unwrap();
    for _ in 0..1200 {
        let log = std::fs::read_to_string(stderr_file).unwrap_or_default();
        // Text or JSON lines alike: the address is the line's only `http://` URL.
        let address = log
            .lines()
            .filter(|l| l.contains("unigate is listening"))
            .find_map(|l| {
                let from = l.find("http://")?;
                let url: String = l[from..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || ":/.[]".contains(*c))
                    .collect();
                Some(url)
            });
        if let Some(base) = address {
            return (child, base);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the gateway process ended ({status}) before listening: {log}");
        }
        // Real time: the gateway is a child process, starting at its own pace.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    panic!(
        "the gateway process did not log its address within a minute: {}",
        std::fs::read_to_string(stderr_file).unwrap_or_default()
    );
}

//! Several stateless instances on one PostgreSQL database; a database outage and recovery.
//! These run only when `TEST_POSTGRES_URL` names a server (CI starts one); otherwise they
//! print that they were skipped.

use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use unigate::config::Config;
use unigate::startup::{Application, BuildOptions};

use crate::helpers::{fresh_postgres_database, TEST_KEY};

pub(crate) async fn instance(database_url: &str, configure: impl FnOnce(&mut Config)) -> (String, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        database_url: Some(database_url.to_string()),
        encryption_key: Some(TEST_KEY.into()),
        ..Config::default()
    };
    configure(&mut config);
    let app = Application::build(config, BuildOptions::default()).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let token = app.bootstrap_token.clone();
    tokio::spawn(async move {
        let _dir = dir;
        app.run_until_stopped(std::future::pending()).await
    });
    (base, token)
}

/// One request to a gateway at `base`: status and JSON body (`null` when not JSON).
pub(crate) async fn call(
    base: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn an_account_changed_on_one_instance_is_seen_at_once_by_another() {
    let Some(db) = fresh_postgres_database().await else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    };
    let (a, token) = instance(&db, |_| {}).await;
    let (b, none) = instance(&db, |_| {}).await;
    let token = token.unwrap();
    assert!(
        none.is_none(),
        "the second instance must not mint another bootstrap token"
    );

    let (s, created) = call(
        &a,
        &token,
        Method::POST,
        "/integrated-account",
        Some(json!({"tenant_id": "t1", "integration_name": "github", "context": {"access_token": "ghp_x"}})),
    )
    .await;
    assert_eq!(s, 201);
    let id = created["id"].as_str().unwrap();

    let (s, seen) = call(&b, &token, Method::GET, &format!("/integrated-account/{id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(seen["tenant_id"], "t1");

    let (s, _) = call(
        &b,
        &token,
        Method::PATCH,
        &format!("/integrated-account/{id}"),
        Some(json!({"tenant_id": "t2"})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, seen) = call(&a, &token, Method::GET, &format!("/integrated-account/{id}"), None).await;
    assert_eq!(seen["tenant_id"], "t2");

    let (s, _) = call(&a, &token, Method::DELETE, &format!("/integrated-account/{id}"), None).await;
    assert_eq!(s, 200);
    let (s, _) = call(&b, &token, Method::GET, &format!("/integrated-account/{id}"), None).await;
    assert_eq!(s, 404);
}

/// A PostgreSQL server of this test's own, so stopping it disturbs no other test.
struct OwnServer {
    bin: String,
    dir: String,
    port: String,
}

impl OwnServer {
    fn start() -> Option<OwnServer> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-test-server.sh");
        let out = Command::new("bash").arg(script).output().ok()?;
        if !out.status.success() {
            eprintln!("cannot start a server: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let get = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)).map(str::to_string);
        let url = get("TEST_POSTGRES_URL=")?;
        let port = url.rsplit(':').next()?.split('/').next()?.to_string();
        let bin = String::from_utf8_lossy(
            &Command::new("bash")
                .arg("-c")
                .arg("ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1")
                .output()
                .ok()?
                .stdout,
        )
        .trim()
        .to_string();
        Some(OwnServer {
            bin,
            dir: get("TEST_POSTGRES_DIR=")?,
            port,
        })
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) {
        assert!(self.try_pg_ctl(args), "pg_ctl {args:?}");
    }

    fn try_pg_ctl(&self, args: &[&str]) -> bool {
        Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &format!("{}/pg_ctl", self.bin),
                "-D",
                &format!("{}/data", self.dir),
            ])
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]);
    }

    /// Starts the stopped server again on its port. While it was down, the port was free for
    /// any socket of the tests running beside this one (the kernel hands out free ports to
    /// client connections too), so a start that fails is tried again for a while; a start
    /// that never succeeds shows the server's log.
    fn start_again(&self) {
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir);
        let log = format!("{}/log", self.dir);
        for _ in 0..10 {
            if self.try_pg_ctl(&["-l", &log, "-w", "-o", &opts, "start"]) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        panic!(
            "the server did not start again; its log ends:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &format!("{}/pg_ctl", self.bin),
                "-D",
                &format!("{}/data", self.dir),
                "-m",
                "immediate",
                "stop",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        // Its folder too: each run of the suite left one in /tmp.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn a_database_outage_answers_503_and_the_instance_recovers_by_itself() {
    if std::env::var("TEST_POSTGRES_URL").is_err() {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    }
    let Some(server) = OwnServer::start() else {
        eprintln!("skipped: could not start a dedicated PostgreSQL server");
        return;
    };
    let (base, token) = instance(&server.url(), |c| c.database.acquire_timeout_ms = 1000).await;
    let token = token.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let (s, a) = call(
            &base,
            &token,
            Method::POST,
            "/integrated-account",
            Some(json!({"tenant_id": format!("t{i}"), "integration_name": "github", "context": {"access_token": "x"}})),
        )
        .await;
        assert_eq!(s, 201);
        ids.push(a["id"].as_str().unwrap().to_string());
    }

    server.stop();
    for _ in 0..5 {
        let (s, body) = call(&base, &token, Method::GET, "/integrated-account", None).await;
        assert_eq!(s, 503, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("database is unavailable"),
            "{body}"
        );
    }

    server.start_again();
    let mut recovered = false;
    for _ in 0..50 {
        let (s, body) = call(&base, &token, Method::GET, "/integrated-account", None).await;
        if s == 200 {
            let listed: Vec<&str> = body["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap())
                .collect();
            assert_eq!(
                listed,
                ids.iter().map(String::as_str).collect::<Vec<_>>(),
                "nothing lost"
            );
            recovered = true;
            break;
        }
        // Real time: the PostgreSQL server is another process, coming back at its own pace.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "the instance did not recover after the database came back");
}

#[tokio::test]
async fn an_idempotency_key_is_honoured_across_instances() {
    let Some((a, b, token, account, _db, gh)) = two_instances_with_an_account().await else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    };
    let path = format!("/unified/user-directory/organizations/octo-org?integrated_account_id={account}");
    let send = |base: String| {
        let (token, path) = (token.clone(), path.clone());
        async move {
            reqwest::Client::new()
                .patch(format!("{base}{path}"))
                .bearer_auth(&token)
                .header("Idempotency-Key", "cross-1")
                .json(&json!({"name": "Exactly once"}))
                .send()
                .await
                .unwrap()
        }
    };

    let first = send(a.clone()).await;
    let second = send(b.clone()).await;

    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(gh.requests().iter().filter(|r| r.method == "PATCH").count(), 1);
}

/// GitHub's emulator and the access token it accepts.
async fn github() -> (unigate_emulator::RunningEmulator, serde_json::Value) {
    let spec = unigate_emulator::EmulatorSpec::from_file(
        &crate::helpers::catalog_dir().join("integrations/github/emulator.yaml"),
    )
    .unwrap();
    let token_value = spec.credentials()["access_token"].clone();
    (unigate_emulator::start(spec).await.unwrap(), token_value)
}

/// Two instances and a GitHub emulator on a fresh database; an account made through the
/// first: (instance a, instance b, admin token, account id, the database's URL, emulator).
async fn two_instances_with_an_account() -> Option<(
    String,
    String,
    String,
    String,
    String,
    unigate_emulator::RunningEmulator,
)> {
    let db = fresh_postgres_database().await?;
    let (gh, token_value) = github().await;
    let point = |c: &mut Config| {
        c.upstream.base_url_overrides.insert("github".into(), gh.base_url());
    };
    let (a, token) = instance(&db, point).await;
    let (b, _) = instance(&db, point).await;
    let token = token.unwrap();
    let (s, acct) = call(
        &a,
        &token,
        Method::POST,
        "/integrated-account",
        Some(json!({"tenant_id": "t", "integration_name": "github", "context": {"access_token": token_value}})),
    )
    .await;
    assert_eq!(s, 201, "{acct}");
    let id = acct["id"].as_str().unwrap().to_string();
    Some((a, b, token, id, db, gh))
}

async fn org_status(base: &str, token: &str, account: &str) -> u16 {
    let path = format!("/unified/user-directory/organizations/octo-org?integrated_account_id={account}");
    call(base, token, Method::GET, &path, None).await.0
}

/// Calls `base` until the organization answers `want`, for at most ten seconds (a
/// notification crosses two processes and a socket; nothing here measures how fast).
async fn until_status(base: &str, token: &str, account: &str, want: u16) {
    for _ in 0..100 {
        if org_status(base, token, account).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} never answered {want}");
}

/// The account cache's lookups answered from the cache, a `/metrics` sample.
const HIT: &str = "unigate_account_cache_lookups_total{result=\"hit\"}";

/// The value of the metric sample `name` (its name and labels) in a `/metrics` text.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

async fn metrics(base: &str, token: &str) -> String {
    reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Calls `base` until one call for the organization is served from its account cache. An
/// instance's listener connects after it starts (calls read the database until then), and
/// the notification of the account's creation through the other instance may land after
/// the first read and empty the cache (the documented window): once a call is a hit, the
/// cache holds the account and nothing is left in flight.
async fn until_served_from_cache(base: &str, token: &str, account: &str) {
    for _ in 0..100 {
        let before = sample(&metrics(base, token).await, HIT);
        assert_eq!(org_status(base, token, account).await, 200);
        if sample(&metrics(base, token).await, HIT) == before + 1.0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base}: no call was served from the account cache");
}

/// Runs SQL on the test's database, outside Unigate (as an operator's `psql` would).
async fn sql(db: &str, statements: &[&str]) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(db).await.unwrap();
    for s in statements {
        sqlx::query(s).execute(&mut conn).await.unwrap();
    }
}

/// The account cache of the PostgreSQL mode: a call is served without reading the account
/// (a change written with the notification trigger switched off goes unseen), a
/// notification makes the next calls read it, and a change made through the other instance
/// or straight in the database (the trigger) reaches it too.
#[tokio::test]
async fn calls_are_served_from_the_account_cache_until_the_database_notifies_a_change() {
    let Some((a, b, token, id, db, _gh)) = two_instances_with_an_account().await else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    };
    until_served_from_cache(&b, &token, &id).await;

    // Changed without a notification: b keeps calling with the record it holds.
    sql(
        &db,
        &[
            "ALTER TABLE integrated_accounts DISABLE TRIGGER integrated_accounts_notify",
            &format!("UPDATE integrated_accounts SET status = 'needs_reauth' WHERE id = '{id}'"),
            "ALTER TABLE integrated_accounts ENABLE TRIGGER integrated_accounts_notify",
        ],
    )
    .await;
    for _ in 0..5 {
        assert_eq!(org_status(&b, &token, &id).await, 200, "served from the cache");
    }
    // The notification makes b read the row: needs_reauth is a 401.
    sql(&db, &[&format!("SELECT pg_notify('unigate_accounts', '{id}')")]).await;
    until_status(&b, &token, &id, 401).await;

    // A change straight in the database notifies through the trigger.
    sql(
        &db,
        &[&format!(
            "UPDATE integrated_accounts SET status = 'active' WHERE id = '{id}'"
        )],
    )
    .await;
    until_status(&b, &token, &id, 200).await;

    // A change through instance a: b sees it once the notification arrives; a at once.
    let (s, _) = call(&a, &token, Method::DELETE, &format!("/integrated-account/{id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(org_status(&a, &token, &id).await, 404);
    until_status(&b, &token, &id, 404).await;
}

/// A lost listener empties the cache and calls read the database: a change made while no
/// notification could arrive (here, with the trigger off) is not hidden by the cache.
#[tokio::test]
async fn a_lost_listener_empties_the_cache_and_calls_read_the_database() {
    let Some((_a, b, token, id, db, _gh)) = two_instances_with_an_account().await else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    };
    assert_eq!(org_status(&b, &token, &id).await, 200);
    sql(
        &db,
        &[
            "ALTER TABLE integrated_accounts DISABLE TRIGGER integrated_accounts_notify",
            &format!("UPDATE integrated_accounts SET status = 'needs_reauth' WHERE id = '{id}'"),
            // Both instances' listeners, cut as a network failure or a restart would.
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        ],
    )
    .await;
    until_status(&b, &token, &id, 401).await;
    sql(
        &db,
        &["ALTER TABLE integrated_accounts ENABLE TRIGGER integrated_accounts_notify"],
    )
    .await;
}

/// With `database.account_cache = false` every call reads the account: a change written
/// without any notification is seen by the very next call.
#[tokio::test]
async fn without_the_account_cache_every_call_reads_the_account() {
    let Some(db) = fresh_postgres_database().await else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    };
    let (gh, token_value) = github().await;
    let (base, token) = instance(&db, |c| {
        c.upstream.base_url_overrides.insert("github".into(), gh.base_url());
        c.database.account_cache = false;
    })
    .await;
    let token = token.unwrap();
    let (_, acct) = call(
        &base,
        &token,
        Method::POST,
        "/integrated-account",
        Some(json!({"tenant_id": "t", "integration_name": "github", "context": {"access_token": token_value}})),
    )
    .await;
    let id = acct["id"].as_str().unwrap();
    assert_eq!(org_status(&base, &token, id).await, 200);
    sql(
        &db,
        &[
            "ALTER TABLE integrated_accounts DISABLE TRIGGER integrated_accounts_notify",
            &format!("UPDATE integrated_accounts SET status = 'needs_reauth' WHERE id = '{id}'"),
        ],
    )
    .await;
    assert_eq!(org_status(&base, &token, id).await, 401);
}

/// The account cache shows in the metrics: live, its size, and its hits and misses.
#[tokio::test]
async fn the_account_cache_is_in_the_metrics() {
    let Some((_a, b, token, id, _db, _gh)) = two_instances_with_an_account().await else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    };
    const MISS: &str = "unigate_account_cache_lookups_total{result=\"miss\"}";
    until_served_from_cache(&b, &token, &id).await;
    let before = metrics(&b, &token).await;
    assert!(sample(&before, MISS) >= 1.0, "the first call is a miss");
    for _ in 0..2 {
        assert_eq!(org_status(&b, &token, &id).await, 200);
    }
    let after = metrics(&b, &token).await;
    assert_eq!(sample(&after, "unigate_account_cache{state=\"live\"}"), 1.0);
    assert_eq!(sample(&after, "unigate_account_cache{state=\"entries\"}"), 1.0);
    assert_eq!(sample(&after, MISS), sample(&before, MISS), "no miss once kept");
    assert_eq!(sample(&after, HIT), sample(&before, HIT) + 2.0);
}

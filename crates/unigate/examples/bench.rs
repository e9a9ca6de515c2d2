//! The benchmark suite's Rust driver (`bench/run.sh` runs it; see `bench/README.md`).
//!
//! ```text
//! bench mapping --seconds 2 --dump cases.json   # evaluations/second per provider, JSON lines
//! bench mapping --evals 2000 [--only github]     # exactly N evaluations per provider (callgrind)
//! bench upstream --records 100000 [--synthetic] # a GitHub upstream for the list benchmarks
//! bench forward --to http://127.0.0.1:P [--client hyper] [--server hyper] # the HTTP stack alone: a floor
//! bench log --entries 256000 --accounts 1        # the request log's CPU per entry on SQLite
//! ```
//!
//! `log` writes request-log entries to a fresh SQLite store the way the request log hands them
//! over (500 a batch, through the store's writer threads), spread round-robin over
//! `--accounts` accounts, and prints the process's CPU time per entry.
//!
//! `forward` is a bare reverse proxy built from Unigate's own HTTP crates (an axum server and a
//! reqwest client, or hyper-util's client under reqwest): it passes a GET's path, query and
//! `Authorization` on and answers with the body. No store, no mapping, no request log: what
//! any gateway on this stack pays per call before doing anything. `--server hyper` serves it
//! with hyper's HTTP/1 connection alone instead of `axum::serve` (no router, no HTTP/2
//! detection, no upgrades, no graceful shutdown): what those layers of the stack cost.
//!
//! `upstream` prints `READY <base_url>` and serves until its standard input closes, so the
//! orchestrator never has to kill it by name.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

#[path = "../benches/support/mod.rs"]
mod support;

/// The gateway binary's allocator (`src/main.rs`), so that the mapping numbers are what it pays.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    match args.first().map(String::as_str) {
        Some("mapping") => match flag("--evals") {
            Some(n) => mapping_count(n.parse()?, flag("--only")),
            None => {
                let seconds: f64 = flag("--seconds").unwrap_or_else(|| "2".into()).parse()?;
                mapping(seconds, flag("--dump"), flag("--only"))
            }
        },
        Some("upstream") => {
            let records: usize = flag("--records").unwrap_or_else(|| "0".into()).parse()?;
            let port: u16 = flag("--port").unwrap_or_else(|| "0".into()).parse()?;
            let members: usize = flag("--members").unwrap_or_else(|| "0".into()).parse()?;
            let synthetic = args.iter().any(|a| a == "--synthetic");
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(upstream(records, members, port, synthetic))
        }
        Some("forward") => {
            let to = flag("--to").context("forward needs --to URL")?;
            let port: u16 = flag("--port").unwrap_or_else(|| "0".into()).parse()?;
            let hyper = match flag("--client").as_deref() {
                None | Some("reqwest") => false,
                Some("hyper") => true,
                Some(other) => bail!("--client is reqwest or hyper, not {other}"),
            };
            let bare = match flag("--server").as_deref() {
                None | Some("axum") => false,
                Some("hyper") => true,
                Some(other) => bail!("--server is axum or hyper, not {other}"),
            };
            // The gateway's runtime: one worker per CPU it may use, current-thread on one.
            let config = unigate::config::Config::default();
            unigate::startup::runtime(config.worker_threads())?.block_on(forward(to, port, hyper, bare))
        }
        Some("log") => {
            let entries: usize = flag("--entries").unwrap_or_else(|| "256000".into()).parse()?;
            let accounts: usize = flag("--accounts").unwrap_or_else(|| "1".into()).parse()?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(log_writes(entries, accounts.max(1)))
        }
        _ => bail!(
            "usage: bench mapping [--seconds S] [--dump FILE] [--evals N] [--only P] | bench upstream [--records N] [--members N] [--port P] [--synthetic] | bench forward --to URL [--port P] [--client reqwest|hyper] [--server axum|hyper] | bench log [--entries N] [--accounts A]"
        ),
    }
}

/// This process's CPU time (user and system, all threads) in seconds, from `/proc/self/stat`.
fn process_cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').context("/proc/self/stat")? + 2..]
        .split(' ')
        .collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    // The kernel reports in USER_HZ, 100 on Linux.
    Ok(ticks / 100.0)
}

/// `bench log`: `entries` request-log entries over `accounts` accounts into a fresh SQLite
/// store, 500 a batch as the request log hands them over; prints the CPU time per entry.
async fn log_writes(entries: usize, accounts: usize) -> anyhow::Result<()> {
    use unigate::store::{RequestLogRecord, Store};
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("log.db").display());
    let store = unigate::store::sqlite::SqliteStore::connect(&url).await?;
    let env = store.create_environment("bench").await?;
    let account_ids: Vec<String> = (0..accounts).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let start = chrono::Utc::now();
    let batches: Vec<Vec<RequestLogRecord>> = (0..entries)
        .map(|i| RequestLogRecord {
            id: uuid::Uuid::now_v7().to_string(),
            environment_id: env.id.clone(),
            integrated_account_id: Some(account_ids[i % accounts].clone()),
            method: "GET".into(),
            path: "/unified/user-directory/organizations/octo-org".into(),
            status: 200,
            duration_ms: 3,
            error: None,
            // 25,000 calls a second, about one CPU's saturation.
            created_at: start + chrono::Duration::microseconds(i as i64 * 40),
        })
        .collect::<Vec<_>>()
        .chunks(500)
        .map(<[RequestLogRecord]>::to_vec)
        .collect();
    let (cpu, wall) = (process_cpu_seconds()?, Instant::now());
    for batch in batches {
        store.insert_request_logs(batch, 0).await?;
    }
    let (cpu, wall) = (process_cpu_seconds()? - cpu, wall.elapsed().as_secs_f64());
    let size: u64 = std::fs::read_dir(dir.path())?
        .filter_map(|f| f.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{}",
        json!({"entries": entries, "accounts": accounts,
               "cpu_us_per_entry": (cpu * 1e6 / entries as f64 * 100.0).round() / 100.0,
               "wall_us_per_entry": (wall * 1e6 / entries as f64 * 100.0).round() / 100.0,
               "bytes_per_entry": size / entries as u64})
    );
    Ok(())
}

/// Evaluates each provider's mapping in a loop for `seconds` and prints one JSON line each.
fn mapping(seconds: f64, dump: Option<String>, only: Option<String>) -> anyhow::Result<()> {
    let registry = unigate::catalog::load_registry(None)?;
    let cases = support::mapping_cases(&registry)?;
    if let Some(path) = dump {
        let out: Vec<Value> = cases
            .iter()
            .map(|c| {
                json!({"provider": c.provider, "expression": c.expr.source(), "input": c.input,
                       "expected": support::eval_mapping(c)})
            })
            .collect();
        std::fs::write(&path, serde_json::to_vec_pretty(&out)?).with_context(|| format!("cannot write {path}"))?;
    }
    let budget = Duration::from_secs_f64(seconds);
    let mut stdout = std::io::stdout().lock();
    for case in cases.iter().filter(|c| only.as_ref().is_none_or(|o| *o == c.provider)) {
        // Warm-up: a tenth of the budget.
        let warm = Instant::now();
        while warm.elapsed() < budget / 10 {
            std::hint::black_box(support::eval_mapping(case));
        }
        let start = Instant::now();
        let mut evals: u64 = 0;
        // Check the clock every 64 evaluations so it does not weigh on the small mappings.
        while start.elapsed() < budget {
            for _ in 0..64 {
                std::hint::black_box(support::eval_mapping(case));
            }
            evals += 64;
        }
        let elapsed = start.elapsed().as_secs_f64();
        // The same, on an input converted once (what `Expr::eval` spends converting).
        let start_j = Instant::now();
        let mut evals_j: u64 = 0;
        while start_j.elapsed() < budget / 2 {
            for _ in 0..64 {
                std::hint::black_box(support::eval_mapping_preconverted(case));
            }
            evals_j += 64;
        }
        let elapsed_j = start_j.elapsed().as_secs_f64();
        let line = json!({"provider": case.provider, "evals": evals, "seconds": elapsed,
                          "per_sec": evals as f64 / elapsed, "ok": support::eval_mapping(case).is_some(),
                          "direct": case.expr.is_fast(),
                          "per_sec_preconverted": evals_j as f64 / elapsed_j});
        writeln!(stdout, "{line}")?;
        stdout.flush()?;
    }
    Ok(())
}

/// Exactly `evals` evaluations per provider, each provider's inside one call of
/// [`eval_loop`], so that an instruction count (`valgrind --tool=callgrind
/// --collect-atstart=no --toggle-collect='*eval_loop*' --dump-after='*eval_loop*'`) has one
/// profile per provider, in the order printed, with nothing of the set-up in it.
fn mapping_count(evals: u64, only: Option<String>) -> anyhow::Result<()> {
    let registry = unigate::catalog::load_registry(None)?;
    let cases = support::mapping_cases(&registry)?;
    let mut stdout = std::io::stdout().lock();
    for case in cases.iter().filter(|c| only.as_ref().is_none_or(|o| *o == c.provider)) {
        // Warm-up, outside the counted loop: one-time work (the thread's evaluator,
        // jsonata-core's table of builtin signatures, each a regex) is not per evaluation.
        std::hint::black_box(support::eval_mapping(case));
        let ok = eval_loop(case, evals);
        writeln!(
            stdout,
            "{}",
            json!({"provider": case.provider, "evals": evals, "ok": ok})
        )?;
    }
    Ok(())
}

#[inline(never)]
fn eval_loop(case: &support::MappingCase, evals: u64) -> bool {
    let mut ok = true;
    for _ in 0..evals {
        ok &= std::hint::black_box(support::eval_mapping(case)).is_some();
    }
    ok
}

/// GitHub's emulator with `records` extra organizations, or (`synthetic`) a GitHub-shaped
/// pager that makes each page on the fly: the emulator's `list` projects every record of
/// the collection for each page, so at 1M records the upstream, not the gateway, would be
/// what is measured.
/// With `members`, the emulator's `octo-org` gets that many more active members (a unified
/// users list of 100, `bench/capacity.py`).
async fn upstream(records: usize, members: usize, port: u16, synthetic: bool) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let spec = unigate_emulator::EmulatorSpec::from_file(&support::catalog_dir().join("github/emulator.yaml"))?;
    let token = spec
        .credentials()
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let (base_url, stop): (String, Box<dyn FnOnce() + Send>) = if synthetic {
        let addr = listener.local_addr()?;
        let app = synthetic::router(records, token, format!("http://{addr}"));
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), Box::new(move || task.abort()))
    } else {
        let emulator = unigate_emulator::start_on(spec, listener).await?;
        for i in 0..records {
            emulator.insert_record("orgs", synthetic::org(i));
        }
        for i in 0..members {
            emulator.insert_record("members", synthetic::member(i));
        }
        let url = emulator.base_url();
        (url, Box::new(move || drop(emulator)))
    };
    println!("READY {base_url}");
    std::io::stdout().flush()?;
    // Serve until stdin closes.
    tokio::task::spawn_blocking(|| {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            if line.is_err() {
                break;
            }
        }
    })
    .await?;
    stop();
    Ok(())
}

mod synthetic {
    use axum::extract::{Query, State};
    use axum::http::{header, HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use axum::Router;
    use serde_json::{json, Value};
    use std::collections::HashMap;
    use std::sync::Arc;

    struct Pager {
        records: usize,
        auth: String,
        base_url: String,
    }

    /// An `organization-simple` record, as the emulator's `/user/orgs` serves it.
    pub fn org(i: usize) -> Value {
        let login = format!("bench-org-{i:07}");
        json!({
            "login": login, "id": 10_000_000 + i, "node_id": format!("MDEyOk9yZ2FuaXphdGlvbj{i}"),
            "url": format!("https://api.github.com/orgs/{login}"),
            "repos_url": format!("https://api.github.com/orgs/{login}/repos"),
            "events_url": format!("https://api.github.com/orgs/{login}/events"),
            "hooks_url": format!("https://api.github.com/orgs/{login}/hooks"),
            "issues_url": format!("https://api.github.com/orgs/{login}/issues"),
            "members_url": format!("https://api.github.com/orgs/{login}/members{{/member}}"),
            "public_members_url": format!("https://api.github.com/orgs/{login}/public_members{{/member}}"),
            "avatar_url": "https://github.com/images/error/octocat_happy.gif",
            "description": "A benchmark organization",
        })
    }

    /// A `simple-user` member of `octo-org` as the emulator stores it (with its membership's
    /// `org`, `state` and `role`, which the member list leaves out).
    pub fn member(i: usize) -> Value {
        let login = format!("bench-user-{i:05}");
        json!({
            "login": login, "id": 20_000_000 + i, "node_id": format!("MDQ6VXNlcj{i}"),
            "name": format!("Bench User {i}"), "email": format!("{login}@octo.example.com"),
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", 20_000_000 + i),
            "gravatar_id": "", "url": format!("https://api.github.com/users/{login}"),
            "html_url": format!("https://github.com/{login}"),
            "followers_url": format!("https://api.github.com/users/{login}/followers"),
            "following_url": format!("https://api.github.com/users/{login}/following{{/other_user}}"),
            "gists_url": format!("https://api.github.com/users/{login}/gists{{/gist_id}}"),
            "starred_url": format!("https://api.github.com/users/{login}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("https://api.github.com/users/{login}/subscriptions"),
            "organizations_url": format!("https://api.github.com/users/{login}/orgs"),
            "repos_url": format!("https://api.github.com/users/{login}/repos"),
            "events_url": format!("https://api.github.com/users/{login}/events{{/privacy}}"),
            "received_events_url": format!("https://api.github.com/users/{login}/received_events"),
            "type": "User", "site_admin": false, "org": "octo-org", "state": "active", "role": "member",
        })
    }

    pub fn router(records: usize, token: String, base_url: String) -> Router {
        let pager = Arc::new(Pager {
            records,
            auth: format!("Bearer {token}"),
            base_url,
        });
        Router::new().route("/user/orgs", get(page)).with_state(pager)
    }

    async fn page(
        State(p): State<Arc<Pager>>,
        headers: HeaderMap,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(p.auth.as_str()) {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"message": "Bad credentials"})),
            )
                .into_response();
        }
        let size = q
            .get("per_page")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(30)
            .clamp(1, 100);
        let number = q.get("page").and_then(|s| s.parse::<usize>().ok()).unwrap_or(1).max(1);
        let start = (number - 1).saturating_mul(size).min(p.records);
        let end = (start + size).min(p.records);
        let items: Vec<Value> = (start..end).map(org).collect();
        let mut response = axum::Json(Value::Array(items)).into_response();
        if end < p.records {
            let link = format!(
                "<{}/user/orgs?page={}&per_page={size}>; rel=\"next\"",
                p.base_url,
                number + 1
            );
            if let Ok(v) = link.parse() {
                response.headers_mut().insert(header::LINK, v);
            }
        }
        response
    }
}

/// The bare reverse proxy of `bench forward`; prints `READY <base_url>`, serves until stdin closes.
async fn forward(to: String, port: u16, hyper: bool, bare: bool) -> anyhow::Result<()> {
    use axum::body::Body;
    use axum::extract::{Request, State};
    use axum::response::{IntoResponse, Response};
    use hyper_util::client::legacy::{connect::HttpConnector, Client};

    #[derive(Clone)]
    struct Fwd {
        to: std::sync::Arc<str>,
        reqwest: reqwest::Client,
        hyper: Option<Client<HttpConnector, Body>>,
    }
    async fn handle(State(f): State<Fwd>, req: Request) -> Response {
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let url = format!("{}{}", f.to, path);
        let auth = req.headers().get(http::header::AUTHORIZATION).cloned();
        let bad = |e: String| (http::StatusCode::BAD_GATEWAY, e).into_response();
        if let Some(client) = &f.hyper {
            let mut out = http::Request::get(url.as_str());
            if let Some(a) = auth {
                out = out.header(http::header::AUTHORIZATION, a);
            }
            let Ok(out) = out.body(Body::empty()) else {
                return bad("bad request".into());
            };
            return match client.request(out).await {
                Ok(resp) => resp.map(Body::new).into_response(),
                Err(e) => bad(e.to_string()),
            };
        }
        let mut out = f.reqwest.get(url);
        if let Some(a) = auth {
            out = out.header(http::header::AUTHORIZATION, a);
        }
        match out.send().await {
            Ok(resp) => {
                let status = resp.status();
                match resp.bytes().await {
                    Ok(b) => (status, [(http::header::CONTENT_TYPE, "application/json")], b).into_response(),
                    Err(e) => bad(e.to_string()),
                }
            }
            Err(e) => bad(e.to_string()),
        }
    }
    let state = Fwd {
        to: to.trim_end_matches('/').into(),
        reqwest: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
        hyper: hyper.then(|| Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("READY http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin().lock().read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
        }
    });
    if bare {
        // hyper's HTTP/1 connection alone, one task per connection; the process ends when
        // stdin closes.
        tokio::spawn(async move {
            let _ = stdin_closed.await;
            std::process::exit(0);
        });
        loop {
            let (stream, _) = listener.accept().await?;
            let f = state.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let f = f.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(State(f), req.map(Body::new)).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    }
    let app = axum::Router::new().fallback(handle).with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = stdin_closed.await;
        })
        .await?;
    Ok(())
}

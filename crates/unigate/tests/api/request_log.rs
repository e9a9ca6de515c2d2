//! The request log: every unified and proxy call leaves one row, without query strings,
//! bodies or credentials; `GET /request-log` pages through them, newest first.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{app_with_account, assert_error, spawn_app_with, TestApp};

pub(crate) async fn entries(app: &TestApp, query: &str, at_least: usize) -> Value {
    for _ in 0..100 {
        let r = app.get(&format!("/request-log?{query}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        if r.body["result"].as_array().unwrap().len() >= at_least {
            return r.body;
        }
        // Real time: the log is written by SQLite threads of its own, which a paused clock cannot hurry.
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("the request log never reached {at_least} entries");
}

#[tokio::test]
async fn each_call_is_logged_without_query_or_credentials() {
    let (app, account) = app_with_account("github").await;
    let secret = app.credentials["github"]["access_token"].as_str().unwrap().to_string();

    let ok = app
        .get(&app.orgs_path(&account, Some("github"), "&remote_query[note]=s3cr3t-query-value"))
        .await;
    assert_eq!(ok.status, 200);
    let missing = app.get(&app.orgs_path(&account, Some("no-such-org"), "")).await;
    assert_error(&missing, 404);
    let proxied = app
        .get(&format!("/proxy/organizations/github?integrated_account_id={account}"))
        .await;
    assert_eq!(proxied.status, 200);

    let log = entries(&app, &format!("integrated_account_id={account}"), 3).await;
    let rows = log["result"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    // Newest first.
    assert_eq!(rows[0]["path"], "/proxy/organizations/github");
    assert_eq!(rows[1]["path"], "/unified/user-directory/organizations/no-such-org");
    assert_eq!(rows[1]["status"], 404);
    assert_eq!(
        rows[1]["error"].as_str(),
        missing.body["message"].as_str(),
        "the message answered"
    );
    assert_eq!(rows[2]["path"], "/unified/user-directory/organizations/github");
    assert_eq!(rows[2]["method"], "GET");
    assert_eq!(rows[2]["status"], 200);
    assert!(rows[2]["error"].is_null());
    assert!(rows[2]["duration_ms"].is_u64());
    assert_eq!(rows[2]["integrated_account_id"], account.as_str());
    let text = log.to_string();
    assert!(!text.contains("s3cr3t-query-value"), "{text}");
    assert!(!text.contains(&secret), "{text}");
    assert!(!text.contains(&app.token), "{text}");

    // Paging, newest first, one at a time.
    let first = app
        .get(&format!("/request-log?integrated_account_id={account}&limit=2"))
        .await;
    assert_eq!(first.body["result"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!(
            "/request-log?integrated_account_id={account}&limit=2&next_cursor={cursor}"
        ))
        .await;
    let rest = second.body["result"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["path"], "/unified/user-directory/organizations/github");
    assert!(second.body["next_cursor"].is_null());

    assert_error(&app.get("/request-log?limit=0").await, 400);
    assert_error(&app.get("/request-log?next_cursor=%%%").await, 400);
    let anonymous = app
        .client
        .get(format!("{}/request-log", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// Truto's `GET /log` over the same rows: its envelope, the request type, resource and
/// method read from the path, the account's integration, its filters and clear refusals.
#[tokio::test]
async fn the_truto_logs_list_reads_the_same_rows() {
    let (app, account) = app_with_account("github").await;
    let before_any = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert_eq!(app.get(&app.orgs_path(&account, Some("github"), "")).await.status, 200);
    let proxied = app
        .get(&format!("/proxy/organizations/github?integrated_account_id={account}"))
        .await;
    assert_eq!(proxied.status, 200);
    entries(&app, &format!("integrated_account_id={account}"), 2).await;

    let r = app.get("/log?log_type=unified_proxy_api").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rows = r.body["result"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{}", r.text);
    assert_eq!(rows[0]["log_type"], "unified_proxy_api");
    assert_eq!(rows[0]["metadata"]["request_type"], "proxy");
    assert_eq!(rows[1]["metadata"]["request_type"], "unified");
    assert_eq!(rows[1]["metadata"]["resource"], "organizations");
    assert_eq!(rows[1]["metadata"]["method"], "get");
    assert_eq!(rows[1]["metadata"]["integration"], "github");
    assert_eq!(rows[1]["metadata"]["integrated_account_id"], account.as_str());
    assert_eq!(rows[1]["metadata"]["status_code"], 200);
    assert!(rows[1]["metadata"]["duration"].is_u64());
    assert!(rows[1]["_id"].is_string() && rows[1]["timestamp"].is_string());
    assert!(r.body["next_cursor"].is_null());

    let unified = app
        .get("/log?log_type=unified_proxy_api&log_type_filter[request_type]=unified")
        .await;
    let rows = unified.body["result"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", unified.text);
    assert_eq!(rows[0]["metadata"]["request_type"], "unified");
    let first = app.get("/log?log_type=unified_proxy_api&limit=1").await;
    let cursor = first.body["next_cursor"].as_str().expect("a second page");
    let second = app
        .get(&format!("/log?log_type=unified_proxy_api&limit=1&next_cursor={cursor}"))
        .await;
    assert_eq!(second.body["result"][0]["metadata"]["request_type"], "unified");
    // A time range: nothing before the calls, both after.
    let gt = before_any.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let lt = (before_any + chrono::Duration::seconds(0)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let r = app
        .get(&format!("/log?log_type=unified_proxy_api&created_at[gt]={gt}"))
        .await;
    assert_eq!(r.body["result"].as_array().unwrap().len(), 2, "{}", r.text);
    let r = app
        .get(&format!("/log?log_type=unified_proxy_api&created_at[lt]={lt}"))
        .await;
    assert_eq!(r.body["result"].as_array().unwrap().len(), 0, "{}", r.text);

    assert!(assert_error(&app.get("/log").await, 400).contains("log_type"));
    assert!(assert_error(&app.get("/log?log_type=rapid_bridge").await, 400).contains("not recorded"));
    assert!(assert_error(
        &app.get("/log?log_type=unified_proxy_api&created_at[gt]=yesterday")
            .await,
        400
    )
    .contains("ISO 8601"));
    let ping = app.client.get(format!("{}/ping", app.address)).send().await.unwrap();
    assert_eq!(ping.status(), 200);
    assert_eq!(ping.json::<Value>().await.unwrap()["message"], "pong");
}

/// With sampling, one successful call in four is logged, evenly; every failure is.
#[tokio::test]
async fn sampling_keeps_a_share_of_successes_and_every_failure() {
    let app = spawn_app_with(|c| c.request_log.success_sample_rate = 0.25).await;
    let account = app.connect("github").await;
    for _ in 0..8 {
        assert_eq!(app.get(&app.orgs_path(&account, Some("github"), "")).await.status, 200);
    }
    for _ in 0..3 {
        assert_error(&app.get(&app.orgs_path(&account, Some("no-such-org"), "")).await, 404);
    }
    // Five rows are expected; after they show, a wait longer than a batch's (0.2 s) lets
    // any wrongly kept sixth one show too.
    entries(&app, &format!("integrated_account_id={account}"), 5).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let log = entries(&app, &format!("integrated_account_id={account}"), 5).await;
    let rows = log["result"].as_array().unwrap();
    let ok = rows.iter().filter(|r| r["status"] == 200).count();
    let failed = rows.iter().filter(|r| r["status"] == 404).count();
    assert_eq!((ok, failed), (2, 3), "{log}");
    let bad = unigate::config::Config {
        request_log: unigate::config::RequestLogConfig {
            success_sample_rate: 1.5,
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(bad.validate().unwrap_err().to_string().contains("success_sample_rate"));
}

/// Entries past the retention are deleted a bounded number per statement (short write
/// transactions, so account writes and rate-limit budgets are not locked out meanwhile),
/// until none is left; newer ones stay. On whichever backend the tests run.
#[tokio::test]
async fn pruning_deletes_old_entries_a_chunk_at_a_time_and_keeps_newer_ones() {
    use chrono::Utc;
    use unigate::request_log::{prune, PRUNE_CHUNK};
    use unigate::store::log_batches::ENTRIES;
    use unigate::store::{LogDeleted, RequestLogRecord};

    // The app's own pruning (at start, then hourly) keeps everything here, so that only this
    // test's calls delete.
    let app = spawn_app_with(|c| c.request_log.retention_hours = u64::MAX).await;
    let store = app.state.store.clone();
    let env = store.first_environment().await.unwrap().unwrap();
    let now = Utc::now();
    let rows = |tag: &str, n: usize, at: chrono::DateTime<Utc>| -> Vec<RequestLogRecord> {
        (0..n)
            .map(|i| RequestLogRecord {
                id: format!("{tag}-{i:05}"),
                environment_id: env.id.clone(),
                integrated_account_id: None,
                method: "GET".into(),
                path: "/unified/user-directory/organizations".into(),
                status: 200,
                duration_ms: 1,
                error: None,
                created_at: at,
            })
            .collect()
    };
    // Stored 64 entries to a batch (store::log_batches): more than two statements' worth.
    let old = (2 * PRUNE_CHUNK as usize + 5) * ENTRIES + 10;
    store
        .insert_request_logs(rows("old", old, now - chrono::Duration::hours(200)), 0)
        .await
        .unwrap();
    store.insert_request_logs(rows("new", 3, now), 0).await.unwrap();
    let cutoff = now - chrono::Duration::hours(168);

    // One statement deletes no more than its limit of batches.
    let first = store.prune_request_logs(cutoff, 10).await.unwrap();
    assert_eq!(
        first,
        LogDeleted {
            batches: 10,
            entries: 10 * ENTRIES as u64
        }
    );
    assert_eq!(prune(store.as_ref(), cutoff).await.unwrap(), old as u64 - first.entries);
    assert_eq!(prune(store.as_ref(), cutoff).await.unwrap(), 0);

    let left = store.list_request_logs(&env.id, None, None, 100).await.unwrap();
    let mut ids: Vec<&str> = left.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["new-00000", "new-00001", "new-00002"]);
}

/// The cap keeps an environment's newest entries, a chunk at a time, on either store.
#[tokio::test]
async fn the_cap_deletes_the_oldest_entries_beyond_it() {
    use chrono::Utc;
    use unigate::request_log::{trim, PRUNE_CHUNK};
    use unigate::store::log_batches::ENTRIES;
    use unigate::store::RequestLogRecord;

    let app = spawn_app_with(|c| c.request_log.max_rows_per_environment = 0).await;
    let store = app.state.store.clone();
    let env = store.first_environment().await.unwrap().unwrap();
    let now = Utc::now();
    // More batches than one statement deletes, the newest holding 34 entries.
    let total = (PRUNE_CHUNK as usize + 3) * ENTRIES + 34;
    let rows: Vec<RequestLogRecord> = (0..total)
        .map(|i| RequestLogRecord {
            id: format!("r-{i:05}"),
            environment_id: env.id.clone(),
            integrated_account_id: None,
            method: "GET".into(),
            path: "/unified/user-directory/users".into(),
            status: 200,
            duration_ms: 1,
            error: None,
            created_at: now - chrono::Duration::milliseconds((total - i) as i64),
        })
        .collect();
    store.insert_request_logs(rows, 0).await.unwrap();

    // Entries a millisecond apart, stored 64 to a batch from the oldest: the newest batch
    // holds 34, the next 64; a third would take the count past 100, so it goes, with
    // every older one.
    assert_eq!(trim(store.as_ref(), 100).await.unwrap(), total as u64 - 98);
    let left = store.list_request_logs(&env.id, None, None, 1000).await.unwrap();
    let mut ids: Vec<&str> = left.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids.len(), 98);
    assert_eq!(ids[0], format!("r-{:05}", total - 98), "the newest are kept");
    assert_eq!(trim(store.as_ref(), 100).await.unwrap(), 0);
}

/// A graceful shutdown (a deploy's SIGTERM) writes what the log still queues instead of
/// leaving it behind: the writer would otherwise wait 200 ms for a batch to fill.
#[tokio::test]
async fn a_graceful_shutdown_writes_the_queued_entries_first() {
    let (app, account) = app_with_account("github").await;
    let env = app.state.store.first_environment().await.unwrap().unwrap();
    for _ in 0..5 {
        let r = app.get(&app.orgs_path(&account, Some("github"), "")).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    app.stop().await;
    let logged = app
        .state
        .store
        .list_request_logs(&env.id, None, None, 100)
        .await
        .unwrap();
    assert_eq!(logged.len(), 5, "{logged:?}");
}

/// On PostgreSQL, entries written one to a row before migration 11 are there after it (a
/// batch each), in order, each time to the microsecond. Needs `TEST_POSTGRES_URL` (CI's
/// PostgreSQL pass); SQLite's migration has the same test in `store::sqlite`.
#[tokio::test]
async fn postgres_keeps_the_entries_written_before_the_batched_layout() {
    let Some(url) = crate::helpers::fresh_postgres_database().await else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    };
    let mut up_to_10 = sqlx::migrate!("./migrations/postgres");
    up_to_10.migrations = std::borrow::Cow::Owned(
        up_to_10
            .migrations
            .iter()
            .filter(|m| m.version <= 10)
            .cloned()
            .collect(),
    );
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    up_to_10.run(&pool).await.unwrap();
    sqlx::query("INSERT INTO environments (id, name, created_at) VALUES ('e1', 'e', now())")
        .execute(&pool)
        .await
        .unwrap();
    let at = |i: i64| format!("2026-01-01T00:00:{:02}.{:06}Z", i / 2, i * 7);
    for i in 0..12_i64 {
        sqlx::query(
            "INSERT INTO request_logs (id, environment_id, integrated_account_id, method, path, status, duration_ms, error, created_at) \
             VALUES ($1, 'e1', $2, 'GET', '/unified/x', 200, $3, $4, $5::timestamptz)",
        )
        .bind(format!("r{i:02}"))
        .bind((i % 3 == 0).then_some("a1"))
        .bind(i)
        .bind((i == 5).then_some("a \"quoted\" error"))
        .bind(at(i))
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let store = unigate::store::postgres::PgStore::connect(&url, &Default::default())
        .await
        .unwrap();
    use unigate::store::Store as _;
    let listed = store.list_request_logs("e1", None, None, 100).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|r| r.id.as_str()).collect();
    let want: Vec<String> = (0..12).rev().map(|i| format!("r{i:02}")).collect();
    assert_eq!(ids, want.iter().map(String::as_str).collect::<Vec<_>>());
    for r in &listed {
        let i: i64 = r.id[1..].parse().unwrap();
        assert_eq!(
            r.created_at,
            chrono::DateTime::parse_from_rfc3339(&at(i)).unwrap(),
            "{}",
            r.id
        );
        assert_eq!(r.duration_ms, i as u64);
        assert_eq!(r.error.as_deref(), (i == 5).then_some("a \"quoted\" error"));
    }
    let one = store.list_request_logs("e1", Some("a1"), None, 100).await.unwrap();
    assert_eq!(one.len(), 4);
}

//! OAuth2 accounts against the emulators' OAuth servers (GitHub: rotating refresh tokens and
//! 200-status errors; Google: non-rotating refresh tokens; Auth0: client credentials).
//! Refresh ahead of expiry and on 401, one refresh per account across requests and across
//! gateway processes sharing a store, a process killed mid-refresh, revocation.

use std::process::{Child, Command};
use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::{json, Value};
use unigate_emulator::{Fault, RunningEmulator};

use crate::helpers::{
    assert_error, fresh_postgres_database, serve_on_any_port, spawn_app, spawn_app_with, TestApp, TEST_KEY,
};
use crate::scale::call;

const GITHUB_TOKEN_PATH: &str = "/login/oauth/access_token";

/// Token-endpoint requests of one grant type the emulator received.
fn token_requests(emulator: &RunningEmulator, path: &str, grant: &str) -> Vec<unigate_emulator::RecordedRequest> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .filter(|r| url::form_urlencoded::parse(r.body_text().as_bytes()).any(|(k, v)| k == "grant_type" && v == grant))
        .collect()
}

fn form(r: &unigate_emulator::RecordedRequest) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(r.body_text().as_bytes())
        .into_owned()
        .collect()
}

fn past() -> String {
    (Utc::now() - chrono::Duration::minutes(1)).to_rfc3339()
}

pub(crate) fn future() -> String {
    (Utc::now() + chrono::Duration::hours(1)).to_rfc3339()
}

/// `POST /integrated-account/refresh-credentials` for `id`.
pub(crate) async fn refresh_credentials(app: &TestApp, id: &str) -> crate::helpers::Reply {
    app.send(
        Method::POST,
        "/integrated-account/refresh-credentials",
        Some(json!({ "id": id })),
    )
    .await
}

/// A GitHub account holding tokens the emulator issued, expiring at `expires_at`.
pub(crate) async fn github_oauth_account(app: &TestApp, expires_at: &str) -> (String, unigate_emulator::OAuthTokens) {
    let tokens = app.emulator("github").oauth_issue().unwrap();
    let account = app
        .connect_with(
            "github",
            json!({
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "expires_at": expires_at,
            }),
        )
        .await;
    (account, tokens)
}

#[tokio::test]
async fn fifty_concurrent_calls_on_an_expired_token_cause_exactly_one_refresh() {
    let app = spawn_app().await;
    let (account, old) = github_oauth_account(&app, &past()).await;
    let gh = app.emulator("github");
    gh.clear_requests();

    let path = app.orgs_path(&account, Some("github"), "");
    let calls = (0..50).map(|_| app.get(&path));
    let replies = futures::future::join_all(calls).await;

    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["id"], "github");
    }
    let refreshes = token_requests(gh, GITHUB_TOKEN_PATH, "refresh_token");
    assert_eq!(refreshes.len(), 1, "exactly one refresh for 50 concurrent calls");
    let sent = form(&refreshes[0]);
    assert_eq!(sent["refresh_token"], old.refresh_token.clone().unwrap());
    assert_eq!(sent["client_id"], "Iv23liSandbox00000001");
    // Every API call used the new token, none the expired one.
    let api_calls: Vec<_> = gh.requests().into_iter().filter(|r| r.path == "/orgs/github").collect();
    assert_eq!(api_calls.len(), 50);
    let used: std::collections::HashSet<_> = api_calls
        .iter()
        .map(|r| r.header("authorization").unwrap().to_string())
        .collect();
    assert_eq!(used.len(), 1);
    assert!(!used.contains(&format!("Bearer {}", old.access_token)));
    // The rotated refresh token replaced the old one, which the provider no longer takes.
    assert!(!gh.oauth_refresh_token_live(old.refresh_token.as_deref().unwrap()));
    let view = app.get(&format!("/integrated-account/{account}")).await;
    assert_eq!(view.body["status"], "active");
    assert!(!view.text.contains("ghu_"), "no token in the admin view: {}", view.text);
}

#[tokio::test]
async fn a_provider_401_refreshes_once_and_the_call_succeeds() {
    let app = spawn_app().await;
    let (account, old) = github_oauth_account(&app, &future()).await;
    let gh = app.emulator("github");
    // The provider revoked the access token early (the stored expiry still says valid).
    gh.oauth_expire_access_tokens();
    gh.clear_requests();

    let r = app.get(&app.orgs_path(&account, Some("github"), "")).await;

    assert_eq!(r.status, 200, "{}", r.text);
    let seen: Vec<_> = gh.requests();
    let api: Vec<_> = seen.iter().filter(|r| r.path == "/orgs/github").collect();
    assert_eq!(api.len(), 2, "the refused call, then the retry");
    assert_eq!(
        api[0].header("authorization"),
        Some(format!("Bearer {}", old.access_token).as_str())
    );
    assert_ne!(api[1].header("authorization"), api[0].header("authorization"));
    assert_eq!(token_requests(gh, GITHUB_TOKEN_PATH, "refresh_token").len(), 1);
}

#[tokio::test]
async fn a_401_that_persists_after_refresh_is_answered_not_retried_forever() {
    let app = spawn_app().await;
    let (account, _) = github_oauth_account(&app, &future()).await;
    let gh = app.emulator("github");
    gh.clear_requests();
    gh.inject(
        Fault::respond(
            401,
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
        )
        .on("GET", "/orgs/*"),
    );

    let r = app.get(&app.orgs_path(&account, Some("github"), "")).await;

    assert_error(&r, 401);
    assert_eq!(r.body["truto_is_remote_error"], true);
    let api = gh.requests().into_iter().filter(|r| r.path == "/orgs/github").count();
    assert_eq!(api, 2, "one retry after one refresh");
    assert_eq!(token_requests(gh, GITHUB_TOKEN_PATH, "refresh_token").len(), 1);
}

#[tokio::test]
async fn a_revoked_refresh_token_marks_the_account_needs_reauth_and_calls_answer_401() {
    let app = spawn_app().await;
    let (account, _) = github_oauth_account(&app, &past()).await;
    let gh = app.emulator("github");
    gh.oauth_revoke_refresh_tokens();

    let r = app.get(&app.orgs_path(&account, Some("github"), "")).await;

    let message = assert_error(&r, 401);
    assert!(message.contains("re-authorized"), "{message}");
    assert!(message.contains(&account), "{message}");
    let view = app.get(&format!("/integrated-account/{account}")).await;
    assert_eq!(view.body["status"], "needs_reauth");
    assert!(
        view.body["last_error"].as_str().unwrap().contains("bad_refresh_token"),
        "{}",
        view.text
    );
    // Further calls answer at once, without asking the provider again.
    gh.clear_requests();
    let again = app.get(&app.orgs_path(&account, Some("github"), "")).await;
    assert_error(&again, 401);
    assert!(gh.requests().is_empty());
}

#[tokio::test]
async fn refresh_credentials_forces_a_refresh_and_returns_no_secret() {
    let app = spawn_app().await;
    let (account, old) = github_oauth_account(&app, &future()).await;
    let gh = app.emulator("github");

    let r = refresh_credentials(&app, &account).await;

    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], account.as_str());
    assert_eq!(r.body["status"], "active");
    assert!(!r.text.contains("ghu_") && !r.text.contains("ghr_"), "{}", r.text);
    assert_eq!(token_requests(gh, GITHUB_TOKEN_PATH, "refresh_token").len(), 1);
    assert!(!gh.oauth_refresh_token_live(old.refresh_token.as_deref().unwrap()));
    // The new token works.
    let call = app.get(&app.orgs_path(&account, Some("github"), "")).await;
    assert_eq!(call.status, 200, "{}", call.text);

    // An account with a plain personal access token has nothing to refresh.
    let pat = app.connect("github").await;
    let refused = refresh_credentials(&app, &pat).await;
    assert!(assert_error(&refused, 400).contains("refresh"));
    let missing = refresh_credentials(&app, "nope").await;
    assert_error(&missing, 404);
}

#[tokio::test]
async fn without_an_oauth_app_configured_a_refresh_fails_clearly() {
    let app = crate::helpers::spawn_app_with(|c| c.oauth.apps.clear()).await;
    let (account, _) = github_oauth_account(&app, &past()).await;

    let r = app.get(&app.orgs_path(&account, Some("github"), "")).await;

    let message = assert_error(&r, 502);
    assert!(message.contains("oauth.apps.github"), "{message}");
    let view = app.get(&format!("/integrated-account/{account}")).await;
    assert_eq!(
        view.body["status"], "active",
        "a configuration problem is not the account's fault"
    );
}

#[tokio::test]
async fn google_refresh_keeps_the_non_rotating_refresh_token() {
    let app = spawn_app().await;
    let google = app.emulator("google-cloud");
    let tokens = google.oauth_issue().unwrap();
    let account = app
        .connect_with(
            "google-cloud",
            json!({"access_token": tokens.access_token, "refresh_token": tokens.refresh_token, "expires_at": past()}),
        )
        .await;
    let list = app.get(&app.orgs_path(&account, None, "")).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let refresh = token_requests(google, "/token", "refresh_token");
    assert_eq!(refresh.len(), 1);
    // Google does not rotate: the same refresh token keeps working for the next refresh.
    assert!(google.oauth_refresh_token_live(tokens.refresh_token.as_deref().unwrap()));
    google.oauth_expire_access_tokens();
    let again = app.get(&app.orgs_path(&account, None, "")).await;
    assert_eq!(again.status, 200, "{}", again.text);
    let refreshes = token_requests(google, "/token", "refresh_token");
    assert_eq!(refreshes.len(), 2);
    assert_eq!(form(&refreshes[1])["refresh_token"], tokens.refresh_token.unwrap());
}

#[tokio::test]
async fn auth0_client_credentials_mint_the_management_token_on_first_use() {
    let app = spawn_app().await;
    let creds = &app.credentials["auth0"];
    let account = app
        .connect_with(
            "auth0",
            json!({
                "tenant_domain": creds["tenant_domain"],
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            }),
        )
        .await;
    let auth0 = app.emulator("auth0");
    let org = auth0.records(&auth0.collections()[0])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let first = app.get(&app.orgs_path(&account, Some(&org), "")).await;
    let second = app.get(&app.orgs_path(&account, Some(&org), "")).await;

    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(second.status, 200, "{}", second.text);
    let grants = token_requests(auth0, "/oauth/token", "client_credentials");
    assert_eq!(grants.len(), 1, "the token is reused until it expires");
    let sent = form(&grants[0]);
    assert_eq!(sent["audience"], "https://sandbox.us.auth0.com/api/v2/");
    assert_eq!(sent["client_id"], creds["client_id"].as_str().unwrap());
    // When Auth0 refuses the token (expired early), a new one is minted and the call retried.
    auth0.oauth_expire_access_tokens();
    let third = app.get(&app.orgs_path(&account, Some(&org), "")).await;
    assert_eq!(third.status, 200, "{}", third.text);
    assert_eq!(token_requests(auth0, "/oauth/token", "client_credentials").len(), 2);

    // Wrong client credentials: a clear 502 naming the integration; the account stays.
    let bad = app
        .connect_with(
            "auth0",
            json!({"tenant_domain": creds["tenant_domain"], "client_id": "nope", "client_secret": "nope"}),
        )
        .await;
    let r = app.get(&app.orgs_path(&bad, Some(&org), "")).await;
    let message = assert_error(&r, 502);
    assert!(
        message.contains("auth0") && message.contains("invalid_client"),
        "{message}"
    );
}

// ---- Gateway processes sharing one store ----

/// A `unigate serve` process; killed when dropped.
struct Gateway {
    child: Child,
    base: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Shared {
    dir: tempfile::TempDir,
    database_url: Option<String>,
    github: String,
    /// Gateways started so far, naming each one's stderr file.
    started: std::sync::atomic::AtomicUsize,
}

impl Shared {
    async fn new(github: &RunningEmulator) -> Shared {
        Shared {
            dir: tempfile::tempdir().unwrap(),
            database_url: fresh_postgres_database().await,
            github: github.base_url(),
            started: Default::default(),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_unigate"));
        c.env("UNIGATE_ENCRYPTION_KEY", TEST_KEY)
            .env("UNIGATE_UPSTREAM__BASE_URL_OVERRIDES__GITHUB", &self.github)
            .env("UNIGATE_OAUTH__APPS__GITHUB__CLIENT_ID", "Iv23liSandbox00000001")
            .env(
                "UNIGATE_OAUTH__APPS__GITHUB__CLIENT_SECRET",
                "sandbox0github0app0client0secret0000001",
            )
            .env("UNIGATE_OAUTH__REFRESH_LOCK_MS", "2000")
            .env("UNIGATE_LOG", "warn");
        if let Some(db) = &self.database_url {
            c.env("UNIGATE_DATABASE_URL", db);
        }
        c
    }

    fn token(&self) -> String {
        let out = self
            .command()
            .args(["token", "create", "--name", "t", "--data-dir"])
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    async fn start(&self) -> Gateway {
        let mut command = self.command();
        // The line that gives the address is at `info`; the rest stays at `warn`.
        command
            .env("UNIGATE_LOG", "warn,unigate=info")
            .env("UNIGATE_DATA_DIR", self.dir.path());
        let n = self.started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (child, base) = serve_on_any_port(command, &self.dir.path().join(format!("stderr-{n}.log"))).await;
        Gateway { child, base }
    }
}

async fn create_github_account(base: &str, token: &str, tokens: &unigate_emulator::OAuthTokens) -> String {
    let (s, created) = call(
        base,
        token,
        Method::POST,
        "/integrated-account",
        Some(json!({"tenant_id": "t", "integration_name": "github", "context": {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": past(),
        }})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    created["id"].as_str().unwrap().to_string()
}

async fn github_emulator() -> RunningEmulator {
    let file = crate::helpers::catalog_dir().join("integrations/github/emulator.yaml");
    unigate_emulator::start(unigate_emulator::EmulatorSpec::from_file(&file).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn two_gateway_processes_on_one_store_still_refresh_once() {
    let gh = github_emulator().await;
    let shared = Shared::new(&gh).await;
    let token = shared.token();
    let a = shared.start().await;
    let b = shared.start().await;
    let tokens = gh.oauth_issue().unwrap();
    let account = create_github_account(&a.base, &token, &tokens).await;
    gh.clear_requests();

    let path = format!("/unified/user-directory/organizations/github?integrated_account_id={account}");
    let calls = (0..50).map(|i| {
        let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
        let token = token.clone();
        let path = path.clone();
        async move { call(&base, &token, Method::GET, &path, None).await }
    });
    let replies = futures::future::join_all(calls).await;

    for (status, body) in &replies {
        assert_eq!(*status, 200, "{body}");
    }
    assert_eq!(
        token_requests(&gh, GITHUB_TOKEN_PATH, "refresh_token").len(),
        1,
        "one refresh across both processes"
    );
    let used: std::collections::HashSet<_> = gh
        .requests()
        .iter()
        .filter(|r| r.path == "/orgs/github")
        .map(|r| r.header("authorization").unwrap().to_string())
        .collect();
    assert_eq!(used.len(), 1, "both processes used the one new token");
}

#[tokio::test]
async fn a_process_killed_mid_refresh_loses_no_refresh_token() {
    let gh = github_emulator().await;
    let shared = Shared::new(&gh).await;
    let token = shared.token();
    let mut a = shared.start().await;
    let tokens = gh.oauth_issue().unwrap();
    let account = create_github_account(&a.base, &token, &tokens).await;
    // The token endpoint hangs long enough for the process to die while waiting for it.
    gh.inject(
        Fault::delay(Duration::from_secs(5))
            .on("POST", GITHUB_TOKEN_PATH)
            .times(1),
    );
    gh.clear_requests();

    let path = format!("/unified/user-directory/organizations/github?integrated_account_id={account}");
    let pending = tokio::spawn({
        let (base, token, path) = (a.base.clone(), token.clone(), path.clone());
        async move {
            reqwest::Client::new()
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
        }
    });
    for _ in 0..100 {
        if !token_requests(&gh, GITHUB_TOKEN_PATH, "refresh_token").is_empty() {
            break;
        }
        // Real time: the refresh comes from the child gateway process, which no clock here drives.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(token_requests(&gh, GITHUB_TOKEN_PATH, "refresh_token").len(), 1);
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    assert!(pending.await.unwrap().is_err(), "the client saw the process die");

    // The stored refresh token is still the one the provider accepts: a new process picks
    // up once the dead holder's lease has expired, refreshes with it, and answers.
    assert!(gh.oauth_refresh_token_live(tokens.refresh_token.as_deref().unwrap()));
    let b = shared.start().await;
    let (status, body) = call(&b.base, &token, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{body}");
    let refreshes = token_requests(&gh, GITHUB_TOKEN_PATH, "refresh_token");
    assert_eq!(refreshes.len(), 2);
    assert_eq!(
        form(&refreshes[1])["refresh_token"],
        tokens.refresh_token.clone().unwrap()
    );
    assert!(!gh.oauth_refresh_token_live(tokens.refresh_token.as_deref().unwrap()));
}

/// A token endpoint that hangs: the refreshing call answers 504 at the request timeout, and
/// the calls waiting for it answer 503 with `Retry-After` at `oauth.refresh_wait_ms`,
/// instead of queueing to run the same refresh one after another.
#[tokio::test]
async fn behind_a_hung_token_endpoint_waiters_answer_503_and_only_one_refresh_runs() {
    let app = spawn_app_with(|c| {
        c.upstream.request_timeout_ms = 1_500;
        c.oauth.refresh_wait_ms = 300;
    })
    .await;
    let (account, _) = github_oauth_account(&app, &past()).await;
    let gh = app.emulator("github");
    gh.inject(Fault::delay(Duration::from_secs(10)).on("POST", GITHUB_TOKEN_PATH));

    let path = app.orgs_path(&account, Some("github"), "");
    let replies = futures::future::join_all((0..4).map(|_| app.get(&path))).await;

    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [503, 503, 503, 504],
        "{:?}",
        replies.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status == 503) {
        assert_eq!(r.headers["retry-after"], "1");
        assert!(assert_error(r, 503).contains("being refreshed"), "{}", r.text);
    }
    let timed_out = replies.iter().find(|r| r.status == 504).unwrap();
    assert!(
        assert_error(timed_out, 504).contains("did not answer within 1500 ms"),
        "{}",
        timed_out.text
    );
    assert_eq!(token_requests(gh, GITHUB_TOKEN_PATH, "refresh_token").len(), 1);
}

/// An admin `PATCH` of an unrelated context value after a refresh keeps the refreshed
/// expiry: the expiry imported with the account (public, now stale) does not come back and
/// force a needless refresh.
#[tokio::test]
async fn a_patch_after_a_refresh_keeps_the_refreshed_expiry() {
    let app = spawn_app().await;
    let (account, _) = github_oauth_account(&app, &past()).await;
    let gh = app.emulator("github");
    let path = app.orgs_path(&account, Some("github"), "");
    assert_eq!(app.get(&path).await.status, 200);
    assert_eq!(token_requests(gh, GITHUB_TOKEN_PATH, "refresh_token").len(), 1);

    let patch = app
        .send(
            Method::PATCH,
            &format!("/integrated-account/{account}"),
            Some(json!({"context": {"team": "blue"}})),
        )
        .await;
    assert_eq!(patch.status, 200, "{}", patch.text);
    assert_eq!(app.get(&path).await.status, 200);

    assert_eq!(
        token_requests(gh, GITHUB_TOKEN_PATH, "refresh_token").len(),
        1,
        "no second refresh"
    );
}

#[tokio::test]
async fn an_admin_patch_and_a_refresh_never_undo_each_other() {
    let app = spawn_app().await;
    let (account, _) = github_oauth_account(&app, &past()).await;
    let gh = app.emulator("github");
    // The refresh hangs for a while at the provider; meanwhile an operator sets the account's
    // refresh token by hand. The PATCH waits for the refresh to finish, then applies: the
    // operator's value is what is stored (without the lock, the refresh, which read the
    // account before the PATCH, would write the rotated token over it).
    gh.inject(
        Fault::delay(Duration::from_millis(800))
            .on("POST", GITHUB_TOKEN_PATH)
            .times(1),
    );
    let call = {
        let path = app.orgs_path(&account, Some("github"), "");
        let (client, address, token) = (app.client.clone(), app.address.clone(), app.token.clone());
        tokio::spawn(async move { client.get(format!("{address}{path}")).bearer_auth(token).send().await })
    };
    // Real time: paused, the clock races through the provider's 800 ms hold while SQLite's threads work.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let patch = app
        .send(
            Method::PATCH,
            &format!("/integrated-account/{account}"),
            Some(json!({"context": {"refresh_token": "ghr_set_by_the_operator"}})),
        )
        .await;
    assert_eq!(patch.status, 200, "{}", patch.text);
    assert_eq!(call.await.unwrap().unwrap().status(), 200);

    let forced = refresh_credentials(&app, &account).await;
    let refreshes = token_requests(gh, GITHUB_TOKEN_PATH, "refresh_token");
    assert_eq!(refreshes.len(), 2);
    assert_eq!(form(&refreshes[1])["refresh_token"], "ghr_set_by_the_operator");
    // The emulator does not know that token: the account now needs re-authorization.
    assert_error(&forced, 401);
}

#[tokio::test]
async fn two_processes_share_accounts_and_idempotency_keys() {
    let gh = github_emulator().await;
    let shared = Shared::new(&gh).await;
    let token = shared.token();
    let a = shared.start().await;
    let b = shared.start().await;
    let tokens = gh.oauth_issue().unwrap();
    let account = create_github_account(&a.base, &token, &tokens).await;

    // Created through one process, seen, changed and deleted through the other.
    let (s, seen) = call(
        &b.base,
        &token,
        Method::GET,
        &format!("/integrated-account/{account}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{seen}");
    let (s, _) = call(
        &b.base,
        &token,
        Method::PATCH,
        &format!("/integrated-account/{account}"),
        Some(json!({"tenant_id": "moved"})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, again) = call(
        &a.base,
        &token,
        Method::GET,
        &format!("/integrated-account/{account}"),
        None,
    )
    .await;
    assert_eq!(again["tenant_id"], "moved");

    // One Idempotency-Key, one PATCH at the provider, whichever process answers.
    gh.clear_requests();
    let path = format!("/unified/user-directory/organizations/github?integrated_account_id={account}");
    let mut answers = Vec::new();
    for base in [&a.base, &b.base] {
        let r = reqwest::Client::new()
            .patch(format!("{base}{path}"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "one-rename")
            .json(&json!({"name": "Renamed once"}))
            .send()
            .await
            .unwrap();
        answers.push((r.status().as_u16(), r.text().await.unwrap()));
    }
    assert_eq!(answers[0].0, 200, "{}", answers[0].1);
    assert_eq!(answers[0], answers[1], "the second process replays the first answer");
    let patches = gh.requests().into_iter().filter(|r| r.method == "PATCH").count();
    assert_eq!(patches, 1);

    let (s, _) = call(
        &b.base,
        &token,
        Method::DELETE,
        &format!("/integrated-account/{account}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(
        &a.base,
        &token,
        Method::GET,
        &format!("/integrated-account/{account}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
}

/// The admin view shows the expiry of the current token, not the one imported with the
/// account; a refresh answered without `expires_in` shows (and means) no expiry, rather
/// than leaving the imported, past one in force.
#[tokio::test]
async fn the_admin_view_shows_the_refreshed_expiry() {
    let app = spawn_app().await;
    let imported = past();
    let (account, _) = github_oauth_account(&app, &imported).await;
    let view_path = format!("/integrated-account/{account}");
    assert_eq!(
        app.get(&view_path).await.body["context"]["expires_at"],
        imported.as_str()
    );

    assert_eq!(app.get(&app.orgs_path(&account, Some("github"), "")).await.status, 200);
    let view = app.get(&view_path).await;
    let shown = view.body["context"]["expires_at"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let shown = chrono::DateTime::parse_from_rfc3339(&shown).unwrap_or_else(|e| panic!("{shown:?}: {e}"));
    assert!(shown > Utc::now(), "the refreshed expiry, in the future: {shown}");
    assert!(
        !view.text.contains("ghu_") && !view.text.contains("ghr_"),
        "{}",
        view.text
    );

    app.emulator("github").inject(
        Fault::respond(
            200,
            json!({"access_token": "ghu_never_expires", "token_type": "bearer"}),
        )
        .on("POST", GITHUB_TOKEN_PATH)
        .times(1),
    );
    let r = refresh_credentials(&app, &account).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["context"]["expires_at"], Value::Null, "{}", r.text);
    assert!(!r.text.contains("ghu_"), "{}", r.text);
}

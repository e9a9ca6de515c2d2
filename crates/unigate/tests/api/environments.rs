//! Environments and API tokens through the API: two environments in one store never see
//! each other's objects, token scopes, tokens made and deleted over HTTP (and the deletion
//! seen by a second instance within the cache time), and the CLI.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use unigate::store::TokenScope;

use crate::helpers::{app_with_account, assert_error, TestApp};

/// A second environment in the app's store, with a token of `scope`.
async fn other_environment(app: &TestApp, scope: TokenScope) -> (String, String) {
    let env = app.state.store.create_environment("staging").await.unwrap();
    let token = unigate::tokens::generate_token();
    app.state
        .store
        .create_api_token(&env.id, "staging-token", &unigate::tokens::hash_token(&token), scope)
        .await
        .unwrap();
    (env.id, token)
}

#[tokio::test]
async fn two_environments_never_see_each_others_objects() {
    let (app, account) = app_with_account("github").await;
    // A second account, so the admin list has a next page.
    let r = app
        .send(
            Method::POST,
            "/integrated-account",
            Some(json!({"tenant_id": "acme-2", "integration_name": "github", "context": {"access_token": "ghp_x"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (other_env, other) = other_environment(&app, TokenScope::Admin).await;
    // Something in the log of the first environment.
    let r = app.get(&app.orgs_path(&account, Some("octo-org"), "")).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Accounts: 404 by id, absent from lists and their filters, unusable for unified calls.
    let get = |path: String| {
        let (app, other) = (&app, &other);
        async move { app.send_as(other, Method::GET, &path, None).await }
    };
    assert_error(&get(format!("/integrated-account/{account}")).await, 404);
    assert_eq!(get("/integrated-account".into()).await.body["result"], json!([]));
    assert_eq!(
        get("/integrated-account?tenant_id=acme-2".into()).await.body["result"],
        json!([])
    );
    assert_error(&get(app.orgs_path(&account, Some("octo-org"), "")).await, 404);
    let r = app
        .send_as(
            &other,
            Method::PATCH,
            &format!("/integrated-account/{account}"),
            Some(json!({"tenant_id": "x"})),
        )
        .await;
    assert_error(&r, 404);

    // A cursor minted in the first environment reveals nothing in the second.
    let page = app.get("/integrated-account?limit=1").await;
    let cursor = page.body["next_cursor"].as_str().expect("a next page").to_string();
    let r = get(format!("/integrated-account?limit=1&next_cursor={cursor}")).await;
    assert!(
        r.status == 400 || r.body["result"] == json!([]),
        "{} {}",
        r.status,
        r.text
    );
    let list = app.get(&app.orgs_path(&account, None, "&limit=1")).await;
    if let Some(c) = list.body["next_cursor"].as_str() {
        let r = get(app.orgs_path(&account, None, &format!("&next_cursor={c}"))).await;
        assert_error(&r, 404);
    }

    // The request log (once the first environment's entry is written).
    let mine = crate::request_log::entries(&app, "", 1).await;
    let log_id = mine["result"][0]["id"].as_str().unwrap();
    assert_error(&get(format!("/request-log/{log_id}")).await, 404);
    let logs = get("/request-log".into()).await;
    assert_eq!(logs.status, 200, "{}", logs.text);
    // Its log holds only its own calls (the 404s above), none of the first environment's.
    let first_ids: Vec<&Value> = mine["result"].as_array().unwrap().iter().map(|l| &l["id"]).collect();
    for entry in logs.body["result"].as_array().unwrap() {
        assert!(!first_ids.contains(&&entry["id"]), "{}", logs.text);
        assert_eq!(entry["status"], 404, "{}", logs.text);
    }

    // Tokens and environments.
    let tokens = app.get("/api-token").await;
    let first_token = tokens.body["result"][0]["id"].as_str().unwrap().to_string();
    assert_error(&get(format!("/api-token/{first_token}")).await, 404);
    let r = app
        .send_as(&other, Method::DELETE, &format!("/api-token/{first_token}"), None)
        .await;
    assert_error(&r, 404);
    let theirs = get("/api-token".into()).await;
    assert_eq!(theirs.body["result"].as_array().unwrap().len(), 1, "{}", theirs.text);
    assert_eq!(theirs.body["result"][0]["environment_id"], other_env.as_str());
    let envs = get("/environment".into()).await;
    assert_eq!(envs.body["result"].as_array().unwrap().len(), 1);
    assert_eq!(envs.body["result"][0]["id"], other_env.as_str());
    assert_eq!(envs.body["result"][0]["name"], "staging");
    let own = app.get("/environment").await.body["result"][0]["id"].clone();
    assert_error(&get(format!("/environment/{}", own.as_str().unwrap())).await, 404);
    assert_eq!(get(format!("/environment/{other_env}")).await.body["name"], "staging");
}

#[tokio::test]
async fn an_api_token_calls_the_api_but_cannot_manage_tokens() {
    let (app, account) = app_with_account("github").await;
    let (_, api) = other_environment(&app, TokenScope::Api).await;
    // An `api` token of the first environment, made over HTTP by its admin token.
    let r = app
        .send(
            Method::POST,
            "/api-token",
            Some(json!({"name": "backend", "scope": "api"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["scope"], "api");
    let backend = r.body["token"].as_str().unwrap().to_string();
    assert!(backend.starts_with("ug_"));

    // It calls unified and account endpoints...
    let r = app
        .send_as(
            &backend,
            Method::GET,
            &app.orgs_path(&account, Some("octo-org"), ""),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .send_as(&backend, Method::GET, &format!("/integrated-account/{account}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // ... but every token endpoint is a 403 naming the scope it needs.
    for (method, path, body) in [
        (Method::GET, "/api-token".to_string(), None),
        (Method::POST, "/api-token".to_string(), Some(json!({"name": "x"}))),
        (Method::GET, "/api-token/anything".to_string(), None),
        (Method::DELETE, "/api-token/anything".to_string(), None),
    ] {
        for token in [&backend, &api] {
            let r = app.send_as(token, method.clone(), &path, body.clone()).await;
            let msg = assert_error(&r, 403);
            assert!(msg.contains("`admin`"), "{method} {path}: {msg}");
        }
    }
    // Reading its own environment needs no admin.
    let r = app.send_as(&backend, Method::GET, "/environment", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn tokens_made_and_deleted_over_http_never_show_their_value_again() {
    let (app, _) = app_with_account("github").await;

    for bad in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "x", "scope": "root"}),
        json!({"name": "x", "owner": "me"}),
    ] {
        let r = app.send(Method::POST, "/api-token", Some(bad.clone())).await;
        assert_error(&r, 400);
    }
    let r = app.send(Method::POST, "/api-token", Some(json!({"name": "ci"}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["scope"], "api", "`api` unless asked");
    let (id, token) = (
        r.body["id"].as_str().unwrap().to_string(),
        r.body["token"].as_str().unwrap().to_string(),
    );
    let keys: Vec<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    for key in [
        "id",
        "name",
        "environment_id",
        "created_by",
        "created_at",
        "updated_at",
        "scope",
        "token",
    ] {
        assert!(keys.contains(&key), "{key}: {}", r.text);
    }

    let one = app.get(&format!("/api-token/{id}")).await;
    assert_eq!(one.body["name"], "ci");
    assert!(one.body.get("token").is_none(), "{}", one.text);
    let all = app.get("/api-token").await;
    assert!(!all.text.contains(&token[3..]), "never the value: {}", all.text);
    assert_eq!(
        app.get("/api-token?name=ci").await.body["result"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Works, then deleted: refused once the one-second cache has passed.
    let r = app.send_as(&token, Method::GET, "/integrated-account", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.send(Method::DELETE, &format!("/api-token/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = app.send_as(&token, Method::GET, "/integrated-account", None).await;
    assert_error(&r, 401);
    assert_error(&app.get(&format!("/api-token/{id}")).await, 404);
}

/// Two instances on one PostgreSQL database: a token deleted on one is refused by the
/// other within the cache time.
#[tokio::test]
async fn a_token_deleted_on_one_instance_is_refused_by_another_within_a_second() {
    let Some(db) = crate::helpers::fresh_postgres_database().await else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set");
        return;
    };
    let (a, admin) = crate::scale::instance(&db, |_| {}).await;
    let (b, _) = crate::scale::instance(&db, |_| {}).await;
    let admin = admin.unwrap();
    let call = crate::scale::call;

    let (s, made) = call(
        &a,
        &admin,
        Method::POST,
        "/api-token",
        Some(json!({"name": "short-lived"})),
    )
    .await;
    assert_eq!(s, 201, "{made}");
    let token = made["token"].as_str().unwrap().to_string();
    // Used on B, so B has it cached.
    let (s, _) = call(&b, &token, Method::GET, "/integrated-account", None).await;
    assert_eq!(s, 200);

    let (s, _) = call(
        &a,
        &admin,
        Method::DELETE,
        &format!("/api-token/{}", made["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(s, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, body) = call(&b, &token, Method::GET, "/integrated-account", None).await;
    assert_eq!(s, 401, "{body}");
}

/// The CLI: environments made, listed and deleted (refused while they hold accounts unless
/// `--force`), and tokens per environment with their scope.
#[tokio::test]
async fn the_cli_manages_environments_and_their_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| -> (bool, String, String) {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_unigate"))
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("UNIGATE_ENCRYPTION_KEY", crate::helpers::TEST_KEY)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, id, err) = run(&["environment", "create", "staging"]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["environment", "create", "staging"]);
    assert!(!ok && err.contains("exists"), "{err}");
    let (ok, list, _) = run(&["environment", "list"]);
    assert!(ok && list.contains("staging") && list.contains(id.trim()), "{list}");

    // The first token of an environment is `admin`, the next `api`.
    let (ok, _, err) = run(&["token", "create", "--environment", "staging", "--name", "first"]);
    assert!(ok, "{err}");
    let (ok, _, err) = run(&["token", "create", "--environment", "staging", "--name", "second"]);
    assert!(ok, "{err}");
    let (_, tokens, _) = run(&["token", "list", "--environment", "staging"]);
    assert!(
        tokens.contains("first\tadmin") && tokens.contains("second\tapi"),
        "{tokens}"
    );
    let (ok, _, err) = run(&["token", "create", "--environment", "nowhere"]);
    assert!(!ok && err.contains("nowhere"), "{err}");

    let (ok, out, err) = run(&["environment", "delete", "staging"]);
    assert!(ok, "{out}{err}");
    let (_, list, _) = run(&["environment", "list"]);
    assert!(!list.contains("staging"), "{list}");
    let (_, tokens, _) = run(&["token", "list", "--environment", "staging"]);
    assert!(tokens.is_empty(), "its tokens went with it: {tokens}");
}

/// Deleting an environment that still has accounts is refused without `--force`.
#[tokio::test]
async fn deleting_an_environment_with_accounts_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let config = unigate::config::Config {
        data_dir: dir.path().to_path_buf(),
        encryption_key: Some(crate::helpers::TEST_KEY.into()),
        ..unigate::config::Config::default()
    };
    let store = unigate::startup::open_store(&config).await.unwrap();
    let env = store.create_environment("busy").await.unwrap();
    let record = unigate::store::AccountRecord {
        id: "acc-1".into(),
        environment_id: env.id.clone(),
        tenant_id: "t".into(),
        integration: "github".into(),
        context: Value::Object(Default::default()),
        secrets: String::new(),
        status: unigate::store::AccountStatus::Active,
        last_error: None,
        is_sandbox: false,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
        unified_model_override: None,
        overrides_version: 0,
    };
    store.insert_account(&record).await.unwrap();
    drop(store);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_unigate"))
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("UNIGATE_ENCRYPTION_KEY", crate::helpers::TEST_KEY)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = run(&["environment", "delete", "busy"]);
    assert!(
        !ok && err.contains("1 integrated account") && err.contains("--force"),
        "{err}"
    );
    let (ok, err) = run(&["environment", "delete", "busy", "--force"]);
    assert!(ok, "{err}");
}

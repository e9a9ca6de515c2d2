//! The admin API: integrated accounts, integrations, the unified model; tokens and tenancy.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{app_with_account, assert_error, spawn_app};

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let r = app.get("/health").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
}

#[tokio::test]
async fn an_imported_account_never_returns_its_secrets() {
    let app = spawn_app().await;

    let r = app
        .send(
            Method::POST,
            "/integrated-account",
            Some(json!({"tenant_id": "acme-1", "integration_name": "juniper-mist",
                        "context": {"api_token": "mist-secret-123", "region_host": "api.eu.mist.com"}})),
        )
        .await;

    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!r.text.contains("mist-secret-123"));
    assert_eq!(r.body["context"], json!({"region_host": "api.eu.mist.com"}));
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["tenant_id"], "acme-1");
    assert_eq!(r.body["integration"]["name"], "juniper-mist");
    let id = r.body["id"].as_str().unwrap();
    let r = app.get(&format!("/integrated-account/{id}")).await;
    assert!(!r.text.contains("mist-secret-123"));
}

/// Credential-looking keys are sealed whatever their spelling or depth: a value holding one
/// anywhere is sealed whole; ordinary keys stay public.
#[tokio::test]
async fn nested_and_dashed_credential_keys_are_never_returned() {
    let app = spawn_app().await;
    let context = json!({
        "api_token": "mist-secret-123",
        "region_host": "api.eu.mist.com",
        "credentials": {"password": "nested-pw-1"},
        "extra": {"deep": [{"x-api-key": "dashed-key-2"}]},
        "Private-Key": "pem-3",
        "authorization": "Basic auth-4",
        "passphrase": "phrase-5",
        "labels": {"team": "blue"}
    });
    let r = app
        .send(
            Method::POST,
            "/integrated-account",
            Some(json!({"tenant_id": "acme-1", "integration_name": "juniper-mist", "context": context})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["context"],
        json!({"region_host": "api.eu.mist.com", "labels": {"team": "blue"}})
    );
    let id = r.body["id"].as_str().unwrap();
    let listed = app.get("/integrated-account").await;
    let got = app.get(&format!("/integrated-account/{id}")).await;
    for text in [&r.text, &listed.text, &got.text] {
        for secret in ["nested-pw-1", "dashed-key-2", "pem-3", "auth-4", "phrase-5"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}

/// Confluent's API key is the Basic-auth user name: named like a credential, it is sealed
/// and never returned like its secret.
#[tokio::test]
async fn an_api_key_user_name_is_sealed_too() {
    let app = spawn_app().await;
    let r = app
        .send(
            Method::POST,
            "/integrated-account",
            Some(json!({"tenant_id": "acme-1", "integration_name": "confluent",
                        "context": {"api_key": "CFKEY-PLAIN-42", "api_secret": "cf-secret-43"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["context"], json!({}));
    let id = r.body["id"].as_str().unwrap();
    let got = app.get(&format!("/integrated-account/{id}")).await;
    for text in [&r.text, &got.text] {
        assert!(
            !text.contains("CFKEY-PLAIN-42") && !text.contains("cf-secret-43"),
            "{text}"
        );
    }
    // The integration's field list says both are secret.
    let integration = app.get("/integration/confluent").await;
    let fields = integration.body["credentials"]["fields"].as_array().unwrap();
    assert!(fields.iter().all(|f| f["secret"] == true), "{}", integration.text);
}

#[tokio::test]
async fn secrets_are_encrypted_in_the_database() {
    let app = spawn_app().await;
    app.connect_with("github", json!({"access_token": "ghp_PlainTextMustNotBeStored"}))
        .await;

    let stored = match app.state.config.database_url.as_deref() {
        Some(url) if url.starts_with("postgres") => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let rows: Vec<(String,)> = sqlx::query_as("SELECT row_to_json(a)::text FROM integrated_accounts a")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            rows.into_iter().map(|r| r.0).collect::<String>()
        }
        // SQLite: every byte of every file in the data directory (database, WAL, key).
        _ => {
            let mut all = Vec::new();
            for entry in std::fs::read_dir(app.data_dir.path()).unwrap() {
                let p = entry.unwrap().path();
                if p.is_file() {
                    all.extend(std::fs::read(&p).unwrap());
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        }
    };
    assert!(stored.contains("acme-1"), "the account should be stored");
    assert!(!stored.contains("ghp_PlainTextMustNotBeStored"));
}

#[tokio::test]
async fn truto_style_environment_integration_id_is_accepted() {
    let app = spawn_app().await;
    let r = app
        .send(
            Method::POST,
            "/integrated-account",
            Some(json!({"tenant_id": "t", "environment_integration_id": "github", "context": {"access_token": "x"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn import_errors_explain_themselves() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"integration_name": "github", "context": {"access_token": "x"}}),
            "tenant_id",
        ),
        (
            json!({"tenant_id": "t", "integration_name": "nope", "context": {}}),
            "nope",
        ),
        (
            json!({"tenant_id": "t", "integration_name": "github", "context": {}}),
            "access_token",
        ),
        (
            json!({"tenant_id": "t", "integration_name": "github", "context": "x"}),
            "context",
        ),
        (json!({"tenant_id": "t", "context": {}}), "integration"),
        (json!([1, 2]), "object"),
    ];
    for (body, needle) in cases {
        let r = app.send(Method::POST, "/integrated-account", Some(body.clone())).await;
        let msg = assert_error(&r, 400);
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    let r = app
        .client
        .post(format!("{}/integrated-account", app.address))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("not valid JSON"));
}

#[tokio::test]
async fn accounts_list_in_pages_and_filter_by_tenant() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.connect("github").await);
    }
    app.send(
        Method::POST,
        "/integrated-account",
        Some(json!({"tenant_id": "other", "integration_name": "github", "context": {"access_token": "x"}})),
    )
    .await;

    let mut seen = Vec::new();
    let mut path = "/integrated-account?tenant_id=acme-1&limit=2".to_string();
    loop {
        let r = app.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        for a in r.body["result"].as_array().unwrap() {
            seen.push(a["id"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => path = format!("/integrated-account?tenant_id=acme-1&limit=2&next_cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let r = app.get("/integrated-account?tenant_id=other").await;
    assert_eq!(r.body["result"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn patch_merges_context_and_keeps_secrets_sealed() {
    let (app, id) = app_with_account("juniper-mist").await;

    let r = app
        .send(
            Method::PATCH,
            &format!("/integrated-account/{id}"),
            Some(json!({"context": {"region_host": "api.eu.mist.com"}, "tenant_id": "acme-2"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["context"]["region_host"], "api.eu.mist.com");
    assert_eq!(r.body["tenant_id"], "acme-2");

    // The secret survived the merge: the account still works.
    let r = app.get(&app.orgs_path(&id, None, "")).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let r = app
        .send(
            Method::PATCH,
            &format!("/integrated-account/{id}"),
            Some(json!({"status": "bogus"})),
        )
        .await;
    assert_error(&r, 400);
}

#[tokio::test]
async fn deleting_an_account_makes_it_unknown() {
    let (app, id) = app_with_account("github").await;

    let r = app
        .send(Method::DELETE, &format!("/integrated-account/{id}"), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], id.as_str());

    assert_error(&app.get(&format!("/integrated-account/{id}")).await, 404);
    assert_error(&app.get(&app.orgs_path(&id, Some("octo-org"), "")).await, 404);
}

#[tokio::test]
async fn a_token_never_sees_another_environments_accounts() {
    let (app, id) = app_with_account("github").await;
    let env = app.state.store.create_environment("other").await.unwrap();
    let other_token = unigate::tokens::generate_token();
    app.state
        .store
        .create_api_token(
            &env.id,
            "t",
            &unigate::tokens::hash_token(&other_token),
            unigate::store::TokenScope::Api,
        )
        .await
        .unwrap();

    let r = app
        .send_as(&other_token, Method::GET, &format!("/integrated-account/{id}"), None)
        .await;
    assert_error(&r, 404);
    let r = app
        .send_as(
            &other_token,
            Method::GET,
            &app.orgs_path(&id, Some("octo-org"), ""),
            None,
        )
        .await;
    assert_error(&r, 404);
    let r = app
        .send_as(&other_token, Method::GET, "/integrated-account", None)
        .await;
    assert_eq!(r.body["result"], json!([]));
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/integrated-account", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app.send_as("ug_wrong", Method::GET, "/integrated-account", None).await;
    let msg = assert_error(&r, 401);
    assert!(msg.contains("Invalid API token"));
}

#[tokio::test]
async fn the_catalog_is_browsable() {
    let app = spawn_app().await;
    let r = app.get("/integration").await;
    let names: Vec<&str> = r.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    for n in ["github", "juniper-mist", "krystal", "mindbridge"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let r = app.get("/integration/krystal").await;
    assert_eq!(
        r.body["unified"]["user-directory"]["organizations"],
        json!(["list", "get", "update"])
    );
    assert_error(&app.get("/integration/nope").await, 404);

    let r = app.get("/unified-model/user-directory").await;
    let schema = &r.body["resources"]["organizations"]["schema"];
    for f in [
        "id",
        "name",
        "pricing_plan",
        "licenses",
        "created_at",
        "updated_at",
        "remote_data",
    ] {
        assert!(schema["properties"][f]["description"].is_string(), "{f}");
    }
}

//! Mapping overrides over HTTP: an environment's override of a response mapping reaches
//! every account, an account's only that account, both merge over the catalog's result
//! key by key, deleting restores the catalog's mapping, the merged view shows where each
//! key came from, bad input stores nothing, and a second instance on the same store applies
//! a change from its next call.

use reqwest::Method;
use serde_json::{json, Value};
use unigate::store::TokenScope;

use crate::helpers::{assert_error, spawn_app, TestApp};

const ROWS: &str = "/environment-unified-model-resource-method";

/// An environment override of GitHub's organization `get`.
fn org_get_override(config: Value) -> Value {
    json!({
        "resource_name": "organizations",
        "integration_name": "github",
        "method_name": "get",
        "config": config,
    })
}

async fn org(app: &TestApp, account: &str, extra: &str) -> Value {
    let r = app.get(&app.orgs_path(account, Some("octo-org"), extra)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut body = r.body;
    if let Some(o) = body.as_object_mut() {
        o.remove("remote_data");
    }
    body
}

/// The catalog's mapping of octo-org (see catalog/integrations/github).
fn base_org() -> Value {
    json!({
        "id": "octo-org",
        "name": "Octo Org",
        "pricing_plan": "team",
        "created_at": "2014-02-28T09:12:45Z",
        "updated_at": "2024-05-17T13:20:11Z",
    })
}

#[tokio::test]
async fn an_environment_override_adds_a_custom_field_for_every_account_and_deleting_it_restores_the_catalog() {
    let app = spawn_app().await;
    let (a, b) = (app.connect("github").await, app.connect("github").await);
    let before = org(&app, &a, "").await;
    assert_eq!(before, base_org(), "the catalog's mapping, for reference");

    let r = app
        .send(
            Method::POST,
            ROWS,
            Some(org_get_override(json!({
                "response_mapping": "{ \"blog\": response.blog, \"name\": $uppercase(response.name) }"
            }))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["environment_unified_model_id"], "user-directory");
    assert_eq!(r.body["method_name"], "get");

    // Both accounts: the override's keys replace or add to the catalog's, the rest stays.
    let mut expected = base_org();
    expected["name"] = json!("OCTO ORG");
    expected["blog"] = json!("https://octo.example.com");
    assert_eq!(org(&app, &a, "").await, expected);
    assert_eq!(org(&app, &b, "").await, expected);
    // `normalized` keeps only the model's fields: the custom one is not there.
    let normalized = org(&app, &a, "&truto_response_format=normalized").await;
    assert!(normalized.get("blog").is_none(), "{normalized}");
    assert_eq!(normalized["name"], "OCTO ORG");

    // Listed, filtered, read back.
    let r = app
        .get(&format!("{ROWS}?integration_name=github&method_name=get"))
        .await;
    assert_eq!(r.body["result"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = app.get(&format!("{ROWS}?integration_name=okta")).await;
    assert_eq!(r.body["result"], json!([]));
    let r = app.get(&format!("{ROWS}/{id}")).await;
    assert_eq!(r.status, 200);
    assert!(r.body["config"]["response_mapping"].as_str().unwrap().contains("blog"));

    // Deleting restores the catalog's mapping.
    let r = app.send(Method::DELETE, &format!("{ROWS}/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(org(&app, &a, "").await, base_org());
    assert_error(&app.get(&format!("{ROWS}/{id}")).await, 404);
}

#[tokio::test]
async fn an_account_override_changes_only_that_account_and_wins_over_the_environment() {
    let app = spawn_app().await;
    let (a, b) = (app.connect("github").await, app.connect("github").await);
    let r = app
        .send(
            Method::POST,
            ROWS,
            Some(org_get_override(json!({
                "response_mapping": "{ \"name\": $uppercase(response.name), \"location\": response.location }"
            }))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .send(
            Method::PATCH,
            &format!("/integrated-account/{a}"),
            Some(
                json!({"unified_model_override": {"user-directory": {"organizations": {"get": {
                    "response_mapping": "{ \"name\": $lowercase(response.name), \"followers\": response.followers }"
                }}}}}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["unified_model_override"]["user-directory"]["organizations"]["get"]["response_mapping"].is_string(),
        "the account shows its override: {}",
        r.text
    );

    let mut for_a = base_org();
    for_a["name"] = json!("octo org");
    for_a["location"] = json!("Berlin");
    for_a["followers"] = json!(310);
    assert_eq!(
        org(&app, &a, "").await,
        for_a,
        "catalog, then environment, then account"
    );
    let mut for_b = base_org();
    for_b["name"] = json!("OCTO ORG");
    for_b["location"] = json!("Berlin");
    assert_eq!(
        org(&app, &b, "").await,
        for_b,
        "the other account sees the environment's only"
    );

    // The merged view: which layer set each key.
    let meta = "/unified/user-directory/organizations/github/meta/get";
    let r = app.get(&format!("{meta}?integrated_account_id={a}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["sources"]["response_mapping"],
        json!(["catalog", "environment", "account"])
    );
    assert_eq!(r.body["sources"]["resource"], json!(["catalog"]));
    assert_eq!(r.body["config"]["resource"], "organizations.get");
    assert_eq!(r.body["overrides"].as_array().unwrap().len(), 2, "{}", r.text);
    let r = app.get(meta).await;
    assert_eq!(
        r.body["sources"]["response_mapping"],
        json!(["catalog", "environment"]),
        "{}",
        r.text
    );
    assert_error(&app.get(&format!("{meta}?integrated_account_id=nope")).await, 404);
    assert_error(
        &app.get("/unified/user-directory/organizations/nope/meta/get").await,
        404,
    );

    // `null` removes the account's override of that method; the account is back to the
    // environment's.
    let r = app
        .send(
            Method::PATCH,
            &format!("/integrated-account/{a}"),
            Some(json!({"unified_model_override": {"user-directory": {"organizations": {"get": null}}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["unified_model_override"],
        Value::Null,
        "an emptied document is none"
    );
    assert_eq!(org(&app, &a, "").await, for_b);
}

#[tokio::test]
async fn a_patch_deep_merges_the_config_and_null_removes_a_key() {
    let app = spawn_app().await;
    let a = app.connect("github").await;
    let r = app
        .send(
            Method::POST,
            ROWS,
            Some(org_get_override(
                json!({ "response_mapping": "{ \"blog\": response.blog }" }),
            )),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .send(
            Method::PATCH,
            &format!("{ROWS}/{id}"),
            Some(json!({"config": {"query_mapping": "{ \"per_page\": 5 }"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["config"],
        json!({"response_mapping": "{ \"blog\": response.blog }", "query_mapping": "{ \"per_page\": 5 }"})
    );
    let got = org(&app, &a, "").await;
    assert_eq!(got["blog"], "https://octo.example.com");
    let sent = crate::helpers::last_request(&app, "github");
    assert!(
        sent.query.contains("per_page=5"),
        "the query mapping override reached GitHub: {}",
        sent.query
    );

    let r = app
        .send(
            Method::PATCH,
            &format!("{ROWS}/{id}"),
            Some(json!({"config": {"response_mapping": null}})),
        )
        .await;
    assert_eq!(
        r.body["config"],
        json!({"query_mapping": "{ \"per_page\": 5 }"}),
        "{}",
        r.text
    );
    assert_eq!(org(&app, &a, "").await, base_org());
    // The identity of an override does not change.
    let r = app
        .send(
            Method::PATCH,
            &format!("{ROWS}/{id}"),
            Some(json!({"method_name": "list"})),
        )
        .await;
    assert_error(&r, 400);
}

#[tokio::test]
async fn bad_overrides_are_refused_with_the_key_and_nothing_is_stored() {
    let app = spawn_app().await;
    let a = app.connect("github").await;
    let bad = [
        (
            json!({"response_mapping": "{ \"a\": "}),
            "config.response_mapping",
            "invalid JSONata",
        ),
        (
            json!({"base_url": "https://evil.example"}),
            "config.base_url",
            "cannot be overridden",
        ),
        (json!({"headers": {"X": "1"}}), "config.headers", "cannot be overridden"),
        (json!({"nam": "x"}), "config.nam", "not a key an override may set"),
        (
            json!({"resource": "nothing.here"}),
            "config.resource",
            "not a resource method",
        ),
        (
            json!({"response_mapping": 7}),
            "config.response_mapping",
            "must be a JSONata expression",
        ),
        (json!({"filters": ["no_such_filter"]}), "config.filters", "no filter"),
    ];
    for (config, key, words) in bad {
        let r = app
            .send(Method::POST, ROWS, Some(org_get_override(config.clone())))
            .await;
        let message = assert_error(&r, 422);
        assert!(message.contains(key) && message.contains(words), "{config}: {message}");
        assert_eq!(r.body["details"]["errors"][0]["key"], key, "{}", r.text);
    }
    for (body, status) in [
        (
            json!({"integration_name": "github", "method_name": "get", "config": {}}),
            400,
        ),
        (
            json!({"resource_name": "organizations", "integration_name": "nope", "method_name": "get", "config": {}}),
            422,
        ),
        (
            json!({"resource_name": "organizations", "integration_name": "github", "method_name": "fly", "config": {}}),
            422,
        ),
        (
            json!({"resource_name": "organizations", "integration_name": "github", "method_name": "get", "config": "x"}),
            400,
        ),
    ] {
        assert_error(&app.send(Method::POST, ROWS, Some(body)).await, status);
    }
    assert_eq!(app.get(ROWS).await.body["result"], json!([]), "nothing stored");

    // The same checks on an account's override, which keeps what it had.
    let path = format!("/integrated-account/{a}");
    let good = json!({"unified_model_override": {"user-directory": {"organizations": {"get": {
        "response_mapping": "{ \"blog\": response.blog }"}}}}});
    assert_eq!(app.send(Method::PATCH, &path, Some(good)).await.status, 200);
    let r = app
        .send(
            Method::PATCH,
            &path,
            Some(
                json!({"unified_model_override": {"user-directory": {"organizations": {"get": {
                "response_mapping": "$$$("}}}}, "tenant_id": "changed"}),
            ),
        )
        .await;
    let message = assert_error(&r, 422);
    assert!(
        message.contains("user-directory.organizations.get.response_mapping"),
        "{message}"
    );
    for doc in [
        json!({"nope": {"users": {"get": {"partial": true}}}}),
        json!({"user-directory": {"nope": {"get": {"partial": true}}}}),
        json!({"user-directory": {"organizations": {"get": {"authorization": "x"}}}}),
        json!("x"),
    ] {
        let r = app
            .send(
                Method::PATCH,
                &path,
                Some(json!({"unified_model_override": doc.clone()})),
            )
            .await;
        assert_eq!(r.status, 422, "{doc}: {}", r.text);
    }
    let r = app.get(&path).await;
    assert_eq!(r.body["tenant_id"], "acme-1", "a refused PATCH changes nothing");
    assert_eq!(org(&app, &a, "").await["blog"], "https://octo.example.com");

    // Two overrides of the same method: the second is a conflict naming the first.
    let first = app
        .send(Method::POST, ROWS, Some(org_get_override(json!({"partial": false}))))
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = app
        .send(Method::POST, ROWS, Some(org_get_override(json!({"partial": false}))))
        .await;
    assert_error(&again, 409);
    assert_eq!(again.body["details"]["id"], first.body["id"]);
}

#[tokio::test]
async fn a_runaway_override_is_stopped_by_the_limits_and_the_gateway_stays_responsive() {
    let app = spawn_app().await;
    let (a, b) = (app.connect("github").await, app.connect("github").await);
    let r = app
        .send(
            Method::PATCH,
            &format!("/integrated-account/{a}"),
            Some(
                json!({"unified_model_override": {"user-directory": {"organizations": {"get": {
                "response_mapping": "{ \"n\": $sum([1..1e9]) }"}}}}}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "it compiles: {}", r.text);
    let r = app.get(&app.orgs_path(&a, Some("octo-org"), "")).await;
    assert!(
        r.status == 422 || r.status == 502,
        "a clear error, not a hang: {} {}",
        r.status,
        r.text
    );
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.text);
    assert_eq!(org(&app, &b, "").await, base_org(), "the other account is served");
}

#[tokio::test]
async fn an_override_can_add_a_method_the_catalog_does_not_map() {
    let app = spawn_app().await;
    let a = app.connect("github").await;
    // GitHub's catalog has no organization `create`: an override that adds one must name
    // the raw resource to call.
    let create = |config: Value| json!({"resource_name": "organizations", "integration_name": "github", "method_name": "create", "config": config});
    let message = assert_error(&app.send(Method::POST, ROWS, Some(create(json!({})))).await, 422);
    assert!(message.contains("must name the raw resource"), "{message}");
    let orgs = format!("/unified/user-directory/organizations?integrated_account_id={a}");
    let r = app.send(Method::POST, &orgs, Some(json!({"name": "New"}))).await;
    assert_error(&r, 405);
    // Here the raw resource is the organizations list (a GET the emulator answers), as a
    // stand-in for a provider's create endpoint.
    let r = app
        .send(
            Method::POST,
            ROWS,
            Some(create(json!({
                "resource": "organizations.list",
                "response_mapping": "{ \"id\": \"made\", \"name\": $$.body.name }"
            }))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let meta = app
        .get("/unified/user-directory/organizations/github/meta/create")
        .await;
    assert_eq!(meta.status, 200, "{}", meta.text);
    assert_eq!(meta.body["has_catalog_mapping"], false);
    assert_eq!(meta.body["sources"]["resource"], json!(["environment"]));
    // The method exists now: the call reaches the provider with the override's body.
    let r = app.send(Method::POST, &orgs, Some(json!({"name": "New"}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["id"], "made", "{}", r.text);
    let sent = crate::helpers::last_request(&app, "github");
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("GET", "/user/orgs"));
}

#[tokio::test]
async fn the_environment_unified_model_groups_the_overrides_and_patches_them() {
    let app = spawn_app().await;
    let a = app.connect("github").await;
    let r = app
        .send(
            Method::PATCH,
            "/environment-unified-model/user-directory",
            Some(
                json!({"override": {"resources": {"organizations": {"integration_mapping": {"github": {
                    "get": {"response_mapping": "{ \"blog\": response.blog }"}
                }}}}}}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body["override"]["resources"]["organizations"]["integration_mapping"]["github"]["get"]["response_mapping"],
        "{ \"blog\": response.blog }"
    );
    assert_eq!(org(&app, &a, "").await["blog"], "https://octo.example.com");
    let rows = app.get(ROWS).await;
    assert_eq!(
        rows.body["result"].as_array().unwrap().len(),
        1,
        "one row per method: {}",
        rows.text
    );
    let list = app.get("/environment-unified-model").await;
    assert_eq!(list.body["result"][0]["id"], "user-directory", "{}", list.text);
    // A bad config anywhere in the document writes nothing.
    let r = app
        .send(
            Method::PATCH,
            "/environment-unified-model/user-directory",
            Some(
                json!({"override": {"resources": {"organizations": {"integration_mapping": {"github": {
                    "get": null, "list": {"response_mapping": "{"}
                }}}}}}),
            ),
        )
        .await;
    assert_error(&r, 422);
    assert_eq!(org(&app, &a, "").await["blog"], "https://octo.example.com");
    // `null` deletes the method's override.
    let r = app
        .send(
            Method::PATCH,
            "/environment-unified-model/user-directory",
            Some(json!({"override": {"resources": {"organizations": {"integration_mapping": {"github": {"get": null}}}}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(org(&app, &a, "").await, base_org());
    assert_error(&app.get("/environment-unified-model/nope").await, 404);
}

#[tokio::test]
async fn an_api_scoped_token_cannot_change_the_environments_overrides() {
    let app = spawn_app().await;
    let token = unigate::tokens::generate_token();
    let env = app.state.store.first_environment().await.unwrap().unwrap();
    app.state
        .store
        .create_api_token(
            &env.id,
            "api-only",
            &unigate::tokens::hash_token(&token),
            TokenScope::Api,
        )
        .await
        .unwrap();
    let r = app
        .send_as(
            &token,
            Method::POST,
            ROWS,
            Some(org_get_override(json!({"partial": false}))),
        )
        .await;
    assert_error(&r, 403);
    assert_eq!(app.send_as(&token, Method::GET, ROWS, None).await.status, 200);
}

/// Two gateways on one store: an override written through one applies to the other's next
/// call (one SQLite file), or once the database's notification has reached it (PostgreSQL,
/// when `TEST_POSTGRES_URL` is set).
#[tokio::test]
async fn a_second_instance_applies_an_override_from_its_next_call() {
    use crate::scale::call;
    let database = crate::helpers::fresh_postgres_database().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = unigate_emulator::EmulatorSpec::from_file(
        &crate::helpers::catalog_dir().join("integrations/github/emulator.yaml"),
    )
    .unwrap();
    let emulator = unigate_emulator::start(spec).await.unwrap();
    let start = |database: Option<String>| {
        let data_dir = dir.path().to_path_buf();
        let github = emulator.base_url();
        async move {
            let mut config = unigate::config::Config {
                listen: "127.0.0.1:0".parse().unwrap(),
                data_dir,
                database_url: database,
                encryption_key: Some(crate::helpers::TEST_KEY.into()),
                ..unigate::config::Config::default()
            };
            config.upstream.base_url_overrides.insert("github".into(), github);
            let app = unigate::startup::Application::build(config, Default::default())
                .await
                .unwrap();
            let base = format!("http://{}", app.local_addr());
            let token = app.bootstrap_token.clone();
            tokio::spawn(app.run_until_stopped(std::future::pending()));
            (base, token)
        }
    };
    let (one, token) = start(database.clone()).await;
    let token = token.unwrap();
    let (two, _) = start(database).await;
    let (status, account) = call(
        &one,
        &token,
        Method::POST,
        "/integrated-account",
        Some(json!({"tenant_id": "t", "integration_name": "github", "context": {"access_token": "ghp_SandboxToken0000000000000000000001"}})),
    )
    .await;
    assert_eq!(status, 201, "{account}");
    let path = format!(
        "/unified/user-directory/organizations/octo-org?integrated_account_id={}",
        account["id"].as_str().unwrap()
    );
    let (status, before) = call(&two, &token, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{before}");
    assert!(before.get("blog").is_none());
    let (status, _) = call(
        &one,
        &token,
        Method::POST,
        ROWS,
        Some(org_get_override(
            json!({"response_mapping": "{ \"blog\": response.blog }"}),
        )),
    )
    .await;
    assert_eq!(status, 201);
    // The instance that wrote it applies it on its very next call.
    let (_, mine) = call(&one, &token, Method::GET, &path, None).await;
    assert_eq!(mine["blog"], "https://octo.example.com", "{mine}");
    // The other: on SQLite from its next call; on PostgreSQL, whose account cache learns of
    // changes from the database's notification, once that has arrived (README, "Several
    // instances on PostgreSQL"). Real time: the notification crosses two processes and a
    // socket.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, after) = call(&two, &token, Method::GET, &path, None).await;
        if after["blog"] == "https://octo.example.com" {
            break;
        }
        assert!(
            std::env::var_os("TEST_POSTGRES_URL").is_some() && std::time::Instant::now() < deadline,
            "the override never applied on the second instance: {after}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_environment_override_list_pages_with_limit_and_next_cursor() {
    // Arrange: five rows, created one after the other.
    let app = spawn_app().await;
    let mut created = vec![];
    for (integration, resource, method) in [
        ("github", "organizations", "get"),
        ("github", "organizations", "list"),
        ("github", "users", "get"),
        ("okta", "users", "get"),
        ("github", "users", "list"),
    ] {
        let body = json!({
            "resource_name": resource,
            "integration_name": integration,
            "method_name": method,
            "config": { "response_mapping": "{ \"custom\": 1 }" },
        });
        let r = app.send(Method::POST, ROWS, Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        created.push(r.body["id"].as_str().unwrap().to_string());
    }

    // Act: two at a time, following `next_cursor`.
    let walk = |filter: &'static str| {
        let app = &app;
        async move {
            let (mut ids, mut pages, mut cursor) = (vec![], 0, None::<String>);
            loop {
                let mut path = format!("{ROWS}?limit=2{filter}");
                if let Some(c) = &cursor {
                    path.push_str(&format!("&next_cursor={c}"));
                }
                let r = app.get(&path).await;
                assert_eq!(r.status, 200, "{}", r.text);
                assert_eq!(r.body["limit"], 2);
                let page = r.body["result"].as_array().unwrap();
                assert!(page.len() <= 2, "{}", r.text);
                ids.extend(page.iter().map(|o| o["id"].as_str().unwrap().to_string()));
                pages += 1;
                match r.body["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => return (ids, pages),
                }
                assert!(pages < 10, "the cursor does not advance");
            }
        }
    };
    let (all, pages) = walk("").await;
    let (github, github_pages) = walk("&integration_name=github").await;

    // Assert: every row once, oldest first; the filter applies across pages.
    assert_eq!(all, created);
    assert_eq!(pages, 3);
    let expected: Vec<String> = created
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(github, expected);
    assert_eq!(github_pages, 2);
    // Without `limit`, one page of up to 100.
    let r = app.get(ROWS).await;
    assert_eq!(r.body["result"].as_array().unwrap().len(), 5);
    assert_eq!(r.body["next_cursor"], Value::Null);
    // Bad paging input is a 400 in Truto's shape.
    assert_error(&app.get(&format!("{ROWS}?limit=0")).await, 400);
    assert_error(&app.get(&format!("{ROWS}?next_cursor=forged")).await, 400);
    // A cursor is bound to its list: one from the webhooks list is refused.
    let r = app.get(&format!("{ROWS}?limit=1")).await;
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    let r = app.get(&format!("/webhook?next_cursor={cursor}")).await;
    assert_error(&r, 400);
}

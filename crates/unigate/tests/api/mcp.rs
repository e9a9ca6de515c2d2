//! MCP servers per integrated account: the admin API (`/integrated-account/{id}/mcp`), and
//! the server at `/mcp/{token}` over HTTP (JSON-RPC errors, protocol versions, batches, SSE,
//! tool filtering, expiry, API-token auth, calls through the unified pipeline), and one test
//! driving it with the official MCP Python SDK (`mcp` from PyPI, in a venv under `target/`;
//! skipped with a message when python3 or PyPI is missing, except under CI where it fails).

use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{json, Value};
use unigate::store::TokenScope;

use crate::helpers::{app_with_account, assert_error, python_venv, TestApp};
use crate::request_log::entries;

const ISAAC: &str = "00ub0oNGTSWTBKOLGLNR";

/// Creates an MCP server on `account` with `body`; answers the reply's body.
async fn create_server(app: &TestApp, account: &str, body: Value) -> Value {
    let r = app
        .send(Method::POST, &format!("/integrated-account/{account}/mcp"), Some(body))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

/// A JSON-RPC POST to `url` with `headers`: status, content type and body text.
async fn post(app: &TestApp, url: &str, body: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut req = app
        .client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

const ACCEPT_BOTH: (&str, &str) = ("accept", "application/json, text/event-stream");

/// One JSON-RPC request answered as JSON.
async fn rpc(app: &TestApp, url: &str, method: &str, params: Value) -> Value {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
    let (status, _, text) = post(app, url, &body, &[ACCEPT_BOTH]).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn tool_names(app: &TestApp, url: &str) -> Vec<String> {
    let r = rpc(app, url, "tools/list", json!({})).await;
    r["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_server_is_made_listed_changed_and_deleted_and_its_token_is_shown_once_and_stored_hashed() {
    // Arrange
    let (app, account) = app_with_account("okta").await;

    // Act
    let made = create_server(
        &app,
        &account,
        json!({ "name": "Read-only Okta", "config": { "methods": ["read"], "tags": ["users"] } }),
    )
    .await;

    // Assert: the token and its url, once.
    let id = made["id"].as_str().unwrap().to_string();
    let token = made["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ugm_") && token.len() > 60, "{token}");
    assert_eq!(made["url"], format!("{}/mcp/{token}", app.state.public_url));
    assert_eq!(made["name"], "Read-only Okta");
    assert_eq!(made["integrated_account_id"], account.as_str());
    assert_eq!(
        made["config"],
        json!({ "methods": ["read"], "tags": ["users"], "require_api_token_auth": false })
    );
    let stored = app
        .state
        .store
        .get_mcp_server(&made_env(&app).await, &account, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.token_hash, unigate::tokens::hash_token(&token));
    assert_ne!(stored.token_hash, token);

    let one = app.get(&format!("/integrated-account/{account}/mcp/{id}")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert!(
        one.body.get("token").is_none() && one.body.get("url").is_none(),
        "{}",
        one.text
    );
    assert!(!one.text.contains(&token));
    let all = app.get(&format!("/integrated-account/{account}/mcp")).await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.body["result"][0]["id"], id.as_str());
    assert!(all.body["next_cursor"].is_null());
    assert!(!all.text.contains(&token));

    // Changed: the keys of `config` given replace the server's.
    let changed = app
        .send(
            Method::PATCH,
            &format!("/integrated-account/{account}/mcp/{id}"),
            Some(json!({ "name": "Okta writer", "config": { "methods": ["write"] } })),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["name"], "Okta writer");
    assert_eq!(changed.body["config"]["methods"], json!(["write"]));
    assert_eq!(changed.body["config"]["tags"], json!(["users"]));

    // Deleted: gone from the API, and its token no longer opens the server.
    let gone = app
        .send(Method::DELETE, &format!("/integrated-account/{account}/mcp/{id}"), None)
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    assert_error(&app.get(&format!("/integrated-account/{account}/mcp/{id}")).await, 404);
    let (status, _, _) = post(
        &app,
        made["url"].as_str().unwrap(),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string(),
        &[ACCEPT_BOTH],
    )
    .await;
    assert_eq!(status, 404);
}

/// The environment of the app's own token.
async fn made_env(app: &TestApp) -> String {
    app.get("/environment").await.body["result"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn bad_admin_requests_are_truto_errors_naming_the_field() {
    // Arrange
    let (app, account) = app_with_account("okta").await;
    let path = format!("/integrated-account/{account}/mcp");
    let send = |body: Value| app.send(Method::POST, &path, Some(body));

    // Act / Assert
    let unknown_account = app
        .send(
            Method::POST,
            "/integrated-account/nope/mcp",
            Some(json!({ "name": "x" })),
        )
        .await;
    assert!(assert_error(&unknown_account, 404).contains("nope"));
    assert_error(&app.get("/integrated-account/nope/mcp").await, 404);
    assert!(assert_error(&send(json!({})).await, 400).contains("`name`"));
    assert!(assert_error(&send(json!({ "name": "x", "config": [] })).await, 400).contains("`config`"));
    assert!(assert_error(
        &send(json!({ "name": "x", "config": { "methods": "read" } })).await,
        400
    )
    .contains("`config.methods`"));
    assert!(assert_error(
        &send(json!({ "name": "x", "config": { "methods": ["frobnicate"] } })).await,
        422
    )
    .contains("`config.methods`"));
    assert!(
        assert_error(&send(json!({ "name": "x", "config": { "colour": "red" } })).await, 400)
            .contains("`config.colour`")
    );
    assert!(assert_error(
        &send(json!({ "name": "x", "config": { "require_api_token_auth": "yes" } })).await,
        400
    )
    .contains("require_api_token_auth"));
    assert!(assert_error(&send(json!({ "name": "x", "expires_at": "soon" })).await, 400).contains("`expires_at`"));
    assert!(assert_error(
        &send(json!({ "name": "x", "expires_at": "2001-01-01T00:00:00Z" })).await,
        400
    )
    .contains("future"));
    assert!(assert_error(&send(json!({ "name": "x", "colour": 1 })).await, 400).contains("`colour`"));
    assert_error(&app.get(&format!("{path}/no-such-server")).await, 404);
    // A tool's name, a custom method's and a group are all accepted.
    send(json!({ "name": "ok", "config": { "methods": ["list_all_okta_users", "add-user", "custom", "get"] } })).await;
}

#[tokio::test]
async fn json_rpc_errors_versions_batches_and_notifications() {
    // Arrange
    let (app, account) = app_with_account("okta").await;
    let url = create_server(&app, &account, json!({ "name": "all" })).await["url"]
        .as_str()
        .unwrap()
        .to_string();

    // Parse error: a JSON-RPC error with no id, and a 400.
    let (status, _, text) = post(&app, &url, "{not json", &[ACCEPT_BOTH]).await;
    assert_eq!(status, 400);
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(err["error"]["code"], -32700);
    assert!(err["id"].is_null());

    // Unknown method, unknown tool, a missing protocol version, a wrong `jsonrpc`.
    assert_eq!(
        rpc(&app, &url, "resources/list", json!({})).await["error"]["code"],
        -32601
    );
    let unknown_tool = rpc(&app, &url, "tools/call", json!({ "name": "drop_all_tables" })).await;
    assert_eq!(unknown_tool["error"]["code"], -32602);
    assert_eq!(rpc(&app, &url, "initialize", json!({})).await["error"]["code"], -32602);
    let (_, _, text) = post(
        &app,
        &url,
        r#"{"jsonrpc":"1.0","id":3,"method":"ping"}"#,
        &[ACCEPT_BOTH],
    )
    .await;
    let bad: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (bad["id"].clone(), bad["error"]["code"].clone()),
        (json!(3), json!(-32600))
    );

    // Version negotiation: the client's when known, else the newest.
    for (asked, agreed) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("1999-01-01", "2025-11-25"),
    ] {
        let r = rpc(
            &app,
            &url,
            "initialize",
            json!({ "protocolVersion": asked, "capabilities": {}, "clientInfo": { "name": "t", "version": "1" } }),
        )
        .await;
        assert_eq!(r["result"]["protocolVersion"], agreed, "{r}");
        assert_eq!(r["result"]["serverInfo"]["name"], "unigate");
        assert!(r["result"]["capabilities"]["tools"].is_object());
    }
    assert_eq!(rpc(&app, &url, "ping", json!({})).await["result"], json!({}));

    // A notification: 202 and no body.
    let (status, _, text) = post(
        &app,
        &url,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        &[ACCEPT_BOTH],
    )
    .await;
    assert_eq!((status, text.as_str()), (202, ""));

    // A batch under 2025-03-26 (the version assumed without the header): one answer per
    // request, none for the notification.
    let batch = r#"[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":"b","method":"nope"}]"#;
    let (status, _, text) = post(&app, &url, batch, &[ACCEPT_BOTH]).await;
    assert_eq!(status, 200, "{text}");
    let answers: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answers.as_array().unwrap().len(), 2, "{answers}");
    assert_eq!(answers[0]["id"], "a");
    assert_eq!(answers[1]["error"]["code"], -32601);
    // 2025-06-18 has no batches; an unknown version header is refused.
    let (status, _, text) = post(
        &app,
        &url,
        batch,
        &[ACCEPT_BOTH, ("mcp-protocol-version", "2025-06-18")],
    )
    .await;
    assert_eq!(status, 400, "{text}");
    let (status, _, _) = post(
        &app,
        &url,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        &[ACCEPT_BOTH, ("mcp-protocol-version", "1999-01-01")],
    )
    .await;
    assert_eq!(status, 400);

    // SSE when the client only takes an event stream.
    let (status, ct, text) = post(
        &app,
        &url,
        r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#,
        &[("accept", "text/event-stream")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    assert_eq!(serde_json::from_str::<Value>(data).unwrap()["id"], 7);

    // No server stream: GET is a 405.
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

#[tokio::test]
async fn config_methods_and_tags_choose_the_tools() {
    // Arrange
    let (app, account) = app_with_account("okta").await;
    let url_for = |body: Value| {
        let app = &app;
        let account = account.clone();
        async move {
            create_server(app, &account, body).await["url"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let all = url_for(json!({ "name": "all" })).await;
    let read = url_for(json!({ "name": "read", "config": { "methods": ["read"] } })).await;
    let one = url_for(json!({ "name": "one", "config": { "methods": ["create_a_okta_user"] } })).await;
    let groups = url_for(json!({ "name": "groups", "config": { "tags": ["groups"] } })).await;

    // Act
    let all = tool_names(&app, &all).await;
    let read_tools = tool_names(&app, &read).await;
    let one = tool_names(&app, &one).await;
    let groups = tool_names(&app, &groups).await;

    // Assert
    for name in [
        "list_all_okta_users",
        "get_single_okta_user_by_id",
        "create_a_okta_user",
        "update_a_okta_user_by_id",
        "delete_a_okta_user_by_id",
        "add_user_okta_group",
    ] {
        assert!(all.contains(&name.to_string()), "{name} not in {all:?}");
    }
    assert!(!read_tools.is_empty());
    assert!(
        read_tools
            .iter()
            .all(|t| t.starts_with("list_all_") || t.starts_with("get_single_")),
        "{read_tools:?}"
    );
    assert_eq!(one, vec!["create_a_okta_user".to_string()]);
    assert!(groups.iter().all(|t| t.contains("group")), "{groups:?}");
    assert!(groups.contains(&"list_all_okta_groups".to_string()));
    // A tool the server does not expose cannot be called.
    let r = rpc(
        &app,
        &read,
        "tools/call",
        json!({ "name": "create_a_okta_user", "arguments": {} }),
    )
    .await;
    assert_eq!(r["error"]["code"], -32602);
    // The list tool's schema has the model's filters and the paging arguments.
    let listed = rpc(&app, &read, "tools/list", json!({})).await;
    let list = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "list_all_okta_users")
        .unwrap()
        .clone();
    for p in ["limit", "next_cursor", "email", "created_at[gte]"] {
        assert!(list["inputSchema"]["properties"].get(p).is_some(), "{p}: {list}");
    }
    assert_eq!(list["annotations"]["readOnlyHint"], true);
    assert!(list["description"].as_str().unwrap().contains("next_cursor"));
}

#[tokio::test]
async fn an_expired_or_unknown_token_is_refused_alike_and_api_token_auth_is_enforced() {
    // Arrange
    let (app, account) = app_with_account("okta").await;
    let made = create_server(
        &app,
        &account,
        json!({ "name": "soon gone", "expires_at": "2999-01-01T00:00:00Z" }),
    )
    .await;
    let url = made["url"].as_str().unwrap().to_string();
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();
    assert_eq!(post(&app, &url, &ping, &[ACCEPT_BOTH]).await.0, 200);
    // Its expiry moved into the past in the store (no waiting on a clock).
    let env = made_env(&app).await;
    let mut record = app
        .state
        .store
        .get_mcp_server(&env, &account, made["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    record.expires_at = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
    assert!(app.state.store.update_mcp_server(&record).await.unwrap());

    // Act
    let expired = post(&app, &url, &ping, &[ACCEPT_BOTH]).await;
    let unknown = post(&app, &format!("{}/mcp/ugm_nope", app.address), &ping, &[ACCEPT_BOTH]).await;

    // Assert: the same answer for both, telling nothing.
    assert_eq!(expired.0, 404);
    assert_eq!(expired, unknown);

    // With require_api_token_auth, the caller needs an API token of the same environment.
    let guarded = create_server(
        &app,
        &account,
        json!({ "name": "guarded", "config": { "require_api_token_auth": true } }),
    )
    .await["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(post(&app, &guarded, &ping, &[ACCEPT_BOTH]).await.0, 401);
    let bearer = format!("Bearer {}", app.token);
    assert_eq!(
        post(
            &app,
            &guarded,
            &ping,
            &[ACCEPT_BOTH, ("authorization", "Bearer ug_wrong")]
        )
        .await
        .0,
        401
    );
    let other = app.state.store.create_environment("staging").await.unwrap();
    let foreign = unigate::tokens::generate_token();
    app.state
        .store
        .create_api_token(&other.id, "t", &unigate::tokens::hash_token(&foreign), TokenScope::Api)
        .await
        .unwrap();
    let foreign = format!("Bearer {foreign}");
    assert_eq!(
        post(
            &app,
            &guarded,
            &ping,
            &[ACCEPT_BOTH, ("authorization", foreign.as_str())]
        )
        .await
        .0,
        401
    );
    assert_eq!(
        post(
            &app,
            &guarded,
            &ping,
            &[ACCEPT_BOTH, ("authorization", bearer.as_str())]
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn tool_calls_run_through_the_unified_pipeline_and_provider_errors_are_tool_errors() {
    // Arrange
    let (app, account) = app_with_account("okta").await;
    let url = create_server(&app, &account, json!({ "name": "all" })).await["url"]
        .as_str()
        .unwrap()
        .to_string();

    // Act
    let page = rpc(
        &app,
        &url,
        "tools/call",
        json!({ "name": "list_all_okta_users", "arguments": { "limit": 3 } }),
    )
    .await;
    let refused = rpc(
        &app,
        &url,
        "tools/call",
        json!({ "name": "create_a_okta_user", "arguments": { "first_name": "Nolast" } }),
    )
    .await;
    let bad_filter = rpc(
        &app,
        &url,
        "tools/call",
        json!({ "name": "list_all_okta_users", "arguments": { "created_at[gte]": "not a date" } }),
    )
    .await;

    // Assert: the unified list envelope, with how to get the next page.
    let result = &page["result"];
    assert_eq!(result["isError"], false, "{page}");
    let body: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(body["result"].as_array().unwrap().len(), 3);
    let cursor = body["next_cursor"].as_str().unwrap();
    assert!(result["content"][1]["text"].as_str().unwrap().contains(cursor));
    // Okta's 400 is a tool error with Truto's message, not a protocol error.
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(refused["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("lastName"));
    assert_eq!(bad_filter["result"]["isError"], true, "{bad_filter}");
    // Both calls are in the request log, as unified calls of the account.
    let log = entries(&app, &format!("integrated_account_id={account}"), 3).await;
    let paths: Vec<&str> = log["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/unified/user-directory/users"), "{paths:?}");
}

/// The venv's directory with the `mcp` SDK installed ([`python_venv`]).
fn sdk_venv() -> Option<PathBuf> {
    python_venv("mcp-venv", "mcp", "import mcp.client.streamable_http")
}

#[tokio::test]
async fn the_official_python_sdk_lists_and_calls_tools_and_sees_a_refused_write_as_is_error() {
    // Arrange
    let Some(venv) = sdk_venv() else { return };
    let (app, account) = app_with_account("okta").await;
    let url = create_server(&app, &account, json!({ "name": "sdk" })).await["url"]
        .as_str()
        .unwrap()
        .to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/mcp_client.py");

    // Act: the script runs while this runtime keeps serving.
    let out = tokio::process::Command::new(venv.join("bin/python"))
        .arg(&script)
        .args([
            url.as_str(),
            "list_all_okta_users",
            "get_single_okta_user_by_id",
            "create_a_okta_user",
            ISAAC,
        ])
        .output()
        .await
        .unwrap();

    // Assert
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the SDK client failed: {stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    assert!(
        ["2025-06-18", "2025-11-25"].contains(&seen["protocol_version"].as_str().unwrap()),
        "{seen}"
    );
    assert_eq!(seen["server_name"], "unigate");
    let tools: Vec<&str> = seen["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"list_all_okta_users") && tools.contains(&"delete_a_okta_user_by_id"),
        "{tools:?}"
    );
    assert!(seen["list_schema_properties"]
        .as_array()
        .unwrap()
        .contains(&json!("next_cursor")));
    assert_eq!(seen["list_is_error"], false);
    assert_eq!(seen["list_page"]["result"].as_array().unwrap().len(), 2);
    assert!(seen["list_hint"].as_str().unwrap().contains("next_cursor"));
    // The second page, from the first page's cursor, holds other users.
    let first: Vec<&Value> = seen["list_page"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["id"])
        .collect();
    let second = seen["second_page"]["result"].as_array().unwrap();
    assert_eq!(second.len(), 2);
    assert!(second.iter().all(|u| !first.contains(&&u["id"])));
    assert_eq!(seen["get_is_error"], false);
    assert_eq!(seen["get_record"]["id"], ISAAC);
    assert_eq!(seen["get_record"]["first_name"], "Isaac");
    assert_eq!(seen["refused_is_error"], true, "{seen}");
    assert!(
        seen["refused_texts"][0].as_str().unwrap().contains("lastName"),
        "{seen}"
    );
}

#[tokio::test]
async fn a_repeated_write_with_the_same_idempotency_key_and_id_is_applied_once() {
    // Arrange
    let (app, account) = app_with_account("okta").await;
    let url = create_server(
        &app,
        &account,
        json!({ "name": "writer", "config": { "methods": ["create"] } }),
    )
    .await["url"]
        .as_str()
        .unwrap()
        .to_string();
    let call = json!({
        "jsonrpc": "2.0", "id": 41, "method": "tools/call",
        "params": { "name": "create_a_okta_user", "arguments": {
            "first_name": "Dana", "last_name": "Kim",
            "emails": [{"email": "dana.kim@example.com", "type": "work", "is_primary": true}]
        } }
    })
    .to_string();
    let headers = [ACCEPT_BOTH, ("idempotency-key", "dana-1")];

    // Act: the same request twice, as a client retrying after a lost answer.
    let (s1, _, first) = post(&app, &url, &call, &headers).await;
    let (s2, _, second) = post(&app, &url, &call, &headers).await;

    // Assert: one user made, the same answer twice.
    assert_eq!((s1, s2), (200, 200), "{first} {second}");
    let first: Value = serde_json::from_str(&first).unwrap();
    let second: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(first["result"]["isError"], false, "{first}");
    assert_eq!(first["result"]["content"][0], second["result"]["content"][0]);
    let posts = app
        .emulator("okta")
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v1/users")
        .count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn another_environments_token_sees_neither_the_account_nor_its_servers() {
    // Arrange
    let (app, account) = app_with_account("okta").await;
    let id = create_server(&app, &account, json!({ "name": "mine" })).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = app.state.store.create_environment("staging").await.unwrap();
    let token = unigate::tokens::generate_token();
    app.state
        .store
        .create_api_token(&other.id, "t", &unigate::tokens::hash_token(&token), TokenScope::Admin)
        .await
        .unwrap();

    // Act / Assert
    let list = app
        .send_as(&token, Method::GET, &format!("/integrated-account/{account}/mcp"), None)
        .await;
    assert_error(&list, 404);
    let one = app
        .send_as(
            &token,
            Method::GET,
            &format!("/integrated-account/{account}/mcp/{id}"),
            None,
        )
        .await;
    assert_error(&one, 404);
    let made = app
        .send_as(
            &token,
            Method::POST,
            &format!("/integrated-account/{account}/mcp"),
            Some(json!({ "name": "theirs" })),
        )
        .await;
    assert_error(&made, 404);
}

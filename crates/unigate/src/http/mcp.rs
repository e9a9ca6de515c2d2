//! MCP servers per integrated account, on Truto's paths (`docs/mcp.md`):
//!
//! - the admin API: `GET|POST /integrated-account/{id}/mcp`,
//!   `GET|PATCH|DELETE /integrated-account/{id}/mcp/{mcp_id}`; the token (and the `url`
//!   holding it) is answered only by the `POST` that makes it, and stored as a SHA-256;
//! - the server: `POST /mcp/{token}`, MCP's Streamable HTTP transport without sessions
//!   (JSON-RPC 2.0; `initialize`, `ping`, `tools/list`, `tools/call`; answers as JSON, or
//!   as an SSE stream when the client's `Accept` prefers it). `GET` and `DELETE` are 405:
//!   the server never sends requests of its own and keeps no session.
//!
//! The tools are generated per request from the live catalog (`catalog::mcp`), so a
//! catalog reload changes them at once. A tool call is an internal request through the
//! same router as `/unified/...` ([`super::unified_api`]): the request log, idempotency
//! keys, budgets, retries and every check of the unified API apply to it unchanged.

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use tower::ServiceExt as _;

use super::{object_body, string_field};
use crate::auth::Env;
use crate::catalog::mcp::{known_method_entry, Tool, ToolMethod};
use crate::catalog::types::UnifiedMethod;
use crate::error::ApiError;
use crate::pagination::{cursor, PageState};
use crate::state::AppState;
use crate::store::{AccountPosition, AccountRecord, McpConfig, McpServerRecord, TokenScope};
use crate::tokens::{hash_token, random_hex};
use crate::unified::query::parse_brackets;

/// Protocol revisions this server speaks, oldest first; the last is answered to a client
/// asking for one it does not know.
pub const PROTOCOL_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// What a request without `MCP-Protocol-Version` is taken to speak (the spec's rule).
const ASSUMED_VERSION: &str = "2025-03-26";
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// The largest unified answer a tool call passes on; a larger one is a tool error
/// (asking for a smaller `limit`).
const MAX_TOOL_ANSWER: usize = 16 * 1024 * 1024;

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/integrated-account/{id}/mcp", get(list).post(create))
        .route(
            "/integrated-account/{id}/mcp/{mcp_id}",
            get(get_one).patch(update).delete(delete),
        )
        .route("/mcp/{token}", post(serve).get(no_stream).delete(no_stream))
}

// ---------------------------------------------------------------------------------------
// The admin API
// ---------------------------------------------------------------------------------------

async fn account(state: &AppState, env: &Env, id: &str) -> Result<AccountRecord, ApiError> {
    state
        .store
        .get_account(&env.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Integrated account `{id}` not found.")))
}

async fn find(state: &AppState, env: &Env, account_id: &str, id: &str) -> Result<McpServerRecord, ApiError> {
    account(state, env, account_id).await?;
    state
        .store
        .get_mcp_server(&env.id, account_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("There is no MCP server with id `{id}` on this account.")))
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn view(s: &McpServerRecord) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "integrated_account_id": s.integrated_account_id,
        "config": {
            "methods": s.config.methods,
            "tags": s.config.tags,
            "require_api_token_auth": s.config.require_api_token_auth,
        },
        "expires_at": s.expires_at.as_ref().map(ts),
        "created_at": ts(&s.created_at),
        "updated_at": ts(&s.updated_at),
    })
}

/// The body, refusing fields other than `fields`.
fn checked_body(body: Result<Bytes, BytesRejection>, fields: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let body = object_body(body)?;
    if let Some(other) = body.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "Unknown field `{other}`: this endpoint takes {}.",
            fields.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(body)
}

fn string_list(value: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::bad_request(format!("`{field}` must be an array of non-empty strings."));
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => {
            let mut out: Vec<String> = Vec::new();
            for item in items {
                let s = item.as_str().filter(|s| !s.trim().is_empty()).ok_or_else(bad)?;
                if !out.iter().any(|o| o == s) {
                    out.push(s.to_string());
                }
            }
            Ok(out)
        }
        _ => Err(bad()),
    }
}

/// `config` of a create (`base` the defaults) or an update (`base` the server's): the keys
/// given replace the base's. Method names are checked against the account's tools.
fn parse_config(state: &AppState, acct: &AccountRecord, value: &Value, base: McpConfig) -> Result<McpConfig, ApiError> {
    let obj = match value {
        Value::Null => return Ok(base),
        Value::Object(o) => o,
        _ => return Err(ApiError::bad_request("`config` must be an object.")),
    };
    const KEYS: [&str; 3] = ["methods", "tags", "require_api_token_auth"];
    if let Some(other) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "Unknown field `config.{other}`: `config` takes `methods`, `tags` and `require_api_token_auth`."
        )));
    }
    let mut config = base;
    if let Some(m) = obj.get("methods") {
        config.methods = string_list(m, "config.methods")?;
        let tools = all_tools(state, acct);
        if let Some(unknown) = config.methods.iter().find(|m| !known_method_entry(m, &tools)) {
            return Err(ApiError::unprocessable(format!(
                "`config.methods`: `{unknown}` is not a method of this account's tools; use `read`, `write`, `custom`, a method name (`list`, `get`, `create`, `update`, `delete`, a custom method) or a tool name."
            )));
        }
    }
    if let Some(t) = obj.get("tags") {
        config.tags = string_list(t, "config.tags")?;
    }
    match obj.get("require_api_token_auth") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => config.require_api_token_auth = *b,
        Some(_) => {
            return Err(ApiError::bad_request(
                "`config.require_api_token_auth` must be true or false.",
            ))
        }
    }
    Ok(config)
}

/// `expires_at`: `Ok(None)` when absent, `Ok(Some(None))` when null (no expiry).
fn parse_expiry(body: &Map<String, Value>) -> Result<Option<Option<DateTime<Utc>>>, ApiError> {
    match body.get("expires_at") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => {
            let at = DateTime::parse_from_rfc3339(s)
                .map_err(|_| ApiError::bad_request("`expires_at` must be an RFC 3339 time (`2030-01-01T00:00:00Z`)."))?
                .with_timezone(&Utc);
            if at <= Utc::now() {
                return Err(ApiError::bad_request("`expires_at` must be in the future."));
            }
            Ok(Some(Some(at)))
        }
        Some(_) => Err(ApiError::bad_request("`expires_at` must be an RFC 3339 time or null.")),
    }
}

/// `POST /integrated-account/{id}/mcp` `{name, config?, expires_at?}`: the server, with
/// its `token` and `url` (answered this once).
async fn create(
    State(state): State<AppState>,
    env: Env,
    Path(account_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let acct = account(&state, &env, &account_id).await?;
    let body = checked_body(body, &["name", "config", "expires_at"])?;
    let name = string_field(&body, "name")?
        .ok_or_else(|| ApiError::bad_request("`name` is required: a name for the MCP server."))?;
    let config = parse_config(
        &state,
        &acct,
        body.get("config").unwrap_or(&Value::Null),
        McpConfig::default(),
    )?;
    let expires_at = parse_expiry(&body)?.flatten();
    let token = format!("ugm_{}", random_hex(32));
    let now = Utc::now();
    let record = McpServerRecord {
        id: uuid::Uuid::new_v4().to_string(),
        environment_id: env.id.clone(),
        integrated_account_id: acct.id.clone(),
        name,
        token_hash: hash_token(&token),
        config,
        expires_at,
        created_at: now,
        updated_at: now,
    };
    state.store.insert_mcp_server(&record).await?;
    tracing::info!(mcp_server_id = %record.id, account_id = %acct.id, "mcp server created");
    let mut answer = view(&record);
    answer["url"] = Value::String(format!("{}/mcp/{token}", state.public_url));
    answer["token"] = Value::String(token);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `GET /integrated-account/{id}/mcp[?limit=&next_cursor=]`: oldest first.
async fn list(
    State(state): State<AppState>,
    env: Env,
    Path(account_id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, ApiError> {
    account(&state, &env, &account_id).await?;
    let mut q = parse_brackets(q.as_deref().unwrap_or(""))?;
    let limit = match q.remove("limit") {
        None => DEFAULT_LIMIT,
        Some(Value::String(s)) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("`limit` must be between 1 and {MAX_LIMIT}.")))?,
        Some(_) => return Err(ApiError::bad_request("`limit` must be a single value.")),
    };
    let scope = format!("mcp:{}:{account_id}", env.id);
    let after = match q.remove("next_cursor") {
        None => None,
        Some(c) => {
            let invalid = || ApiError::bad_request("Invalid `next_cursor`.");
            let c = c.as_str().ok_or_else(invalid)?.to_string();
            let PageState::Cursor(pos) = cursor::decode(&state.keyring, &scope, &c)? else {
                return Err(invalid());
            };
            let (at, id) = pos.split_once('|').ok_or_else(invalid)?;
            Some(AccountPosition {
                created_at: DateTime::parse_from_rfc3339(at)
                    .map_err(|_| invalid())?
                    .with_timezone(&Utc),
                id: id.to_string(),
            })
        }
    };
    if let Some(other) = q.keys().next() {
        return Err(ApiError::bad_request(format!(
            "Unknown query parameter `{other}`: this endpoint takes `limit` and `next_cursor`."
        )));
    }
    let rows = state
        .store
        .list_mcp_servers(&env.id, &account_id, after.as_ref(), limit + 1)
        .await?;
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next = rows.last().filter(|_| more).map(|s| {
        cursor::encode(
            &state.keyring,
            &scope,
            &PageState::Cursor(format!(
                "{}|{}",
                s.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                s.id
            )),
        )
    });
    let result: Vec<Value> = rows.iter().map(view).collect();
    Ok(Json(json!({ "result": result, "next_cursor": next, "limit": limit })))
}

async fn get_one(
    State(state): State<AppState>,
    env: Env,
    Path((account_id, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&find(&state, &env, &account_id, &id).await?)))
}

/// `PATCH /integrated-account/{id}/mcp/{mcp_id}` `{name?, config?, expires_at?}`: the keys
/// of `config` given replace the server's; `expires_at: null` removes the expiry.
async fn update(
    State(state): State<AppState>,
    env: Env,
    Path((account_id, id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let acct = account(&state, &env, &account_id).await?;
    let body = checked_body(body, &["name", "config", "expires_at"])?;
    let mut record = find(&state, &env, &account_id, &id).await?;
    if let Some(name) = string_field(&body, "name")? {
        record.name = name;
    }
    if let Some(config) = body.get("config") {
        record.config = parse_config(&state, &acct, config, record.config.clone())?;
    }
    if let Some(expiry) = parse_expiry(&body)? {
        record.expires_at = expiry;
    }
    record.updated_at = Utc::now();
    if !state.store.update_mcp_server(&record).await? {
        return Err(ApiError::not_found(format!(
            "There is no MCP server with id `{id}` on this account."
        )));
    }
    Ok(Json(view(&record)))
}

async fn delete(
    State(state): State<AppState>,
    env: Env,
    Path((account_id, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let record = find(&state, &env, &account_id, &id).await?;
    if !state.store.delete_mcp_server(&env.id, &account_id, &id).await? {
        return Err(ApiError::not_found(format!(
            "There is no MCP server with id `{id}` on this account."
        )));
    }
    tracing::info!(mcp_server_id = %id, "mcp server deleted");
    Ok(Json(view(&record)))
}

/// Every tool of the account's integration (none when it left the catalog).
fn all_tools(state: &AppState, acct: &AccountRecord) -> Vec<Tool> {
    let registry = state.registry();
    match registry.integration(&acct.integration) {
        Some(i) => crate::catalog::mcp::tools(&registry, i),
        None => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// The MCP server
// ---------------------------------------------------------------------------------------

/// `GET` (the server-to-client stream) and `DELETE` (ending a session): this server sends
/// no requests of its own and keeps no sessions.
async fn no_stream() -> ApiError {
    ApiError::method_not_allowed("This MCP server answers POST only: it opens no server stream and keeps no session.")
}

/// What one request to the server works with.
struct Ctx {
    state: AppState,
    server: McpServerRecord,
    tools: Vec<Tool>,
    label: String,
    /// The request's `Idempotency-Key`, passed on to writes (with the JSON-RPC id).
    idempotency_key: Option<String>,
}

/// The server the token names, or the same 404 for a token that is unknown, deleted or
/// expired (nothing tells them apart); with `require_api_token_auth`, a 401 unless the
/// request also carries an API token of the server's environment.
async fn authorize(state: &AppState, token: &str, headers: &HeaderMap) -> Result<McpServerRecord, ApiError> {
    let gone = || ApiError::not_found("Not found.");
    let server = state
        .store
        .mcp_server_by_token(&hash_token(token))
        .await?
        .ok_or_else(gone)?;
    if server.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(gone());
    }
    if server.config.require_api_token_auth {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let identity = match bearer {
            Some(t) => state.tokens.identity(state.store.as_ref(), t).await?,
            None => None,
        };
        if identity.is_none_or(|i| i.environment_id != server.environment_id) {
            return Err(ApiError::unauthorized(
                "This MCP server needs an API token of its environment: `Authorization: Bearer <api token>`.",
            ));
        }
    }
    Ok(server)
}

fn rpc_error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message.into() } })
}

fn rpc_result(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// A JSON-RPC error answered on its own, with an HTTP status.
fn rpc_failure(status: StatusCode, code: i64, message: &str) -> Response {
    (status, Json(rpc_error(Value::Null, code, message))).into_response()
}

/// Whether the client's `Accept` prefers (or only allows) an SSE stream over JSON.
fn wants_sse(headers: &HeaderMap) -> Option<bool> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(false);
    };
    let mut json_q: Option<f32> = None;
    let mut sse_q: Option<f32> = None;
    for part in accept.split(',') {
        let mut bits = part.split(';');
        let media = bits.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = bits
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/json" | "application/*" | "*/*" => json_q = Some(json_q.unwrap_or(0.0).max(q)),
            "text/event-stream" => sse_q = Some(q),
            _ => {}
        }
    }
    match (json_q.filter(|q| *q > 0.0), sse_q.filter(|q| *q > 0.0)) {
        (None, None) => None,
        (Some(_), None) => Some(false),
        (None, Some(_)) => Some(true),
        (Some(j), Some(s)) => Some(s > j),
    }
}

/// `POST /mcp/{token}`: one JSON-RPC message or (protocol 2025-03-26) a batch.
async fn serve(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let server = authorize(&state, &token, &headers).await?;
    let version = match headers.get("mcp-protocol-version").map(|v| v.to_str()) {
        None => ASSUMED_VERSION,
        Some(Ok(v)) if PROTOCOL_VERSIONS.contains(&v.trim()) => PROTOCOL_VERSIONS
            .iter()
            .find(|p| **p == v.trim())
            .copied()
            .unwrap_or(ASSUMED_VERSION),
        Some(_) => {
            return Ok(rpc_failure(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                &format!(
                    "Unsupported MCP-Protocol-Version; this server speaks {}.",
                    PROTOCOL_VERSIONS.join(", ")
                ),
            ))
        }
    };
    let Some(sse) = wants_sse(&headers) else {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "Accept must allow application/json or text/event-stream.",
        ));
    };
    let bytes = body.map_err(|e| ApiError::bad_request(format!("Could not read the request body: {e}.")))?;
    let message: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return Ok(rpc_failure(
                StatusCode::BAD_REQUEST,
                PARSE_ERROR,
                &format!("Parse error: {e}."),
            ))
        }
    };
    let acct = state
        .store
        .get_account(&server.environment_id, &server.integrated_account_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Not found."))?;
    let registry = state.registry();
    let label = registry
        .integration(&acct.integration)
        .map(|i| i.config.label.clone())
        .unwrap_or_else(|| acct.integration.clone());
    let tools: Vec<Tool> = all_tools(&state, &acct)
        .into_iter()
        .filter(|t| t.allowed(&server.config.methods, &server.config.tags))
        .collect();
    let ctx = Ctx {
        state,
        server,
        tools,
        label,
        idempotency_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .filter(|k| !k.is_empty() && k.len() <= 200)
            .map(str::to_string),
    };
    let (answers, batch) = match message {
        Value::Array(items) if items.is_empty() => {
            return Ok(rpc_failure(StatusCode::BAD_REQUEST, INVALID_REQUEST, "An empty batch."))
        }
        Value::Array(items) => {
            if version != "2025-03-26" {
                return Ok(rpc_failure(
                    StatusCode::BAD_REQUEST,
                    INVALID_REQUEST,
                    &format!("Protocol version {version} has no JSON-RPC batches (2025-03-26 has)."),
                ));
            }
            let mut out = Vec::new();
            for item in items {
                out.extend(handle_message(&ctx, item, true).await);
            }
            (out, true)
        }
        other => (handle_message(&ctx, other, false).await.into_iter().collect(), false),
    };
    if answers.is_empty() {
        // Only notifications or responses: accepted, nothing to answer.
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    if sse {
        let mut text = String::new();
        for a in &answers {
            text.push_str("event: message\ndata: ");
            text.push_str(&a.to_string());
            text.push_str("\n\n");
        }
        return Ok((
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            text,
        )
            .into_response());
    }
    let body = if batch {
        Value::Array(answers)
    } else {
        answers.into_iter().next().unwrap_or(Value::Null)
    };
    Ok(Json(body).into_response())
}

/// One message's answer: `None` for a notification or a client's response.
async fn handle_message(ctx: &Ctx, message: Value, in_batch: bool) -> Option<Value> {
    let Value::Object(msg) = message else {
        return Some(rpc_error(
            Value::Null,
            INVALID_REQUEST,
            "A message must be a JSON object.",
        ));
    };
    let id = msg.get("id").cloned();
    if msg.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(rpc_error(
            id.unwrap_or(Value::Null),
            INVALID_REQUEST,
            "`jsonrpc` must be \"2.0\".",
        ));
    }
    let Some(method) = msg.get("method").and_then(Value::as_str) else {
        if msg.contains_key("result") || msg.contains_key("error") {
            return None; // a response to a request of ours; we send none
        }
        return Some(rpc_error(
            id.unwrap_or(Value::Null),
            INVALID_REQUEST,
            "`method` is missing.",
        ));
    };
    let Some(id) = id else {
        return None; // a notification (`notifications/initialized`, `.../cancelled`)
    };
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return Some(rpc_error(
            Value::Null,
            INVALID_REQUEST,
            "`id` must be a string or an integer.",
        ));
    }
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    if !(params.is_null() || params.is_object()) {
        return Some(rpc_error(id, INVALID_PARAMS, "`params` must be an object."));
    }
    Some(match method {
        "initialize" if in_batch => rpc_error(id, INVALID_REQUEST, "`initialize` must not be part of a batch."),
        "initialize" => match params.get("protocolVersion").and_then(Value::as_str) {
            None => rpc_error(id, INVALID_PARAMS, "`params.protocolVersion` is required."),
            Some(asked) => {
                let agreed = PROTOCOL_VERSIONS
                    .iter()
                    .find(|v| **v == asked)
                    .copied()
                    .unwrap_or(PROTOCOL_VERSIONS[PROTOCOL_VERSIONS.len() - 1]);
                rpc_result(
                    id,
                    json!({
                        "protocolVersion": agreed,
                        "capabilities": { "tools": { "listChanged": false } },
                        "serverInfo": { "name": "unigate", "version": env!("CARGO_PKG_VERSION") },
                        "instructions": format!(
                            "Tools for one {} account (integrated account {}), through Unigate's unified API. List tools answer one page and a `next_cursor`: pass it back to get the next page.",
                            ctx.label, ctx.server.integrated_account_id
                        ),
                    }),
                )
            }
        },
        "ping" => rpc_result(id, json!({})),
        "tools/list" => {
            let tools: Vec<Value> = ctx.tools.iter().map(describe).collect();
            rpc_result(id, json!({ "tools": tools }))
        }
        "tools/call" => call(ctx, id, &params).await,
        other => rpc_error(id, METHOD_NOT_FOUND, format!("Method not found: `{other}`.")),
    })
}

fn describe(t: &Tool) -> Value {
    let destructive = matches!(t.method, ToolMethod::Standard(UnifiedMethod::Delete));
    json!({
        "name": t.name,
        "description": t.description,
        "inputSchema": t.input_schema,
        "annotations": {
            "readOnlyHint": t.reads(),
            "destructiveHint": destructive,
            "openWorldHint": true,
        },
    })
}

/// A tool result: text items, an error or not.
fn tool_result(id: Value, texts: Vec<String>, is_error: bool) -> Value {
    let content: Vec<Value> = texts
        .into_iter()
        .map(|t| json!({ "type": "text", "text": t }))
        .collect();
    rpc_result(id, json!({ "content": content, "isError": is_error }))
}

/// Query pairs of one argument: a list repeats the key, an object becomes `key[k]`.
fn push_query(pairs: &mut url::form_urlencoded::Serializer<'_, String>, key: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::String(s) => {
            pairs.append_pair(key, s);
        }
        Value::Array(items) => {
            for item in items {
                push_query(pairs, key, item);
            }
        }
        Value::Object(o) => {
            for (k, v) in o {
                push_query(pairs, &format!("{key}[{k}]"), v);
            }
        }
        other => {
            pairs.append_pair(key, &other.to_string());
        }
    }
}

/// `tools/call`: the tool's unified call through the unified API's router.
async fn call(ctx: &Ctx, id: Value, params: &Value) -> Value {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return rpc_error(id, INVALID_PARAMS, "`params.name` is required: the tool to call.");
    };
    let Some(tool) = ctx.tools.iter().find(|t| t.name == name) else {
        return rpc_error(id, INVALID_PARAMS, format!("Unknown tool: `{name}`."));
    };
    let mut args = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return rpc_error(id, INVALID_PARAMS, "`params.arguments` must be an object."),
    };
    let (verb, takes_id) = match &tool.method {
        ToolMethod::Standard(UnifiedMethod::List) => (Method::GET, false),
        ToolMethod::Standard(UnifiedMethod::Get) => (Method::GET, true),
        ToolMethod::Standard(UnifiedMethod::Create) => (Method::POST, false),
        ToolMethod::Standard(UnifiedMethod::Update) => (Method::PATCH, true),
        ToolMethod::Standard(UnifiedMethod::Delete) => (Method::DELETE, true),
        ToolMethod::Custom(_) => (Method::POST, false),
    };
    let mut path = format!("/unified/{}/{}", tool.category, tool.resource);
    if takes_id {
        let record_id = match args.remove("id") {
            Some(Value::String(s)) if !s.is_empty() => s,
            Some(Value::Number(n)) => n.to_string(),
            _ => return tool_result(id, vec!["`id` is required: the record's unified id.".into()], true),
        };
        path.push('/');
        path.push_str(
            &percent_encoding::utf8_percent_encode(&record_id, percent_encoding::NON_ALPHANUMERIC).to_string(),
        );
    }
    if let ToolMethod::Custom(m) = &tool.method {
        path.push('/');
        path.push_str(m);
    }
    let writes_body = matches!(verb, Method::POST | Method::PATCH);
    let mut body = Map::new();
    // The serializer is not `Send`: built and finished before any `.await`.
    let query = {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        pairs.append_pair("integrated_account_id", &ctx.server.integrated_account_id);
        for (k, v) in args {
            if writes_body && !tool.query_args.contains(&k) {
                body.insert(k, v);
            } else {
                push_query(&mut pairs, &k, &v);
            }
        }
        pairs.finish()
    };
    let uri = format!("{path}?{query}");
    let mut request = Request::builder()
        .method(verb.clone())
        .uri(&uri)
        .header(header::CONTENT_TYPE, "application/json");
    if verb != Method::GET {
        if let Some(key) = &ctx.idempotency_key {
            request = request.header("idempotency-key", format!("mcp:{key}:{id}"));
        }
    }
    let body = if writes_body {
        Body::from(Value::Object(body).to_string())
    } else {
        Body::empty()
    };
    let Ok(mut request) = request.body(body) else {
        return tool_result(id, vec!["The arguments do not make a valid request.".into()], true);
    };
    request.extensions_mut().insert(Env {
        id: ctx.server.environment_id.clone(),
        scope: TokenScope::Api,
    });
    let router = super::unified_api(&ctx.state).with_state(ctx.state.clone());
    let response = match router.oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = response.status();
    let Ok(bytes) = axum::body::to_bytes(response.into_body(), MAX_TOOL_ANSWER).await else {
        return tool_result(
            id,
            vec!["The answer is too large to pass on; ask for fewer records (`limit`).".into()],
            true,
        );
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
    if !status.is_success() {
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("The call failed with HTTP status {}.", status.as_u16()));
        return tool_result(id, vec![message, text], true);
    }
    let mut texts = vec![text];
    if tool.method == ToolMethod::Standard(UnifiedMethod::List) {
        match parsed.as_ref().and_then(|v| v.get("next_cursor")).and_then(Value::as_str) {
            Some(next) => texts.push(format!(
                "There are more records: call `{}` again with the same arguments and `next_cursor` set to \"{next}\" to get the next page.",
                tool.name
            )),
            None => texts.push("This is the last page.".into()),
        }
    }
    tool_result(id, texts, false)
}

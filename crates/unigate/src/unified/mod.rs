//! The pipeline of one unified call: resolve the account and its mapping, plan the
//! provider request, call, and shape the answer in the requested format.

pub mod cursor;
pub mod format;
pub mod query;

use std::ops::Range;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{json, Map, Value};

use crate::accounts::Account;
use crate::catalog::types::UnifiedMethod;
use crate::catalog::{Integration, Pagination, Resource, UnifiedMapping};
use crate::error::ApiError;
use crate::state::AppState;
use crate::upstream::{headers_json, Outgoing, Parse, Reply, UpstreamError};
use cursor::PageState;
use query::{flatten_pairs, ResponseFormat, UnifiedQuery};

/// A unified request after routing.
#[derive(Debug)]
pub struct UnifiedRequest {
    pub category: String,
    pub resource: String,
    pub method: UnifiedMethod,
    pub id: Option<String>,
    pub query: UnifiedQuery,
    pub body: Option<Value>,
}

/// Everything resolved for one call.
struct Call {
    state: AppState,
    integration: Arc<Integration>,
    mapping: Arc<UnifiedMapping>,
    account: Account,
    req: UnifiedRequest,
    /// The unified body without `remote_data`.
    body: Value,
    remote_data: Option<Value>,
    public_context: Value,
    /// The account's full context; replaced when a provider 401 leads to a token refresh.
    context: std::sync::Mutex<Arc<Value>>,
    /// Whether this call already refreshed after a 401 (at most once per call).
    refreshed_after_401: std::sync::atomic::AtomicBool,
}

pub async fn handle(state: &AppState, environment_id: &str, mut req: UnifiedRequest) -> Result<Response, ApiError> {
    let registry = state.registry.clone();
    let model = registry
        .model(&req.category)
        .ok_or_else(|| ApiError::not_found(format!("There is no unified model named `{}`.", req.category)))?;
    let resource = model.resource(&req.resource).ok_or_else(|| {
        ApiError::not_found(format!(
            "The `{}` unified model has no resource `{}`.",
            req.category, req.resource
        ))
    })?;
    if !resource.methods.contains(&req.method) {
        return Err(ApiError::method_not_allowed(format!(
            "`{}` is not a method of {}/{}.",
            req.method, req.category, req.resource
        )));
    }
    let record = state
        .store
        .get_account(environment_id, &req.query.integrated_account_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Integrated account `{}` not found.",
                req.query.integrated_account_id
            ))
        })?;
    let integration = registry.integration(&record.integration).ok_or_else(|| {
        ApiError::not_found(format!(
            "The integration `{}` of this integrated account is not in the catalog.",
            record.integration
        ))
    })?;
    let mapping = integration
        .unified(&req.category, &req.resource, req.method)
        .ok_or_else(|| {
            let supported = integration.unified_methods(&req.category, &req.resource);
            ApiError::method_not_allowed(format!(
                "The integration `{}` does not support `{}` on {}/{}.",
                integration.name(),
                req.method,
                req.category,
                req.resource
            ))
            .with_details(
                json!({ "integration": integration.name(), "method": req.method, "supported_methods": supported }),
            )
        })?;
    if record.status == crate::store::AccountStatus::NeedsReauth {
        return Err(crate::accounts::oauth::needs_reauth(&record));
    }
    let account = Account::load(&state.keyring, integration, record)?;
    let account = state.oauth.ensure_fresh(integration, account).await?;
    let (body, remote_data) = split_body(req.method, req.body.take())?;
    let public_context = account.public_context(integration);
    let call = Call {
        state: state.clone(),
        integration: integration.clone(),
        mapping: mapping.clone(),
        account,
        req,
        body,
        remote_data,
        public_context,
        context: std::sync::Mutex::new(Arc::new(Value::Null)),
        refreshed_after_401: Default::default(),
    };
    *call.context.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(call.account.context.clone());
    call.run().await
}

/// A Proxy API request: a raw resource method of the account's integration, run with its
/// auth, pagination, retries and rate limits, but no mapping.
#[derive(Debug)]
pub struct ProxyRequest {
    pub resource: String,
    /// `list`, `get`, `create`, `update`, `delete`, or a custom method name.
    pub method: String,
    pub id: Option<String>,
    pub query: UnifiedQuery,
    pub body: Option<Value>,
}

pub async fn handle_proxy(state: &AppState, environment_id: &str, req: ProxyRequest) -> Result<Response, ApiError> {
    let ProxyRequest {
        resource,
        method,
        id,
        mut query,
        body,
    } = req;
    let record = state
        .store
        .get_account(environment_id, &query.integrated_account_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Integrated account `{}` not found.",
                query.integrated_account_id
            ))
        })?;
    let integration = state
        .registry
        .integration(&record.integration)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "The integration `{}` of this integrated account is not in the catalog.",
                record.integration
            ))
        })?;
    let key = format!("{resource}.{method}");
    let raw = integration.resources.get(&key).cloned().ok_or_else(|| {
        ApiError::not_found(format!(
            "The integration `{}` has no resource method `{key}`.",
            integration.name()
        ))
    })?;
    if record.status == crate::store::AccountStatus::NeedsReauth {
        return Err(crate::accounts::oauth::needs_reauth(&record));
    }
    // Everything but Unigate's own parameters goes to the provider as sent, then
    // `remote_query[...]` (which wins).
    query.rest.clear();
    let remote = std::mem::take(&mut query.remote_pairs);
    query.remote_pairs = crate::unified::query::passthrough_pairs(&query.raw);
    query.remote_pairs.extend(remote);
    query.format = ResponseFormat::Raw;
    let unified_method = match method.as_str() {
        "list" => UnifiedMethod::List,
        "get" => UnifiedMethod::Get,
        "delete" => UnifiedMethod::Delete,
        "create" => UnifiedMethod::Create,
        _ => UnifiedMethod::Update,
    };
    let account = Account::load(&state.keyring, &integration, record)?;
    let account = state.oauth.ensure_fresh(&integration, account).await?;
    let writes = matches!(unified_method, UnifiedMethod::Create | UnifiedMethod::Update);
    let body = match body {
        None if writes => Some(Value::Object(Map::new())),
        other => other,
    };
    let (body, remote_data) = split_body(unified_method, body)?;
    let public_context = account.public_context(&integration);
    let call = Call {
        state: state.clone(),
        mapping: Arc::new(UnifiedMapping {
            resource: raw,
            before: Vec::new(),
            query_mapping: None,
            request_body_mapping: None,
            response_mapping: None,
            retry_on_conflict: None,
            unsupported_fields: Vec::new(),
        }),
        integration,
        account,
        req: UnifiedRequest {
            category: "proxy".into(),
            resource,
            method: unified_method,
            id,
            query,
            body: None,
        },
        body,
        remote_data,
        public_context,
        context: std::sync::Mutex::new(Arc::new(Value::Null)),
        refreshed_after_401: Default::default(),
    };
    *call.context.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(call.account.context.clone());
    call.run().await
}

fn split_body(method: UnifiedMethod, body: Option<Value>) -> Result<(Value, Option<Value>), ApiError> {
    let writes = matches!(method, UnifiedMethod::Create | UnifiedMethod::Update);
    match body {
        None if writes => Err(ApiError::bad_request("This method needs a JSON object body.")),
        None => Ok((Value::Object(Map::new()), None)),
        Some(Value::Object(mut m)) => {
            let remote = m.shift_remove("remote_data");
            match remote {
                None | Some(Value::Null) => Ok((Value::Object(m), None)),
                Some(Value::Object(r)) => Ok((Value::Object(m), Some(Value::Object(r)))),
                Some(_) => Err(ApiError::bad_request("`remote_data` must be a JSON object.")),
            }
        }
        Some(_) => Err(ApiError::bad_request("The request body must be a JSON object.")),
    }
}

/// `dynamic` pagination values (an object) as query pairs, replacing same-named ones.
fn add_values(pairs: &mut Vec<(String, String)>, values: &Value) {
    if let Value::Object(m) = values {
        for (k, v) in flatten_pairs(m) {
            set_pair(pairs, k, v);
        }
    }
}

/// Query pairs where a later key replaces an earlier one (except `k[]` lists).
fn set_pair(pairs: &mut Vec<(String, String)>, k: String, v: String) {
    if !k.ends_with("[]") {
        pairs.retain(|(ek, _)| *ek != k);
    }
    pairs.push((k, v));
}

impl Call {
    fn id(&self) -> Value {
        self.req.id.clone().map(Value::String).unwrap_or(Value::Null)
    }

    /// Runs the call's method.
    async fn run(self) -> Result<Response, ApiError> {
        match self.req.method {
            // Each method's state machine is kilobytes; boxed, the caller's future stays small
            // (moving big futures by value was ~10 % of a call's instructions, all `memcpy`).
            UnifiedMethod::List => Box::pin(self.list()).await,
            UnifiedMethod::Get => Box::pin(self.get()).await,
            UnifiedMethod::Create | UnifiedMethod::Update => Box::pin(self.write()).await,
            UnifiedMethod::Delete => Box::pin(self.delete()).await,
        }
    }

    /// What mappings see.
    fn scope(&self, before: &Value) -> Value {
        crate::mapping::object([
            ("id", self.id()),
            ("query", Value::Object(self.req.query.rest.clone())),
            ("rawQuery", Value::String(self.req.query.raw.clone())),
            ("body", self.body.clone()),
            ("context", self.public_context.clone()),
            ("before", before.clone()),
        ])
    }

    /// What path templates see: the full context, since some providers put account
    /// values in the path.
    fn path_scope(&self, before: &Value) -> Value {
        crate::mapping::object([
            ("id", self.id()),
            ("context", (*self.context()).clone()),
            ("before", before.clone()),
        ])
    }

    fn context(&self) -> Arc<Value> {
        self.context
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// One provider call. A 401 on an OAuth account that can get a new token refreshes it
    /// (once per call; one refresh per account across instances) and tries again.
    async fn exchange(
        &self,
        resource: &Resource,
        before: &Value,
        outgoing: Outgoing,
    ) -> Result<Result<Reply, UpstreamError>, ApiError> {
        let context = self.context();
        let refreshable = self.state.oauth.can_refresh(&self.integration, &context);
        let spare = refreshable.then(|| outgoing.clone());
        let req = self.request(resource, before, outgoing)?;
        let first = Box::pin(self.state.upstream.call(&self.integration, req)).await;
        match (first, spare) {
            (Err(e), Some(outgoing))
                if e.status() == Some(401)
                    && !self.refreshed_after_401.swap(true, std::sync::atomic::Ordering::SeqCst) =>
            {
                let used = crate::accounts::oauth::access_token(&context);
                let fresh = Box::pin(self.state.oauth.refresh(
                    &self.integration,
                    &self.account.record,
                    used.as_deref().or(Some("")),
                    false,
                ))
                .await?;
                *self.context.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fresh.context);
                let req = self.request(resource, before, outgoing)?;
                Ok(Box::pin(self.state.upstream.call(&self.integration, req)).await)
            }
            (other, _) => Ok(other),
        }
    }

    fn request(
        &self,
        resource: &Resource,
        before: &Value,
        outgoing: Outgoing,
    ) -> Result<crate::upstream::UpstreamRequest, ApiError> {
        Ok(self
            .state
            .upstream
            .request(
                &self.integration,
                resource,
                &self.context(),
                &self.path_scope(before),
                outgoing,
            )?
            .for_account(&self.account.record.id))
    }

    /// The provider query: `query_mapping`, then pagination, then `remote_query` (wins).
    fn base_query(&self, scope: &Value) -> Result<Vec<(String, String)>, ApiError> {
        let mut pairs = Vec::new();
        if let Some(expr) = &self.mapping.query_mapping {
            match expr.eval(scope).map_err(mapping_error)? {
                Some(Value::Object(m)) => {
                    for (k, v) in flatten_pairs(&m) {
                        set_pair(&mut pairs, k, v);
                    }
                }
                None | Some(Value::Null) => {}
                Some(_) => return Err(mapping_error_msg("query_mapping must give an object")),
            }
        }
        Ok(pairs)
    }

    fn add_remote_query(&self, pairs: &mut Vec<(String, String)>) {
        for (k, v) in &self.req.query.remote_pairs {
            set_pair(pairs, k.clone(), v.clone());
        }
    }

    /// The record(s) inside a provider answer.
    fn select(&self, resource: &Resource, reply: &Reply) -> Result<Value, ApiError> {
        match &resource.response_path {
            None => Ok(reply.json.clone()),
            Some(expr) => {
                let (headers, id) = (headers_json(&reply.headers), self.id());
                let input = [("response", &reply.json), ("headers", &headers), ("id", &id)];
                Ok(expr.eval_fields(input).map_err(mapping_error)?.unwrap_or(Value::Null))
            }
        }
    }

    /// The record of an answer: what `response_path` picks out of it, or without one the
    /// whole answer, taken out of `reply` rather than copied (it becomes `remote_data`).
    fn take_record(&self, resource: &Resource, reply: &mut Reply) -> Result<Value, ApiError> {
        match resource.response_path {
            None => Ok(std::mem::take(&mut reply.json)),
            Some(_) => self.select(resource, reply),
        }
    }

    /// The record through the response mapping (the record itself without one): the
    /// unified fields, before `remote_data`, normalization and exclusions.
    fn map_record(&self, raw: &Value, scope: &Value) -> Result<Value, ApiError> {
        Ok(match &self.mapping.response_mapping {
            None => raw.clone(),
            Some(expr) => {
                // `{scope..., response}`, read in place (no copy of the scope or the record).
                let scope = scope.as_object().into_iter().flatten();
                let input = scope.map(|(k, v)| (k.as_str(), v)).chain([("response", raw)]);
                match expr.eval_fields(input).map_err(mapping_error)? {
                    Some(Value::Object(m)) => Value::Object(m),
                    None | Some(Value::Null) => Value::Object(Map::new()),
                    Some(_) => return Err(mapping_error_msg("response_mapping must give an object")),
                }
            }
        })
    }

    /// Whether a `get` of `resource` answers with [`Call::shape_with_raw_remote`]: a `unified`
    /// answer with a response mapping, whose `remote_data` is the provider's whole answer,
    /// neither ignored nor cut by `truto_exclude_fields`. The provider's answer is then parsed
    /// only as far as the mapping reads it (`Parse::For`).
    fn raw_remote_applies(&self, resource: &Resource) -> bool {
        let q = &self.req.query;
        q.format == ResponseFormat::Unified
            && !q.ignore_remote_data
            && !q.exclude_fields.iter().any(|p| touches_remote_data(p))
            && resource.response_path.is_none()
            && self.mapping.response_mapping.is_some()
    }

    /// How much of a `get`'s answer to parse, when the whole answer is the record (no
    /// `response_path` picks it out): only what the mapping reads when nothing else of it
    /// reaches the client (`remote_data` written from the bytes, see
    /// [`Call::raw_remote_applies`], or not written at all: `normalized`,
    /// `truto_ignore_remote_data`); nothing when the bytes are passed on as they are (`raw`;
    /// `stream` does not read them at all); else all of it.
    fn parse_for_get(&self, resource: &Resource, raw_remote: bool) -> Parse {
        let q = &self.req.query;
        if resource.response_path.is_some() {
            return Parse::Whole;
        }
        let no_remote_data = match q.format {
            ResponseFormat::Normalized => true,
            ResponseFormat::Unified => q.ignore_remote_data,
            ResponseFormat::Raw | ResponseFormat::Stream => false,
        };
        match &self.mapping.response_mapping {
            Some(expr) if raw_remote || no_remote_data => Parse::For(expr.clone()),
            _ if q.format == ResponseFormat::Raw => Parse::Check,
            _ => Parse::Whole,
        }
    }

    /// The `unified` record with `remote_data` written out from the provider's bytes instead
    /// of parsed and serialized again (parsing and serializing it were a third of a `get`:
    /// `bench/ANALYSIS.md`, "Third pass"): the same JSON value as [`Call::shape`] gives, as
    /// the provider wrote it (number spellings, escapes, spacing). `None` when the mapping
    /// writes a `remote_data` of its own.
    fn shape_with_raw_remote(&self, record: &Value, body: &[u8], scope: &Value) -> Result<Option<Vec<u8>>, ApiError> {
        let mapped = self.map_record(record, scope)?;
        if !takes_raw_remote(&mapped) {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(body.len() + 256);
        self.write_with_raw_remote(&mut out, mapped, body)?;
        Ok(Some(out))
    }

    /// Appends to `out` the mapped record `mapped` with `raw`, the record's bytes, as its
    /// `remote_data`, as [`Call::shape_with_raw_remote`] gives it; for a `mapped` that
    /// [`takes_raw_remote`].
    fn write_with_raw_remote(&self, out: &mut Vec<u8>, mut mapped: Value, raw: &[u8]) -> Result<(), ApiError> {
        format::exclude(&mut mapped, &self.req.query.exclude_fields);
        let start = out.len();
        serde_json::to_writer(&mut *out, &mapped).map_err(ApiError::internal)?;
        // `{...}` becomes `{...,"remote_data":<raw>}`.
        out.pop();
        if out.len() - start > 1 {
            out.push(b',');
        }
        out.extend_from_slice(b"\"remote_data\":");
        out.extend_from_slice(raw.trim_ascii());
        out.push(b'}');
        Ok(())
    }

    /// Appends one record of a list page to `out` as the client gets it, from its parsed
    /// form and its bytes in the provider's answer ([`Page::spans`]): `raw`, those bytes;
    /// otherwise the record with those bytes as its `remote_data`, unless the mapping wrote
    /// a `remote_data` of its own (then the usual shaping, on the record mapped once).
    fn write_record(&self, out: &mut Vec<u8>, record: Value, raw: &[u8], scope: &Value) -> Result<(), ApiError> {
        if self.req.query.format == ResponseFormat::Raw {
            out.extend_from_slice(raw);
            return Ok(());
        }
        let mapped = self.map_record(&record, scope)?;
        if takes_raw_remote(&mapped) {
            self.write_with_raw_remote(out, mapped, raw)
        } else {
            serde_json::to_writer(&mut *out, &self.finish(mapped, record)).map_err(ApiError::internal)
        }
    }

    /// Where each record of a page is in the provider's answer, when the records go out
    /// with their own bytes ([`Call::write_record`]), as a `get`'s `remote_data` does: the
    /// provider's number spellings, escapes and key order, and no serializing of what was
    /// parsed. That is `raw`, and `unified` or `stream` with `remote_data` neither dropped nor
    /// cut by `truto_exclude_fields`, when `response_path` is a path of names from `response`
    /// (or there is none) leading to an array of objects. `None` otherwise: the records are
    /// then written from their parsed form.
    fn record_spans(&self, resource: &Resource, body: &[u8], records: &[Value]) -> Option<Vec<Range<usize>>> {
        let q = &self.req.query;
        let applies = match q.format {
            ResponseFormat::Raw => true,
            ResponseFormat::Unified | ResponseFormat::Stream => {
                !q.ignore_remote_data && !q.exclude_fields.iter().any(|p| touches_remote_data(p))
            }
            ResponseFormat::Normalized => false,
        };
        if !applies || records.is_empty() {
            return None;
        }
        let path = match &resource.response_path {
            None => Vec::new(),
            Some(expr) => match expr.field_path()?.split_first() {
                Some((&"response", rest)) => rest.to_vec(),
                _ => return None,
            },
        };
        let spans = crate::mapping::reads::record_spans(body, &path)?;
        (spans.len() == records.len() && records.iter().all(Value::is_object)).then_some(spans)
    }

    /// One provider record to one client record, in the requested format; the record moves
    /// into `remote_data` rather than being copied there.
    fn shape(&self, raw: Value, scope: &Value) -> Result<Value, ApiError> {
        let mapped = self.map_record(&raw, scope)?;
        Ok(self.finish(mapped, raw))
    }

    /// `mapped`, the record `raw` through the mapping, in the requested format.
    fn finish(&self, mut mapped: Value, raw: Value) -> Value {
        match self.req.query.format {
            ResponseFormat::Normalized => {
                // The proxy API has no unified model, hence no schema (the record as it is).
                let schema = self
                    .state
                    .registry
                    .model(&self.req.category)
                    .and_then(|m| m.resource(&self.req.resource))
                    .map_or(&Value::Null, |r| &r.schema);
                mapped = format::normalize(&mapped, schema).unwrap_or_else(|| Value::Object(Map::new()));
            }
            ResponseFormat::Unified | ResponseFormat::Stream | ResponseFormat::Raw => {
                if !self.req.query.ignore_remote_data {
                    mapped["remote_data"] = raw;
                }
            }
        }
        format::exclude(&mut mapped, &self.req.query.exclude_fields);
        mapped
    }

    async fn run_before(&self) -> Result<Value, ApiError> {
        let mut before = Map::new();
        for (name, resource, optional) in &self.mapping.before {
            let so_far = Value::Object(before.clone());
            match self.exchange(resource, &so_far, Outgoing::default()).await? {
                Ok(reply) => {
                    before.insert(name.clone(), self.select(resource, &reply)?);
                }
                Err(e) if *optional => {
                    tracing::debug!(integration = self.integration.name(), step = %name, error = %e, "optional side load failed");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Value::Object(before))
    }

    /// A provider answer with no body where `expected` was due: a broken answer (502).
    fn empty_answer(&self, reply: &Reply, expected: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "{} answered {} with an empty body where {expected} was expected.",
                self.integration.name(),
                reply.status
            ),
        )
    }

    /// "No such record": the provider answered, but without the record asked for.
    fn record_not_found(&self) -> ApiError {
        ApiError::not_found(format!(
            "{} has no {} with id `{}`.",
            self.integration.name(),
            self.req.resource,
            self.req.id.as_deref().unwrap_or_default()
        ))
    }

    /// A provider answer where a record was expected that is not an object: a 502 that
    /// shows it.
    fn not_a_record(&self, answer: Value) -> ApiError {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "{} answered {} where a record (a JSON object) was expected.",
                self.integration.name(),
                json_kind(&answer)
            ),
        )
        .remote(answer)
    }

    async fn get(self) -> Result<Response, ApiError> {
        let resource = &self.mapping.resource;
        let before = self.run_before().await?;
        let scope = self.scope(&before);
        let mut pairs = self.base_query(&scope)?;
        self.add_remote_query(&mut pairs);
        let raw_remote = self.raw_remote_applies(resource);
        let outgoing = Outgoing {
            query: pairs,
            parse: self.parse_for_get(resource, raw_remote),
            ..Default::default()
        };
        // A record picked out of the answer (`response_path`: some providers have no get,
        // so the list is filtered) may be missing: that is a 404 in every format, so such
        // an answer is read before it is passed on, even in `stream`.
        if self.req.query.format == ResponseFormat::Stream && resource.response_path.is_none() {
            let req = self.request(resource, &before, outgoing)?;
            return self.stream_through(req).await;
        }
        let reply = Box::pin(self.exchange(resource, &before, outgoing)).await??;
        if matches!(self.req.query.format, ResponseFormat::Raw | ResponseFormat::Stream) {
            if resource.response_path.is_some() && self.select(resource, &reply)?.is_null() {
                return Err(self.record_not_found());
            }
            return Ok(raw_response(&reply));
        }
        let mut reply = reply;
        // No body at all is a broken answer, not an answer that the record does not exist
        // (that would tell a syncing client to delete it): JSON `null` is the latter.
        if crate::upstream::is_blank(&reply.body) {
            return Err(self.empty_answer(&reply, "a record"));
        }
        // The whole answer is the record: an array or a text is not one.
        if resource.response_path.is_none() && !(reply.json.is_object() || reply.json.is_null()) {
            let answer = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            return Err(self.not_a_record(answer));
        }
        // An empty answer (`null`) goes on to the "not found" below, on either path.
        if raw_remote && !reply.json.is_null() {
            match self.shape_with_raw_remote(&reply.json, &reply.body, &scope)? {
                Some(body) => {
                    let mut response = Response::new(Body::from(body));
                    response
                        .headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    return Ok(with_ratelimit(response, &reply));
                }
                // The mapping wrote a `remote_data` of its own: the usual shaping, on all of
                // the answer (so far parsed only as far as the mapping reads it).
                None => reply.json = serde_json::from_slice(&reply.body).map_err(ApiError::internal)?,
            }
        }
        let record = self.take_record(resource, &mut reply)?;
        if record.is_null() {
            return Err(self.record_not_found());
        }
        if !record.is_object() {
            return Err(self.not_a_record(record));
        }
        Ok(with_ratelimit(
            axum::Json(self.shape(record, &scope)?).into_response(),
            &reply,
        ))
    }

    /// `stream` for a single record: the provider body flows through unbuffered.
    async fn stream_through(&self, req: crate::upstream::UpstreamRequest) -> Result<Response, ApiError> {
        let response = self.state.upstream.send(&self.integration, req).await?;
        if !response.status.is_success() {
            // Errors are small: read them (bounded) to answer in the usual shape.
            let status = response.status.as_u16();
            let headers = response.headers.clone();
            let bytes = response.bytes().await.unwrap_or_default();
            let rate_limited = self.state.upstream.rate_limited(&self.integration, status, &headers);
            let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).into_owned())
            });
            return Err(UpstreamError::Status {
                integration: self.integration.name().to_string(),
                status,
                message: crate::upstream::error_message(&self.integration, status, &headers, &body),
                body: Box::new(body),
                headers: Box::new(headers),
                rate_limited,
            }
            .into());
        }
        let status = StatusCode::from_u16(response.status.as_u16()).unwrap_or(StatusCode::OK);
        let content_type = response.headers.get(header::CONTENT_TYPE).cloned();
        // The bytes pass through as sent, so their coding must too (a provider that
        // compresses despite `Accept-Encoding: identity`): the client decodes them.
        let encoding = response.headers.get(header::CONTENT_ENCODING).cloned();
        let stream = response.bytes_stream().map(|r| r.map_err(std::io::Error::other));
        let mut out = Response::new(Body::from_stream(stream));
        *out.status_mut() = status;
        out.extensions_mut().insert(crate::error::ProviderBody);
        if let Some(ct) = content_type {
            out.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
        if let Some(e) = encoding {
            out.headers_mut().insert(header::CONTENT_ENCODING, e);
        }
        Ok(out)
    }

    /// The fields of a write's body (besides `id`) that neither its body mapping nor its
    /// query mapping reads, so would never reach the provider. None when a mapping may read
    /// the whole body (or there is no body mapping: the body is sent as it is).
    fn unread_body_fields(&self) -> Vec<&String> {
        use crate::mapping::reads::Reads;
        let Some(body_mapping) = &self.mapping.request_body_mapping else {
            return Vec::new();
        };
        let mappings = [Some(body_mapping), self.mapping.query_mapping.as_ref()];
        let mut read = std::collections::BTreeSet::new();
        for reads in mappings.into_iter().flatten().filter_map(|m| m.reads_of("body")) {
            match reads {
                Reads::All => return Vec::new(),
                Reads::Fields(fields) => read.extend(fields.keys()),
            }
        }
        let Value::Object(given) = &self.body else {
            return Vec::new();
        };
        given
            .iter()
            .filter(|(k, v)| k.as_str() != "id" && !v.is_null() && !read.contains(k))
            .map(|(k, _)| k)
            .collect()
    }

    async fn write(self) -> Result<Response, ApiError> {
        let resource = &self.mapping.resource;
        // A change the provider cannot make is refused before any call, never dropped: the
        // fields the mapping declares unsupported, and any field given that no mapping of
        // the write reads (`created_at`, a field of another model, a typo).
        let mut refused: Vec<&String> = self
            .mapping
            .unsupported_fields
            .iter()
            .filter(|f| self.body.get(f.as_str()).is_some_and(|v| !v.is_null()))
            .collect();
        for f in self.unread_body_fields() {
            if !refused.contains(&f) {
                refused.push(f);
            }
        }
        if !refused.is_empty() {
            let names: Vec<String> = refused.iter().map(|f| format!("`{f}`")).collect();
            return Err(ApiError::unprocessable(format!(
                "{} cannot {} {} of {}: the provider's API does not allow it. Leave {} out of the request; `GET /integration/{}` documents what can be written.",
                self.integration.config.label,
                self.req.method,
                names.join(", "),
                self.req.resource,
                if names.len() == 1 { "it" } else { "them" },
                self.integration.name(),
            ))
            .with_details(json!({ "integration": self.integration.name(), "unsupported_fields": refused })));
        }
        let max_attempts = self
            .mapping
            .retry_on_conflict
            .as_ref()
            .map(|r| r.max_attempts.max(1))
            .unwrap_or(1);
        let mut attempt = 0;
        let (mut reply, scope) = loop {
            attempt += 1;
            let before = self.run_before().await?;
            let scope = self.scope(&before);
            let mut body = match &self.mapping.request_body_mapping {
                None => self.body.clone(),
                Some(expr) => expr.eval(&scope).map_err(mapping_error)?.unwrap_or_else(|| json!({})),
            };
            if let Some(remote) = &self.remote_data {
                format::deep_merge(&mut body, remote);
            }
            let mut pairs = self.base_query(&scope)?;
            self.add_remote_query(&mut pairs);
            let outgoing = Outgoing {
                query: pairs,
                body: Some(body),
                ..Default::default()
            };
            match self.exchange(resource, &before, outgoing).await? {
                Ok(reply) => break (reply, scope),
                Err(e) => {
                    let conflict = self
                        .mapping
                        .retry_on_conflict
                        .as_ref()
                        .zip(e.status())
                        .is_some_and(|(r, s)| r.statuses.contains(&s));
                    if conflict && attempt < max_attempts {
                        tracing::info!(
                            integration = self.integration.name(),
                            attempt,
                            "write conflicted; reading and merging again"
                        );
                        continue;
                    }
                    let mut err = ApiError::from(e);
                    if conflict {
                        err.message = format!(
                            "{} The record kept changing during {attempt} attempts; try again.",
                            err.message
                        );
                    }
                    return Err(err);
                }
            }
        };
        if self.req.query.format == ResponseFormat::Raw {
            return Ok(raw_response(&reply));
        }
        let mut record = self.take_record(resource, &mut reply)?;
        if record.is_null() {
            // Some providers answer a write with no body: read the record back.
            if let (Some(get), Some(_)) = (
                self.integration
                    .unified(&self.req.category, &self.req.resource, UnifiedMethod::Get),
                &self.req.id,
            ) {
                let mut reply = self.exchange(&get.resource, &json!({}), Outgoing::default()).await??;
                record = self.take_record(&get.resource, &mut reply)?;
            }
        }
        let status = if self.req.method == UnifiedMethod::Create {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(with_ratelimit(
            (status, axum::Json(self.shape(record, &scope)?)).into_response(),
            &reply,
        ))
    }

    async fn delete(self) -> Result<Response, ApiError> {
        let resource = &self.mapping.resource;
        let before = self.run_before().await?;
        let scope = self.scope(&before);
        let mut pairs = self.base_query(&scope)?;
        self.add_remote_query(&mut pairs);
        let reply = self
            .exchange(
                resource,
                &before,
                Outgoing {
                    query: pairs,
                    ..Default::default()
                },
            )
            .await??;
        if self.req.query.format == ResponseFormat::Raw {
            return Ok(raw_response(&reply));
        }
        let mut out = json!({ "id": self.id() });
        if !self.req.query.ignore_remote_data && !reply.json.is_null() {
            out["remote_data"] = reply.json.clone();
        }
        format::exclude(&mut out, &self.req.query.exclude_fields);
        Ok(axum::Json(out).into_response())
    }

    /// One provider page: the selected records, and where the next page is.
    async fn fetch_page(&self, state: Option<&PageState>, scope: &Value) -> Result<Page, ApiError> {
        let resource = &self.mapping.resource;
        let pagination = &resource.pagination;
        let limit = self.req.query.limit;
        let mut outgoing = Outgoing::default();
        // `dynamic`: the values this page is asked with (the expression sees them next).
        let mut values = Value::Null;
        let mut first_position: Option<u64> = None;
        if let Some(PageState::Url(u)) = state {
            outgoing.url =
                Some(url::Url::parse(u).map_err(|_| ApiError::bad_request("`next_cursor` holds an invalid URL."))?);
        } else {
            let mut pairs = self.base_query(scope)?;
            if let (Some(limit), Some(param)) = (limit, pagination.limit_param()) {
                set_pair(&mut pairs, param.to_string(), limit.to_string());
            }
            // The position parameter of a page after the first: set again after
            // `remote_query`, which may choose where the first page starts but must not pin
            // every later page to that start (the same page forever).
            let mut position: Option<(String, String)> = None;
            match (pagination, state) {
                (Pagination::Page { page_param, .. }, Some(PageState::Page(n))) => {
                    position = Some((page_param.clone(), n.to_string()))
                }
                (Pagination::Page { page_param, start, .. }, None) => {
                    set_pair(&mut pairs, page_param.clone(), start.to_string())
                }
                (Pagination::Offset { offset_param, .. }, Some(PageState::Offset(n))) => {
                    position = Some((offset_param.clone(), n.to_string()))
                }
                (Pagination::Cursor { cursor_param, .. }, Some(PageState::Cursor(c))) => {
                    position = Some((cursor_param.clone(), c.clone()))
                }
                (Pagination::Range { unit, page_size }, Some(PageState::Range(_)) | None) => {
                    let start = match state {
                        Some(PageState::Range(n)) => *n,
                        _ => 0,
                    };
                    let size = limit.map(u64::from).unwrap_or(*page_size);
                    outgoing
                        .headers
                        .push((header::RANGE, crate::upstream::range::request_header(unit, start, size)));
                }
                (Pagination::Dynamic { initial, .. }, None) => {
                    values = self.initial_pagination_values(initial.as_ref())?;
                    add_values(&mut pairs, &values);
                }
                (Pagination::Dynamic { .. }, Some(PageState::Dynamic(v))) => {
                    values = v.clone();
                    add_values(&mut pairs, &values);
                }
                (_, None) => {}
                _ => {
                    return Err(ApiError::bad_request(
                        "`next_cursor` does not fit this resource's pagination.",
                    ))
                }
            }
            self.add_remote_query(&mut pairs);
            if let Some((param, value)) = position {
                set_pair(&mut pairs, param, value);
            }
            // Where the first page started: the given start, or `remote_query`'s own.
            first_position = match pagination {
                Pagination::Page { page_param: p, .. } | Pagination::Offset { offset_param: p, .. } => pairs
                    .iter()
                    .rev()
                    .find(|(k, _)| k == p)
                    .and_then(|(_, v)| v.parse::<u64>().ok()),
                _ => None,
            };
            outgoing.query = pairs;
        }
        // A page size in a header goes on every page, the followed next URLs included.
        if let (Some(limit), Some((name, value))) = (limit, pagination.limit_header()) {
            let rendered = value
                .render(&json!({ "limit": limit }), crate::mapping::template::Encoding::Raw)
                .map_err(|e| mapping_error_msg(&e.to_string()))?;
            outgoing.headers.push((name.clone(), rendered));
        }
        let mut reply = match self.exchange(resource, &json!({}), outgoing).await? {
            Ok(reply) => reply,
            // Asking past the end of a list of unknown length: the list is over.
            Err(e) if matches!(pagination, Pagination::Range { .. }) && e.status() == Some(416) => {
                let url = self.state.upstream.base_url(&self.integration, &self.context())?;
                let reply = Reply {
                    status: 416,
                    headers: http::HeaderMap::new(),
                    body: bytes::Bytes::new(),
                    json: Value::Null,
                    url,
                    ratelimit: Vec::new(),
                    memory: None,
                };
                return Ok(Page {
                    reply,
                    records: Vec::new(),
                    spans: None,
                    next: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
        // No body at all on a 200 is a broken answer, not an empty page: reading it as one
        // would end a sync early and silently. (`204 No Content` does say "nothing".)
        if reply.status != 204 && crate::upstream::is_blank(&reply.body) {
            return Err(self.empty_answer(&reply, "a page of records"));
        }
        // When the whole answer is the page (no `response_path`), its records are taken out
        // of it once the pagination expressions below have read it, rather than copied.
        let selected = match resource.response_path {
            Some(_) => Some(self.select(resource, &reply)?),
            None => None,
        };
        let count = match selected.as_ref().unwrap_or(&reply.json) {
            Value::Array(items) => items.len(),
            Value::Null => 0,
            _ => 1,
        };
        // The expressions below read the page in place: copying it into an input object
        // (`json!`) cost a deep copy of every page, once or twice.
        let more = |has_more: &Option<crate::mapping::Expr>| -> Result<bool, ApiError> {
            match has_more {
                Some(expr) => {
                    let (headers, count) = (headers_json(&reply.headers), Value::from(count));
                    let input = [("response", &reply.json), ("headers", &headers), ("records", &count)];
                    Ok(matches!(
                        expr.eval_fields(input).map_err(mapping_error)?,
                        Some(Value::Bool(true))
                    ))
                }
                None => Ok(match limit {
                    Some(l) => count as u64 >= l as u64,
                    None => count > 0,
                }),
            }
        };
        let next = match pagination {
            Pagination::None => None,
            Pagination::LinkHeader { .. } => reply
                .headers
                .get_all(header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(crate::upstream::link::next_url)
                .map(|u| {
                    reply
                        .url
                        .join(&u)
                        .map(|u| PageState::Url(u.to_string()))
                        .unwrap_or(PageState::Url(u))
                }),
            Pagination::Page { start, has_more, .. } => {
                let current = match state {
                    Some(PageState::Page(n)) => *n,
                    _ => first_position.unwrap_or(*start),
                };
                more(has_more)?.then_some(PageState::Page(current + 1))
            }
            Pagination::Offset { has_more, .. } => {
                let current = match state {
                    Some(PageState::Offset(n)) => *n,
                    _ => first_position.unwrap_or(0),
                };
                (more(has_more)? && count > 0).then_some(PageState::Offset(current + count as u64))
            }
            Pagination::NextUrl { next_url, .. } => {
                let headers = headers_json(&reply.headers);
                let input = [("response", &reply.json), ("headers", &headers)];
                match next_url.eval_fields(input).map_err(mapping_error)? {
                    Some(Value::String(u)) if !u.is_empty() => {
                        Some(PageState::Url(reply.url.join(&u).map(|u| u.to_string()).unwrap_or(u)))
                    }
                    _ => None,
                }
            }
            Pagination::Cursor { next_cursor, .. } => {
                let headers = headers_json(&reply.headers);
                let input = [("response", &reply.json), ("headers", &headers)];
                match next_cursor.eval_fields(input).map_err(mapping_error)? {
                    Some(Value::String(s)) if !s.is_empty() => Some(PageState::Cursor(s)),
                    Some(Value::Number(n)) => Some(PageState::Cursor(n.to_string())),
                    _ => None,
                }
            }
            Pagination::Range { unit, page_size } => {
                let size = limit.map(u64::from).unwrap_or(*page_size);
                let sent = reply
                    .headers
                    .get(header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(crate::upstream::range::parse_content_range)
                    .filter(|c| c.unit.eq_ignore_ascii_case(unit));
                match sent {
                    // A known length: go on until its last position.
                    Some(crate::upstream::range::ContentRange {
                        range: Some((_, last)),
                        total: Some(total),
                        ..
                    }) => (last + 1 < total).then_some(PageState::Range(last + 1)),
                    // An unknown length: a full range may have a successor.
                    Some(crate::upstream::range::ContentRange {
                        range: Some((first, last)),
                        total: None,
                        ..
                    }) => (last - first + 1 >= size).then_some(PageState::Range(last + 1)),
                    // Nothing in range, or no `Content-Range` at all: the provider sent
                    // the whole list (or ignores ranges), so there is no next page.
                    _ => None,
                }
            }
            Pagination::Dynamic { next, .. } => {
                let (query, limit) = (Value::Object(self.req.query.rest.clone()), Value::from(limit));
                let (count, url) = (Value::from(count), Value::from(reply.url.as_str()));
                let headers = headers_json(&reply.headers);
                let input = [
                    ("response", &reply.json),
                    ("body", &reply.json),
                    ("headers", &headers),
                    ("query", &query),
                    ("limit", &limit),
                    ("records", &count),
                    ("url", &url),
                    ("paginationValues", &values),
                ];
                match next.eval_fields(input).map_err(mapping_error)? {
                    None | Some(Value::Null) | Some(Value::Bool(false)) => None,
                    Some(Value::Object(m)) if m.is_empty() => None,
                    Some(v @ Value::Object(_)) => Some(PageState::Dynamic(v)),
                    Some(Value::String(u)) if u.is_empty() => None,
                    Some(Value::String(u)) => Some(PageState::Url(
                        reply.url.join(&u).map(|u| u.to_string()).unwrap_or(u),
                    )),
                    Some(_) => {
                        return Err(mapping_error_msg(
                            "get_pagination_values_expression must give an object of query parameters, a URL string, or null",
                        ))
                    }
                }
            }
        };
        // A provider may put the credential in its next-page URL (Graph's `paging.next`
        // carries `access_token`): it must never reach the client inside a cursor. Unigate
        // applies the account's authorization to every page anyway.
        let auth_param = match &self.integration.authorization {
            crate::catalog::registry::Authorization::Query { name, .. } => Some(name.as_str()),
            _ => None,
        };
        let next = next.map(|n| match n {
            PageState::Url(u) => PageState::Url(scrub_url(&u, &self.context(), auth_param)),
            other => other,
        });
        if next.is_some() && next.as_ref() == state {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "{} returned the same page position twice; stopping instead of looping.",
                    self.integration.name()
                ),
            ));
        }
        let records = match selected.unwrap_or_else(|| std::mem::take(&mut reply.json)) {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let spans = self.record_spans(resource, &reply.body, &records);
        Ok(Page {
            reply,
            records,
            spans,
            next,
        })
    }

    /// `dynamic` pagination's first values: an object of query parameters, or nothing.
    fn initial_pagination_values(&self, expr: Option<&crate::mapping::Expr>) -> Result<Value, ApiError> {
        let Some(expr) = expr else {
            return Ok(Value::Null);
        };
        let input = json!({ "query": Value::Object(self.req.query.rest.clone()), "limit": self.req.query.limit });
        match expr.eval(&input).map_err(mapping_error)? {
            None | Some(Value::Null) => Ok(Value::Null),
            Some(v @ Value::Object(_)) => Ok(v),
            Some(_) => Err(mapping_error_msg(
                "get_initial_pagination_values_expression must give an object of query parameters",
            )),
        }
    }

    async fn list(self) -> Result<Response, ApiError> {
        let keyring = &self.state.keyring;
        let account_id = self.account.record.id.clone();
        let state = match &self.req.query.next_cursor {
            Some(c) => Some(cursor::decode(keyring, &account_id, c)?),
            None => None,
        };
        let scope = self.scope(&json!({}));
        if self.req.query.format == ResponseFormat::Stream {
            // The first page is read before the answer starts: its failure (a 429 with its
            // `Retry-After`, a 401, a 502) is the answer's status, not a line under a 200.
            let first = self.fetch_page(state.as_ref(), &scope).await?;
            return Ok(self.stream_list(first, state, scope));
        }
        let Page {
            reply,
            records,
            spans,
            next,
        } = self.fetch_page(state.as_ref(), &scope).await?;
        let next_cursor = next.map(|n| cursor::encode(keyring, &account_id, &n));
        let response = match spans {
            Some(spans) => {
                let mut out = Vec::with_capacity(reply.body.len() + records.len() * 128 + 64);
                out.extend_from_slice(b"{\"result\":[");
                for (i, (record, span)) in records.into_iter().zip(spans).enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write_record(&mut out, record, &reply.body[span], &scope)?;
                }
                out.extend_from_slice(b"],\"next_cursor\":");
                serde_json::to_writer(&mut out, &next_cursor).map_err(ApiError::internal)?;
                out.push(b'}');
                let mut response = Response::new(Body::from(out));
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
            None => {
                let result: Vec<Value> = if self.req.query.format == ResponseFormat::Raw {
                    records
                } else {
                    // Each record moves into its `remote_data` rather than being copied there.
                    records
                        .into_iter()
                        .map(|r| self.shape(r, &scope))
                        .collect::<Result<_, _>>()?
                };
                // Built in place: `json!` would copy every record once more.
                let mut page = Map::with_capacity(2);
                page.insert("result".into(), Value::Array(result));
                page.insert("next_cursor".into(), next_cursor.map_or(Value::Null, Value::String));
                axum::Json(Value::Object(page)).into_response()
            }
        };
        let mut response = with_ratelimit(response, &reply);
        if self.req.query.limit.is_some() && !self.mapping.resource.pagination.honours_limit() {
            // The provider has no page size: its pages are as long as it makes them. Say so
            // rather than let a longer page than asked for pass as honoured.
            response
                .headers_mut()
                .insert("x-unigate-limit", HeaderValue::from_static("ignored"));
        }
        Ok(response)
    }

    /// `stream` for a list: every page in turn (`first` already read, from `state`), one
    /// unified record per NDJSON line. Only one page is held in memory at a time; a failure
    /// after the first page ends the stream with an `{"error": ...}` line.
    fn stream_list(self, first: Page, state: Option<PageState>, scope: Value) -> Response {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
        let max_pages = self.state.upstream.config().max_stream_pages;
        tokio::spawn(async move {
            let mut first = Some(first);
            let mut state = state;
            let mut pages = 0u64;
            // Every page this stream has read, hashed: a provider that leads back to an
            // earlier page (A, B, A) is stopped before that page is sent again, not only one
            // that repeats the last position.
            let mut seen = std::collections::HashSet::new();
            loop {
                pages += 1;
                let page = match first.take() {
                    Some(page) => Ok(page),
                    None => self.fetch_page(state.as_ref(), &scope).await,
                };
                let (reply, records, spans, next) = match page {
                    Ok(Page {
                        reply,
                        records,
                        spans,
                        next,
                    }) => {
                        // Where this page was read from: its URL (query included), or for
                        // `range` pagination, whose URL never changes, the range.
                        let position = match &state {
                            Some(PageState::Range(n)) => format!("range {n}"),
                            _ => reply.url.to_string(),
                        };
                        if !seen.insert(position_hash(&position)) {
                            let e = ApiError::new(
                                StatusCode::BAD_GATEWAY,
                                format!(
                                    "{} led back to a page already read; stopping instead of looping.",
                                    self.integration.name()
                                ),
                            );
                            let _ = tx.send(Ok(error_line(&e))).await;
                            return;
                        }
                        (reply, records, spans, next)
                    }
                    Err(e) => {
                        let _ = tx.send(Ok(error_line(&e))).await;
                        return;
                    }
                };
                let mut buf = Vec::with_capacity(records.len() * 256);
                for (i, r) in records.into_iter().enumerate() {
                    let start = buf.len();
                    let written = match spans.as_ref().and_then(|s| s.get(i)) {
                        Some(span) => {
                            let raw = &reply.body[span.clone()];
                            self.write_record(&mut buf, r, raw, &scope).map(|()| {
                                // A record's own line breaks (a pretty-printed answer) would
                                // split its line. Outside strings they are only spacing, and
                                // JSON strings cannot hold them unescaped.
                                if memchr::memchr2(b'\n', b'\r', raw).is_some() {
                                    let line = buf.split_off(start);
                                    buf.extend(line.into_iter().filter(|b| !matches!(b, b'\n' | b'\r')));
                                }
                            })
                        }
                        None => self
                            .shape(r, &scope)
                            .and_then(|v| serde_json::to_writer(&mut buf, &v).map_err(ApiError::internal)),
                    };
                    match written {
                        Ok(()) => buf.push(b'\n'),
                        Err(e) => {
                            buf.truncate(start);
                            let _ = tx.send(Ok(bytes::Bytes::from(buf))).await;
                            let _ = tx.send(Ok(error_line(&e))).await;
                            return;
                        }
                    }
                }
                if tx.send(Ok(bytes::Bytes::from(buf))).await.is_err() {
                    return; // the client went away
                }
                match next {
                    Some(n) if pages < max_pages => state = Some(n),
                    Some(_) => {
                        let e = ApiError::new(
                            StatusCode::BAD_GATEWAY,
                            format!("stopped after {max_pages} pages (upstream.max_stream_pages)"),
                        );
                        let _ = tx.send(Ok(error_line(&e))).await;
                        return;
                    }
                    None => return,
                }
            }
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        let mut response = Response::new(Body::from_stream(stream));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
        response
    }
}

/// One page of a list, as read from the provider.
struct Page {
    reply: Reply,
    /// The page's records, parsed.
    records: Vec<Value>,
    /// Where each record is in `reply.body`, when they go out with their own bytes
    /// ([`Call::record_spans`]).
    spans: Option<Vec<Range<usize>>>,
    /// Where the next page is, if there is one.
    next: Option<PageState>,
}

/// Whether a mapped record can have the provider's bytes appended as its `remote_data`: an
/// object, with no `remote_data` the mapping wrote itself.
fn takes_raw_remote(mapped: &Value) -> bool {
    mapped.is_object() && mapped.get("remote_data").is_none()
}

/// Whether a `truto_exclude_fields` path reaches into `remote_data`.
fn touches_remote_data(path: &str) -> bool {
    path.split('.').find(|s| !s.is_empty()) == Some("remote_data")
}

/// A page position's fingerprint, for spotting a provider that leads back to it.
fn position_hash(position: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    position.hash(&mut h);
    h.finish()
}

/// Passes the provider's rate-limit state on as normalized `ratelimit-*` headers.
fn with_ratelimit(mut response: Response, reply: &Reply) -> Response {
    for (name, value) in &reply.ratelimit {
        if let Ok(v) = HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, v);
        }
    }
    response
}

/// "an array", "a string"...: what a JSON value is, for error messages.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn error_line(e: &ApiError) -> bytes::Bytes {
    let mut line = json!({ "error": { "statusCode": e.status.as_u16(), "message": e.message } }).to_string();
    line.push('\n');
    bytes::Bytes::from(line)
}

fn raw_response(reply: &Reply) -> Response {
    let mut out = Response::new(Body::from(reply.body.clone()));
    *out.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    out.extensions_mut().insert(crate::error::ProviderBody);
    let ct = reply
        .headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/json"));
    out.headers_mut().insert(header::CONTENT_TYPE, ct);
    out
}

/// A mapping that fails on a provider answer: the answer was not what the definition
/// expects, so this is a bad gateway, with the expression's error to debug it.
fn mapping_error(e: crate::mapping::EvalError) -> ApiError {
    tracing::warn!(error = %e, "mapping failed");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        format!("Mapping the provider's answer failed: {e}"),
    )
}

fn mapping_error_msg(msg: &str) -> ApiError {
    tracing::warn!(error = msg, "mapping failed");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        format!("Mapping the provider's answer failed: {msg}"),
    )
}

/// Query parameter names that carry credentials in providers' own next-page URLs.
const CREDENTIAL_PARAMS: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "appsecret_proof",
    "auth_token",
    "client_secret",
    "password",
    "token",
];

/// `url` without query parameters that carry a credential: known credential names, the
/// integration's query-auth parameter, and any value equal to one of the account's secret
/// context values.
fn scrub_url(url: &str, context: &Value, auth_param: Option<&str>) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_string();
    };
    if parsed.query().is_none() {
        return url.to_string();
    }
    let secrets: Vec<&str> = context
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| crate::accounts::looks_secret(k))
                .filter_map(|(_, v)| v.as_str())
                .filter(|s| s.len() >= 8)
                .collect()
        })
        .unwrap_or_default();
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let kept: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, v)| {
            let name = k.to_ascii_lowercase();
            !CREDENTIAL_PARAMS.contains(&name.as_str())
                && auth_param != Some(k.as_str())
                && !secrets.contains(&v.as_str())
        })
        .collect();
    if kept.len() == pairs.len() {
        return url.to_string();
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    parsed.to_string()
}

#[cfg(test)]
mod scrub_tests {
    use super::*;

    #[test]
    fn credentials_are_removed_from_next_urls_and_the_rest_is_kept() {
        let context = json!({"access_token": "EAAB-very-secret-token", "region": "eu"});
        assert_eq!(
            scrub_url(
                "https://graph.facebook.com/v19.0/me/businesses?access_token=EAAB-very-secret-token&limit=25&after=QVFI",
                &context,
                None
            ),
            "https://graph.facebook.com/v19.0/me/businesses?limit=25&after=QVFI"
        );
        // A secret value under any name, and the integration's own query-auth parameter.
        assert_eq!(
            scrub_url(
                "https://x.test/a?k=EAAB-very-secret-token&key=abc&page=2",
                &context,
                Some("key")
            ),
            "https://x.test/a?page=2"
        );
        assert_eq!(
            scrub_url("https://x.test/a?token=t", &context, None),
            "https://x.test/a"
        );
        // Nothing to remove: the URL is untouched (page tokens are not credentials).
        let plain = "https://x.test/a?pageToken=abc&cursor=def";
        assert_eq!(scrub_url(plain, &context, None), plain);
    }
}

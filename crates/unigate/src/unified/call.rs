//! [`Call`]: everything resolved for one call, and the steps every method flow shares:
//! what mappings see (scopes), the provider query from the query mapping and
//! `remote_query`, side loads (`before`), picking the record out of an answer, and one
//! provider exchange, with a token refresh and a second try after a 401.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};
use tracing::Instrument as _;

use super::failure::{definition_fault, reply_mapping_error, request_mapping_error};
use super::filter::Filters;
use super::request::UnifiedRequest;
use crate::accounts::Account;
use crate::catalog::types::UnifiedMethod;
use crate::catalog::{Integration, Resource, UnifiedMapping};
use crate::error::ApiError;
use crate::mapping::headers_json;
use crate::query_pairs::{flatten_pairs, set_pair};
use crate::state::AppState;
use crate::upstream::{Outgoing, Reply, UpstreamError, UpstreamRequest};

/// What mappings see: the object `{id, query, rawQuery, body, context, before}`, read in
/// place by [`crate::mapping::Expr::eval_fields`], never built. Built as one object, with a
/// copy of the account's public context in it, it cost about 4,000 instructions a `get`
/// (bench/ANALYSIS.md, twenty-first pass); the context is now shared.
pub(super) struct Scope {
    id: Value,
    query: Arc<Value>,
    raw_query: Value,
    body: Value,
    context: Arc<Value>,
    before: Value,
}

impl Scope {
    /// The scope's fields, as [`crate::mapping::Expr::eval_fields`] reads them.
    pub(super) fn fields(&self) -> [(&str, &Value); 6] {
        [
            ("id", &self.id),
            ("query", &self.query),
            ("rawQuery", &self.raw_query),
            ("body", &self.body),
            ("context", &self.context),
            ("before", &self.before),
        ]
    }
}

/// Everything resolved for one call.
pub(super) struct Call {
    pub(super) state: AppState,
    pub(super) integration: Arc<Integration>,
    pub(super) mapping: Arc<UnifiedMapping>,
    /// The raw resource this call uses: the mapping's, or the one its `resource_when`
    /// picks for a parameter given.
    pub(super) resource: Arc<Resource>,
    pub(super) account: Account,
    pub(super) req: UnifiedRequest,
    /// The unified body without `remote_data`.
    pub(super) body: Value,
    pub(super) remote_data: Option<Value>,
    pub(super) public_context: Arc<Value>,
    /// The query's parameters that are not Unigate's own (`req.query.rest`), as the object
    /// mappings and templates see as `query`: built once for the call.
    query: Arc<Value>,
    /// The list filters given (empty for any other method).
    pub(super) filters: Filters,
    /// The account's full context; replaced when a provider 401 leads to a token refresh.
    context: Mutex<Arc<Value>>,
    /// Whether this call already refreshed after a 401 (at most once per call).
    refreshed_after_401: AtomicBool,
}

impl Call {
    pub(super) fn new(
        state: &AppState,
        integration: Arc<Integration>,
        mapping: Arc<UnifiedMapping>,
        account: Account,
        mut req: UnifiedRequest,
    ) -> Result<Call, ApiError> {
        let registry = state.registry();
        let model_resource = (req.method == UnifiedMethod::List)
            .then(|| registry.model(&req.category)?.resource(&req.resource))
            .flatten();
        let filters = Filters::read(&integration, &mapping, model_resource, req.method, &req.query.rest)?;
        let (body, remote_data) = split_body(req.method, req.body.take())?;
        let resource = mapping
            .resource_when
            .iter()
            .find(|(param, _)| {
                req.query
                    .rest
                    .get(param)
                    .and_then(Value::as_str)
                    .is_some_and(|v| !v.trim().is_empty())
            })
            .map_or_else(|| mapping.resource.clone(), |(_, r)| r.clone());
        let public_context = account.public_context.clone();
        let context = Mutex::new(account.context.clone());
        let query = Arc::new(Value::Object(req.query.rest.clone()));
        Ok(Call {
            state: state.clone(),
            integration,
            mapping,
            resource,
            account,
            req,
            body,
            remote_data,
            public_context,
            query,
            filters,
            context,
            refreshed_after_401: AtomicBool::new(false),
        })
    }

    pub(super) fn id(&self) -> Value {
        self.req.id.clone().map(Value::String).unwrap_or(Value::Null)
    }

    /// Runs the call's method. The call is boxed once, so that the futures it passes
    /// through move a pointer instead of the whole call (a kilobyte and a half).
    pub(super) async fn run(self: Box<Self>) -> Result<Response, ApiError> {
        match self.req.method {
            // Each method's state machine is kilobytes; boxed, the caller's future stays small
            // (moving big futures by value was ~10 % of a call's instructions, all `memcpy`).
            UnifiedMethod::List => Box::pin(self.list()).await,
            UnifiedMethod::Get => Box::pin(self.get()).await,
            UnifiedMethod::Create | UnifiedMethod::Update => Box::pin(self.write()).await,
            UnifiedMethod::Delete => Box::pin(self.delete()).await,
        }
    }

    /// What mappings see, with `before`, the side loads' results.
    pub(super) fn scope(&self, before: &Value) -> Scope {
        Scope {
            id: self.id(),
            query: Arc::clone(&self.query),
            raw_query: Value::String(self.req.query.raw.clone()),
            body: self.body.clone(),
            context: Arc::clone(&self.public_context),
            before: before.clone(),
        }
    }

    pub(super) fn context(&self) -> Arc<Value> {
        self.context.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// One provider call. A 401 on an OAuth account that can get a new token refreshes it
    /// (once per call; one refresh per account across instances) and tries again.
    pub(super) async fn exchange(
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
                if e.status() == Some(401) && !self.refreshed_after_401.swap(true, Ordering::SeqCst) =>
            {
                let used = crate::accounts::oauth::access_token(&context);
                let fresh = Box::pin(self.state.oauth.refresh(
                    &self.integration,
                    &self.account.record,
                    used.as_deref().or(Some("")),
                    false,
                ))
                .instrument(tracing::info_span!(
                    target: "unigate_otel",
                    "oauth.refresh",
                    unigate.integration = self.integration.name(),
                    unigate.reason = "provider_401"
                ))
                .await?;
                *self.context.lock().unwrap_or_else(PoisonError::into_inner) = fresh.context;
                let req = self.request(resource, before, outgoing)?;
                Ok(Box::pin(self.state.upstream.call(&self.integration, req)).await)
            }
            (other, _) => Ok(other),
        }
    }

    /// The provider request for `resource`, spending the account's request budget.
    pub(super) fn request(
        &self,
        resource: &Resource,
        before: &Value,
        outgoing: Outgoing,
    ) -> Result<UpstreamRequest, ApiError> {
        let _span = tracing::info_span!(target: "unigate_otel", "mapping.request").entered();
        // What path templates see: the full context, since some providers put account
        // values in the path, the query's parameters (an integration's own, such as the
        // organization whose members are listed: `/orgs/{{query.organization_id}}/members`)
        // and the unified body (a custom method's ids: `/groups/{{body.group_id}}/users`).
        // Borrowed, not copied into an object.
        let id = self.id();
        let context = self.context();
        let scope: [(&str, &Value); 5] = [
            ("id", &id),
            ("query", &self.query),
            ("body", &self.body),
            ("context", &context),
            ("before", before),
        ];
        Ok(self
            .state
            .upstream
            .request(&self.integration, resource, &context, &scope, outgoing)?
            .for_account(&self.account.record.id))
    }

    /// The provider query of the query mapping (before pagination and `remote_query`).
    pub(super) fn base_query(&self, scope: &Scope) -> Result<Vec<(String, String)>, ApiError> {
        let mut pairs = Vec::new();
        if let Some(expr) = &self.mapping.query_mapping {
            let value = expr
                .eval_fields(scope.fields())
                .map_err(|e| request_mapping_error(&self.integration, "query_mapping", expr, e))?;
            match value {
                Some(Value::Object(m)) => {
                    for (k, v) in flatten_pairs(&m) {
                        set_pair(&mut pairs, k, v);
                    }
                }
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(definition_fault(
                        &self.integration,
                        "query_mapping",
                        "must give an object of query parameters",
                    ))
                }
            }
        }
        Ok(pairs)
    }

    /// The query mapping's pairs, then `remote_query` (which wins): the query of every
    /// request but a list's pages (whose pagination goes between the two).
    pub(super) fn provider_query(&self, scope: &Scope) -> Result<Vec<(String, String)>, ApiError> {
        let mut pairs = self.base_query(scope)?;
        for (k, v) in &self.req.query.remote_pairs {
            set_pair(&mut pairs, k.clone(), v.clone());
        }
        Ok(pairs)
    }

    /// The record(s) inside a provider answer.
    pub(super) fn select(&self, resource: &Resource, reply: &Reply) -> Result<Value, ApiError> {
        match &resource.response_path {
            None => Ok(reply.json.clone()),
            Some(expr) => {
                let (headers, id) = (headers_json(&reply.headers), self.id());
                let input = [("response", &reply.json), ("headers", &headers), ("id", &id)];
                Ok(expr
                    .eval_fields(input)
                    .map_err(reply_mapping_error)?
                    .unwrap_or(Value::Null))
            }
        }
    }

    /// The record of an answer: what `response_path` picks out of it, or without one the
    /// whole answer, taken out of `reply` rather than copied (it becomes `remote_data`).
    pub(super) fn take_record(&self, resource: &Resource, reply: &mut Reply) -> Result<Value, ApiError> {
        match resource.response_path {
            None => Ok(std::mem::take(&mut reply.json)),
            Some(_) => self.select(resource, reply),
        }
    }

    /// The side loads' results (`before` steps), each by name: `{}` at once when the
    /// mapping has none. Their future is boxed: it holds a provider exchange, kilobytes
    /// that every call's future would otherwise carry and copy as it is moved.
    pub(super) async fn before(&self) -> Result<Value, ApiError> {
        if self.mapping.before.is_empty() {
            return Ok(Value::Object(Map::new()));
        }
        Box::pin(self.run_before()).await
    }

    /// The side loads (`before` steps) of the mapping, each by name; an optional one that
    /// fails is left out.
    async fn run_before(&self) -> Result<Value, ApiError> {
        let mut before = Map::new();
        for (name, resource, optional) in &self.mapping.before {
            let so_far = Value::Object(before.clone());
            match self.exchange(resource, &so_far, Outgoing::default()).await? {
                Ok(reply) => {
                    let record = self.select(resource, &reply)?;
                    // A side load the call needs whose `response_path` picked nothing (a
                    // membership found by a query): the record it stands for is not there.
                    if record.is_null() && !*optional && resource.response_path.is_some() {
                        return Err(ApiError::not_found(format!(
                            "{} has no record for this call's `{name}` step ({} found nothing).",
                            self.integration.name(),
                            resource.key
                        )));
                    }
                    before.insert(name.clone(), record);
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
    pub(super) fn empty_answer(&self, reply: &Reply, expected: &str) -> ApiError {
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
    pub(super) fn record_not_found(&self) -> ApiError {
        ApiError::not_found(format!(
            "{} has no {} with id `{}`.",
            self.integration.name(),
            self.req.resource,
            self.req.id.as_deref().unwrap_or_default()
        ))
    }

    /// A provider answer where a record was expected that is not an object: a 502 that
    /// shows it.
    pub(super) fn not_a_record(&self, answer: Value) -> ApiError {
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
}

/// The unified body of a write without its `remote_data`, and that `remote_data`.
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

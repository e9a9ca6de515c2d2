//! A unified or Proxy API request after routing, as the pipeline takes it.

use serde_json::Value;

use super::query::UnifiedQuery;
use crate::catalog::types::UnifiedMethod;

/// A unified request after routing.
#[derive(Debug)]
pub struct UnifiedRequest {
    pub category: String,
    pub resource: String,
    /// A custom method runs as `Create` (a POST with a body), with its name in `custom`.
    pub method: UnifiedMethod,
    /// The custom method's name (`add-user`), for `POST /unified/{model}/{resource}/{name}`.
    pub custom: Option<String>,
    pub id: Option<String>,
    pub query: UnifiedQuery,
    pub body: Option<Value>,
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

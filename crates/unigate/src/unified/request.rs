//! A unified or Proxy API request after routing, as the pipeline takes it.

use serde_json::Value;

use super::query::UnifiedQuery;
use crate::catalog::types::UnifiedMethod;

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

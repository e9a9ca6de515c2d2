//! The one error type at the HTTP edge.
//!
//! Every failure leaves Unigate as `{statusCode, error, message, details?}` (Truto's
//! shape); failures that came from the provider add `truto_is_remote_error: true` and the
//! provider's `raw_response`. Client errors explain themselves; internal errors are logged
//! with their whole cause chain and answered with an opaque message.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Boxed, so that `Result<T, ApiError>` stays one pointer wide on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<ApiErrorKind>);

/// Marks a response whose status and body are the provider's, passed on untouched (`raw`,
/// `stream`): never rewritten into an error shape of Unigate's.
#[derive(Debug, Clone, Copy)]
pub struct ProviderBody;

#[derive(Debug)]
pub struct ApiErrorKind {
    pub status: StatusCode,
    pub message: String,
    pub details: Option<Value>,
    /// The provider's body, when the provider failed.
    pub raw_response: Option<Value>,
    pub remote: bool,
    pub retry_after: Option<String>,
    /// Logged, never sent.
    pub source: Option<anyhow::Error>,
}

impl std::ops::Deref for ApiError {
    type Target = ApiErrorKind;
    fn deref(&self) -> &ApiErrorKind {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ApiErrorKind {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError(Box::new(ApiErrorKind {
            status,
            message: message.into(),
            details: None,
            raw_response: None,
            remote: false,
            retry_after: None,
            source: None,
        }))
    }

    /// Marks the error as the provider's, carrying its body.
    pub fn remote(mut self, raw_response: Value) -> Self {
        self.remote = true;
        self.raw_response = Some(raw_response);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error. The cause has been logged.",
        );
        e.source = Some(source.into());
        e
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

/// The message of an error answer, left on the response for the request log.
#[derive(Debug, Clone)]
pub struct ErrorSummary(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = *self.0;
        if let Some(source) = &this.source {
            tracing::error!(error = ?source, status = this.status.as_u16(), "request failed");
        } else if this.status.is_server_error() {
            tracing::warn!(status = this.status.as_u16(), message = %this.message, "request failed");
        }
        let mut body = json!({
            "statusCode": this.status.as_u16(),
            "error": this.status.canonical_reason().unwrap_or("Error"),
            "message": this.message,
        });
        if let Some(details) = this.details {
            body["details"] = details;
        }
        if this.remote {
            body["truto_is_remote_error"] = Value::Bool(true);
            body["raw_response"] = this.raw_response.unwrap_or(Value::Null);
        }
        let mut response = (this.status, axum::Json(body)).into_response();
        response.extensions_mut().insert(ErrorSummary(this.message));
        if let Some(ra) = this.retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, ra);
        }
        response
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(ref source) => {
                tracing::error!(error = %source, "database unavailable");
                let mut err = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database is unavailable; retry shortly.",
                );
                err.retry_after = Some("1".into());
                err
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::upstream::UpstreamError> for ApiError {
    fn from(e: crate::upstream::UpstreamError) -> Self {
        use crate::upstream::UpstreamError as U;
        let message = e.to_string();
        match e {
            U::Timeout { .. } => ApiError::new(StatusCode::GATEWAY_TIMEOUT, format!("{message}.")),
            U::Connect { ref source, .. } | U::Body { ref source, .. } => {
                tracing::warn!(error = %source, "provider connection failed");
                ApiError::new(StatusCode::BAD_GATEWAY, format!("{message}."))
            }
            U::Certificate { .. } => {
                tracing::warn!(error = %message, "provider certificate refused");
                ApiError::new(StatusCode::BAD_GATEWAY, format!("{message}."))
            }
            U::TooLarge { .. } => ApiError::new(StatusCode::BAD_GATEWAY, format!("{message}.")),
            U::MemoryFull { .. } => {
                tracing::warn!(error = %message, "provider answers in memory reached upstream.max_buffered_bytes");
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{message}; retry shortly (`upstream.max_buffered_bytes`)."),
                );
                e.retry_after = Some("1".into());
                e
            }
            U::InvalidJson { snippet, .. } => {
                ApiError::new(StatusCode::BAD_GATEWAY, format!("{message}.")).remote(Value::String(snippet))
            }
            U::Status {
                integration,
                status,
                message: provider_message,
                body,
                headers,
                rate_limited,
            } => {
                let ours = match status {
                    // A provider may say "rate limited" with another status (GitHub: 403).
                    _ if rate_limited.is_some() => 429,
                    400 | 401 | 403 | 404 | 405 | 409 | 410 | 412 | 413 | 415 | 422 | 429 => status,
                    // Unigate's outbound proxy, not the caller, is refused: a 407 passed on
                    // would ask the caller to authenticate to a proxy of its own.
                    407 => 502,
                    s if s >= 500 => 502,
                    _ => 400,
                };
                let text = match (status, provider_message) {
                    (401, m) => format!(
                        "{integration} rejected the account's credentials (401){}. The integrated account may need to be re-authorized.",
                        m.map(|m| format!(": {m}")).unwrap_or_default()
                    ),
                    (407, _) => format!(
                        "The outbound proxy refused the call to {integration} (407 Proxy Authentication Required). Check the credentials in `upstream.proxy`."
                    ),
                    (_, Some(m)) => format!("{integration} answered {status}: {m}"),
                    (_, None) => format!("{integration} answered {status}."),
                };
                let mut e =
                    ApiError::new(StatusCode::from_u16(ours).unwrap_or(StatusCode::BAD_GATEWAY), text).remote(*body);
                // The provider's own header only when it is one (seconds or an HTTP date):
                // `soon` or `-5` would mislead a client that obeys it.
                e.retry_after = rate_limited.flatten().map(|s| s.to_string()).or_else(|| {
                    headers
                        .get(http::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::trim)
                        .filter(|v| crate::upstream::is_retry_after(v))
                        .map(str::to_string)
                });
                e
            }
            U::Template { .. } => ApiError::bad_request(format!("{message}. Check the integrated account's context.")),
            U::InvalidHeader {
                account_config: true, ..
            } => ApiError::bad_request(format!("{message}. Check the integrated account's context.")),
            U::InvalidHeader { .. } => {
                tracing::error!(error = %message, "a catalog header is not a valid header value");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{message}."))
            }
            U::ForbiddenHost { .. } | U::BadUrl { .. } => ApiError::bad_request(format!("{message}.")),
            U::PrivateAddress { account_config, .. } => {
                tracing::warn!(error = %message, "refused a private address");
                let status = if account_config {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::BAD_GATEWAY
                };
                ApiError::new(status, format!("{message}."))
            }
            U::ForeignPage { .. } | U::Redirect { .. } => ApiError::new(StatusCode::BAD_GATEWAY, format!("{message}.")),
            U::BudgetExhausted { retry_after_ms, .. } => {
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("{message}; retry after the time in `Retry-After`."),
                );
                e.retry_after = Some(retry_after_ms.div_ceil(1000).max(1).to_string());
                e
            }
            U::Store { source, .. } => ApiError::from(source),
        }
    }
}

/// A pagination failure outside a unified call (the admin API's own cursors): a cursor the
/// client sent is a 400; anything else is Unigate's. Unified calls classify these with the
/// integration's name (`unified::failure`).
impl From<crate::pagination::PageError> for ApiError {
    fn from(e: crate::pagination::PageError) -> Self {
        if e.is_cursor() {
            ApiError::bad_request(e.to_string())
        } else {
            ApiError::internal(e)
        }
    }
}

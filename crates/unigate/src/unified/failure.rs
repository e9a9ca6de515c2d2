//! What a failed mapping means for the client. An expression that reads the provider's
//! answer (a response mapping, `response_path`, a pagination expression) fails because
//! the answer is not what the definition expects: a bad gateway (502). An expression that
//! builds the request (a query or body mapping, the first `dynamic` pagination values)
//! fails before any provider is called: when it reads the client's input (`query`,
//! `rawQuery`, `body`), that input made it fail (422); otherwise the integration's
//! definition is at fault (500). Both name the integration and the mapping.

use axum::http::StatusCode;
use serde_json::json;

use crate::catalog::Integration;
use crate::error::ApiError;
use crate::mapping::{EvalError, Expr};
use crate::pagination::PageError;

/// A reply-side mapping that failed on a provider answer (502).
pub(super) fn reply_mapping_error(e: EvalError) -> ApiError {
    tracing::warn!(error = %e, "mapping failed");
    reply_failure(&e.to_string())
}

/// A reply-side mapping that gave something other than what it must (502).
pub(super) fn reply_mapping_shape(message: &str) -> ApiError {
    tracing::warn!(error = message, "mapping failed");
    reply_failure(message)
}

fn reply_failure(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        format!("Mapping the provider's answer failed: {message}"),
    )
}

/// A request-side mapping, `key` of `integration`, that failed evaluating: 422 when it
/// reads the client's input, else 500.
pub(super) fn request_mapping_error(integration: &Integration, key: &str, expr: &Expr, e: EvalError) -> ApiError {
    let reads_input = ["query", "rawQuery", "body"]
        .iter()
        .any(|field| expr.reads_of(field).is_some());
    if reads_input {
        tracing::info!(integration = integration.name(), mapping = key, error = %e, "a request mapping failed on the client's input");
        ApiError::unprocessable(format!(
            "The integration `{}` could not build its request from this input: its {key} failed ({e}). Check the query parameters and body.",
            integration.name()
        ))
        .with_details(json!({ "integration": integration.name(), "mapping": key }))
    } else {
        definition_fault(integration, key, &e.to_string())
    }
}

/// A request-side mapping, `key` of `integration`, at fault whatever the input (it failed
/// without reading the client's input, or gave something other than what it must, `what`):
/// the definition's fault (500).
pub(super) fn definition_fault(integration: &Integration, key: &str, what: &str) -> ApiError {
    tracing::error!(
        integration = integration.name(),
        mapping = key,
        error = what,
        "a request mapping of the catalog failed"
    );
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!(
            "The integration `{}` could not build its request: its {key} failed ({what}). No provider was called; this is a fault in the integration's definition.",
            integration.name()
        ),
    )
    .with_details(json!({ "integration": integration.name(), "mapping": key }))
}

/// A list call's failure: a pagination error (classified as above) or any other.
pub(super) enum ListFailure {
    Page(PageError),
    Api(ApiError),
}

impl From<PageError> for ListFailure {
    fn from(e: PageError) -> Self {
        ListFailure::Page(e)
    }
}

impl From<ApiError> for ListFailure {
    fn from(e: ApiError) -> Self {
        ListFailure::Api(e)
    }
}

impl ListFailure {
    /// The answer for this failure on `integration`'s list.
    pub(super) fn into_api(self, integration: &Integration, initial: Option<&Expr>) -> ApiError {
        match self {
            ListFailure::Api(e) => e,
            ListFailure::Page(e) => page_error(integration, initial, e),
        }
    }
}

/// A pagination failure as the client's answer: a cursor the client sent (400), a reply
/// the format cannot read (502), or a request the format cannot build.
pub(super) fn page_error(integration: &Integration, initial: Option<&Expr>, e: PageError) -> ApiError {
    match e {
        e @ (PageError::ForeignCursor | PageError::CursorUrl | PageError::CursorMismatch) => {
            ApiError::bad_request(e.to_string())
        }
        PageError::ReplyExpression { source, .. } => reply_mapping_error(source),
        PageError::ReplyShape(message) => reply_mapping_shape(message),
        PageError::RequestExpression { key, source } => match initial {
            Some(expr) => request_mapping_error(integration, key, expr, source),
            None => definition_fault(integration, key, &source.to_string()),
        },
        PageError::RequestShape(message) => definition_fault(
            integration,
            "pagination.get_initial_pagination_values_expression",
            message,
        ),
        e @ PageError::LimitHeader(_) => definition_fault(integration, "pagination.limit_header", &e.to_string()),
    }
}

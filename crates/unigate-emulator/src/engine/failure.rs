//! Failures on their way to an answer: [`Failure`] (an error kind, the engine's own message,
//! field errors, the id or value concerned, Digest challenges) and [`FieldError`] (one
//! failed field check). `respond.rs` renders them with the provider's error templates.

use serde_json::Value;

use crate::spec::ErrorKind;

/// One failed field check.
#[derive(Debug, Clone)]
pub(super) struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
    pub value: Value,
}

impl FieldError {
    pub(super) fn new(field: &str, code: &'static str, message: String, value: Option<&Value>) -> Self {
        FieldError {
            field: field.to_owned(),
            code,
            message,
            value: value.cloned().unwrap_or(Value::Null),
        }
    }
}

/// An error on its way to the provider's error template.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) kind: ErrorKind,
    pub(super) detail: String,
    pub(super) errors: Vec<FieldError>,
    pub(super) id: Option<String>,
    pub(super) value: Option<String>,
    /// `WWW-Authenticate` values sent with the answer (HTTP Digest challenges). A boxed
    /// slice, not a `Vec`, to keep every `Result<_, Failure>` small.
    pub(super) challenges: Box<[String]>,
}

impl Failure {
    pub(super) fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Failure {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            id: None,
            value: None,
            challenges: Box::default(),
        }
    }

    pub(super) fn fields(kind: ErrorKind, errors: Vec<FieldError>) -> Self {
        let detail = errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ");
        Failure {
            errors,
            ..Failure::new(kind, detail)
        }
    }

    pub(super) fn with_id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }
}

pub(super) fn not_found(id: &str) -> Failure {
    Failure::new(ErrorKind::NotFound, "Not Found").with_id(id)
}

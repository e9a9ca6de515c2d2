//! JSONata mappings and `{{placeholder}}` templates.
//!
//! Expressions are parsed once, when the catalog is loaded, into an `Arc<AstNode>` shared
//! by every request. Each evaluation builds a fresh tree-walking `Evaluator` inside
//! synchronous code: jsonata-core's values use `Rc`, so none may be held across an
//! `.await`. Every evaluation runs under hard limits (time, stack depth, sequence length)
//! because account-level overrides will let users write expressions.

pub mod functions;
pub mod template;

use std::sync::Arc;

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorOptions};
use jsonata_core::value::JValue;
use serde_json::Value;

/// Limits applied to every evaluation.
const TIMEOUT_MS: u64 = 250;
const MAX_STACK_DEPTH: usize = 200;
const MAX_SEQUENCE_LENGTH: usize = 1_000_000;

/// A parsed JSONata expression.
#[derive(Clone)]
pub struct Expr {
    source: Arc<str>,
    ast: Arc<AstNode>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid JSONata: {message}")]
pub struct CompileError {
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
#[error("mapping `{expression}` failed: {message}")]
pub struct EvalError {
    pub expression: String,
    pub message: String,
}

impl Expr {
    pub fn compile(source: &str) -> Result<Self, CompileError> {
        let ast = jsonata_core::parser::parse(source).map_err(|e| CompileError { message: e.to_string() })?;
        Ok(Expr {
            source: source.into(),
            ast: Arc::new(ast),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The parsed expression, for static analysis (the coverage table reads which keys a
    /// response mapping builds).
    pub fn ast(&self) -> &AstNode {
        &self.ast
    }

    /// Evaluates against a JSON input; `undefined` comes back as `None`.
    pub fn eval(&self, input: &Value) -> Result<Option<Value>, EvalError> {
        self.eval_j(&JValue::from(input.clone()))
    }

    /// As [`Expr::eval`], taking the input by value to spare a deep copy on the hot path.
    pub fn eval_owned(&self, input: Value) -> Result<Option<Value>, EvalError> {
        self.eval_j(&JValue::from(input))
    }

    /// Evaluates against an input already converted to jsonata-core's value type, so a
    /// caller mapping many records can convert the shared parts once.
    pub fn eval_j(&self, input: &JValue) -> Result<Option<Value>, EvalError> {
        let options = EvaluatorOptions {
            timeout_ms: Some(TIMEOUT_MS),
            max_stack_depth: Some(MAX_STACK_DEPTH),
            max_sequence_length: Some(MAX_SEQUENCE_LENGTH),
            ..EvaluatorOptions::default()
        };
        let mut evaluator = Evaluator::with_options(Context::new(), options);
        functions::register(&mut evaluator).map_err(|e| self.error(e.to_string()))?;
        let out = evaluator
            .evaluate(&self.ast, input)
            .map_err(|e| self.error(e.to_string()))?;
        if out.is_undefined() {
            return Ok(None);
        }
        let mut value = Value::from(&out);
        integral_numbers(&mut value);
        Ok(Some(value))
    }

    fn error(&self, message: String) -> EvalError {
        EvalError {
            expression: truncate(&self.source, 120),
            message,
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// JSONata numbers are doubles; a whole number goes back out as an integer (`42`, not
/// `42.0`), as the JavaScript reference prints it.
fn integral_numbers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| !n.is_i64() && !n.is_u64()) {
                if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                    *v = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(m) => m.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// Converts a serde value for evaluation; exposed so the pipeline can build inputs once.
pub fn to_jvalue(v: &Value) -> JValue {
    JValue::from(v.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_mapping_builds_an_object_from_the_response() {
        let e = Expr::compile(r#"{ "id": $string(response.id), "name": response.login }"#).unwrap();
        let out = e.eval(&json!({"response": {"id": 42, "login": "acme"}})).unwrap();
        assert_eq!(out, Some(json!({"id": "42", "name": "acme"})));
    }

    #[test]
    fn an_undefined_result_is_none() {
        let e = Expr::compile("response.missing").unwrap();
        assert_eq!(e.eval(&json!({"response": {}})).unwrap(), None);
    }

    #[test]
    fn invalid_syntax_is_a_compile_error() {
        assert!(Expr::compile("{ \"a\": ").is_err());
    }

    #[test]
    fn runaway_recursion_is_stopped_not_crashed() {
        let e = Expr::compile("($f := function($n) { $f($n + 1) }; $f(0))").unwrap();
        let err = e.eval(&json!({})).unwrap_err();
        assert!(!err.message.is_empty());
    }

    #[test]
    fn epoch_seconds_become_rfc3339() {
        let e = Expr::compile("$fromMillis(response.t * 1000)").unwrap();
        let out = e.eval(&json!({"response": {"t": 1700000000}})).unwrap();
        assert_eq!(out, Some(json!("2023-11-14T22:13:20.000Z")));
    }
}

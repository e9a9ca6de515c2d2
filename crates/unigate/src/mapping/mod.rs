//! JSONata mappings and `{{placeholder}}` templates.
//!
//! Expressions are parsed once, when the catalog is loaded, into an `Arc<AstNode>` shared
//! by every request. Evaluation is synchronous: jsonata-core's values use `Rc`, so none may
//! be held across an `.await`. Every evaluation runs under hard limits (time, stack depth,
//! sequence length) because account-level overrides will let users write expressions.
//!
//! Most catalog expressions never reach jsonata-core: [`fast`] evaluates the subset they are
//! written in (names, object and array constructors, conditionals, filters, a few builtins, local
//! lambdas) directly on the `serde_json` input, and hands anything else, and any input shape
//! it does not decide, to jsonata-core. What a jsonata-core evaluation costs besides the tree
//! walk, and how it is kept small (measured with `bench/callgrind.py`; see `bench/ANALYSIS.md`):
//! - only the parts of the input an expression can read are converted from `serde_json`
//!   ([`reads`], found at compile time), by reference, never cloned first; and
//!   [`Expr::eval_fields`] builds `{scope..., response}` without copying the scope;
//! - each thread keeps one `Evaluator` with the helper functions registered, instead of
//!   building one per call: jsonata-core resets its bindings at every `evaluate` (and
//!   after a failed one), and keeps the compiled object-constructor steps between calls;
//! - the result is converted back in one pass that also writes whole numbers as integers;
//! - `$fromMillis`/`$toMillis` with the catalog's date pictures skip jsonata-core's picture
//!   analysis on every call (`functions::specialise`).

mod fast;
pub mod functions;
pub mod reads;
mod scan;
pub mod template;

use std::cell::Cell;
use std::sync::Arc;

use http::HeaderMap;
use indexmap::IndexMap;
use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions};
use jsonata_core::value::{JArray, JValue};
use reads::Reads;
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
    /// The parts of the input the expression can read; only those are converted.
    reads: Arc<Reads>,
    /// The direct form, when the expression is in the subset [`fast`] evaluates.
    fast: Option<Arc<fast::Fast>>,
    /// For [`Expr::layered`]: the lower and the upper expression, each evaluated on its own
    /// (with its own direct form) and merged, instead of the combined source.
    layers: Option<Arc<[Expr; 2]>>,
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

/// An expression that failed to evaluate; `expression` is its source, shortened.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// This thread's evaluator (its limits and helper functions) could not be set up.
    #[error("mapping `{expression}` failed: {source}")]
    Setup {
        expression: String,
        #[source]
        source: EvaluatorError,
    },
    /// The expression failed on its input (a type error, a limit reached, `$error`).
    #[error("mapping `{expression}` failed: {source}")]
    Evaluate {
        expression: String,
        #[source]
        source: EvaluatorError,
    },
}

impl Expr {
    pub fn compile(source: &str) -> Result<Self, CompileError> {
        let mut ast = jsonata_core::parser::parse(source).map_err(|e| CompileError { message: e.to_string() })?;
        functions::specialise(&mut ast);
        Ok(Expr {
            fast: fast::Fast::compile(&ast).map(Arc::new),
            source: source.into(),
            reads: Arc::new(reads::analyse(&ast)),
            ast: Arc::new(ast),
            layers: None,
        })
    }

    /// `upper` over `lower` (a mapping override over the mapping below it): both run on the
    /// same input; when both give objects, `upper`'s keys replace or add to `lower`'s;
    /// otherwise `upper`'s result wins unless it is undefined. Its source is that rule in
    /// JSONata (what [`Expr::eval_reference`] runs and errors quote); [`Expr::eval`] runs
    /// the two expressions apart instead, each with its direct form when it has one, so an
    /// override costs about what its own expression costs.
    pub fn layered(lower: &Expr, upper: &Expr) -> Result<Expr, CompileError> {
        let source = format!(
            "($lower := (\n{}\n); $upper := (\n{}\n); $exists($upper) ? ($type($upper) = \"object\" and $type($lower) = \"object\" ? $merge([$lower, $upper]) : $upper) : $lower)",
            lower.source(),
            upper.source()
        );
        let mut layered = Expr::compile(&source)?;
        layered.fast = None;
        layered.layers = Some(Arc::new([lower.clone(), upper.clone()]));
        Ok(layered)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The parsed expression, for static analysis (the coverage table reads which keys a
    /// response mapping builds).
    pub fn ast(&self) -> &AstNode {
        &self.ast
    }

    /// What the expression reads of its input's field `name`: `None` if nothing.
    pub fn reads_of(&self, name: &str) -> Option<&Reads> {
        match &*self.reads {
            Reads::All => Some(&Reads::All),
            Reads::Fields(fields) => fields.get(name),
        }
    }

    /// The numbers the input's field `name` must equal for this expression to give `true`,
    /// when its shape says so (`reads::true_only_when`); `None` otherwise.
    pub fn true_only_when(&self, name: &str) -> Option<Vec<f64>> {
        if self.layers.is_some() {
            return None;
        }
        reads::true_only_when(&self.ast, name)
    }

    /// The names of an expression that is only a path of plain names (`response.items`).
    pub fn field_path(&self) -> Option<Vec<&str>> {
        reads::field_path(&self.ast)
    }

    /// Parses JSON text that will be the input's field `name`, keeping only what the
    /// expression reads of it ([`reads::parse_projected`]).
    pub fn parse_input_field(&self, name: &str, text: &[u8]) -> serde_json::Result<Value> {
        const NOTHING: &Reads = &Reads::Fields(std::collections::BTreeMap::new());
        reads::parse_projected(text, self.reads_of(name).unwrap_or(NOTHING))
    }

    /// Evaluates against a JSON input; `undefined` comes back as `None`.
    pub fn eval(&self, input: &Value) -> Result<Option<Value>, EvalError> {
        if let Some([lower, upper]) = self.layers.as_deref() {
            return Ok(merge_layers(lower.eval(input)?, upper.eval(input)?));
        }
        if let Some(out) = self.fast.as_ref().and_then(|f| f.eval(input).ok()) {
            return Ok(out);
        }
        self.eval_reference(input)
    }

    /// Whether the expression has a direct form (`mapping::fast`); without one, or when the
    /// direct form gives up on an input, jsonata-core evaluates it.
    pub fn is_fast(&self) -> bool {
        match self.layers.as_deref() {
            Some([lower, upper]) => lower.is_fast() && upper.is_fast(),
            None => self.fast.is_some(),
        }
    }

    /// As [`Expr::eval`] on jsonata-core alone: the reference the direct form is tested
    /// against.
    pub fn eval_reference(&self, input: &Value) -> Result<Option<Value>, EvalError> {
        self.eval_j(&project(input, &self.reads))
    }

    /// As [`Expr::eval_reference`], converting the whole input: the reference the
    /// projection is tested against (`tests/bench_smoke`).
    pub fn eval_unprojected(&self, input: &Value) -> Result<Option<Value>, EvalError> {
        self.eval_j(&to_jvalue(input))
    }

    /// As [`Expr::eval`]; kept for callers that own their input (it is read by reference
    /// either way).
    pub fn eval_owned(&self, input: Value) -> Result<Option<Value>, EvalError> {
        self.eval(&input)
    }

    /// Evaluates against an object made of `fields` (a later field replaces an earlier one
    /// of the same name), converting each value by reference: `{scope..., response}`
    /// without cloning the scope or the provider record first.
    pub fn eval_fields<'a>(
        &self,
        fields: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Result<Option<Value>, EvalError> {
        if let Some([lower, upper]) = self.layers.as_deref() {
            let fields: Vec<(&str, &Value)> = fields.into_iter().collect();
            let below = lower.eval_fields(fields.iter().copied())?;
            return Ok(merge_layers(below, upper.eval_fields(fields)?));
        }
        if let Some(fast) = &self.fast {
            let fields: Vec<(&str, &Value)> = fields.into_iter().collect();
            if let Ok(out) = fast.eval_fields(&fields) {
                return Ok(out);
            }
            return self.eval_fields_reference(fields);
        }
        self.eval_fields_reference(fields)
    }

    /// As [`Expr::eval_fields`] on jsonata-core alone.
    pub fn eval_fields_reference<'a>(
        &self,
        fields: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Result<Option<Value>, EvalError> {
        let fields = fields.into_iter();
        let mut map = IndexMap::with_capacity(fields.size_hint().0);
        for (k, v) in fields {
            let value = match &*self.reads {
                Reads::All => to_jvalue(v),
                Reads::Fields(read) => match read.get(k) {
                    Some(r) => project(v, r),
                    None => {
                        // Not read, but a later field of the same name must still replace it.
                        map.shift_remove(k);
                        continue;
                    }
                },
            };
            map.insert(k.to_string(), value);
        }
        self.eval_j(&JValue::object(map))
    }

    /// Evaluates against an input already converted to jsonata-core's value type, so a
    /// caller mapping many records can convert the shared parts once.
    pub fn eval_j(&self, input: &JValue) -> Result<Option<Value>, EvalError> {
        let expression = || truncate(&self.source, 120);
        let out = with_evaluator(|ev| ev.evaluate(&self.ast, input))
            .map_err(|source| EvalError::Setup {
                expression: expression(),
                source,
            })?
            .map_err(|source| EvalError::Evaluate {
                expression: expression(),
                source,
            })?;
        if out.is_undefined() {
            return Ok(None);
        }
        Ok(Some(to_value(&out)))
    }
}

/// Header maps as expressions see them (`headers` in rate-limit, error and pagination
/// expressions): an object of lower-case names.
/// A header's value; a repeated header's values joined with `, `.
pub fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut values = headers.get_all(name).iter();
    let mut out = String::from_utf8_lossy(values.next()?.as_bytes()).into_owned();
    for v in values {
        out.push_str(", ");
        out.push_str(&String::from_utf8_lossy(v.as_bytes()));
    }
    Some(out)
}

/// Header map as a JSON object (lowercase names; repeated headers joined with `, `).
pub fn headers_json(headers: &HeaderMap) -> Value {
    Value::Object(
        headers
            .keys()
            .filter_map(|name| {
                header_text(headers, name.as_str()).map(|v| (name.as_str().to_string(), Value::String(v)))
            })
            .collect(),
    )
}

thread_local! {
    /// This thread's evaluator, taken out while it runs: a panic inside drops it (the next
    /// call builds a fresh one) and a re-entrant call builds its own instead of sharing it.
    static EVALUATOR: Cell<Option<Box<Evaluator>>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's evaluator, building it (limits and helper functions) on
/// first use. Each `evaluate` starts from clean bindings, also after a failed one
/// (jsonata-core's `evaluator_reuse_test`).
fn with_evaluator<R>(f: impl FnOnce(&mut Evaluator) -> R) -> Result<R, EvaluatorError> {
    let mut ev = match EVALUATOR.take() {
        Some(ev) => ev,
        None => new_evaluator()?,
    };
    let out = f(&mut ev);
    EVALUATOR.set(Some(ev));
    Ok(out)
}

fn new_evaluator() -> Result<Box<Evaluator>, EvaluatorError> {
    let options = EvaluatorOptions {
        timeout_ms: Some(TIMEOUT_MS),
        max_stack_depth: Some(MAX_STACK_DEPTH),
        max_sequence_length: Some(MAX_SEQUENCE_LENGTH),
        ..EvaluatorOptions::default()
    };
    let mut ev = Box::new(Evaluator::with_options(Context::new(), options));
    functions::register(&mut ev)?;
    Ok(ev)
}

/// [`Expr::layered`]'s rule: `upper`'s keys over `lower`'s when both are objects (a key
/// already there keeps its place, as JSONata's `$merge` does), else `upper` unless undefined.
fn merge_layers(lower: Option<Value>, upper: Option<Value>) -> Option<Value> {
    match (lower, upper) {
        (Some(Value::Object(mut below)), Some(Value::Object(above))) => {
            for (k, v) in above {
                below.insert(k, v);
            }
            Some(Value::Object(below))
        }
        (lower, None) => lower,
        (_, upper) => upper,
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

/// Converts the parts of `v` that `reads` names (the fields of an object; of each item of an
/// array, as a path step maps over arrays), by reference.
fn project(v: &Value, reads: &Reads) -> JValue {
    match (reads, v) {
        (Reads::Fields(fields), Value::Object(m)) => {
            let mut out = IndexMap::with_capacity(fields.len());
            for (k, r) in fields {
                if let Some(x) = m.get(k) {
                    out.insert(k.clone(), project(x, r));
                }
            }
            JValue::object(out)
        }
        (Reads::Fields(_), Value::Array(items)) => {
            let flat = !items.iter().any(Value::is_array);
            JValue::Array(JArray::new_flat(
                items.iter().map(|x| project(x, reads)).collect(),
                flat,
            ))
        }
        _ => to_jvalue(v),
    }
}

/// A JSON object of these fields. Unlike `json!`, which copies each value through
/// `serde_json::to_value` (a serialization pass), values are moved in as they are.
pub fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    let mut map = serde_json::Map::with_capacity(N);
    for (k, v) in fields {
        map.insert(k.to_string(), v);
    }
    Value::Object(map)
}

/// Converts a serde value for evaluation, by reference (no deep copy of `v` first).
pub fn to_jvalue(v: &Value) -> JValue {
    match v {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(items) => {
            // An input array holding no array is "flat", as jsonata-core's own conversion
            // marks it, so a path step over it need not scan it again.
            let flat = !items.iter().any(Value::is_array);
            JValue::Array(JArray::new_flat(items.iter().map(to_jvalue).collect(), flat))
        }
        Value::Object(m) => {
            let mut out = IndexMap::with_capacity(m.len());
            for (k, v) in m {
                out.insert(k.clone(), to_jvalue(v));
            }
            JValue::object(out)
        }
    }
}

/// A JSONata number as JSON: whole numbers as integers.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// Converts a result back. JSONata numbers are doubles; a whole number goes back out as an
/// integer (`42`, not `42.0`), as the JavaScript reference prints it. Non-finite numbers and
/// function values become `null`.
pub fn to_value(v: &JValue) -> Value {
    match v {
        JValue::Null | JValue::Undefined => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => Value::Array(items.iter().map(to_value).collect()),
        JValue::Object(m) => {
            let mut out = serde_json::Map::with_capacity(m.len());
            for (k, v) in m.iter() {
                out.insert(k.clone(), to_value(v));
            }
            Value::Object(out)
        }
        _ => Value::Null,
    }
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
        assert!(matches!(err, EvalError::Evaluate { .. }), "{err}");
        assert!(std::error::Error::source(&err).is_some_and(|s| !s.to_string().is_empty()));
    }

    #[test]
    fn whole_numbers_come_back_as_integers() {
        let e = Expr::compile(r#"{ "n": response.n * 2, "f": response.n / 4 }"#).unwrap();
        let out = e.eval(&json!({"response": {"n": 21}})).unwrap().unwrap();
        assert!(out["n"].is_i64(), "{out}");
        assert_eq!(out, json!({"n": 42, "f": 5.25}));
    }

    #[test]
    fn a_failed_evaluation_leaves_nothing_for_the_next_one() {
        let failing = Expr::compile(r#"($x := 1; $error("boom"))"#).unwrap();
        assert!(failing.eval(&json!({})).is_err());
        let probe = Expr::compile("$x").unwrap();
        assert_eq!(probe.eval(&json!({})).unwrap(), None);
    }

    #[test]
    fn fields_build_the_input_and_a_later_one_wins() {
        let e = Expr::compile("response.id & \"/\" & context.org").unwrap();
        let scope = json!({"context": {"org": "acme"}, "response": "stale"});
        let record = json!({"id": 7});
        let fields = scope
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain([("response", &record)]);
        assert_eq!(e.eval_fields(fields).unwrap(), Some(json!("7/acme")));
    }

    #[test]
    fn a_projected_input_gives_what_the_whole_input_gives() {
        let input = json!({
            "response": {"id": 1, "name": "n", "plan": {"name": "p", "seats": 3},
                         "items": [{"id": "a", "kind": "x"}, {"id": "b", "kind": "y"}, [{"id": "c"}]],
                         "other": {"big": [1, 2, 3]}},
            "context": {"org": "acme", "secret": "s"}, "query": {"kind": "y"}, "id": "7",
        });
        for src in [
            r#"{ "id": $string(response.id), "plan": response.plan.name, "n": $count(response.items) }"#,
            r#"response.items.id"#,
            r#"response.items[kind = $$.query.kind].id"#,
            r#"response.items.{ "id": id, "org": $$.context.org }"#,
            r#"$keys(response)"#,
            r#"$string(response.plan)"#,
            r#"$lookup(response, "name")"#,
            r#"response ~> $lookup("name")"#,
            r#"($p := response.plan; $p.seats * 2)"#,
            r#"$map(response.items, function($v) { $v.id & id })"#,
            r#"$sort(response.items, function($a, $b) { $a.id < $b.id }).id"#,
            r#"$exists(response.missing.deeper) ? 1 : response.other.big[1]"#,
            r#"response.%.id"#,
            r#"$each(response.plan, function($v, $k) { $k })"#,
        ] {
            let e = Expr::compile(src).unwrap();
            assert_eq!(e.eval(&input).unwrap(), e.eval_unprojected(&input).unwrap(), "{src}");
        }
    }

    #[test]
    fn epoch_seconds_become_rfc3339() {
        let e = Expr::compile("$fromMillis(response.t * 1000)").unwrap();
        let out = e.eval(&json!({"response": {"t": 1700000000}})).unwrap();
        assert_eq!(out, Some(json!("2023-11-14T22:13:20.000Z")));
    }
}

//! Helper functions available to every mapping, named after Truto's so mappings port:
//! the functions of Truto's extension library `@truto/truto-jsonata` that apply to
//! mapping records (docs/jsonata-functions.md lists them, what differs and what is left
//! out), and Unigate's own (`$epochToIso`, `$hexToNumber`).
//!
//! Keep this list in one place with its tests: a mapping that uses a function not listed
//! here fails at evaluation with a reference error naming it. Each thread registers them
//! once, on its evaluator (`mapping::with_evaluator`), so their number costs nothing per
//! evaluation. `tests/jsonata_diff` compares them with Truto's library under Node.

mod dates;
mod encoding;
mod records;
mod text;

pub use text::escape_html;

use std::collections::HashMap;

use chrono::{Datelike, Timelike};
use jsonata_core::ast::{AstNode, Stage};
use jsonata_core::evaluator::{Evaluator, EvaluatorError};
use jsonata_core::value::JValue;
use serde_json::Value;

/// A helper function: jsonata-core's host-function shape.
pub type HostFn = fn(&[JValue]) -> Result<JValue, EvaluatorError>;

/// Every helper by the name a mapping calls it (`$removeEmpty`), with the fast date
/// functions `specialise` sends calls to. The fast evaluator (`mapping::fast`) calls the
/// same functions, so a helper behaves the same on either path.
pub const HOST: &[(&str, HostFn)] = &[
    ("removeEmpty", remove_empty_fn),
    ("firstNonEmpty", |args| {
        Ok(args.iter().find(|v| !is_empty(v)).cloned().unwrap_or(JValue::Undefined))
    }),
    ("toNumber", records::to_number),
    ("epochToIso", epoch_to_iso),
    ("hexToNumber", hex_to_number),
    // Records (lodash)
    ("pick", records::pick),
    ("omit", records::omit),
    ("groupBy", records::group_by),
    ("keyBy", records::key_by),
    ("orderBy", records::order_by),
    ("compact", records::compact),
    ("chunk", records::chunk),
    ("flatten", records::flatten),
    ("flattenDeep", records::flatten_deep),
    ("flattenDepth", records::flatten_depth),
    ("difference", records::difference),
    ("values", records::values),
    ("find", records::find),
    ("lofilter", records::lofilter),
    ("wrap", records::wrap),
    ("mapValues", records::map_values),
    ("removeEmptyItems", records::remove_empty_items),
    ("jsonParse", records::json_parse),
    ("convertCurrencyToSubunit", records::currency_to_subunit),
    ("convertCurrencyFromSubunit", records::currency_from_subunit),
    ("sortNodes", records::sort_nodes),
    ("zipSqlResponse", records::zip_sql_response),
    ("convertQueryToSql", records::convert_query_to_sql),
    // Dates (Luxon)
    ("dtFromIso", dates::dt_from_iso),
    ("dtFromFormat", dates::dt_from_format),
    // Encodings, hashes, URLs
    ("base64encode", encoding::base64_encode),
    ("base64decode", encoding::base64_decode),
    ("digest", encoding::digest),
    ("sign", encoding::sign),
    ("uuid", encoding::uuid),
    ("getMimeType", encoding::get_mime_type),
    ("parseUrl", encoding::parse_url),
    ("parseQuery", encoding::parse_query),
    ("stringifyQuery", encoding::stringify_query),
    // Text formats
    ("convertHtmlToMarkdown", text::html_to_markdown),
    ("convertMarkdownToHtml", text::markdown_to_html),
    ("xmlToJs", text::xml_to_js),
    ("jsToXml", text::js_to_xml),
    ("jsonToCsv", text::json_to_csv),
    ("diceCoefficient", text::dice_coefficient),
    ("mostSimilar", text::most_similar),
    (FAST_FROM_MILLIS, from_millis_iso_seconds),
    (FAST_TO_MILLIS, to_millis_iso_offset),
    (FAST_TO_MILLIS_ISO, to_millis_iso),
];

/// Helpers that replace a JSONata builtin of the same name, as Truto's library does:
/// its `$base64encode`/`$base64decode` take a second, URL-safe argument.
const OVERRIDES: &[&str] = &["base64encode", "base64decode"];

pub fn register(ev: &mut Evaluator) -> Result<(), EvaluatorError> {
    for (name, f) in HOST {
        if OVERRIDES.contains(name) {
            ev.register_fn_override(*name, *f)?;
        } else {
            ev.register_fn(*name, *f)?;
        }
    }
    Ok(())
}

/// The helper of this name.
pub fn host(name: &str) -> Option<HostFn> {
    HOST.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

// ── JavaScript's rules, for the helpers written after Truto's ────────────────

/// Argument `i` as JSON; `None` when absent or `undefined`.
fn arg(args: &[JValue], i: usize) -> Option<Value> {
    args.get(i).filter(|v| !v.is_undefined()).map(super::to_value)
}

fn out(v: Value) -> JValue {
    super::to_jvalue(&v)
}

fn err(message: String) -> EvaluatorError {
    EvaluatorError::EvaluationError(message)
}

/// A number as JavaScript's `String(n)` writes it.
fn js_number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if n == 0.0 {
        return "0".into();
    }
    if n.fract() == 0.0 && n.abs() < 1e21 {
        return format!("{n:.0}");
    }
    let abs = n.abs();
    if (1e-7..1e21).contains(&abs) {
        return format!("{n}");
    }
    // Exponent form: shortest digits, `1e+21`, `1.5e-7`.
    let s = format!("{n:e}");
    match s.split_once('e') {
        Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
        _ => s,
    }
}

/// A JSON number of this value: whole numbers as integers.
fn number_value(n: f64) -> Value {
    super::to_value(&JValue::Number(n))
}

/// JavaScript's `String(v)`.
fn js_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|x| if x.is_null() { String::new() } else { js_string(x) })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

/// JavaScript's truthiness.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0 && !n.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// lodash's `toNumber` of a primitive (`undefined` as `None`): numeric text, also
/// `0b`/`0o`/`0x`, after trimming; `null` and `""` are 0.
fn js_to_number(v: Option<&Value>) -> f64 {
    match v {
        None => f64::NAN,
        Some(Value::Null) => 0.0,
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(Value::String(s)) => {
            let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
            if t.is_empty() {
                return 0.0;
            }
            let radix = |p: &str, r: u32| -> Option<f64> {
                let rest = t.get(..2).filter(|x| x.eq_ignore_ascii_case(p)).map(|_| &t[2..])?;
                Some(u64::from_str_radix(rest, r).map_or(f64::NAN, |n| n as f64))
            };
            if let Some(n) = radix("0b", 2).or_else(|| radix("0o", 8)).or_else(|| radix("0x", 16)) {
                return n;
            }
            match t {
                "Infinity" | "+Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                _ if t
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) =>
                {
                    t.parse::<f64>().unwrap_or(f64::NAN)
                }
                _ => f64::NAN,
            }
        }
        Some(other) => js_to_number(Some(&Value::String(js_string(other)))),
    }
}

/// Unix seconds (number or numeric string) to RFC 3339 UTC; anything else is undefined,
/// so a provider that omits the timestamp gives an absent field, not a wrong date.
fn epoch_to_iso(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let secs = match args.first() {
        Some(JValue::Number(n)) => Some(*n),
        Some(JValue::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    Ok(secs
        .filter(|s| s.is_finite())
        .and_then(|s| chrono::DateTime::from_timestamp_millis((s * 1000.0) as i64))
        .map(|dt| JValue::string(dt.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .unwrap_or(JValue::Undefined))
}

/// Hexadecimal text to a number: ObjectId-style ids carry their creation time in their
/// first 8 hex digits (`$epochToIso($hexToNumber($substring(id, 0, 8)))`).
fn hex_to_number(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(match args.first() {
        Some(JValue::String(s)) => {
            let t = s.trim().trim_start_matches("0x");
            if t.is_empty() || t.len() > 13 {
                JValue::Undefined
            } else {
                u64::from_str_radix(t, 16)
                    .map(|n| JValue::Number(n as f64))
                    .unwrap_or(JValue::Undefined)
            }
        }
        _ => JValue::Undefined,
    })
}

// ── Date pictures ────────────────────────────────────────────────────────────
//
// jsonata-core analyses a `$fromMillis`/`$toMillis` picture string, and builds a regex
// for it, on every call: a mapping with two dates spent most of its time there (Meta
// Marketing ran at half the JavaScript reference's speed), and `$toMillis(text)` runs a
// regex. The catalog uses two pictures, so calls that name one of them as a literal, and
// `$toMillis(text)`, are sent, when the expression is compiled (`specialise`), to functions
// that format and parse the common shapes directly and hand anything else (another shape,
// a year outside 0-9999, a wrong type) to the builtin, so results and errors stay the
// builtin's (`tests::fast_pictures_agree_with_the_builtins`).

/// `$fromMillis(ms, ISO_SECONDS_Z)`: RFC 3339 UTC to the second.
const ISO_SECONDS_Z: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01]Z";
/// `$toMillis(text, ISO_SECONDS_OFFSET)`: `2015-03-05T21:46:42+0000`.
const ISO_SECONDS_OFFSET: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01][Z0000]";
const FAST_FROM_MILLIS: &str = "unigateFromMillisIsoSeconds";
const FAST_TO_MILLIS: &str = "unigateToMillisIsoOffset";
const FAST_TO_MILLIS_ISO: &str = "unigateToMillisIso";

/// Sends `$fromMillis(x, "<ISO_SECONDS_Z>")`, `$toMillis(x, "<ISO_SECONDS_OFFSET>")` and
/// `$toMillis(x)` to the fast functions, unless the expression binds a variable of either
/// name.
pub fn specialise(ast: &mut AstNode) {
    let mut shadowed = false;
    visit(ast, &mut |n| {
        if let AstNode::Binary { lhs, .. } = n {
            if matches!(&**lhs, AstNode::Variable(v) if v == "fromMillis" || v == "toMillis") {
                shadowed = true;
            }
        }
        if let AstNode::Lambda { params, .. } = n {
            shadowed |= params.iter().any(|p| p == "fromMillis" || p == "toMillis");
        }
    });
    if shadowed {
        return;
    }
    visit(ast, &mut |n| {
        if let AstNode::Function { name, args, .. } = n {
            let fast = match (name.as_str(), args.len(), args.get(1)) {
                ("fromMillis", 2, Some(AstNode::String(p))) if p == ISO_SECONDS_Z => FAST_FROM_MILLIS,
                ("toMillis", 2, Some(AstNode::String(p))) if p == ISO_SECONDS_OFFSET => FAST_TO_MILLIS,
                ("toMillis", 1, _) => FAST_TO_MILLIS_ISO,
                _ => return,
            };
            *name = fast.to_string();
        }
    });
}

/// Calls `f` on every node of the tree.
fn visit(node: &mut AstNode, f: &mut impl FnMut(&mut AstNode)) {
    f(node);
    match node {
        AstNode::Path { steps } => {
            for step in steps {
                visit(&mut step.node, f);
                for stage in &mut step.stages {
                    if let Stage::Filter(e) = stage {
                        visit(e, f);
                    }
                }
            }
        }
        AstNode::Binary { lhs, rhs, .. } => {
            visit(lhs, f);
            visit(rhs, f);
        }
        AstNode::Unary { operand: e, .. } | AstNode::FunctionApplication(e) | AstNode::Lambda { body: e, .. } => {
            visit(e, f)
        }
        AstNode::Function { args, .. } => args.iter_mut().for_each(|a| visit(a, f)),
        AstNode::Call { procedure, args } => {
            visit(procedure, f);
            args.iter_mut().for_each(|a| visit(a, f));
        }
        AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
            items.iter_mut().for_each(|i| visit(i, f))
        }
        AstNode::Object(pairs) => pairs.iter_mut().for_each(|(k, v)| {
            visit(k, f);
            visit(v, f);
        }),
        AstNode::ObjectTransform { input, pattern } => {
            visit(input, f);
            pattern.iter_mut().for_each(|(k, v)| {
                visit(k, f);
                visit(v, f);
            });
        }
        AstNode::Sort { input, terms } => {
            visit(input, f);
            terms.iter_mut().for_each(|(t, _)| visit(t, f));
        }
        AstNode::Conditional {
            condition,
            then_branch,
            else_branch,
        } => {
            visit(condition, f);
            visit(then_branch, f);
            if let Some(e) = else_branch {
                visit(e, f);
            }
        }
        AstNode::Transform {
            location,
            update,
            delete,
        } => {
            visit(location, f);
            visit(update, f);
            if let Some(d) = delete {
                visit(d, f);
            }
        }
        _ => {}
    }
}

fn from_millis_iso_seconds(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if let Some(JValue::Number(n)) = args.first() {
        let dt = (n.fract() == 0.0 && n.abs() < 1e15)
            .then(|| chrono::DateTime::from_timestamp_millis(*n as i64))
            .flatten()
            .filter(|dt| (0..=9999).contains(&dt.year()));
        if let Some(dt) = dt {
            // By hand: `write!` with padded fields was a third of this function's cost.
            let mut out = [0u8; 20];
            let mut put = |at: usize, width: usize, mut n: u32| {
                for i in (at..at + width).rev() {
                    out[i] = b'0' + (n % 10) as u8;
                    n /= 10;
                }
            };
            put(0, 4, dt.year() as u32);
            put(5, 2, dt.month());
            put(8, 2, dt.day());
            put(11, 2, dt.hour());
            put(14, 2, dt.minute());
            put(17, 2, dt.second());
            for (i, c) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'Z')] {
                out[i] = c;
            }
            return Ok(JValue::string(String::from_utf8_lossy(&out).into_owned()));
        }
    }
    builtin("fromMillis", Some(ISO_SECONDS_Z), args)
}

fn to_millis_iso(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if let Some(ms) = args.first().and_then(JValue::as_str).and_then(parse_iso) {
        return Ok(JValue::Number(ms as f64));
    }
    builtin("toMillis", None, args)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)`, exactly, to Unix milliseconds (the
/// fraction cut to milliseconds, as the builtin does). Salesforce writes `±HHMM`.
fn parse_iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<u32> {
        b.get(from..from + len)?.iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let mut i = 19;
    let mut millis = 0;
    if b[i] == b'.' {
        let digits = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for k in 0..3 {
            millis = millis * 10 + if k < digits { u32::from(b[i + 1 + k] - b'0') } else { 0 };
        }
        i += 1 + digits;
    }
    let offset_min = match &b[i..] {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), _, _, rest @ ..] if matches!(rest, [b':', _, _] | [_, _]) => {
            let (h, m) = (num(i + 1, 2)?, num(i + 1 + rest.len(), 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let total = i64::from(h * 60 + m);
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    let time = chrono::NaiveDate::from_ymd_opt(year, num(5, 2)?, num(8, 2)?)?.and_hms_milli_opt(
        num(11, 2)?,
        num(14, 2)?,
        num(17, 2)?,
        millis,
    )?;
    Some(time.and_utc().timestamp_millis() - offset_min * 60_000)
}

fn to_millis_iso_offset(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    if let Some(ms) = args.first().and_then(JValue::as_str).and_then(parse_iso_offset) {
        return Ok(JValue::Number(ms as f64));
    }
    builtin("toMillis", Some(ISO_SECONDS_OFFSET), args)
}

/// `YYYY-MM-DDTHH:MM:SS±HHMM`, exactly, to Unix milliseconds.
fn parse_iso_offset(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 24 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<u32> {
        b[from..from + len].iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let sign = match b[19] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (off_h, off_m) = (num(20, 2)?, num(22, 2)?);
    if off_h > 23 || off_m > 59 {
        return None;
    }
    let year = i32::try_from(num(0, 4)?).ok()?;
    let time = chrono::NaiveDate::from_ymd_opt(year, num(5, 2)?, num(8, 2)?)?.and_hms_opt(
        num(11, 2)?,
        num(14, 2)?,
        num(17, 2)?,
    )?;
    let offset_ms = sign * i64::from(off_h * 60 + off_m) * 60_000;
    Some(time.and_utc().timestamp_millis() - offset_ms)
}

/// The builtin `$name(a[, picture])`, for what the fast paths leave: its results and errors.
fn builtin(name: &str, picture: Option<&str>, args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let source = match picture {
        Some(p) => format!("${name}(a, {})", JValue::string(p).to_json_string().unwrap_or_default()),
        None => format!("${name}(a)"),
    };
    thread_local! {
        // Parsed once per call shape and thread: the fallback is taken for every value of
        // a shape the fast functions do not read, so it must not re-parse each time.
        static PARSED: std::cell::RefCell<HashMap<String, AstNode>> = Default::default();
    }
    let ast = PARSED.with(|parsed| -> Result<AstNode, EvaluatorError> {
        if let Some(ast) = parsed.borrow().get(&source) {
            return Ok(ast.clone());
        }
        let ast = jsonata_core::parser::parse(&source).map_err(|e| EvaluatorError::EvaluationError(e.to_string()))?;
        parsed.borrow_mut().insert(source.clone(), ast.clone());
        Ok(ast)
    })?;
    let mut input = indexmap::IndexMap::new();
    input.insert("a".to_string(), args.first().cloned().unwrap_or(JValue::Undefined));
    Evaluator::new().evaluate(&ast, &JValue::object(input))
}

fn is_empty(v: &JValue) -> bool {
    match v {
        JValue::Undefined | JValue::Null => true,
        JValue::String(s) => s.is_empty(),
        JValue::Array(a) => a.is_empty(),
        JValue::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// `$removeEmpty(value)`: an object without its empty members (null, `""`, `[]`, `{}`,
/// recursively); as Truto's, an empty array or text is `undefined` and a non-empty one is
/// returned as it is, and a number or boolean is `undefined`.
fn remove_empty_fn(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(match args.first() {
        Some(v @ JValue::Object(_)) => remove_empty(v),
        Some(JValue::Array(a)) if !a.is_empty() => args[0].clone(),
        Some(JValue::String(s)) if !s.is_empty() => args[0].clone(),
        _ => JValue::Undefined,
    })
}

/// Drops null, empty-string, empty-array and empty-object members, recursively.
fn remove_empty(v: &JValue) -> JValue {
    match v {
        JValue::Object(o) => {
            let mut out = indexmap::IndexMap::new();
            for (k, val) in o.iter() {
                let cleaned = remove_empty(val);
                if !is_empty(&cleaned) {
                    out.insert(k.clone(), cleaned);
                }
            }
            JValue::object(out)
        }
        JValue::Array(a) => JValue::array(a.iter().map(remove_empty).filter(|x| !is_empty(x)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::mapping::Expr;
    use serde_json::json;

    fn eval(src: &str, input: serde_json::Value) -> Option<serde_json::Value> {
        Expr::compile(src).unwrap().eval(&input).unwrap()
    }

    #[test]
    fn remove_empty_drops_nulls_and_empty_values() {
        let out = eval(
            "$removeEmpty(x)",
            json!({"x": {"a": null, "b": "", "c": [], "d": {"e": null}, "f": 1}}),
        );
        assert_eq!(out, Some(json!({"f": 1})));
    }

    #[test]
    fn first_non_empty_skips_empty_values() {
        assert_eq!(
            eval("$firstNonEmpty(a, b, c)", json!({"b": "", "c": "x"})),
            Some(json!("x"))
        );
    }

    #[test]
    fn to_number_parses_strings() {
        assert_eq!(eval("$toNumber(\"12.5\")", json!({})), Some(json!(12.5)));
        // lodash's NaN, which JSON writes as null.
        assert_eq!(eval("$toNumber(\"x\")", json!({})), Some(json!(null)));
        assert_eq!(eval("$toNumber(\"\")", json!({})), Some(json!(0)));
    }

    #[test]
    fn a_function_where_lodash_takes_one_is_a_clear_error() {
        let e = Expr::compile("$find(xs, function($x) { $x > 1 })").unwrap();
        let err = e.eval(&json!({"xs": [1, 2]})).unwrap_err();
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("$find") && source.contains("property name"), "{source}");
    }

    #[test]
    fn helpers_run_the_same_on_the_direct_path() {
        // A path the direct evaluator (`mapping::fast`) takes, and the same on jsonata-core.
        let e = Expr::compile(r#"{ "by": $keyBy(response.items, "id"), "n": $chunk(response.items, 1) }"#).unwrap();
        assert!(e.is_fast());
        let input = json!({"response": {"items": [{"id": "a"}, {"id": "b"}]}});
        let out = e.eval(&input).unwrap();
        assert_eq!(out, e.eval_reference(&input).unwrap());
        assert_eq!(out.unwrap()["by"]["b"], json!({"id": "b"}));
    }

    /// A few of Truto's helpers on known answers, so a machine without Node (where
    /// `tests/jsonata_diff` is skipped) still checks them.
    #[test]
    fn trutos_helpers_give_known_answers() {
        let input = json!({"users": [{"id": 2, "team": "a"}, {"id": 1, "team": "b"}, {"id": 3, "team": "a"}]});
        for (src, want) in [
            (
                r#"$pick({"a": 1, "b": {"c": 2, "d": 3}}, ["a", "b.c"])"#,
                json!({"a": 1, "b": {"c": 2}}),
            ),
            (r#"$omit({"a": 1, "b": 2}, "a")"#, json!({"b": 2})),
            (r#"$groupBy(users, "team").a.id"#, json!([2, 3])),
            (r#"$keyBy(users, "id")."1".team"#, json!("b")),
            (r#"$orderBy(users, "id", "desc").id"#, json!([3, 2, 1])),
            (r#"$find(users, {"team": "b"}).id"#, json!(1)),
            (r#"$chunk([1, 2, 3], 2)"#, json!([[1, 2], [3]])),
            (
                r#"$mapValues("ADMIN", {"admin": "Administrator"})"#,
                json!("Administrator"),
            ),
            (r#"$convertCurrencyFromSubunit(125, "USD")"#, json!("1.25")),
            (r#"$convertCurrencyToSubunit("19.999", "USD")"#, json!(1999)),
            (
                r#"$dtFromIso("2024-03-10T12:00:00Z", "America/New_York").[hour, offset]"#,
                json!([8, -240]),
            ),
            (
                r#"$dtFromFormat("05/11/24 3:04 PM", "dd/MM/yy h:mm a").[year, month, hour]"#,
                json!([2024, 11, 15]),
            ),
            (r#"$base64encode("hi?>", true)"#, json!("aGk_Pg")),
            (
                r#"$digest("abc")"#,
                json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ),
            // RFC 4231, test case 2.
            (
                r#"$sign("what do ya want for nothing?", "SHA-256", "Jefe")"#,
                json!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            ),
            (
                r#"$parseQuery("a[b][]=1&a[b][]=2&c=x+y")"#,
                json!({"a": {"b": ["1", "2"]}, "c": "x y"}),
            ),
            (r#"$stringifyQuery({"a": [1, 2]})"#, json!("a%5B0%5D=1&a%5B1%5D=2")),
            (
                r#"$xmlToJs("<a x='1'><b>t</b><b/></a>")"#,
                json!({"a": {"_attributes": {"x": "1"}, "b": [{"_text": "t"}, {}]}}),
            ),
            (r#"$jsonToCsv([{"a": 1, "b": "x"}])"#, json!("\"a\",\"b\"\n1,\"x\"")),
            (
                r#"$mostSimilar("Enginering", ["Engineering", "Sales"])"#,
                json!("Engineering"),
            ),
        ] {
            assert_eq!(eval(src, input.clone()), Some(want), "{src}");
        }
    }

    #[test]
    fn every_helper_registers() {
        // Registration fails on a name that shadows a builtin without being an override.
        let mut ev = jsonata_core::evaluator::Evaluator::new();
        super::register(&mut ev).unwrap();
        for (name, _) in super::HOST {
            assert!(super::host(name).is_some(), "{name}");
        }
    }

    #[test]
    fn an_object_id_gives_its_creation_time() {
        assert_eq!(
            eval(
                "$epochToIso($hexToNumber($substring(id, 0, 8)))",
                json!({"id": "4eea503d91e31d174600008f"})
            ),
            Some(json!("2011-12-15T19:53:33Z"))
        );
        assert_eq!(eval("$hexToNumber(\"zz\")", json!({})), None);
    }

    #[test]
    fn fast_pictures_agree_with_the_builtins() {
        use super::{ISO_SECONDS_OFFSET, ISO_SECONDS_Z};
        let fast_from = Expr::compile(&format!("$fromMillis(v, \"{ISO_SECONDS_Z}\")")).unwrap();
        let fast_to = Expr::compile(&format!("$toMillis(v, \"{ISO_SECONDS_OFFSET}\")")).unwrap();
        // The same calls, kept on the builtins: the picture is not a literal.
        let slow_from = Expr::compile("$fromMillis(v, p)").unwrap();
        let slow_to = Expr::compile("$toMillis(v, p)").unwrap();
        let same = |fast: &Expr, slow: &Expr, v: serde_json::Value, p: &str| {
            let f = fast.eval(&json!({ "v": v }));
            let s = slow.eval(&json!({ "v": v, "p": p }));
            match (&f, &s) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{v} with {p}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{v} with {p}: fast {f:?}, builtin {s:?}"),
            }
        };
        for ms in [
            json!(0),
            json!(1_700_000_000_123_i64),
            json!(-1),
            json!(-62_135_596_800_000_i64),
            json!(253_402_300_799_999_i64),
            json!(253_402_300_800_000_i64),
            json!(-62_135_596_800_001_i64),
            json!(1.5),
            json!("1700000000000"),
            json!(null),
            json!([1, 2]),
        ] {
            same(&fast_from, &slow_from, ms, ISO_SECONDS_Z);
        }
        same(&fast_from, &slow_from, serde_json::Value::Null, ISO_SECONDS_Z);
        assert_eq!(fast_from.eval(&json!({})).unwrap(), None);
        for t in [
            "2015-03-05T21:46:42+0000",
            "2015-03-05T21:46:42+0530",
            "2015-03-05T21:46:42-0800",
            "1999-12-31T23:59:59+2300",
            "0001-01-01T00:00:00+0000",
            "2024-02-29T12:00:00+0100",
            "2023-02-29T12:00:00+0100",
            "2015-03-05T21:46:42Z",
            "2015-03-05T21:46:42+00:00",
            "2015-03-05 21:46:42+0000",
            "not a date",
        ] {
            same(&fast_to, &slow_to, json!(t), ISO_SECONDS_OFFSET);
        }
        same(&fast_to, &slow_to, json!(42), ISO_SECONDS_OFFSET);
        assert_eq!(fast_to.eval(&json!({})).unwrap(), None);

        // `$toMillis(text)`: the builtin is still reached through a variable holding it.
        let fast_iso = Expr::compile("$toMillis(v)").unwrap();
        let slow_iso = Expr::compile("($f := $toMillis; $f(v))").unwrap();
        for t in [
            json!("2015-03-05T21:46:42Z"),
            json!("2015-03-05T21:46:42.1Z"),
            json!("2015-03-05T21:46:42.123456Z"),
            json!("2015-03-05T21:46:42.5+05:30"),
            json!("2015-03-05T21:46:42-08:00"),
            json!("2024-02-30T00:00:00Z"),
            json!("2015-03-05T21:46:42+0530"),
            json!("2019-08-14T17:32:05.000+0000"),
            json!("2019-08-14T17:32:05.250-0800"),
            json!("2019-08-14T17:32:05+2400"),
            json!("2019-08-14T17:32:05+05:3"),
            json!("2019-08-14T17:32:05+053"),
            json!("2019-08-14T17:32:05+05300"),
            json!("2015-03-05T21:46:42"),
            json!("2015-03-05"),
            json!("2015-03-05T21:46:42.Z"),
            json!("x"),
            json!(7),
            json!(null),
        ] {
            let f = fast_iso.eval(&json!({ "v": t }));
            let s = slow_iso.eval(&json!({ "v": t }));
            match (&f, &s) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{t}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{t}: fast {f:?}, builtin {s:?}"),
            }
        }
    }

    #[test]
    fn a_variable_named_like_the_builtin_keeps_its_meaning() {
        let e = Expr::compile(&format!(
            "($fromMillis := function($a, $b) {{ \"mine\" }}; $fromMillis(0, \"{}\"))",
            super::ISO_SECONDS_Z
        ))
        .unwrap();
        assert_eq!(e.eval(&json!({})).unwrap(), Some(json!("mine")));
    }

    #[test]
    fn epoch_to_iso_formats_seconds() {
        assert_eq!(
            eval("$epochToIso(t)", json!({"t": 1700000000})),
            Some(json!("2023-11-14T22:13:20Z"))
        );
        assert_eq!(eval("$epochToIso(t)", json!({})), None);
    }
}

//! Record-shaping helpers: Truto's lodash-style utilities (`$pick`, `$omit`, `$groupBy`,
//! ...) and its value helpers (`$mapValues`, `$removeEmptyItems`, `$toNumber`,
//! `$jsonParse`, currency subunits, `$sortNodes`).
//!
//! Truto's library hands its arguments to lodash; these follow lodash's rules for the values
//! a mapping can hold (JSON values and `undefined`), written out here because no crate
//! reproduces them. Where lodash takes a function ("iteratee"), a mapping can pass a
//! property name, a path (`"a.b"`, `["a", "b"]`), an object to match or a `[path, value]`
//! pair, as with lodash; a JSONata function cannot be called from a host function
//! (jsonata-core's host-function API passes values only), so passing one is an error.

use std::cmp::Ordering;

use jsonata_core::evaluator::EvaluatorError;
use jsonata_core::value::JValue;
use serde_json::{Map, Value};

use super::{arg, err, js_string, js_to_number, out, truthy};

/// `castArray`: an array as it is, anything else (also `undefined`, as `null`) as one item.
fn cast_array(v: Option<Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(items)) => items,
        Some(v) => vec![v],
        None => vec![Value::Null],
    }
}

/// lodash's `castPath`: a key the object has as it is, else `a.b[0]["c"]` split.
fn path_of(key: &Value, obj: Option<&Value>) -> Vec<String> {
    match key {
        Value::Array(parts) => parts.iter().map(js_string).collect(),
        Value::String(s) => {
            if obj.and_then(Value::as_object).is_some_and(|o| o.contains_key(s)) || !s.contains(['.', '[']) {
                return vec![s.clone()];
            }
            split_path(s)
        }
        other => vec![js_string(other)],
    }
}

/// lodash's `stringToPath`: `a.b[0]["c d"]` → `a`, `b`, `0`, `c d`.
fn split_path(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    if s.starts_with('.') {
        parts.push(String::new());
    }
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !cur.is_empty() {
                    parts.push(std::mem::take(&mut cur));
                }
            }
            '[' => {
                if !cur.is_empty() {
                    parts.push(std::mem::take(&mut cur));
                }
                let quote = chars.peek().copied().filter(|q| *q == '"' || *q == '\'');
                if quote.is_some() {
                    chars.next();
                }
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if Some(c) == quote {
                        continue;
                    }
                    if c == ']' {
                        break;
                    }
                    inner.push(c);
                }
                parts.push(inner);
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
}

fn get_step<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    }
}

/// lodash's `get`: an empty path reads nothing.
fn get_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    path.iter().try_fold(v, |v, k| get_step(v, k))
}

/// What lodash makes of an "iteratee" argument that is not a function.
enum Iteratee {
    Identity,
    /// `matchesProperty` of an undefined value (`[]` or `[path]`): matches no JSON record.
    Never,
    Property(Value),
    Matches(Value),
    MatchesProperty(Value, Value),
}

impl Iteratee {
    fn of(spec: Option<Value>) -> Self {
        match spec {
            None | Some(Value::Null) => Iteratee::Identity,
            Some(Value::Object(m)) => Iteratee::Matches(Value::Object(m)),
            Some(Value::Array(mut pair)) if pair.len() >= 2 => {
                let value = pair.swap_remove(1);
                Iteratee::MatchesProperty(pair.swap_remove(0), value)
            }
            Some(Value::Array(_)) => Iteratee::Never,
            Some(key) => Iteratee::Property(key),
        }
    }

    fn apply(&self, item: &Value) -> Option<Value> {
        match self {
            Iteratee::Identity => Some(item.clone()),
            Iteratee::Never => Some(Value::Bool(false)),
            Iteratee::Property(key) => get_path(item, &path_of(key, Some(item))).cloned(),
            Iteratee::Matches(src) => Some(Value::Bool(is_match(Some(item), src))),
            Iteratee::MatchesProperty(key, src) => {
                Some(Value::Bool(is_match(get_path(item, &path_of(key, Some(item))), src)))
            }
        }
    }

    fn test(&self, item: &Value) -> bool {
        self.apply(item).as_ref().is_some_and(truthy)
    }
}

/// lodash's partial deep comparison (`_.isMatch`): every key of `src` is in `v` with a
/// matching value; an array in `src` matches when each of its items is found in `v`'s.
fn is_match(v: Option<&Value>, src: &Value) -> bool {
    match (v, src) {
        (_, Value::Object(s)) if s.is_empty() => true,
        (Some(Value::Object(o)), Value::Object(s)) => s.iter().all(|(k, sv)| is_match(o.get(k), sv)),
        (Some(Value::Array(o)), Value::Array(s)) => s.iter().all(|sv| o.iter().any(|ov| is_match(Some(ov), sv))),
        (Some(v), src) => v == src,
        (None, _) => false,
    }
}

/// JavaScript's `a > b` on JSON values (`undefined` as `None`).
fn js_gt(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) => x > y,
        (
            Some(a @ (Value::Object(_) | Value::Array(_))),
            Some(b @ (Value::Object(_) | Value::Array(_) | Value::String(_))),
        )
        | (Some(a @ Value::String(_)), Some(b @ (Value::Object(_) | Value::Array(_)))) => js_string(a) > js_string(b),
        _ => {
            let num = |v: Option<&Value>| match v {
                None => f64::NAN,
                Some(v @ (Value::Object(_) | Value::Array(_))) => js_to_number(Some(&Value::String(js_string(v)))),
                v => js_to_number(v),
            };
            num(a) > num(b)
        }
    }
}

/// lodash's `compareAscending`: values, then `null`, then `undefined`.
fn compare_ascending(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let same = match (a, b) {
        (None, None) => true,
        (Some(x @ (Value::Object(_) | Value::Array(_))), Some(y)) => std::ptr::eq(x, y),
        (Some(x), Some(y)) => x == y,
        _ => false,
    };
    if same {
        return Ordering::Equal;
    }
    let (a_def, b_def) = (a.is_some(), b.is_some());
    let (a_null, b_null) = (a == Some(&Value::Null), b == Some(&Value::Null));
    if (!b_null && !a_null && js_gt(a, b)) || (a_null && b_def) || !a_def {
        return Ordering::Greater;
    }
    if (!a_null && !b_null && js_gt(b, a)) || (b_null && a_def) || !b_def {
        return Ordering::Less;
    }
    Ordering::Equal
}

fn to_integer(v: Option<&Value>) -> f64 {
    let n = js_to_number(v);
    if n.is_nan() {
        0.0
    } else {
        n.trunc()
    }
}

fn deny_function(args: &[JValue], name: &str) -> Result<(), EvaluatorError> {
    if args.iter().any(JValue::is_function) {
        return Err(err(format!(
            "${name}: a function argument is not supported by Unigate; pass a property name, a path, an object to match or a [path, value] pair"
        )));
    }
    Ok(())
}

fn group_key(v: Option<Value>) -> String {
    v.map_or_else(|| "undefined".to_string(), |v| js_string(&v))
}

pub(super) fn group_by(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    deny_function(args, "groupBy")?;
    if arg(args, 0).is_none() {
        // lodash groups `[undefined]` under "undefined" (JSON writes the item as null).
        return Ok(out(serde_json::json!({"undefined": [null]})));
    }
    let it = Iteratee::of(arg(args, 1));
    let mut groups: Map<String, Value> = Map::new();
    for item in cast_array(arg(args, 0)) {
        let key = group_key(if item.is_null() && !matches!(it, Iteratee::Identity) {
            None
        } else {
            it.apply(&item)
        });
        if let Value::Array(items) = groups.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
            items.push(item);
        }
    }
    Ok(out(Value::Object(groups)))
}

pub(super) fn key_by(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    deny_function(args, "keyBy")?;
    if arg(args, 0).is_none() {
        // lodash keys `[undefined]` as {"undefined": undefined}, which JSON writes as {}.
        return Ok(out(Value::Object(Map::new())));
    }
    let it = Iteratee::of(arg(args, 1));
    let mut keyed = Map::new();
    for item in cast_array(arg(args, 0)) {
        let key = group_key(if item.is_null() && !matches!(it, Iteratee::Identity) {
            None
        } else {
            it.apply(&item)
        });
        keyed.insert(key, item);
    }
    Ok(out(Value::Object(keyed)))
}

/// The paths of `$pick`/`$omit`'s second argument (lodash flattens it one level).
fn paths_arg(keys: Option<Value>, obj: Option<&Value>) -> Vec<Vec<String>> {
    match keys {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(|k| path_of(k, obj)).collect(),
        Some(k) => vec![path_of(&k, obj)],
    }
}

fn set_path(target: &mut Value, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        match target {
            Value::Object(m) => {
                m.insert(first.clone(), value);
            }
            Value::Array(items) => {
                if let Ok(i) = first.parse::<usize>() {
                    if items.len() <= i {
                        items.resize(i + 1, Value::Null);
                    }
                    items[i] = value;
                }
            }
            _ => {}
        }
        return;
    }
    let fresh = || {
        if rest[0].parse::<usize>().is_ok() {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        }
    };
    let child = match target {
        Value::Object(m) => {
            let c = m.entry(first.clone()).or_insert_with(fresh);
            if !c.is_object() && !c.is_array() {
                *c = fresh();
            }
            c
        }
        Value::Array(items) => {
            let Ok(i) = first.parse::<usize>() else { return };
            if items.len() <= i {
                items.resize(i + 1, Value::Null);
            }
            if !items[i].is_object() && !items[i].is_array() {
                items[i] = fresh();
            }
            &mut items[i]
        }
        _ => return,
    };
    set_path(child, rest, value);
}

pub(super) fn pick(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let obj = arg(args, 0);
    let mut result = Value::Object(Map::new());
    if let Some(obj @ (Value::Object(_) | Value::Array(_))) = &obj {
        for path in paths_arg(arg(args, 1), Some(obj)) {
            if let Some(v) = get_path(obj, &path) {
                set_path(&mut result, &path, v.clone());
            }
        }
    }
    Ok(out(result))
}

fn unset_path(target: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        if let Value::Object(m) = target {
            m.shift_remove(first);
        }
        // lodash deletes an array's item, leaving a hole JSON writes as null.
        if let (Value::Array(items), Ok(i)) = (target, first.parse::<usize>()) {
            if let Some(x) = items.get_mut(i) {
                *x = Value::Null;
            }
        }
        return;
    }
    let child = match target {
        Value::Object(m) => m.get_mut(first),
        Value::Array(items) => first.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    };
    if let Some(c) = child {
        unset_path(c, rest);
    }
}

pub(super) fn omit(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let mut result = match arg(args, 0) {
        Some(Value::Object(m)) => Value::Object(m),
        // lodash copies an array's indexes into an object.
        Some(Value::Array(items)) => {
            Value::Object(items.into_iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect())
        }
        _ => return Ok(out(Value::Object(Map::new()))),
    };
    for path in paths_arg(arg(args, 1), Some(&result)) {
        unset_path(&mut result, &path);
    }
    Ok(out(result))
}

pub(super) fn compact(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(out(Value::Array(
        cast_array(arg(args, 0)).into_iter().filter(truthy).collect(),
    )))
}

pub(super) fn order_by(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    deny_function(args, "orderBy")?;
    let items = cast_array(arg(args, 0));
    let iteratees: Vec<Iteratee> = match arg(args, 1) {
        None => vec![Iteratee::Identity],
        Some(Value::Array(specs)) => specs
            .into_iter()
            .map(|s| match s {
                path @ Value::Array(_) => Iteratee::Property(path),
                other => Iteratee::of(Some(other)),
            })
            .collect(),
        Some(spec) => vec![Iteratee::of(Some(spec))],
    };
    let orders: Vec<bool> = match arg(args, 2) {
        None => Vec::new(),
        Some(Value::Array(o)) => o.iter().map(|o| o == "desc").collect(),
        Some(o) => vec![o == "desc"],
    };
    let keyed: Vec<(Vec<Option<Value>>, Value)> = items
        .into_iter()
        .map(|item| {
            let keys = iteratees
                .iter()
                .map(|it| if item.is_null() { None } else { it.apply(&item) })
                .collect();
            (keys, item)
        })
        .collect();
    let mut keyed = keyed;
    // A stable sort: equal records keep their order, as lodash's.
    keyed.sort_by(|(a, _), (b, _)| {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            let o = compare_ascending(x.as_ref(), y.as_ref());
            if o != Ordering::Equal {
                return if orders.get(i).copied().unwrap_or(false) {
                    o.reverse()
                } else {
                    o
                };
            }
        }
        Ordering::Equal
    });
    Ok(out(Value::Array(keyed.into_iter().map(|(_, v)| v).collect())))
}

pub(super) fn find(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    deny_function(args, "find")?;
    let it = Iteratee::of(arg(args, 1));
    Ok(cast_array(arg(args, 0))
        .into_iter()
        .find(|item| it.test(item))
        .map_or(JValue::Undefined, out))
}

pub(super) fn lofilter(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    deny_function(args, "lofilter")?;
    let it = Iteratee::of(arg(args, 1));
    Ok(out(Value::Array(
        cast_array(arg(args, 0))
            .into_iter()
            .filter(|item| it.test(item))
            .collect(),
    )))
}

pub(super) fn values(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(out(Value::Array(match arg(args, 0) {
        Some(Value::Object(m)) => m.into_iter().map(|(_, v)| v).collect(),
        Some(Value::Array(items)) => items,
        Some(Value::String(s)) => s.chars().map(|c| Value::String(c.to_string())).collect(),
        _ => Vec::new(),
    })))
}

pub(super) fn chunk(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let items = cast_array(arg(args, 0));
    let size = match arg(args, 1) {
        None => 1.0,
        Some(s) => to_integer(Some(&s)).max(0.0),
    };
    if size < 1.0 {
        return Ok(out(Value::Array(Vec::new())));
    }
    let size = if size > items.len() as f64 {
        items.len().max(1)
    } else {
        size as usize
    };
    Ok(out(Value::Array(
        items.chunks(size).map(|c| Value::Array(c.to_vec())).collect(),
    )))
}

pub(super) fn wrap(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let part = |v: Option<Value>| {
        v.map_or(
            String::new(),
            |v| if v.is_null() { String::new() } else { js_string(&v) },
        )
    };
    let wrapper = arg(args, 1);
    let end = arg(args, 2).filter(truthy).or_else(|| wrapper.clone());
    Ok(JValue::string(format!(
        "{}{}{}",
        part(wrapper),
        part(arg(args, 0)),
        part(end)
    )))
}

pub(super) fn difference(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let Some(Value::Array(items)) = arg(args, 0) else {
        return Ok(out(Value::Array(Vec::new())));
    };
    let remove = match arg(args, 1) {
        Some(Value::Array(r)) => r,
        _ => Vec::new(),
    };
    // Plain values by their JSON text (one hash lookup each, so large arrays stay linear);
    // objects and arrays, rare here, compared one by one.
    let composite = |v: &Value| v.is_object() || v.is_array();
    let plain: std::collections::HashSet<String> =
        remove.iter().filter(|v| !composite(v)).map(Value::to_string).collect();
    let complex: Vec<&Value> = remove.iter().filter(|v| composite(v)).collect();
    Ok(out(Value::Array(
        items
            .into_iter()
            .filter(|x| {
                if composite(x) {
                    !complex.contains(&x)
                } else {
                    !plain.contains(&x.to_string())
                }
            })
            .collect(),
    )))
}

fn flatten_into(items: Vec<Value>, depth: f64, out: &mut Vec<Value>) {
    for item in items {
        match item {
            Value::Array(inner) if depth >= 1.0 => flatten_into(inner, depth - 1.0, out),
            other => out.push(other),
        }
    }
}

fn flatten_to(args: &[JValue], depth: f64) -> JValue {
    let mut flat = Vec::new();
    flatten_into(cast_array(arg(args, 0)), depth, &mut flat);
    out(Value::Array(flat))
}

pub(super) fn flatten(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(flatten_to(args, 1.0))
}

pub(super) fn flatten_deep(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(flatten_to(args, f64::INFINITY))
}

pub(super) fn flatten_depth(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let depth = match arg(args, 1) {
        None => 1.0,
        Some(d) => to_integer(Some(&d)),
    };
    Ok(flatten_to(args, depth))
}

/// Truto's `$mapValues(value, mapping, lowerCase = false, defaultValue = null)`: a string
/// or number is looked up in `mapping` (case-insensitively unless `lowerCase`; an absent or
/// null entry keeps the value), arrays and objects value by value.
pub(super) fn map_values(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let value = arg(args, 0);
    let default = arg(args, 3).filter(|d| !d.is_null());
    if value.as_ref().is_none_or(Value::is_null) {
        if let Some(d) = default {
            return Ok(out(d));
        }
    }
    let Some(mapping) = arg(args, 1).filter(|m| !m.is_null()) else {
        return Ok(value.map_or(JValue::Undefined, out));
    };
    let lower_case = arg(args, 2).as_ref().is_some_and(truthy);
    let entries: Vec<(String, Value)> = match mapping {
        Value::Object(m) => m.into_iter().collect(),
        Value::Array(items) => items.into_iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(),
        Value::String(s) => s
            .chars()
            .enumerate()
            .map(|(i, c)| (i.to_string(), Value::String(c.into())))
            .collect(),
        _ => Vec::new(),
    };
    let table: Map<String, Value> = entries
        .into_iter()
        .map(|(k, v)| (if lower_case { k } else { k.to_lowercase() }, v))
        .collect();
    Ok(value.map_or(JValue::Undefined, |v| out(map_value(v, &table))))
}

fn map_value(v: Value, table: &Map<String, Value>) -> Value {
    match v {
        Value::String(_) | Value::Number(_) => match table.get(&js_string(&v).to_lowercase()) {
            None | Some(Value::Null) => v,
            Some(m) => m.clone(),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(|x| map_value(x, table)).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, x)| (k, map_value(x, table))).collect()),
        other => other,
    }
}

/// Truto's `$removeEmptyItems(array)`: drops empty objects and arrays and falsy values.
pub(super) fn remove_empty_items(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(match arg(args, 0) {
        Some(Value::Array(items)) => out(Value::Array(
            items
                .into_iter()
                .filter(|x| match x {
                    Value::Object(m) => !m.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    other => truthy(other),
                })
                .collect(),
        )),
        Some(v) => out(v),
        None => JValue::Undefined,
    })
}

/// lodash's `toNumber`: numeric text (also `0b`/`0o`/`0x`), `true`/`false`, `null` as 0;
/// anything else is `NaN`, which JSON writes as `null`.
pub(super) fn to_number(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let v = arg(args, 0);
    let n = match &v {
        Some(v @ (Value::Array(_) | Value::Object(_))) => js_to_number(Some(&Value::String(js_string(v)))),
        v => js_to_number(v.as_ref()),
    };
    Ok(if n.is_nan() { JValue::Null } else { JValue::Number(n) })
}

/// Truto's `$jsonParse(text)`: the parsed value, `null` when it is not JSON.
pub(super) fn json_parse(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let text = match arg(args, 0) {
        None | Some(Value::Null) => return Ok(JValue::Null),
        Some(Value::String(s)) => s,
        Some(v @ (Value::Number(_) | Value::Bool(_))) => return Ok(out(v)),
        Some(v) => js_string(&v),
    };
    Ok(serde_json::from_str::<Value>(text.trim_matches(|c: char| c.is_whitespace())).map_or(JValue::Null, out))
}

// ── Currency subunits ────────────────────────────────────────────────────────

/// ISO 4217 codes and their number of decimal digits, from the table Truto's library ships
/// (`currency.json`); a code it does not know leaves the amount as it is.
const DIGITS: &[(&str, u32)] = include!("currency_digits.in");

fn currency_digits(code: &str) -> Option<u32> {
    DIGITS.iter().find(|(c, _)| *c == code).map(|(_, d)| *d)
}

/// JavaScript's `parseFloat`: the longest numeric prefix.
fn parse_float(v: &Value) -> f64 {
    let s = match v {
        Value::Number(n) => return n.as_f64().unwrap_or(f64::NAN),
        other => js_string(other),
    };
    let s = s.trim_start();
    for (prefix, value) in [
        ("Infinity", f64::INFINITY),
        ("+Infinity", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
    ] {
        if s.starts_with(prefix) {
            return value;
        }
    }
    let re = regex_prefix();
    re.find(s)
        .and_then(|m| m.as_str().parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

fn regex_prefix() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    #[allow(clippy::unwrap_used)] // A constant pattern.
    RE.get_or_init(|| regex::Regex::new(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?").unwrap())
}

/// JavaScript's `n.toFixed(digits)`: exact decimal value, a tie rounded up.
fn to_fixed(n: f64, digits: u32) -> String {
    if !n.is_finite() {
        return js_string(&serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number));
    }
    if n.abs() >= 1e21 {
        return super::js_number(n);
    }
    let exact = format!("{:.*}", digits as usize + 40, n.abs());
    let (int, frac) = exact.split_once('.').unwrap_or((&exact, ""));
    let mut digits_vec: Vec<u8> = int.bytes().chain(frac.bytes().take(digits as usize)).collect();
    let rest = &frac[digits as usize..];
    if rest.as_bytes().first().is_some_and(|d| *d >= b'5') {
        let mut i = digits_vec.len();
        loop {
            if i == 0 {
                digits_vec.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits_vec[i] == b'9' {
                digits_vec[i] = b'0';
            } else {
                digits_vec[i] += 1;
                break;
            }
        }
    }
    let split = digits_vec.len() - digits as usize;
    let mut s = String::from_utf8_lossy(&digits_vec[..split]).into_owned();
    if digits > 0 {
        s.push('.');
        s.push_str(&String::from_utf8_lossy(&digits_vec[split..]));
    }
    let zero = s.bytes().all(|b| b == b'0' || b == b'.');
    if n < 0.0 && !zero {
        s.insert(0, '-');
    }
    s
}

pub(super) fn currency_from_subunit(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let Some(v) = arg(args, 0).filter(|v| !v.is_null()) else {
        return Ok(args.first().cloned().unwrap_or(JValue::Undefined));
    };
    let Some(d) = arg(args, 1).and_then(|c| c.as_str().and_then(currency_digits)) else {
        return Ok(out(v));
    };
    let amount = parse_float(&v) / 10f64.powi(d as i32);
    Ok(JValue::string(to_fixed(amount, d)))
}

pub(super) fn currency_to_subunit(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let Some(v) = arg(args, 0).filter(|v| !v.is_null()) else {
        return Ok(args.first().cloned().unwrap_or(JValue::Undefined));
    };
    let Some(d) = arg(args, 1).and_then(|c| c.as_str().and_then(currency_digits)) else {
        return Ok(out(v));
    };
    let n = (parse_float(&v) * 10f64.powi(d as i32)).floor();
    Ok(if n.is_nan() { JValue::Null } else { JValue::Number(n) })
}

/// Truto's `$sortNodes(array, idKey = "id", parentIdKey = "parent_id", sequenceKey =
/// "sequence")`: a tree's nodes in depth-first order, siblings by sequence.
pub(super) fn sort_nodes(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let Some(Value::Array(nodes)) = arg(args, 0) else {
        return Err(err("$sortNodes: the first argument must be an array".into()));
    };
    let key = |i: usize, default: &str| arg(args, i).unwrap_or_else(|| Value::String(default.into()));
    let (id_key, parent_key, seq_key) = (key(1, "id"), key(2, "parent_id"), key(3, "sequence"));
    let get = |n: &Value, k: &Value| get_path(n, &path_of(k, Some(n))).cloned();
    // Ids by their JSON text. Truto's keeps nodes in a Map by id: every node of an id
    // stands for the last of them.
    let ids: Vec<Option<String>> = nodes.iter().map(|n| get(n, &id_key).map(|v| v.to_string())).collect();
    let last: std::collections::HashMap<&Option<String>, usize> =
        ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
    // Children by parent index; a node whose parent is absent (or falsy) is a root.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut roots = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let me = last.get(&ids[i]).copied().unwrap_or(i);
        let parent = get(n, &parent_key).filter(truthy).map(|p| Some(p.to_string()));
        match parent.and_then(|p| last.get(&p).copied()) {
            Some(p) => children[p].push(me),
            None => roots.push(me),
        }
    }
    let seq = |i: &usize| get(&nodes[*i], &seq_key);
    let mut out_nodes = Vec::with_capacity(nodes.len());
    fn walk(
        level: &[usize],
        children: &[Vec<usize>],
        nodes: &[Value],
        seq: &dyn Fn(&usize) -> Option<Value>,
        out_nodes: &mut Vec<Value>,
        depth: usize,
    ) {
        if depth > 1000 {
            return;
        }
        let mut level = level.to_vec();
        level.sort_by(|a, b| compare_ascending(seq(a).as_ref(), seq(b).as_ref()));
        for i in level {
            out_nodes.push(nodes[i].clone());
            walk(&children[i], children, nodes, seq, out_nodes, depth + 1);
        }
    }
    walk(&roots, &children, &nodes, &seq, &mut out_nodes, 0);
    Ok(out(Value::Array(out_nodes)))
}

/// Truto's `$zipSqlResponse(columns, rows, key)`: each row of values as an object, named
/// by each column's `key`.
pub(super) fn zip_sql_response(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let (Some(Value::Array(columns)), Some(Value::Array(rows))) = (arg(args, 0), arg(args, 1)) else {
        return Err(err("$zipSqlResponse: columns and rows must be arrays".into()));
    };
    let key = arg(args, 2);
    let names: Vec<String> = columns
        .iter()
        .map(|c| {
            key.as_ref()
                .and_then(|k| get_step(c, &js_string(k)))
                .map_or_else(|| "undefined".to_string(), js_string)
        })
        .collect();
    let objects = rows
        .iter()
        .map(|row| {
            let mut m = Map::new();
            for (i, name) in names.iter().enumerate() {
                match get_step(row, &i.to_string()) {
                    Some(v) => {
                        m.insert(name.clone(), v.clone());
                    }
                    // JavaScript's `undefined` member, which JSON leaves out.
                    None => {
                        m.shift_remove(name);
                    }
                }
            }
            Value::Object(m)
        })
        .collect();
    Ok(out(Value::Array(objects)))
}

// ── $convertQueryToSql ───────────────────────────────────────────────────────

struct SqlOptions {
    conjunction: String,
    use_double_quotes: bool,
    no_quotes: bool,
    no_quotes_for_date: bool,
    escape_single_quotes: bool,
    use_or_for_in: bool,
    no_space: bool,
    group_in_brackets: bool,
}

/// Truto's `convertToDataType`: a value as the clause writes it, `None` for null/missing.
fn sql_value(
    value: Option<&Value>,
    key: &str,
    data_types: &Value,
    o: &SqlOptions,
) -> Result<Option<String>, EvaluatorError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let quoted = |s: String| {
        if o.no_quotes {
            s
        } else if o.use_double_quotes {
            format!("\"{s}\"")
        } else {
            format!("'{s}'")
        }
    };
    Ok(Some(match data_types.get(key) {
        Some(Value::String(t)) if t == "string" => {
            if o.no_quotes {
                js_string(value)
            } else if o.use_double_quotes {
                format!("\"{}\"", js_string(value))
            } else if o.escape_single_quotes {
                let Value::String(s) = value else {
                    return Err(err("$convertQueryToSql: escapeSingleQuotes needs a text value".into()));
                };
                format!("'{}'", s.replace('\'', "\\'"))
            } else {
                format!("'{}'", js_string(value))
            }
        }
        Some(Value::String(t)) if t == "dotnetdate" => {
            format!(
                "DateTime({})",
                super::dates::format_iso(&js_string(value), Some("yyyy,MM,dd"))
            )
        }
        Some(mapping @ (Value::Object(_) | Value::Array(_) | Value::Null)) => {
            let mapped = map_values(&[out(value.clone()), out(mapping.clone())])?;
            match super::super::to_value(&mapped) {
                Value::String(s) => quoted(s),
                other => js_string(&other),
            }
        }
        Some(Value::String(t)) if t.starts_with("date") => {
            let date = super::dates::format_iso(&js_string(value), t.split('|').nth(1));
            if o.no_quotes_for_date {
                date
            } else {
                quoted(date)
            }
        }
        _ => js_string(value),
    }))
}

fn sql_clause(
    query: Option<&Value>,
    keys_to_map: &[String],
    mapping: &Value,
    data_types: &Value,
    operators: &Value,
    o: &SqlOptions,
    depth: usize,
) -> Result<String, EvaluatorError> {
    let type_error = || err("$convertQueryToSql: cannot read a property of undefined or null".into());
    if depth > 32 {
        return Err(err("$convertQueryToSql: `or` nested too deep".into()));
    }
    let keys: Vec<String> = if keys_to_map.is_empty() {
        match query {
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            Some(Value::Array(a)) => (0..a.len()).map(|i| i.to_string()).collect(),
            Some(Value::Null) | None => return Err(type_error()),
            Some(_) => Vec::new(),
        }
    } else {
        keys_to_map.to_vec()
    };
    let get = |key: &str| -> Result<Option<&Value>, EvaluatorError> {
        match query {
            None | Some(Value::Null) => Err(type_error()),
            Some(q) => Ok(get_step(q, key)),
        }
    };
    let space = if o.no_space { "" } else { " " };
    let mut statement: Vec<String> = Vec::new();
    for key in &keys {
        if key == "or" {
            let part = sql_clause(get(key)?, &keys, mapping, data_types, operators, o, depth + 1)?;
            statement.push(format!("({part})"));
            continue;
        }
        let comparison = get(key)?;
        let ops: Vec<String> = match comparison {
            Some(Value::Array(_)) => vec!["in".into()],
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            Some(Value::Null) => return Err(type_error()),
            _ => vec!["eq".into()],
        };
        let sql_key = mapping
            .get(key)
            .filter(|v| truthy(v))
            .map_or_else(|| key.clone(), js_string);
        for op in ops {
            let builtin = match op.as_str() {
                "eq" => Some("="),
                "ne" => Some("<>"),
                "gt" => Some(">"),
                "gte" => Some(">="),
                "lt" => Some("<"),
                "lte" => Some("<="),
                "in" => Some("in"),
                "nin" => Some("not in"),
                "like" => Some("like"),
                _ => None,
            };
            let comparator = operators
                .get(&op)
                .filter(|v| truthy(v))
                .map(js_string)
                .or_else(|| builtin.map(str::to_string));
            if op != "in" && op != "nin" {
                let Some(comparator) = comparator else {
                    return Err(err(format!("$convertQueryToSql: Unknown operator: {op}")));
                };
                let value = match comparison {
                    Some(Value::Object(m)) => m.get(&op),
                    other => other,
                };
                if let Some(v) = sql_value(value, key, data_types, o)? {
                    statement.push(format!("{sql_key}{space}{comparator}{space}{v}"));
                }
                continue;
            }
            let values = match comparison {
                Some(Value::Array(a)) => Some(a),
                Some(Value::Object(m)) => match m.get(&op) {
                    Some(Value::Array(a)) => Some(a),
                    _ => None,
                },
                _ => None,
            }
            .ok_or_else(|| err(format!("$convertQueryToSql: `{op}` needs an array")))?;
            if o.use_or_for_in {
                let eq = operators
                    .get("eq")
                    .filter(|v| truthy(v))
                    .map_or_else(|| "=".to_string(), js_string);
                let mut parts = Vec::new();
                for v in values {
                    if let Some(v) = sql_value(Some(v), key, data_types, o)? {
                        parts.push(format!("{sql_key}{space}{eq}{space}{v}"));
                    }
                }
                statement.push(format!("({})", parts.join(" OR ")));
                continue;
            }
            let mut parts = Vec::new();
            for v in values {
                parts.push(sql_value(Some(v), key, data_types, o)?.unwrap_or_default());
            }
            let comparator = comparator.unwrap_or_else(|| op.clone());
            statement.push(format!("{sql_key}{space}{comparator}{space}({})", parts.join(",")));
        }
    }
    if o.group_in_brackets && !statement.is_empty() {
        let mut it = statement.into_iter();
        let first = it.next().unwrap_or_default();
        return Ok(it.fold(first, |acc, c| format!("({acc} {} {c})", o.conjunction)));
    }
    Ok(statement.join(&format!(" {} ", o.conjunction)))
}

/// Truto's `$convertQueryToSql(query, keysToMap = [], mapping = {}, dataTypes = {},
/// customOperatorMapping = {}, options = {})`: a SQL-style condition from a query of
/// `{field: {operator: value}}`.
pub(super) fn convert_query_to_sql(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    // A null argument is not its default: Truto's reads a property of it and fails.
    if (1..=5).any(|i| arg(args, i) == Some(Value::Null)) {
        return Err(err("$convertQueryToSql: cannot read properties of null".into()));
    }
    let query = arg(args, 0);
    let keys: Vec<String> = match arg(args, 1) {
        Some(Value::Array(k)) => k.iter().map(js_string).collect(),
        Some(Value::String(s)) if !s.is_empty() => s.chars().map(String::from).collect(),
        _ => Vec::new(),
    };
    let empty = || Value::Object(Map::new());
    let mapping = arg(args, 2).unwrap_or_else(empty);
    let data_types = arg(args, 3).unwrap_or_else(empty);
    let operators = arg(args, 4).unwrap_or_else(empty);
    let options = arg(args, 5).unwrap_or_else(empty);
    let flag = |k: &str| options.get(k).is_some_and(truthy);
    let o = SqlOptions {
        conjunction: options
            .get("conjunction")
            .filter(|v| truthy(v))
            .map_or_else(|| "AND".to_string(), js_string),
        use_double_quotes: flag("useDoubleQuotes"),
        no_quotes: flag("noQuotes"),
        no_quotes_for_date: flag("noQuotesForDate"),
        escape_single_quotes: flag("escapeSingleQuotes"),
        use_or_for_in: flag("useOrForIn"),
        no_space: flag("noSpaceBetweenOperator"),
        group_in_brackets: flag("groupComparisonInBrackets"),
    };
    sql_clause(query.as_ref(), &keys, &mapping, &data_types, &operators, &o, 0).map(JValue::string)
}

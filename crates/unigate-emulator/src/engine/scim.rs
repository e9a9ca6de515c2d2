//! A SCIM 2.0 `PatchOp` body (RFC 7644 §3.5.2: `{"schemas": [".../PatchOp"],
//! "Operations": [{op, path, value}]}`) turned into the plain body the write op applies:
//! `replace` and `add` of a single-valued attribute (or without a `path`, of the `value`'s
//! attributes) become that field; `add` of values to a multi-valued attribute puts their
//! ids under `$add.<path>`, and `remove` (with a `value` list, or a `path` filter
//! `members[value eq "id"]`) under `$remove.<path>`, for the route's `array_ops` to apply.

use serde_json::{Map, Value};

use super::failure::{Failure, FieldError};
use crate::spec::ErrorKind;
use crate::template::value_to_text;

pub(super) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The plain body of a `PatchOp`; a body that is not one, or an operation that cannot be
/// read, is a `validation` error naming it.
pub(super) fn plain_body(body: &Map<String, Value>) -> Result<Map<String, Value>, Failure> {
    let invalid = |field: &str, message: String, value: Option<&Value>| {
        Failure::fields(
            ErrorKind::Validation,
            vec![FieldError::new(field, "invalid", message, value)],
        )
    };
    let schemas = body.get("schemas");
    if !schemas
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(PATCH_OP)))
    {
        return Err(invalid("schemas", format!("schemas must contain {PATCH_OP}"), schemas));
    }
    let operations = match body.get("Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        other => {
            return Err(invalid(
                "Operations",
                "Operations must be a non-empty array".into(),
                other,
            ))
        }
    };
    let mut out = Map::new();
    for (i, operation) in operations.iter().enumerate() {
        let name = format!("Operations[{i}]");
        let op = operation
            .get("op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let path = operation.get("path").and_then(Value::as_str);
        let value = operation.get("value");
        match (op.as_str(), path, value) {
            ("add" | "replace", None, Some(Value::Object(attributes))) => {
                out.extend(attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            ("add", Some(path), Some(Value::Array(values))) => push_ids(&mut out, "$add", path, values),
            ("add" | "replace", Some(path), Some(value)) if !path.contains('[') => {
                out.insert(path.to_owned(), value.clone());
            }
            ("remove", Some(path), Some(Value::Array(values))) => push_ids(&mut out, "$remove", path, values),
            ("remove", Some(path), None) => match value_filter(path) {
                Some((attribute, id)) => push_ids(&mut out, "$remove", attribute, &[Value::String(id)]),
                None => return Err(invalid(&name, format!("Unsupported remove path: {path}"), None)),
            },
            ("add" | "replace" | "remove", _, _) => {
                return Err(invalid(
                    &name,
                    "Operation needs a path or a value it can apply".into(),
                    Some(operation),
                ))
            }
            _ => {
                return Err(invalid(
                    &name,
                    "op must be add, replace or remove".into(),
                    operation.get("op"),
                ))
            }
        }
    }
    Ok(out)
}

/// Adds the ids of `values` (each a `{"value": id}` object, or an id) to `out[bucket][path]`.
fn push_ids(out: &mut Map<String, Value>, bucket: &str, path: &str, values: &[Value]) {
    let ids = values.iter().map(|v| {
        let id = v.get("value").unwrap_or(v);
        Value::String(value_to_text(id))
    });
    if let Value::Object(buckets) = out
        .entry(bucket.to_owned())
        .or_insert_with(|| Value::Object(Map::new()))
    {
        if let Value::Array(list) = buckets
            .entry(path.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.extend(ids);
        }
    }
}

/// `members[value eq "id"]` as `("members", "id")`.
fn value_filter(path: &str) -> Option<(&str, String)> {
    let (attribute, filter) = path.strip_suffix(']')?.split_once('[')?;
    let mut words = filter.splitn(3, ' ');
    let (field, op, literal) = (words.next()?, words.next()?, words.next()?);
    if !field.eq_ignore_ascii_case("value") || !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    let id = literal.trim().trim_matches('"');
    (!id.is_empty()).then(|| (attribute, id.to_owned()))
}

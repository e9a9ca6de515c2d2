//! The checks on a write's body: unknown and read-only fields first (their own error
//! kinds), then required fields and each field's rule (type, null, length, pattern, range,
//! enum), all failures reported together.

use serde_json::{Map, Value};

use super::failure::{Failure, FieldError};
use crate::dotted::{get_path, top_field};
use crate::spec::{ErrorKind, FieldRule, FieldType, ReadOnlyMode, WriteSpec};

/// Unknown and read-only fields first (their own error kinds), then required and field rules.
pub(super) fn validate(
    write: &WriteSpec,
    version_field: &Option<String>,
    body: &Map<String, Value>,
) -> Result<(), Failure> {
    if write.reject_unknown_fields {
        let known = |f: &String| {
            write.fields.keys().any(|k| top_field(k) == f)
                || write.required.iter().any(|k| top_field(k) == f)
                || write.read_only.contains(f)
                || (write.optimistic_version && version_field.as_ref() == Some(f))
                || write
                    .array_ops
                    .iter()
                    .flat_map(|op| [op.add.as_deref(), op.remove.as_deref()])
                    .flatten()
                    .any(|p| top_field(p) == f)
        };
        let unknown: Vec<FieldError> = body
            .iter()
            .filter(|(f, _)| !known(f))
            .map(|(f, v)| FieldError::new(f, "unknown_field", format!("Unrecognized field \"{f}\""), Some(v)))
            .collect();
        if !unknown.is_empty() {
            return Err(Failure::fields(ErrorKind::UnknownField, unknown));
        }
    }
    if write.read_only_mode == ReadOnlyMode::Reject {
        let read_only: Vec<FieldError> = body
            .iter()
            .filter(|(f, _)| write.read_only.contains(f))
            .map(|(f, v)| FieldError::new(f, "read_only", format!("{f} is read-only"), Some(v)))
            .collect();
        if !read_only.is_empty() {
            return Err(Failure::fields(ErrorKind::ReadOnlyField, read_only));
        }
    }
    let mut errors = Vec::new();
    for field in &write.required {
        if get_path(body, field).is_none_or(Value::is_null) {
            errors.push(FieldError::new(field, "missing", format!("{field} is required"), None));
        }
    }
    for (field, rule) in &write.fields {
        if let Some(value) = get_path(body, field) {
            if let Some(error) = check_field(field, rule, value) {
                errors.push(error);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::fields(ErrorKind::Validation, errors))
    }
}

fn check_field(field: &str, rule: &FieldRule, value: &Value) -> Option<FieldError> {
    let fail = |code, message: String| Some(FieldError::new(field, code, message, Some(value)));
    if value.is_null() {
        let allowed = rule.nullable || (rule.kind.is_none() && rule.min_length.is_none() && rule.pattern.is_none());
        return if allowed {
            None
        } else {
            fail("type", format!("{field} must not be null"))
        };
    }
    if let Some(kind) = rule.kind {
        let ok = match kind {
            FieldType::String => value.is_string(),
            FieldType::Integer => value.is_i64() || value.is_u64(),
            FieldType::Number => value.is_number(),
            FieldType::Boolean => value.is_boolean(),
            FieldType::Array => value.is_array(),
            FieldType::Object => value.is_object(),
        };
        if !ok {
            return fail("type", format!("{field} must be of type {kind:?}").to_lowercase());
        }
    }
    let length = match value {
        Value::String(s) => Some(s.chars().count()),
        Value::Array(a) => Some(a.len()),
        _ => None,
    };
    if let (Some(len), Some(min)) = (length, rule.min_length) {
        if len < min {
            return fail(
                "too_short",
                format!(
                    "{field} length must be between {min} and {}",
                    rule.max_length.map_or("∞".into(), |m| m.to_string())
                ),
            );
        }
    }
    if let (Some(len), Some(max)) = (length, rule.max_length) {
        if len > max {
            return fail("too_long", format!("{field} length must be at most {max}"));
        }
    }
    if let (Value::String(s), Some(pattern)) = (value, &rule.pattern) {
        if !pattern.regex.is_match(s) {
            return fail("pattern", format!("{field} must match \"{}\"", pattern.source));
        }
    }
    if let Some(n) = value.as_f64() {
        if rule.minimum.is_some_and(|min| n < min) {
            return fail(
                "below_minimum",
                format!("{field} must be at least {}", rule.minimum.unwrap_or_default()),
            );
        }
        if rule.maximum.is_some_and(|max| n > max) {
            return fail(
                "above_maximum",
                format!("{field} must be at most {}", rule.maximum.unwrap_or_default()),
            );
        }
    }
    if !rule.one_of.is_empty() && !rule.one_of.contains(value) {
        return fail(
            "not_in_enum",
            format!("{field} must be one of {}", Value::Array(rule.one_of.clone())),
        );
    }
    None
}

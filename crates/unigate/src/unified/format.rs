//! Shaping a mapped record for the client: `remote_data`, `normalized` coercion against
//! the model's JSON Schema, and `truto_exclude_fields`.

use serde_json::{Map, Value};

/// Removes dotted paths (`a.b`); through arrays, the rest of the path applies to each item.
pub fn exclude(value: &mut Value, paths: &[String]) {
    for path in paths {
        let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
        remove_path(value, &parts);
    }
}

fn remove_path(value: &mut Value, parts: &[&str]) {
    match value {
        Value::Array(items) => {
            for item in items {
                remove_path(item, parts);
            }
        }
        Value::Object(map) => match parts {
            [] => {}
            [last] => {
                map.shift_remove(*last);
            }
            [first, rest @ ..] => {
                if let Some(child) = map.get_mut(*first) {
                    remove_path(child, rest);
                }
            }
        },
        _ => {}
    }
}

/// Keeps only the fields the schema declares, with their declared types: ids and other
/// strings as strings, `date-time` strings (or epoch numbers) as RFC 3339 UTC, arrays
/// and objects recursively. Values that cannot be coerced are dropped.
pub fn normalize(value: &Value, schema: &Value) -> Option<Value> {
    let ty = schema.get("type").and_then(Value::as_str);
    match ty {
        Some("object") => {
            let obj = value.as_object()?;
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                return Some(value.clone());
            };
            let mut out = Map::new();
            for (k, sub) in props {
                if k == "remote_data" {
                    continue;
                }
                if let Some(v) = obj.get(k).and_then(|v| normalize(v, sub)) {
                    out.insert(k.clone(), v);
                }
            }
            Some(Value::Object(out))
        }
        Some("array") => {
            let items = value.as_array()?;
            let item_schema = schema.get("items").cloned().unwrap_or(Value::Null);
            Some(Value::Array(
                items.iter().filter_map(|i| normalize(i, &item_schema)).collect(),
            ))
        }
        Some("string") => {
            if schema.get("format").and_then(Value::as_str) == Some("date-time") {
                return to_rfc3339(value).map(Value::String);
            }
            match value {
                Value::String(s) => Some(Value::String(s.clone())),
                Value::Number(n) => Some(Value::String(n.to_string())),
                Value::Bool(b) => Some(Value::String(b.to_string())),
                _ => None,
            }
        }
        Some("number") | Some("integer") => match value {
            Value::Number(_) => Some(value.clone()),
            Value::String(s) => s
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            _ => None,
        },
        Some("boolean") => match value {
            Value::Bool(_) => Some(value.clone()),
            Value::String(s) if s == "true" || s == "false" => Some(Value::Bool(s == "true")),
            _ => None,
        },
        _ => (!value.is_null()).then(|| value.clone()),
    }
}

fn to_rfc3339(value: &Value) -> Option<String> {
    use chrono::{DateTime, SecondsFormat, Utc};
    let dt: DateTime<Utc> = match value {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z").map(|d| d.with_timezone(&Utc)))
            .ok()?,
        // Epoch numbers: milliseconds when implausibly large for seconds.
        Value::Number(n) => {
            let f = n.as_f64()?;
            let ms = if f.abs() > 1e11 { f } else { f * 1000.0 };
            DateTime::from_timestamp_millis(ms as i64)?
        }
        _ => return None,
    };
    // Fractions of a second only when there are any (milliseconds, micro-, nanoseconds).
    Some(dt.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// Deep merge: objects merge key by key, anything else in `patch` replaces `base`.
pub fn deep_merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => deep_merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_paths_reach_nested_fields_and_array_items() {
        let mut v = json!({"id": "1", "remote_data": {"plan": {"name": "x", "seats": 3}}, "licenses": [{"id": "a", "name": "n"}]});
        exclude(
            &mut v,
            &["remote_data.plan.seats".into(), "licenses.name".into(), "id".into()],
        );
        assert_eq!(
            v,
            json!({"remote_data": {"plan": {"name": "x"}}, "licenses": [{"id": "a"}]})
        );
    }

    #[test]
    fn normalized_records_keep_declared_fields_with_declared_types() {
        let schema = json!({"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "licenses": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
            "remote_data": {"type": "object"}}});
        let v = json!({"id": 42, "name": "n", "extra": 1, "created_at": "2024-01-02T03:04:05+02:00",
            "licenses": [{"id": 7, "x": 1}], "remote_data": {"a": 1}});
        assert_eq!(
            normalize(&v, &schema).unwrap(),
            json!({"id": "42", "name": "n", "created_at": "2024-01-02T01:04:05Z", "licenses": [{"id": "7"}]})
        );
    }

    #[test]
    fn epoch_dates_normalize_to_rfc3339() {
        let s = json!({"type": "string", "format": "date-time"});
        assert_eq!(normalize(&json!(1700000000), &s), Some(json!("2023-11-14T22:13:20Z")));
        assert_eq!(normalize(&json!("not a date"), &s), None);
        assert_eq!(
            normalize(&json!("2024-02-20T09:41:12.345+01:00"), &s),
            Some(json!("2024-02-20T08:41:12.345Z")),
            "milliseconds are kept"
        );
        assert_eq!(
            normalize(&json!(1700000000123_i64), &s),
            Some(json!("2023-11-14T22:13:20.123Z"))
        );
    }

    #[test]
    fn deep_merge_lets_the_patch_win() {
        let mut b = json!({"a": {"x": 1, "y": 2}, "b": 1});
        deep_merge(&mut b, &json!({"a": {"y": 3}, "b": {"z": 1}}));
        assert_eq!(b, json!({"a": {"x": 1, "y": 3}, "b": {"z": 1}}));
    }
}

//! A call's query parameters checked against what its method takes, and the unified list
//! filters (`email=x`, `created_at[gte]=2024-05-01`) read into checks on mapped records.
//!
//! A list takes the model's filters ([`FilterConfig`]) and the integration's own
//! `query_params`; anything else is a 400 naming it, as is a required parameter that is
//! missing (any method) or a filter value that cannot be read. Every filter given is
//! checked on each mapped record ([`Filters::matches`]), also those the provider applied
//! itself (`filters` of the mapping), so a provider's looser match never widens the answer.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::{json, Map, Value};

use crate::catalog::types::{FilterConfig, FilterKind, ModelResourceConfig, UnifiedMethod};
use crate::catalog::{Integration, UnifiedMapping};
use crate::error::ApiError;

/// The filters of one list call; empty for any other call.
#[derive(Debug, Default)]
pub(super) struct Filters {
    checks: Vec<Check>,
}

#[derive(Debug)]
struct Check {
    /// The record's field, split at dots.
    field: Vec<String>,
    test: Test,
}

#[derive(Debug)]
enum Test {
    /// Equal to this, ignoring case.
    Equals(String),
    Time(Op, DateTime<FixedOffset>),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
}

const OPS: [(&str, Op); 4] = [("gt", Op::Gt), ("gte", Op::Gte), ("lt", Op::Lt), ("lte", Op::Lte)];

impl Filters {
    /// Checks `query` (the parameters that are not Unigate's own) against what `method`
    /// takes on `integration`, and reads the filters of a list.
    pub(super) fn read(
        integration: &Integration,
        mapping: &UnifiedMapping,
        model_resource: Option<&ModelResourceConfig>,
        method: UnifiedMethod,
        query: &Map<String, Value>,
    ) -> Result<Filters, ApiError> {
        for (name, param) in &mapping.query_params {
            let given = match query.get(name) {
                Some(Value::String(s)) => !s.trim().is_empty(),
                Some(_) => {
                    return Err(ApiError::bad_request(format!(
                        "`{name}` must be a single value, e.g. `{name}=x`."
                    )))
                }
                None => false,
            };
            if param.required && !given {
                return Err(ApiError::bad_request(format!(
                    "The `{name}` query parameter is required by `{}`: {}",
                    integration.name(),
                    param.description
                ))
                .with_details(json!({ "integration": integration.name(), "parameter": name })));
            }
        }
        let (UnifiedMethod::List, Some(model_resource)) = (method, model_resource) else {
            return Ok(Filters::default());
        };
        let mut checks = Vec::new();
        for (name, value) in query {
            if mapping.query_params.contains_key(name) {
                continue;
            }
            let Some(filter) = model_resource.filters.get(name) else {
                let mut known: Vec<&str> = model_resource.filters.keys().map(String::as_str).collect();
                known.extend(mapping.query_params.keys().map(String::as_str));
                return Err(ApiError::bad_request(format!(
                    "Unknown query parameter `{name}`: this list on `{}` takes {}.",
                    integration.name(),
                    if known.is_empty() {
                        "no filters".to_string()
                    } else {
                        known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    }
                ))
                .with_details(json!({ "integration": integration.name(), "parameter": name })));
            };
            read_filter(name, filter, value, &mut checks)?;
        }
        Ok(Filters { checks })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// Whether the mapped record passes every filter. A record without the field does not:
    /// it cannot be shown to match.
    pub(super) fn matches(&self, record: &Value) -> bool {
        self.checks.iter().all(|c| {
            let mut values = Vec::new();
            leaves(record, &c.field, &mut values);
            values.into_iter().any(|v| c.test.passes(v))
        })
    }
}

impl Test {
    fn passes(&self, v: &Value) -> bool {
        match self {
            Test::Equals(want) => match v {
                Value::String(s) => s.to_lowercase() == *want,
                Value::Bool(b) => b.to_string() == *want,
                Value::Number(n) => n.to_string() == *want,
                _ => false,
            },
            Test::Time(op, at) => {
                let Some(t) = v.as_str().and_then(parse_time) else {
                    return false;
                };
                match op {
                    Op::Gt => t > *at,
                    Op::Gte => t >= *at,
                    Op::Lt => t < *at,
                    Op::Lte => t <= *at,
                }
            }
        }
    }
}

fn read_filter(name: &str, filter: &FilterConfig, value: &Value, checks: &mut Vec<Check>) -> Result<(), ApiError> {
    let field: Vec<String> = filter
        .field
        .as_deref()
        .unwrap_or(name)
        .split('.')
        .map(str::to_string)
        .collect();
    match filter.kind {
        FilterKind::String => match value {
            Value::String(s) if !s.is_empty() => {
                checks.push(Check {
                    field,
                    test: Test::Equals(s.to_lowercase()),
                });
                Ok(())
            }
            _ => Err(ApiError::bad_request(format!(
                "The `{name}` filter takes one value, e.g. `{name}=x`."
            ))),
        },
        FilterKind::DateTime => {
            let bad = || {
                ApiError::bad_request(format!(
                    "The `{name}` filter takes `{name}[gt]`, `[gte]`, `[lt]` or `[lte]` with an RFC 3339 time or a date, e.g. `{name}[gte]=2024-05-01T00:00:00Z`."
                ))
            };
            let Value::Object(ops) = value else {
                return Err(bad());
            };
            for (op, v) in ops {
                let op = OPS.iter().find(|(n, _)| n == op).map(|(_, o)| *o).ok_or_else(bad)?;
                let at = v.as_str().and_then(parse_time).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "`{name}` has a value that is not an RFC 3339 time or a date: `{}`.",
                        v.as_str().unwrap_or_default()
                    ))
                })?;
                checks.push(Check {
                    field: field.clone(),
                    test: Test::Time(op, at),
                });
            }
            if ops.is_empty() {
                return Err(bad());
            }
            Ok(())
        }
    }
}

/// An RFC 3339 time, or a date (midnight UTC).
fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s).ok().or_else(|| {
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        Some(d.and_hms_opt(0, 0, 0)?.and_utc().fixed_offset())
    })
}

/// The values at `path` in `v`, through objects and arrays.
fn leaves<'a>(v: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    match (v, path.split_first()) {
        (Value::Array(items), _) => items.iter().for_each(|i| leaves(i, path, out)),
        (_, None) => out.push(v),
        (Value::Object(m), Some((first, rest))) => {
            if let Some(child) = m.get(first) {
                leaves(child, rest, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn filters(pairs: &[(&str, Value)]) -> Filters {
        let mut checks = Vec::new();
        for (name, v) in pairs {
            let (kind, field) = match *name {
                "created_at" => (FilterKind::DateTime, None),
                "email" => (FilterKind::String, Some("emails.email".to_string())),
                _ => (FilterKind::String, None),
            };
            let f = FilterConfig {
                kind,
                field,
                description: String::new(),
            };
            read_filter(name, &f, v, &mut checks).unwrap();
        }
        Filters { checks }
    }

    #[test]
    fn strings_match_ignoring_case_through_arrays() {
        let user = json!({"first_name": "Ada", "emails": [{"email": "a@x.io"}, {"email": "Ada@Work.io"}]});
        assert!(filters(&[("email", json!("ada@work.io"))]).matches(&user));
        assert!(filters(&[("first_name", json!("ADA"))]).matches(&user));
        assert!(!filters(&[("email", json!("b@x.io"))]).matches(&user));
        // No such field: not shown to match.
        assert!(!filters(&[("last_name", json!("x"))]).matches(&user));
    }

    #[test]
    fn times_compare_across_offsets_and_dates_are_midnight_utc() {
        let user = json!({"created_at": "2024-05-01T02:00:00+02:00"}); // 00:00 UTC
        assert!(filters(&[("created_at", json!({"gte": "2024-05-01"}))]).matches(&user));
        assert!(!filters(&[("created_at", json!({"gt": "2024-05-01"}))]).matches(&user));
        assert!(filters(&[("created_at", json!({"gt": "2024-04-30", "lt": "2024-05-01T00:00:01Z"}))]).matches(&user));
        assert!(filters(&[("created_at", json!({"lte": "2024-05-01T00:00:00Z"}))]).matches(&user));
        assert!(!filters(&[("created_at", json!({"lt": "2024-05-01T00:00:00Z"}))]).matches(&user));
        // An unreadable time on the record does not match.
        assert!(!filters(&[("created_at", json!({"gt": "2000-01-01"}))]).matches(&json!({"created_at": "soon"})));
    }

    #[test]
    fn unreadable_filter_values_are_refused_by_name() {
        let f = FilterConfig {
            kind: FilterKind::DateTime,
            field: None,
            description: String::new(),
        };
        for bad in [
            json!("2024-01-01"),
            json!({"after": "2024-01-01"}),
            json!({"gt": "yesterday"}),
            json!({}),
        ] {
            let e = read_filter("created_at", &f, &bad, &mut Vec::new()).unwrap_err();
            assert!(e.message.contains("created_at"), "{}", e.message);
        }
        let s = FilterConfig {
            kind: FilterKind::String,
            field: None,
            description: String::new(),
        };
        let e = read_filter("status", &s, &json!(["a", "b"]), &mut Vec::new()).unwrap_err();
        assert!(e.message.contains("status"), "{}", e.message);
    }
}

//! Helper functions available to every mapping, named after Truto's so mappings port.
//!
//! Keep this list in one place with its tests: a mapping that uses a function not listed
//! here fails at evaluation with a reference error naming it.

use jsonata_core::evaluator::{Evaluator, EvaluatorError};
use jsonata_core::value::JValue;

pub const NAMES: &[&str] = &["removeEmpty", "firstNonEmpty", "toNumber", "epochToIso", "hexToNumber"];

pub fn register(ev: &mut Evaluator) -> Result<(), EvaluatorError> {
    ev.register_fn("removeEmpty", |args: &[JValue]| {
        Ok(args.first().map(remove_empty).unwrap_or(JValue::Undefined))
    })?;
    ev.register_fn("firstNonEmpty", |args: &[JValue]| {
        Ok(args.iter().find(|v| !is_empty(v)).cloned().unwrap_or(JValue::Undefined))
    })?;
    ev.register_fn("toNumber", |args: &[JValue]| {
        Ok(match args.first() {
            Some(JValue::Number(n)) => JValue::Number(*n),
            Some(JValue::String(s)) => s.trim().parse::<f64>().map(JValue::Number).unwrap_or(JValue::Undefined),
            Some(JValue::Bool(b)) => JValue::Number(if *b { 1.0 } else { 0.0 }),
            _ => JValue::Undefined,
        })
    })?;
    // Unix seconds (number or numeric string) to RFC 3339 UTC; anything else is undefined,
    // so a provider that omits the timestamp gives an absent field, not a wrong date.
    ev.register_fn("epochToIso", |args: &[JValue]| {
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
    })?;
    // Hexadecimal text to a number: ObjectId-style ids carry their creation time in their
    // first 8 hex digits (`$epochToIso($hexToNumber($substring(id, 0, 8)))`).
    ev.register_fn("hexToNumber", |args: &[JValue]| {
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
    })?;
    Ok(())
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
        assert_eq!(eval("$toNumber(\"x\")", json!({})), None);
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
    fn epoch_to_iso_formats_seconds() {
        assert_eq!(
            eval("$epochToIso(t)", json!({"t": 1700000000})),
            Some(json!("2023-11-14T22:13:20Z"))
        );
        assert_eq!(eval("$epochToIso(t)", json!({})), None);
    }
}

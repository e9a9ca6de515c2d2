//! Query pairs as providers receive them: a JSON object in bracket notation (`a[b]=c`,
//! `a[]=x`, as Truto's SDKs encode it) and the rule by which a later pair replaces an
//! earlier one. Used by the query and body mappings (`unified`), form bodies (`upstream`)
//! and `dynamic` pagination values (`pagination`), so it sits below all three.

use serde_json::{Map, Value};

/// The unified API's own query parameters, by their name before any bracket: never a
/// filter, never passed to a provider.
const OWN_PARAMETERS: &[&str] = &[
    "integrated_account_id",
    "truto_response_format",
    "truto_ignore_remote_data",
    "truto_exclude_fields",
    "truto_key_by",
    "truto_ignore_limit",
    "remote_query",
    "limit",
    "next_cursor",
];

/// Whether `name` (before any bracket) is one of the unified API's own parameters.
pub fn is_own_parameter(name: &str) -> bool {
    OWN_PARAMETERS.contains(&name)
}

/// `{"a": 1, "f": {"n": "x"}, "l": ["p", "q"]}` as `a=1`, `f[n]=x`, `l[]=p`, `l[]=q`.
pub fn flatten_pairs(map: &Map<String, Value>) -> Vec<(String, String)> {
    fn walk(prefix: String, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    walk(format!("{prefix}[{k}]"), v, out);
                }
            }
            Value::Array(items) => {
                for v in items {
                    walk(format!("{prefix}[]"), v, out);
                }
            }
            Value::String(s) => out.push((prefix, s.clone())),
            Value::Null => out.push((prefix, String::new())),
            other => out.push((prefix, other.to_string())),
        }
    }
    let mut out = Vec::new();
    for (k, v) in map {
        walk(k.clone(), v, &mut out);
    }
    out
}

/// Adds `k=v` where a later key replaces an earlier one (except `k[]` lists, which add).
pub fn set_pair(pairs: &mut Vec<(String, String)>, k: String, v: String) {
    if !k.ends_with("[]") {
        pairs.retain(|(ek, _)| *ek != k);
    }
    pairs.push((k, v));
}

/// The pairs of an object (`dynamic` pagination values, a query mapping's result), each
/// replacing a same-named one; anything but an object adds nothing.
pub fn set_object(pairs: &mut Vec<(String, String)>, values: &Value) {
    if let Value::Object(m) = values {
        for (k, v) in flatten_pairs(m) {
            set_pair(pairs, k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_remote_query_flattens_back_to_brackets() {
        let m = json!({"a": "1", "f": {"n": "x"}, "l": ["p", "q"]});
        let pairs = flatten_pairs(m.as_object().unwrap());
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1".into()),
                ("f[n]".into(), "x".into()),
                ("l[]".into(), "p".into()),
                ("l[]".into(), "q".into())
            ]
        );
    }

    #[test]
    fn a_later_pair_replaces_an_earlier_one_but_lists_add() {
        let mut pairs = vec![("a".to_string(), "1".to_string()), ("l[]".into(), "x".into())];
        set_pair(&mut pairs, "a".into(), "2".into());
        set_pair(&mut pairs, "l[]".into(), "y".into());
        assert_eq!(
            pairs,
            vec![
                ("l[]".to_string(), "x".to_string()),
                ("a".into(), "2".into()),
                ("l[]".into(), "y".into())
            ]
        );
        set_object(&mut pairs, &json!({"a": 3}));
        assert_eq!(pairs.last().unwrap(), &("a".to_string(), "3".to_string()));
        set_object(&mut pairs, &json!("not an object"));
        assert_eq!(pairs.len(), 3);
    }
}

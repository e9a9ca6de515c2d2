//! The unified API's query string, in the bracket notation Truto's SDKs send
//! (`truto_exclude_fields[]=a`, `remote_query[filter][name]=x`).

use serde_json::{Map, Value};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    Unified,
    Raw,
    Normalized,
    Stream,
}

#[derive(Debug, Clone)]
pub struct UnifiedQuery {
    pub integrated_account_id: String,
    pub format: ResponseFormat,
    pub ignore_remote_data: bool,
    pub exclude_fields: Vec<String>,
    /// What goes to the provider: `remote_query[name]...=v` pairs as `name...=v`, in the order
    /// sent and with every bracket after the name kept as written ([`remote_pair`]).
    pub remote_pairs: Vec<(String, String)>,
    pub limit: Option<u32>,
    /// `truto_ignore_limit`: `limit` does not reach the provider (its own page size).
    pub ignore_limit: bool,
    /// `truto_key_by`: a list's `result` as an object keyed by this field of each record.
    pub key_by: Option<String>,
    pub next_cursor: Option<String>,
    /// Every other parameter, for `query_mapping` (as `query`).
    pub rest: Map<String, Value>,
    /// The query string as received, for mappings (as `rawQuery`).
    pub raw: String,
}

/// Parses a bracket-notation query string into nested JSON (strings, arrays, objects).
pub fn parse_brackets(raw: &str) -> Result<Map<String, Value>, ApiError> {
    if raw.is_empty() {
        return Ok(Map::new());
    }
    serde_qs::Config::new(5, false)
        .deserialize_str::<Map<String, Value>>(raw)
        .map_err(|e| ApiError::bad_request(format!("Malformed query string: {e}.")))
}

/// `map.remove(key)`, without hashing `key` when nothing is left: most calls send only the
/// account (about 1,000 instructions a call for the nine names looked up).
fn take(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    if map.is_empty() {
        None
    } else {
        map.remove(key)
    }
}

fn parse_bool(name: &str, v: &Value) -> Result<bool, ApiError> {
    match v.as_str() {
        Some("true") | Some("1") | Some("") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        _ => Err(ApiError::bad_request(format!("`{name}` must be `true` or `false`."))),
    }
}

fn string_list(name: &str, v: Value) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::bad_request(format!("`{name}` must be given as `{name}[]=a&{name}[]=b`."));
    match v {
        Value::String(s) => Ok(s
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()),
        Value::Array(items) => items
            .into_iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        // serde_qs reads `a[0]=x&a[1]=y` as an object keyed by index.
        Value::Object(m) => m
            .into_iter()
            .map(|(_, i)| i.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

impl UnifiedQuery {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let raw = raw.unwrap_or("");
        let (account, mut map, remote_pairs) = match plain_pairs(raw) {
            Some((account, map)) => (account, map, Vec::new()),
            None => {
                // `remote_query[...]` is read from the text as sent ([`remote_pair`]); the
                // nested parse sees the rest, so a shape it cannot represent there is no error.
                let mut own: Vec<&str> = Vec::new();
                let mut remote = Vec::new();
                for segment in raw.split('&') {
                    match url::form_urlencoded::parse(segment.as_bytes()).next() {
                        Some((k, v)) if k.starts_with("remote_query[") => remote.extend(remote_pair(&k, v)),
                        _ => own.push(segment),
                    }
                }
                (None, parse_brackets(&own.join("&"))?, remote)
            }
        };
        let account = match account {
            Some(id) => Some(Value::String(id)),
            None => take(&mut map, "integrated_account_id"),
        };
        let integrated_account_id = match account {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            Some(Value::String(_)) => return Err(ApiError::bad_request("`integrated_account_id` must not be empty.")),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "`integrated_account_id` must be a single string.",
                ))
            }
            None => {
                return Err(ApiError::bad_request(
                    "The `integrated_account_id` query parameter is required.",
                ))
            }
        };
        let format = match take(&mut map, "truto_response_format") {
            None => ResponseFormat::Unified,
            Some(v) => match v.as_str() {
                Some("unified") => ResponseFormat::Unified,
                Some("raw") => ResponseFormat::Raw,
                Some("normalized") => ResponseFormat::Normalized,
                Some("stream") => ResponseFormat::Stream,
                _ => {
                    return Err(ApiError::bad_request(
                        "`truto_response_format` must be one of `unified`, `raw`, `normalized`, `stream`.",
                    ))
                }
            },
        };
        let ignore_remote_data = match take(&mut map, "truto_ignore_remote_data") {
            None => false,
            Some(v) => parse_bool("truto_ignore_remote_data", &v)?,
        };
        let exclude_fields = match take(&mut map, "truto_exclude_fields") {
            None => Vec::new(),
            Some(v) => string_list("truto_exclude_fields", v)?,
        };
        if take(&mut map, "remote_query").is_some() {
            return Err(ApiError::bad_request(
                "`remote_query` must be given as `remote_query[name]=value`.",
            ));
        }
        let limit = match take(&mut map, "limit") {
            None => None,
            Some(v) => match v.as_str().and_then(|s| s.parse::<u32>().ok()) {
                Some(n) if n >= 1 => Some(n),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "`limit` must be a whole number from 1 to {}.",
                        u32::MAX
                    )))
                }
            },
        };
        let ignore_limit = match take(&mut map, "truto_ignore_limit") {
            None => false,
            Some(v) => parse_bool("truto_ignore_limit", &v)?,
        };
        let key_by = match take(&mut map, "truto_key_by") {
            None => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "`truto_key_by` must be one field name, e.g. `truto_key_by=id`.",
                ))
            }
        };
        let next_cursor = match take(&mut map, "next_cursor") {
            None => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(ApiError::bad_request("`next_cursor` must be a single string.")),
        };
        Ok(UnifiedQuery {
            integrated_account_id,
            format,
            ignore_remote_data,
            exclude_fields,
            remote_pairs,
            limit,
            ignore_limit,
            key_by,
            next_cursor,
            rest: map,
            raw: raw.to_string(),
        })
    }
}

/// The common query string that needs no decoding and has no nesting (`a=1&b=x`: no
/// brackets, no escapes, no `+`, each name once with one `=`), read directly; `None` for any
/// other, which [`parse_brackets`] reads. Both read such a string the same way (a property
/// test checks it); this one costs a fraction, and it is what most calls send
/// (`integrated_account_id=...&truto_response_format=...`).
///
/// The account's id, which every call sends, comes back apart from the map: a call that
/// sends nothing else builds no map entry (each costs a hashed insert and a hashed removal).
fn plain_pairs(raw: &str) -> Option<(Option<String>, Map<String, Value>)> {
    if raw.bytes().any(|b| matches!(b, b'[' | b']' | b'%' | b'+')) {
        return None;
    }
    let mut map = Map::new();
    let mut account = None;
    if raw.is_empty() {
        return Some((account, map));
    }
    for segment in raw.split('&') {
        let (k, v) = segment.split_once('=')?;
        if k.is_empty() || v.contains('=') {
            return None;
        }
        let repeated = if k == "integrated_account_id" {
            account.replace(v.to_string()).is_some()
        } else {
            map.insert(k.to_string(), Value::String(v.to_string())).is_some()
        };
        if repeated {
            return None;
        }
    }
    Some((account, map))
}

/// A decoded `remote_query[...]` pair as the provider gets it: the name in the first
/// brackets, then whatever follows it untouched (`remote_query[f][0][x]=1` is `f[0][x]=1`);
/// `None` for any other pair. Read from the text itself, pair by pair in the order sent, not
/// from the nested parse, which would renumber indexes, merge repeated keys and cap the depth.
fn remote_pair(key: &str, value: std::borrow::Cow<'_, str>) -> Option<(String, String)> {
    let inner = key.strip_prefix("remote_query[")?;
    let close = inner.find(']')?;
    let name = &inner[..close];
    (!name.is_empty()).then(|| (format!("{name}{}", &inner[close + 1..]), value.into_owned()))
}

/// The pairs of a query string that are not Unigate's own, decoded, as sent (the Proxy API
/// passes them to the provider).
pub fn passthrough_pairs(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes())
        .filter(|(k, _)| {
            let base = k.split('[').next().unwrap_or_default();
            !crate::query_pairs::is_own_parameter(base)
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// What [`plain_pairs`] read, as one map (the account's id back in it).
    fn whole((account, mut map): (Option<String>, Map<String, Value>)) -> Map<String, Value> {
        if let Some(id) = account {
            map.insert("integrated_account_id".into(), Value::String(id));
        }
        map
    }

    proptest::proptest! {
        /// The direct read of a plain query string gives what the nested parse gives.
        #[test]
        fn a_plain_query_reads_as_the_nested_parse_reads_it(raw in "[a-c0-9_.=&+%\\[\\]-]{0,24}") {
            if let Some(plain) = plain_pairs(&raw) {
                proptest::prop_assert_eq!(Some(whole(plain)), parse_brackets(&raw).ok(), "{}", raw);
            }
        }

        /// The same over strings shaped like queries, where the direct read mostly applies.
        #[test]
        fn a_plain_query_of_pairs_reads_as_the_nested_parse_reads_it(
            pairs in proptest::collection::vec(("integrated_account_id|[a-c0-9_.-]{0,3}", "[a-c0-9_.=-]{0,3}"), 0..5)
        ) {
            let raw = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
            if let Some(plain) = plain_pairs(&raw) {
                proptest::prop_assert_eq!(Some(whole(plain)), parse_brackets(&raw).ok(), "{}", raw);
            }
        }
    }

    #[test]
    fn the_common_query_takes_the_direct_read() {
        let raw = "integrated_account_id=6e1f0b4c-1a2b-4c3d-9e8f-0a1b2c3d4e5f&truto_response_format=raw&limit=50";
        assert!(plain_pairs(raw).is_some());
        let q = UnifiedQuery::parse(Some(raw)).unwrap();
        assert_eq!(q.integrated_account_id, "6e1f0b4c-1a2b-4c3d-9e8f-0a1b2c3d4e5f");
        assert_eq!(q.format, ResponseFormat::Raw);
        assert_eq!(q.limit, Some(50));
        for other in [
            "a=1&a=2",
            "integrated_account_id=1&integrated_account_id=2",
            "a",
            "=x",
            "a=b=c",
            "a=%20",
            "a=x+y",
            "a[b]=1",
            "a=1&&b=2",
        ] {
            assert!(plain_pairs(other).is_none(), "{other}");
        }
    }

    #[test]
    fn sdk_style_brackets_are_understood() {
        let q = UnifiedQuery::parse(Some(
            "integrated_account_id=abc&truto_exclude_fields[]=id&truto_exclude_fields[]=name&remote_query[foo]=bar&remote_query[filter][x]=1&truto_ignore_remote_data=true&truto_response_format=normalized&other=5",
        ))
        .unwrap();
        assert_eq!(q.integrated_account_id, "abc");
        assert_eq!(q.exclude_fields, vec!["id", "name"]);
        assert_eq!(
            q.remote_pairs,
            [
                ("foo".to_string(), "bar".to_string()),
                ("filter[x]".to_string(), "1".to_string())
            ]
        );
        assert!(q.ignore_remote_data);
        assert_eq!(q.format, ResponseFormat::Normalized);
        assert_eq!(q.rest.get("other"), Some(&json!("5")));
    }

    #[test]
    fn percent_encoded_brackets_are_understood() {
        let q = UnifiedQuery::parse(Some("integrated_account_id=abc&remote_query%5Bfoo%5D=b%20r")).unwrap();
        assert_eq!(q.remote_pairs, [("foo".to_string(), "b r".to_string())]);
    }

    #[test]
    fn a_missing_account_id_is_a_clear_error() {
        let e = UnifiedQuery::parse(Some("truto_response_format=raw")).unwrap_err();
        assert!(e.message.contains("integrated_account_id"));
    }

    #[test]
    fn bad_values_are_rejected_with_the_parameter_named() {
        for (q, name) in [
            (
                "integrated_account_id=a&truto_response_format=xml",
                "truto_response_format",
            ),
            (
                "integrated_account_id=a&truto_ignore_remote_data=maybe",
                "truto_ignore_remote_data",
            ),
            ("integrated_account_id=a&limit=-1", "limit"),
            ("integrated_account_id=a&remote_query=x", "remote_query"),
        ] {
            let e = UnifiedQuery::parse(Some(q)).unwrap_err();
            assert!(e.message.contains(name), "{q}: {}", e.message);
        }
    }

    #[test]
    fn remote_query_pairs_keep_indexes_depth_order_and_encoded_brackets() {
        let q = UnifiedQuery::parse(Some(
            "integrated_account_id=a&remote_query[f][0][x]=1&remote_query[f][1][x]=2&remote_query[a][b][c][d][e][f]=deep&remote_query[k%5Bv]=enc&remote_query[s]=b%20r&remote_query[]=dropped",
        ))
        .unwrap();
        assert_eq!(
            q.remote_pairs,
            [
                ("f[0][x]".to_string(), "1".to_string()),
                ("f[1][x]".to_string(), "2".to_string()),
                ("a[b][c][d][e][f]".to_string(), "deep".to_string()),
                ("k[v".to_string(), "enc".to_string()),
                ("s".to_string(), "b r".to_string()),
            ]
        );
        assert_eq!(
            passthrough_pairs("integrated_account_id=a&limit=2&q[x]=1&remote_query[y]=2&z=3"),
            [
                ("q[x]".to_string(), "1".to_string()),
                ("z".to_string(), "3".to_string())
            ]
        );
    }

    #[test]
    fn out_of_range_and_empty_values_say_what_is_allowed() {
        let e = UnifiedQuery::parse(Some("integrated_account_id=a&limit=4294967296")).unwrap_err();
        assert!(e.message.contains("from 1 to 4294967295"), "{}", e.message);
        let e = UnifiedQuery::parse(Some("integrated_account_id=")).unwrap_err();
        assert!(e.message.contains("must not be empty"), "{}", e.message);
    }

    #[test]
    fn malformed_brackets_do_not_panic() {
        for q in [
            "a[=1",
            "a]]=1",
            "a[b][c][d][e][f][g][h]=1",
            "%ZZ=1",
            "=&&==",
            "a[][]=1&a[x]=2",
        ] {
            let _ = UnifiedQuery::parse(Some(&format!("integrated_account_id=x&{q}")));
        }
    }
}

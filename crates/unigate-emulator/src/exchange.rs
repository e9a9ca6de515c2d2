//! One exchange as plain data: the request the server hands over ([`Incoming`]) and the
//! answer that comes back ([`Reply`]). Both the engine and the OAuth server speak these, and
//! the server turns them into and out of axum's types, so neither needs axum's.

use axum::http::{HeaderMap, Method};
use bytes::Bytes;
use serde_json::{Map, Value};

pub(crate) const JSON: &str = "application/json; charset=utf-8";

/// A request as the engine needs it.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `http://HOST` as the client addressed this server (its `Host` header), so URLs in
    /// answers (`{{base_url}}`, `{{next_url}}`, `Link`) lead back here.
    pub(crate) fn origin(&self) -> String {
        format!("http://{}", self.header("host").unwrap_or("localhost"))
    }

    /// The value of `key=VALUE` among the comma-separated items of every `name` header
    /// (RFC 7240 preferences: `Prefer: return=representation, odata.maxpagesize=50`).
    pub(crate) fn header_item(&self, name: &str, key: &str) -> Option<String> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split([',', ';']))
            .filter_map(|item| item.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim().trim_matches('"').to_owned())
    }
}

impl Incoming {
    /// Whether the body is a form (`Content-Type: application/x-www-form-urlencoded`, any
    /// parameters after a `;` ignored).
    pub(crate) fn is_form(&self) -> bool {
        self.header("content-type").is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(FORM))
        })
    }

    /// The body as a JSON value: a form body as the object of its fields (see
    /// [`form_object`]), anything else parsed as JSON. `None` when the body is empty;
    /// `Some(Err)` says why it could not be read.
    pub(crate) fn body_value(&self) -> Option<Result<Value, String>> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        if self.is_form() {
            return Some(Ok(Value::Object(form_object(&self.body))));
        }
        Some(serde_json::from_slice::<Value>(&self.body).map_err(|e| format!("JSON parse error - {e}")))
    }
}

pub(crate) const FORM: &str = "application/x-www-form-urlencoded";

/// A form body as a JSON object of text values, bracket notation expanded the way the
/// gateway writes it (`a=1`, `f[n]=x`, `l[]=p&l[]=q` give `{"a": "1", "f": {"n": "x"},
/// "l": ["p", "q"]}`); a plain name sent twice keeps its first value. Written here rather
/// than with `serde_qs`, whose handling of empty `[]` differs across versions and which
/// would need a typed target; a pair whose brackets contradict an earlier pair (`a=1&a[b]=2`)
/// is dropped.
pub(crate) fn form_object(body: &[u8]) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        let (head, rest) = match key.find('[') {
            Some(i) if key.ends_with(']') => (&key[..i], &key[i + 1..key.len() - 1]),
            _ => (key.as_ref(), ""),
        };
        if head.is_empty() {
            continue;
        }
        let segments: Vec<&str> = if key.len() == head.len() {
            Vec::new()
        } else {
            rest.split("][").collect()
        };
        insert_form_value(&mut out, head, &segments, value.into_owned());
    }
    out
}

fn insert_form_value(map: &mut Map<String, Value>, name: &str, segments: &[&str], value: String) {
    match segments.split_first() {
        None => {
            map.entry(name.to_owned()).or_insert(Value::String(value));
        }
        Some((&"", [])) => {
            if let Value::Array(items) = map.entry(name.to_owned()).or_insert_with(|| Value::Array(Vec::new())) {
                items.push(Value::String(value));
            }
        }
        Some((next, rest)) => {
            if next.is_empty() {
                return;
            }
            if let Value::Object(inner) = map.entry(name.to_owned()).or_insert_with(|| Value::Object(Map::new())) {
                insert_form_value(inner, next, rest, value);
            }
        }
    }
}

/// A complete answer, kept as plain data so faults can spoil it.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: &Value) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            content_type: Some(JSON.into()),
            body: body.to_string().into_bytes(),
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            content_type: None,
            body: Vec::new(),
        }
    }
}

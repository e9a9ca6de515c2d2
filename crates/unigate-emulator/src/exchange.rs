//! One exchange as plain data: the request the server hands over ([`Incoming`]) and the
//! answer that comes back ([`Reply`]). Both the engine and the OAuth server speak these, and
//! the server turns them into and out of axum's types, so neither needs axum's.

use axum::http::{HeaderMap, Method};
use bytes::Bytes;
use serde_json::Value;

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

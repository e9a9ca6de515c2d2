//! Which route answers a request: the path after `base_path` (the route's own, else the
//! file's), split and percent-decoded,
//! matched against each route's pattern, method, `when_query` and `when_body` (over the JSON
//! or form body) in order; a path that
//! matches with another method is a 405, none a 404. Also the query string as a map.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::exchange::Incoming;
use crate::spec::{EmulatorSpec, RouteSpec};
use crate::template::value_to_text;

pub(super) enum RouteMiss {
    MethodNotAllowed,
    NoPath,
}

pub(super) fn match_route<'a>(
    spec: &'a EmulatorSpec,
    req: &Incoming,
) -> Result<(&'a RouteSpec, Map<String, Value>), RouteMiss> {
    // The path's segments under a base path (`None`: the path is not under it).
    let under = |base: &str| -> Option<Vec<String>> {
        let rest = req.path.strip_prefix(base)?;
        rest.starts_with('/')
            .then(|| rest.split('/').skip(1).map(percent_decode).collect())
    };
    let file_parts = under(&spec.file.base_path);
    let mut path_matched = false;
    let query = parse_query(&req.query);
    let body = req.body_value().and_then(Result::ok);
    for route in &spec.file.routes {
        if !route
            .when_query
            .iter()
            .all(|(k, v)| query.get(k).is_some_and(|q| q == v))
        {
            continue;
        }
        if !route.when_body.iter().all(|(k, v)| {
            body.as_ref()
                .and_then(|b| b.get(k))
                .is_some_and(|b| value_to_text(b) == *v)
        }) {
            continue;
        }
        // A route with its own `base_path` (another host's API of the same provider)
        // matches below that instead of the file's.
        let own_parts;
        let parts = match &route.base_path {
            Some(base) => {
                own_parts = under(base);
                own_parts.as_ref()
            }
            None => file_parts.as_ref(),
        };
        let Some(parts) = parts else { continue };
        if let Some(params) = route.path.matches(parts) {
            if route.method == req.method {
                return Ok((route, params));
            }
            path_matched = true;
        }
    }
    Err(if path_matched {
        RouteMiss::MethodNotAllowed
    } else {
        RouteMiss::NoPath
    })
}

pub(super) fn parse_query(query: &str) -> IndexMap<String, String> {
    let mut map = IndexMap::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    map
}

/// Decodes `%XX` escapes in a path segment; invalid escapes are kept as they are.
pub(super) fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

//! Reading providers' rate-limit signals: whether an answer means "rate limited" and for
//! how long (the integration's expressions, `Retry-After`), and the normalized
//! `ratelimit-*` headers passed on to the client.

use http::{HeaderMap, HeaderName};
use serde_json::Value;

use super::Upstream;
use crate::catalog::Integration;
use crate::mapping::{header_text, headers_json};

impl Upstream {
    /// `Some(retry_after_secs)` when the answer means "rate limited" for this integration.
    /// `body` is the answer's parsed body where it has been read: an integration's rule may
    /// read it as `response` (Google says "rate limited" in a 403's body). Where it has not
    /// been read yet (deciding on a retry), such a rule sees no `response`.
    pub fn rate_limited(
        &self,
        integration: &Integration,
        status: u16,
        headers: &HeaderMap,
        body: Option<&Value>,
    ) -> Option<Option<u64>> {
        let rl = &integration.rate_limit;
        let limited = match &rl.is_rate_limited {
            Some(_)
                if rl
                    .rate_limited_statuses
                    .as_ref()
                    .is_some_and(|statuses| !statuses.contains(&f64::from(status))) =>
            {
                false
            }
            Some(expr) => {
                let mut input = status_and_headers(expr, status, headers);
                if let (Some(body), Some(_)) = (body, expr.reads_of("response")) {
                    input["response"] = body.clone();
                }
                matches!(expr.eval(&input), Ok(Some(Value::Bool(true))))
            }
            None => status == 429,
        };
        if !limited {
            return None;
        }
        let number = |expr: &Option<crate::mapping::Expr>| -> Option<f64> {
            expr.as_ref()
                .and_then(|e| eval_on_answer(e, status, headers))
                .and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
                .filter(|n| n.is_finite() && *n >= 0.0)
        };
        let header_retry_after = || {
            headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(retry_after_secs)
        };
        let secs = number(&rl.retry_after)
            .map(|n| n.ceil() as u64)
            .filter(|&n| n <= MAX_RETRY_AFTER_SECS)
            .or_else(header_retry_after)
            .or_else(|| number(&rl.reset_at).map(|t| reset_secs(t, chrono::Utc::now().timestamp())));
        Some(secs)
    }

    /// The normalized `ratelimit-*` headers for an answer, where the provider tells.
    pub fn ratelimit_headers(
        &self,
        integration: &Integration,
        status: u16,
        headers: &HeaderMap,
    ) -> Vec<(&'static str, String)> {
        let rl = &integration.rate_limit;
        let pick = |expr: &Option<crate::mapping::Expr>, fallbacks: &[HeaderName; 2]| -> Option<u64> {
            let n = match expr {
                Some(e) => {
                    let v = eval_on_answer(e, status, headers)?;
                    v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?
                }
                // The standard names, made once (a name given as text is parsed on each
                // look-up): read in place, no copy of the value made.
                None => fallbacks.iter().find_map(|h| {
                    let mut values = headers.get_all(h).iter();
                    let first = values.next()?;
                    match values.next() {
                        None => Some(first.to_str().ok().and_then(|s| s.trim().parse().ok())),
                        // Repeated: read as the joined text, which is not a number.
                        Some(_) => Some(None),
                    }
                })??,
            };
            (n.is_finite() && n >= 0.0).then_some(n as u64)
        };
        let mut out = Vec::new();
        if let Some(v) = pick(&rl.limit, &LIMIT) {
            out.push(("ratelimit-limit", v.to_string()));
        }
        if let Some(v) = pick(&rl.remaining, &REMAINING) {
            out.push(("ratelimit-remaining", v.to_string()));
        }
        if let Some(v) = pick(&rl.reset, &RESET) {
            out.push((
                "ratelimit-reset",
                reset_secs(v as f64, chrono::Utc::now().timestamp()).to_string(),
            ));
        }
        out
    }
}

/// Seconds until a rate-limit window resets, from a provider's reset value in whichever unit
/// it uses, told apart by size: a Unix time in milliseconds (above 10^11, which as seconds
/// would be past the year 5000), a Unix time in seconds (above 10^9: 2001 on), or else
/// seconds until the reset. A time already past is 0.
pub fn reset_secs(n: f64, now_secs: i64) -> u64 {
    let left = if n > 1e11 {
        n / 1000.0 - now_secs as f64
    } else if n > 1e9 {
        n - now_secs as f64
    } else {
        n
    };
    left.max(0.0).ceil() as u64
}

/// The headers read for the normalized `ratelimit-*` ones where an integration says nothing:
/// the IETF draft's name, then the common `x-` one.
const LIMIT: [HeaderName; 2] = [
    HeaderName::from_static("ratelimit-limit"),
    HeaderName::from_static("x-ratelimit-limit"),
];
const REMAINING: [HeaderName; 2] = [
    HeaderName::from_static("ratelimit-remaining"),
    HeaderName::from_static("x-ratelimit-remaining"),
];
const RESET: [HeaderName; 2] = [
    HeaderName::from_static("ratelimit-reset"),
    HeaderName::from_static("x-ratelimit-reset"),
];

/// The longest `Retry-After` taken from a provider, in seconds: ten years; a larger
/// "wait" is garbage, not advice.
const MAX_RETRY_AFTER_SECS: u64 = 10 * 365 * 24 * 3600;

/// The seconds a provider's `Retry-After` value asks for: delay seconds (within
/// [`MAX_RETRY_AFTER_SECS`]) or an HTTP date (0 once past); `None` when it is neither.
fn retry_after_secs(value: &str) -> Option<u64> {
    let v = value.trim();
    v.parse::<u64>()
        .ok()
        .filter(|&n| n <= MAX_RETRY_AFTER_SECS)
        .or_else(|| {
            chrono::DateTime::parse_from_rfc2822(v)
                .ok()
                .map(|d| (d.timestamp() - chrono::Utc::now().timestamp()).max(0) as u64)
        })
}

/// Whether a provider's `Retry-After` value is one (see [`retry_after_secs`]).
pub fn is_retry_after(value: &str) -> bool {
    retry_after_secs(value).is_some()
}

/// `expr` over `{status, headers}`; a plain `headers.name` (most catalogs' rate-limit
/// values) is read straight from the header, as the object would give it, without building
/// the object or running the evaluator on every answer.
fn eval_on_answer(expr: &crate::mapping::Expr, status: u16, headers: &HeaderMap) -> Option<Value> {
    if let Some(["headers", name]) = expr.field_path().as_deref() {
        // `headers_json` has lower-case names only: another spelling reads nothing.
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        return header_text(headers, name).map(Value::String);
    }
    expr.eval(&status_and_headers(expr, status, headers)).ok().flatten()
}

/// `{status, headers}`: what rate-limit expressions see, with only the headers `expr` reads
/// (they are evaluated on every provider answer).
fn status_and_headers(expr: &crate::mapping::Expr, status: u16, headers: &HeaderMap) -> Value {
    use crate::mapping::reads::Reads;
    let headers = match expr.reads_of("headers") {
        None => Value::Object(serde_json::Map::new()),
        Some(Reads::All) => headers_json(headers),
        Some(Reads::Fields(names)) => Value::Object(
            names
                .keys()
                // `headers_json` has lower-case names only: another spelling reads nothing.
                .filter(|name| !name.bytes().any(|b| b.is_ascii_uppercase()))
                .filter_map(|name| header_text(headers, name).map(|v| (name.clone(), Value::String(v))))
                .collect(),
        ),
    };
    crate::mapping::object([("status", Value::from(status)), ("headers", headers)])
}

#[cfg(test)]
mod unit_tests {
    use super::reset_secs;

    #[test]
    fn a_reset_is_read_in_its_unit() {
        let now = 1_794_742_300;
        assert_eq!(reset_secs(30.0, now), 30, "seconds until the reset");
        assert_eq!(reset_secs(1_794_742_321.0, now), 21, "a Unix time in seconds");
        assert_eq!(reset_secs(1_794_742_321_240.0, now), 22, "a Unix time in milliseconds");
        assert_eq!(reset_secs(1_794_742_000.0, now), 0, "already past");
        assert_eq!(reset_secs(0.0, now), 0);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rate_limit_expressions_see_the_headers_they_read_as_in_headers_json() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", "0".parse().unwrap());
        headers.append("link", "<a>".parse().unwrap());
        headers.append("link", "<b>".parse().unwrap());
        headers.insert("x-other", "1".parse().unwrap());
        let narrow = crate::mapping::Expr::compile("status = 403 and headers.`x-ratelimit-remaining` = \"0\" and headers.link = \"<a>, <b>\" and $not($exists(headers.`X-Other`))").unwrap();
        let input = status_and_headers(&narrow, 403, &headers);
        assert_eq!(
            input,
            serde_json::json!({"status": 403, "headers": {"link": "<a>, <b>", "x-ratelimit-remaining": "0"}})
        );
        assert_eq!(narrow.eval(&input).unwrap(), Some(Value::Bool(true)));
        assert_eq!(
            headers_json(&headers),
            serde_json::json!({"x-ratelimit-remaining": "0", "link": "<a>, <b>", "x-other": "1"})
        );
        // An expression the analysis cannot follow gets every header.
        let whole = crate::mapping::Expr::compile("$keys(headers)").unwrap();
        assert_eq!(
            status_and_headers(&whole, 200, &headers)["headers"],
            headers_json(&headers)
        );
        let none = crate::mapping::Expr::compile("status = 429").unwrap();
        assert_eq!(
            status_and_headers(&none, 429, &headers)["headers"],
            serde_json::json!({})
        );
        // A plain header path, read straight from the headers, gives what evaluating it on
        // the object gives: joined values, and nothing for a name spelt with capitals.
        for (src, want) in [
            ("headers.link", Some(Value::from("<a>, <b>"))),
            ("headers.`x-ratelimit-remaining`", Some(Value::from("0"))),
            ("headers.`X-Other`", None),
            ("headers.missing", None),
        ] {
            let e = crate::mapping::Expr::compile(src).unwrap();
            assert_eq!(eval_on_answer(&e, 200, &headers), want, "{src}");
            assert_eq!(e.eval(&status_and_headers(&e, 200, &headers)).unwrap(), want, "{src}");
        }
    }
}

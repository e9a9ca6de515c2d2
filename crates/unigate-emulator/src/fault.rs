//! Fault injection: what tests and benchmarks can make the emulator do wrong.
//!
//! A [`Fault`] matches requests by method and path (glob or regex) and acts on the next
//! `times` of them (or all). Faults are checked in the order they were injected: every
//! matching `delay` adds its latency, then the first matching non-delay action decides the
//! answer. A fault is deserializable so `POST /__emulator/faults` accepts the same thing:
//!
//! ```json
//! {"method": "GET", "path": "/orgs/*", "times": 2,
//!  "action": {"respond": {"status": 429, "headers": {"Retry-After": "1"}}}}
//! ```

use std::time::Duration;

use indexmap::IndexMap;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One injected fault.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// HTTP method to match (case-insensitive); `None` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Glob over the request path: `*` matches within one segment, `**` across segments.
    #[serde(default)]
    pub path: Option<String>,
    /// Regex over the request path (unanchored; add `^`/`$` yourself).
    #[serde(default)]
    pub path_regex: Option<String>,
    /// Act on the next N matching requests only; `None`: on all of them.
    #[serde(default)]
    pub times: Option<u32>,
    /// What to do.
    pub action: FaultAction,
}

/// What a fault does to a matching request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer this instead of the normal response (the request has no effect).
    Respond {
        status: u16,
        /// JSON body.
        #[serde(default)]
        body: Option<Value>,
        /// Raw text body (e.g. an HTML error page); wins over `body`.
        #[serde(default)]
        raw_body: Option<String>,
        #[serde(default)]
        headers: IndexMap<String, String>,
        /// Default: `application/json` for `body`, `text/html` for `raw_body`.
        #[serde(default)]
        content_type: Option<String>,
    },
    /// Wait, then handle the request normally.
    Delay { ms: u64 },
    /// Close the connection without answering.
    Drop,
    /// Handle the request normally (its effects happen), then spoil the body.
    Malformed {
        #[serde(default)]
        style: MalformedStyle,
        /// Status to answer with; default: the normal status.
        #[serde(default)]
        status: Option<u16>,
    },
    /// Answer a syntactically valid JSON body of about `bytes` bytes, streamed.
    Huge {
        bytes: usize,
        #[serde(default = "ok")]
        status: u16,
    },
}

fn ok() -> u16 {
    200
}

/// How [`FaultAction::Malformed`] spoils a body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MalformedStyle {
    /// The first half of the normal JSON body, still labelled `application/json`.
    #[default]
    TruncatedJson,
    /// An HTML page (as a misconfigured proxy would answer), labelled `text/html`.
    Html,
    /// An empty body labelled `application/json`.
    Empty,
    /// The normal status and headers, `Content-Length` announcing the whole body, then the
    /// first half of it and the connection closes: a connection broken mid-answer.
    CutOff,
}

impl Fault {
    fn new(action: FaultAction) -> Self {
        Fault {
            method: None,
            path: None,
            path_regex: None,
            times: None,
            action,
        }
    }

    /// Answer `status` with a generic JSON body.
    pub fn status(status: u16) -> Self {
        Self::new(FaultAction::Respond {
            status,
            body: None,
            raw_body: None,
            headers: IndexMap::new(),
            content_type: None,
        })
    }

    /// Answer `status` with this JSON body.
    pub fn respond(status: u16, body: Value) -> Self {
        Self::new(FaultAction::Respond {
            status,
            body: Some(body),
            raw_body: None,
            headers: IndexMap::new(),
            content_type: None,
        })
    }

    /// Answer 429 with `Retry-After: <seconds>`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::status(429).with_header("Retry-After", &retry_after_secs.to_string())
    }

    /// Add latency, then handle normally.
    pub fn delay(latency: Duration) -> Self {
        Self::new(FaultAction::Delay {
            ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Close the connection without an answer.
    pub fn drop_connection() -> Self {
        Self::new(FaultAction::Drop)
    }

    /// Spoil the normal body.
    pub fn malformed(style: MalformedStyle) -> Self {
        Self::new(FaultAction::Malformed { style, status: None })
    }

    /// Answer a JSON body of about `bytes` bytes.
    pub fn huge(bytes: usize) -> Self {
        Self::new(FaultAction::Huge { bytes, status: 200 })
    }

    /// Only requests with this method.
    pub fn on_method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
        self
    }

    /// Only requests whose path matches this glob (`*` one segment, `**` any).
    pub fn on_path(mut self, glob: &str) -> Self {
        self.path = Some(glob.to_owned());
        self
    }

    /// Shorthand for [`Fault::on_method`] + [`Fault::on_path`].
    pub fn on(self, method: &str, glob: &str) -> Self {
        self.on_method(method).on_path(glob)
    }

    /// Only the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Add a response header (for `respond` faults).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let FaultAction::Respond { headers, .. } = &mut self.action {
            headers.insert(name.to_owned(), value.to_owned());
        }
        self
    }

    /// Set a raw text body (for `respond` faults), e.g. an HTML error page.
    pub fn with_raw_body(mut self, text: &str) -> Self {
        if let FaultAction::Respond { raw_body, .. } = &mut self.action {
            *raw_body = Some(text.to_owned());
        }
        self
    }

    /// Compiles the matchers; fails on a bad regex or glob.
    pub(crate) fn compile(self) -> Result<ActiveFault, String> {
        let path = match (&self.path, &self.path_regex) {
            (Some(_), Some(_)) => return Err("give `path` or `path_regex`, not both".into()),
            (Some(glob), None) => Some(glob_to_regex(glob)?),
            (None, Some(re)) => Some(Regex::new(re).map_err(|e| format!("invalid path_regex: {e}"))?),
            (None, None) => None,
        };
        Ok(ActiveFault {
            remaining: self.times,
            path,
            fault: self,
        })
    }
}

/// A fault with its compiled matcher and remaining uses.
#[derive(Debug, Clone)]
pub(crate) struct ActiveFault {
    pub fault: Fault,
    path: Option<Regex>,
    remaining: Option<u32>,
}

impl ActiveFault {
    fn matches(&self, method: &str, path: &str) -> bool {
        self.remaining != Some(0)
            && self
                .fault
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path.as_ref().is_none_or(|re| re.is_match(path))
    }
}

/// What the faults decided for one request.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub delay: Duration,
    pub action: Option<FaultAction>,
}

/// Picks the faults for a request and uses them up; exhausted faults are removed.
pub(crate) fn decide(faults: &mut Vec<ActiveFault>, method: &str, path: &str) -> Decision {
    let mut decision = Decision::default();
    for active in faults.iter_mut() {
        if !active.matches(method, path) {
            continue;
        }
        match &active.fault.action {
            FaultAction::Delay { ms } => decision.delay += Duration::from_millis(*ms),
            _ if decision.action.is_some() => continue,
            other => decision.action = Some(other.clone()),
        }
        if let Some(n) = active.remaining.as_mut() {
            *n = n.saturating_sub(1);
        }
    }
    faults.retain(|f| f.remaining != Some(0));
    decision
}

fn glob_to_regex(glob: &str) -> Result<Regex, String> {
    let mut re = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '*' {
            if chars.peek() == Some(&'*') {
                chars.next();
                re.push_str(".*");
            } else {
                re.push_str("[^/]*");
            }
        } else {
            re.push_str(&regex::escape(&c.to_string()));
        }
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("invalid path glob: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(f: Fault) -> ActiveFault {
        f.compile().expect("valid fault")
    }

    #[test]
    fn globs_match_one_segment_with_a_star_and_many_with_two() {
        let one = glob_to_regex("/orgs/*").expect("glob");
        assert!(one.is_match("/orgs/acme"));
        assert!(!one.is_match("/orgs/acme/members"));
        let many = glob_to_regex("/api/**").expect("glob");
        assert!(many.is_match("/api/v1/orgs/x"));
    }

    #[test]
    fn a_fault_with_times_is_used_up_then_removed() {
        let mut faults = vec![compile(Fault::status(503).on("get", "/x").times(2))];
        for _ in 0..2 {
            assert!(matches!(
                decide(&mut faults, "GET", "/x").action,
                Some(FaultAction::Respond { status: 503, .. })
            ));
        }
        assert!(decide(&mut faults, "GET", "/x").action.is_none());
        assert!(faults.is_empty());
    }

    #[test]
    fn faults_apply_in_order_and_delays_add_up() {
        let mut faults = vec![
            compile(Fault::delay(Duration::from_millis(5))),
            compile(Fault::rate_limited(1).times(1)),
            compile(Fault::status(503).times(1)),
            compile(Fault::delay(Duration::from_millis(7))),
        ];
        let first = decide(&mut faults, "GET", "/a");
        assert_eq!(first.delay, Duration::from_millis(12));
        assert!(matches!(first.action, Some(FaultAction::Respond { status: 429, .. })));
        let second = decide(&mut faults, "GET", "/a");
        assert!(matches!(second.action, Some(FaultAction::Respond { status: 503, .. })));
        assert!(decide(&mut faults, "GET", "/a").action.is_none());
    }

    #[test]
    fn a_method_filter_leaves_other_methods_alone() {
        let mut faults = vec![compile(Fault::drop_connection().on_method("PUT"))];
        assert!(decide(&mut faults, "GET", "/a").action.is_none());
        assert!(matches!(
            decide(&mut faults, "put", "/a").action,
            Some(FaultAction::Drop)
        ));
    }

    #[test]
    fn faults_deserialize_from_the_http_form() {
        let f: Fault = serde_json::from_str(
            r#"{"method":"GET","path":"/orgs/*","times":2,"action":{"respond":{"status":429,"headers":{"Retry-After":"1"}}}}"#,
        )
        .expect("json");
        assert_eq!(f.times, Some(2));
        let d: Fault = serde_json::from_str(r#"{"action":"drop"}"#).expect("json");
        assert!(matches!(d.action, FaultAction::Drop));
        assert!(serde_json::from_str::<Fault>(r#"{"action":"drop","tims":1}"#).is_err());
    }
}

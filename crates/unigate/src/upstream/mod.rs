//! Calls to providers: URL building (with host checks), credentials on the wire,
//! timeouts, body limits, and classification of every way a call can fail.

pub mod link;

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::HeaderMap;
use serde_json::Value;

use crate::catalog::registry::Authorization;
use crate::catalog::types::BodyFormat;
use crate::catalog::{Integration, Resource};
use crate::config::UpstreamConfig;
use crate::mapping::template::{Encoding, TemplateError};

/// Where a failure came from and what the client should be told.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{integration} did not answer within {timeout_ms} ms")]
    Timeout { integration: String, timeout_ms: u64 },
    #[error("could not reach {integration}")]
    Connect {
        integration: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the connection to {integration} failed mid-answer")]
    Body {
        integration: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{integration} answered more than {limit} bytes")]
    TooLarge { integration: String, limit: usize },
    #[error("{integration} answered {status} with a body that is not valid JSON")]
    InvalidJson {
        integration: String,
        status: u16,
        snippet: String,
    },
    #[error("{integration} answered {status}")]
    Status {
        integration: String,
        status: u16,
        message: Option<String>,
        body: Box<Value>,
        headers: Box<HeaderMap>,
        /// The provider said "rate limited" (whatever its status), and when to retry.
        rate_limited: Option<Option<u64>>,
    },
    #[error("cannot build the request to {integration}: {source}")]
    Template {
        integration: String,
        #[source]
        source: TemplateError,
    },
    #[error("the URL for {integration} ({url}) is not on one of its allowed hosts")]
    ForbiddenHost { integration: String, url: String },
    #[error("the URL for {integration} is invalid: {url}")]
    BadUrl { integration: String, url: String },
}

impl UpstreamError {
    /// True for failures worth retrying (connection trouble, provider overload).
    pub fn status(&self) -> Option<u16> {
        match self {
            UpstreamError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A provider answer, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The body parsed as JSON (`null` when empty).
    pub json: Value,
    pub url: url::Url,
    /// Normalized `ratelimit-*` headers to pass on to the client.
    pub ratelimit: Vec<(&'static str, String)>,
}

/// What to send, after templates are rendered.
#[derive(Debug, Default)]
pub struct Outgoing {
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Replaces the resource URL (a `Link: rel="next"` URL); must be on the same host.
    pub url: Option<url::Url>,
}

#[derive(Clone)]
pub struct Upstream {
    http: reqwest::Client,
    config: UpstreamConfig,
}

impl Upstream {
    pub fn new(config: UpstreamConfig) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("unigate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Upstream { http, config })
    }

    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    /// The integration's base URL for this account, checked against its allowed hosts,
    /// with the operator's override (if any) applied.
    pub fn base_url(&self, integration: &Integration, context: &Value) -> Result<url::Url, UpstreamError> {
        let name = integration.name().to_string();
        let scope = serde_json::json!({ "context": context });
        let rendered =
            integration
                .base_url
                .render(&scope, Encoding::Raw)
                .map_err(|source| UpstreamError::Template {
                    integration: name.clone(),
                    source,
                })?;
        let url = url::Url::parse(&rendered).map_err(|_| UpstreamError::BadUrl {
            integration: name.clone(),
            url: rendered.clone(),
        })?;
        if !integration.base_url.is_static() && !host_allowed(&url, &integration.config.allowed_hosts) {
            return Err(UpstreamError::ForbiddenHost {
                integration: name,
                url: rendered,
            });
        }
        match self.config.base_url_overrides.get(integration.name()) {
            Some(origin) => {
                let origin = url::Url::parse(origin).map_err(|_| UpstreamError::BadUrl {
                    integration: name.clone(),
                    url: origin.clone(),
                })?;
                let mut out = origin.clone();
                out.set_path(url.path());
                Ok(out)
            }
            None => Ok(url),
        }
    }

    /// Builds the request for `resource`. `scope` is what the path template sees
    /// (`id`, `context`, `before`).
    pub fn request(
        &self,
        integration: &Integration,
        resource: &Resource,
        context: &Value,
        scope: &Value,
        outgoing: Outgoing,
    ) -> Result<reqwest::RequestBuilder, UpstreamError> {
        let name = integration.name();
        let template_err = |source| UpstreamError::Template {
            integration: name.to_string(),
            source,
        };
        let base = self.base_url(integration, context)?;
        let url = match outgoing.url {
            Some(next) => {
                if next.host_str() != base.host_str() || next.port_or_known_default() != base.port_or_known_default() {
                    return Err(UpstreamError::ForbiddenHost {
                        integration: name.to_string(),
                        url: next.to_string(),
                    });
                }
                next
            }
            None => {
                let path = resource
                    .path
                    .render(scope, Encoding::PathSegment)
                    .map_err(template_err)?;
                let joined = format!("{}{}", base.as_str().trim_end_matches('/'), path);
                let mut url = url::Url::parse(&joined).map_err(|_| UpstreamError::BadUrl {
                    integration: name.to_string(),
                    url: joined.clone(),
                })?;
                {
                    let mut pairs = url.query_pairs_mut();
                    for (k, t) in &resource.query {
                        pairs.append_pair(k, &t.render(scope, Encoding::Raw).map_err(template_err)?);
                    }
                }
                if url.query() == Some("") {
                    url.set_query(None);
                }
                url
            }
        };
        let mut url = url;
        if !outgoing.query.is_empty() {
            let existing: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let mut pairs = url.query_pairs_mut();
            pairs.clear();
            // Later values replace earlier ones of the same name (remote_query wins).
            for (k, v) in existing
                .iter()
                .filter(|(k, _)| !outgoing.query.iter().any(|(ok, _)| ok == k))
            {
                pairs.append_pair(k, v);
            }
            for (k, v) in &outgoing.query {
                pairs.append_pair(k, v);
            }
        }
        let auth_scope = serde_json::json!({ "context": context });
        let mut req = self
            .http
            .request(resource.method.as_reqwest(), url.clone())
            .timeout(Duration::from_millis(
                integration.config.timeout_ms.unwrap_or(self.config.request_timeout_ms),
            ));
        for (h, t) in &integration.headers {
            req = req.header(h, t.render(&auth_scope, Encoding::Raw).map_err(template_err)?);
        }
        for (h, t) in &integration.optional_headers {
            if let Ok(v) = t.render(&auth_scope, Encoding::Raw) {
                req = req.header(h, v);
            }
        }
        for (h, t) in &resource.headers {
            req = req.header(h, t.render(scope, Encoding::Raw).map_err(template_err)?);
        }
        req = match &integration.authorization {
            Authorization::Header { name: h, value } => {
                req.header(h, value.render(&auth_scope, Encoding::Raw).map_err(template_err)?)
            }
            Authorization::Basic { username, password } => req.basic_auth(
                username.render(&auth_scope, Encoding::Raw).map_err(template_err)?,
                Some(password.render(&auth_scope, Encoding::Raw).map_err(template_err)?),
            ),
            Authorization::Query { name: q, value } => {
                req.query(&[(q, value.render(&auth_scope, Encoding::Raw).map_err(template_err)?)])
            }
        };
        if let Some(body) = outgoing.body.as_ref().or(resource.body.as_ref()) {
            req = match resource.body_format {
                BodyFormat::Json => req.json(body),
                BodyFormat::Form => {
                    let pairs = match body {
                        Value::Object(m) => crate::unified::query::flatten_pairs(m),
                        _ => Vec::new(),
                    };
                    let encoded = url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(pairs)
                        .finish();
                    req.header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(encoded)
                }
            };
        }
        Ok(req)
    }

    /// Sends, with retries: connections that never opened and rate-limited answers (nothing
    /// was processed) for every method; broken connections and provider 502/503/504 only
    /// for idempotent methods (GET, PUT, DELETE), since a POST or PATCH may have been
    /// applied. Exponential backoff with full jitter; a provider `Retry-After` is honoured
    /// up to `max_retry_after_ms`.
    /// Returns the last response with its body unread (for streaming), or the last failure.
    pub async fn send(
        &self,
        integration: &Integration,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, UpstreamError> {
        let name = integration.name().to_string();
        let request = req.build().map_err(|e| UpstreamError::Connect {
            integration: name.clone(),
            source: e,
        })?;
        let idempotent = matches!(
            *request.method(),
            reqwest::Method::GET | reqwest::Method::PUT | reqwest::Method::DELETE | reqwest::Method::HEAD
        );
        let policy = &self.config.retry;
        let max_attempts = policy.max_attempts;
        let mut pending = Some(request);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Some(current) = pending.take() else {
                unreachable!("a request is pending on every attempt")
            };
            // Bodies here are always in memory, so a clone exists whenever we may retry.
            let retry_copy = if attempt < max_attempts {
                current.try_clone()
            } else {
                None
            };
            let result = self.http.execute(current).await;
            let wait = match &result {
                // A timeout is not retried: the client would wait several timeouts for a 504.
                Err(e) if e.is_timeout() => None,
                // The connection never opened, so nothing was sent: safe for any method.
                Err(e) if e.is_connect() => Some(self.backoff(attempt)),
                // The request may have reached the provider: only idempotent ones again.
                Err(e) if idempotent && e.is_request() => Some(self.backoff(attempt)),
                Err(_) => None,
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    // A rate-limited answer means "not processed": safe for any method.
                    match self.rate_limited(integration, status, resp.headers()) {
                        Some(Some(secs)) if secs * 1000 <= policy.max_retry_after_ms => Some(Duration::from_secs(secs)),
                        Some(Some(_)) => None,
                        Some(None) => Some(self.backoff(attempt)),
                        None if idempotent && matches!(status, 502..=504) => Some(self.backoff(attempt)),
                        None => None,
                    }
                }
            };
            match (wait, retry_copy) {
                (Some(wait), Some(copy)) => {
                    tracing::info!(integration = %name, attempt, wait_ms = wait.as_millis() as u64, "retrying provider call");
                    tokio::time::sleep(wait).await;
                    pending = Some(copy);
                }
                _ => return result.map_err(|e| self.classify(integration, e, true)),
            }
        }
    }

    /// Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))].
    fn backoff(&self, attempt: u32) -> Duration {
        use rand::Rng;
        let p = &self.config.retry;
        let cap = p
            .base_delay_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20))
            .min(p.max_delay_ms);
        Duration::from_millis(rand::thread_rng().gen_range(0..=cap))
    }

    /// `Some(retry_after_secs)` when the answer means "rate limited" for this integration.
    pub fn rate_limited(&self, integration: &Integration, status: u16, headers: &HeaderMap) -> Option<Option<u64>> {
        let rl = &integration.rate_limit;
        let input = || serde_json::json!({ "status": status, "headers": headers_json(headers) });
        let limited = match &rl.is_rate_limited {
            Some(expr) => matches!(expr.eval(&input()), Ok(Some(Value::Bool(true)))),
            None => status == 429,
        };
        if !limited {
            return None;
        }
        let number = |expr: &Option<crate::mapping::Expr>| -> Option<f64> {
            expr.as_ref()
                .and_then(|e| e.eval(&input()).ok().flatten())
                .and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
                .filter(|n| n.is_finite() && *n >= 0.0)
        };
        let header_retry_after = || {
            headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.trim().parse::<u64>().ok().or_else(|| {
                        chrono::DateTime::parse_from_rfc2822(v)
                            .ok()
                            .map(|d| (d.timestamp() - chrono::Utc::now().timestamp()).max(0) as u64)
                    })
                })
        };
        let secs = number(&rl.retry_after)
            .map(|n| n.ceil() as u64)
            .or_else(header_retry_after)
            .or_else(|| number(&rl.reset_at).map(|t| (t as i64 - chrono::Utc::now().timestamp()).max(0) as u64));
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
        let input = serde_json::json!({ "status": status, "headers": headers_json(headers) });
        let pick = |expr: &Option<crate::mapping::Expr>, fallbacks: &[&str]| -> Option<String> {
            let v = match expr {
                Some(e) => e.eval(&input).ok().flatten(),
                None => fallbacks.iter().find_map(|h| input["headers"].get(*h).cloned()),
            }?;
            let n = v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
            (n.is_finite() && n >= 0.0).then_some(n as u64).map(|n| n.to_string())
        };
        let mut out = Vec::new();
        if let Some(v) = pick(&rl.limit, &["ratelimit-limit", "x-ratelimit-limit"]) {
            out.push(("ratelimit-limit", v));
        }
        if let Some(v) = pick(&rl.remaining, &["ratelimit-remaining", "x-ratelimit-remaining"]) {
            out.push(("ratelimit-remaining", v));
        }
        if let Some(v) = pick(&rl.reset, &["ratelimit-reset", "x-ratelimit-reset"]) {
            // Providers send either seconds until reset or a Unix time: normalize to seconds.
            let n: u64 = v.parse().unwrap_or(0);
            let now = chrono::Utc::now().timestamp() as u64;
            let secs = if n > 1_000_000_000 { n.saturating_sub(now) } else { n };
            out.push(("ratelimit-reset", secs.to_string()));
        }
        out
    }

    fn classify(&self, integration: &Integration, e: reqwest::Error, connecting: bool) -> UpstreamError {
        let timeout_ms = integration.config.timeout_ms.unwrap_or(self.config.request_timeout_ms);
        let integration = integration.name();
        if e.is_timeout() {
            UpstreamError::Timeout {
                integration: integration.to_string(),
                timeout_ms,
            }
        } else if connecting {
            UpstreamError::Connect {
                integration: integration.to_string(),
                source: e,
            }
        } else {
            UpstreamError::Body {
                integration: integration.to_string(),
                source: e,
            }
        }
    }

    /// Sends, reads the whole body (bounded), and turns provider errors into
    /// [`UpstreamError::Status`].
    pub async fn call(&self, integration: &Integration, req: reqwest::RequestBuilder) -> Result<Reply, UpstreamError> {
        let name = integration.name().to_string();
        let response = self.send(integration, req).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let url = response.url().clone();
        let limit = self.config.max_response_bytes;
        if response.content_length().is_some_and(|n| n as usize > limit) {
            return Err(UpstreamError::TooLarge {
                integration: name,
                limit,
            });
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.classify(integration, e, false))?;
            if body.len() + chunk.len() > limit {
                return Err(UpstreamError::TooLarge {
                    integration: name,
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        let body = Bytes::from(body);
        let parsed = if body.iter().all(u8::is_ascii_whitespace) {
            Ok(Value::Null)
        } else {
            serde_json::from_slice::<Value>(&body)
        };
        if status >= 400 {
            let json = parsed
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body[..body.len().min(4096)]).into_owned()));
            let message = integration.error_message.as_ref().and_then(|e| {
                let input =
                    serde_json::json!({ "status": status, "headers": headers_json(&headers), "response": json });
                e.eval(&input).ok().flatten().and_then(|v| match v {
                    Value::String(s) if !s.is_empty() => Some(s),
                    _ => None,
                })
            });
            let rate_limited = self.rate_limited(integration, status, &headers);
            return Err(UpstreamError::Status {
                integration: name,
                status,
                message,
                body: Box::new(json),
                headers: Box::new(headers),
                rate_limited,
            });
        }
        match parsed {
            Ok(json) => Ok(Reply {
                ratelimit: self.ratelimit_headers(integration, status, &headers),
                status,
                headers,
                body,
                json,
                url,
            }),
            Err(_) => Err(UpstreamError::InvalidJson {
                integration: name,
                status,
                snippet: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            }),
        }
    }
}

/// Header map as a JSON object (lowercase names; repeated headers joined with `, `).
pub fn headers_json(headers: &HeaderMap) -> Value {
    let mut map = serde_json::Map::new();
    for (name, value) in headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match map.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&v);
            }
            _ => {
                map.insert(name.as_str().to_string(), Value::String(v));
            }
        }
    }
    Value::Object(map)
}

/// `*.example.com` matches any subdomain of example.com; other patterns match exactly.
pub fn host_allowed(url: &url::Url, patterns: &[String]) -> bool {
    let Some(host) = url.host_str() else { return false };
    let host = host.to_ascii_lowercase();
    url.scheme() == "https"
        && patterns.iter().any(|p| match p.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => host == p.to_ascii_lowercase(),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wildcard_hosts_match_subdomains_only_over_https() {
        let pats = vec!["*.mindbridge.ai".to_string(), "api.mist.com".to_string()];
        assert!(host_allowed(
            &url::Url::parse("https://acme.mindbridge.ai/x").unwrap(),
            &pats
        ));
        assert!(host_allowed(&url::Url::parse("https://api.mist.com/").unwrap(), &pats));
        assert!(!host_allowed(
            &url::Url::parse("https://mindbridge.ai.evil.com/").unwrap(),
            &pats
        ));
        assert!(!host_allowed(
            &url::Url::parse("https://evil.com/?.mindbridge.ai").unwrap(),
            &pats
        ));
        assert!(!host_allowed(
            &url::Url::parse("http://acme.mindbridge.ai/").unwrap(),
            &pats
        ));
    }
}

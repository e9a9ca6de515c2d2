//! Building the provider request: the URL (base URL with the operator's override, host
//! and address checks, the resource path and query), headers, credentials on the wire
//! (header, Basic, query, Digest) and the body (JSON or form).

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use super::{client, digest, Upstream, UpstreamError};
use crate::catalog::registry::Authorization;
use crate::catalog::types::{BodyFormat, HttpMethod};
use crate::catalog::{Integration, Resource};
use crate::mapping::template::Encoding;

/// What to send, after templates are rendered.
#[derive(Debug, Default, Clone)]
pub struct Outgoing {
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Replaces the resource URL (a `Link: rel="next"` URL); must be on the same host.
    pub url: Option<url::Url>,
    /// Headers for this request only (a page size sent as `Prefer: odata.maxpagesize=N`).
    pub headers: Vec<(http::HeaderName, String)>,
    /// How much of a successful answer [`Reply::json`] holds.
    pub parse: Parse,
}

/// How much of a successful answer's body is parsed into [`Reply::json`]; the whole body
/// stays in [`Reply::body`] either way, and an error answer is always parsed whole (the
/// integration's error expressions read it).
#[derive(Debug, Default, Clone)]
pub enum Parse {
    /// All of it.
    #[default]
    Whole,
    /// Only what this mapping reads of its `response` ([`crate::mapping::reads::parse_projected`]).
    For(crate::mapping::Expr),
    /// None of it ([`Reply::json`] is `null`), for a caller that passes the body on as it
    /// is: it is only checked to be JSON, as fully as a parse would check it.
    Check,
}

/// A request ready to send, with what its authorization needs after the first answer
/// (HTTP Digest answers the provider's challenge).
#[derive(Debug)]
pub struct UpstreamRequest {
    pub(super) request: client::Request,
    /// GET, PUT or DELETE: safe to send again when its answer broke off.
    pub(super) idempotent: bool,
    pub(super) digest: Option<digest::Credentials>,
    /// The account whose request budget this call spends, if its integration has one.
    pub(super) budget_key: Option<String>,
    pub(super) parse: Parse,
}

impl UpstreamRequest {
    /// Makes the call spend `account_id`'s request budget (`rate_limit.budget`).
    pub fn for_account(mut self, account_id: &str) -> Self {
        // Concatenated, not `format!`ted (500 instructions a call).
        self.budget_key = Some(["account:", account_id].concat());
        self
    }
}

impl Upstream {
    /// Refuses a URL whose host is an IP literal the integration may not reach, unless it
    /// is the operator's override origin. (Names are checked after resolution.)
    fn check_address(
        &self,
        integration: &Integration,
        url: &url::Url,
        account_config: bool,
    ) -> Result<(), UpstreamError> {
        let ip: std::net::IpAddr = match url.host() {
            Some(url::Host::Ipv4(a)) => a.into(),
            Some(url::Host::Ipv6(a)) => a.into(),
            _ => return Ok(()),
        };
        if integration.address_policy.permits(ip) {
            return Ok(());
        }
        let overridden = self
            .override_origin(integration)
            .ok()
            .flatten()
            .is_some_and(|o| o.host() == url.host() && o.port_or_known_default() == url.port_or_known_default());
        if overridden {
            return Ok(());
        }
        Err(UpstreamError::PrivateAddress {
            integration: integration.name().to_string(),
            host: url.host_str().unwrap_or_default().to_string(),
            reason: format!("{ip} is not a public address"),
            account_config,
        })
    }

    /// An OAuth endpoint of the integration (`oauth2.token_url`, ...) rendered over the
    /// account's context: on the integration's hosts, with the operator's override applied
    /// like the base URL's.
    pub fn oauth_url(
        &self,
        integration: &Integration,
        template: &crate::mapping::template::Template,
        context: &Value,
    ) -> Result<url::Url, UpstreamError> {
        let name = integration.name().to_string();
        let rendered = template
            .render_in(&[("context", context)], Encoding::Raw)
            .map_err(|source| UpstreamError::Template {
                integration: name.clone(),
                source,
            })?;
        let url = url::Url::parse(&rendered).map_err(|_| UpstreamError::BadUrl {
            integration: name.clone(),
            url: rendered.clone(),
        })?;
        if !template.is_static() && !crate::address_policy::host_allowed(&url, &integration.config.allowed_hosts) {
            return Err(UpstreamError::ForbiddenHost {
                integration: name,
                url: rendered,
            });
        }
        // The override keeps the endpoint's path, and its query too (a base URL has none).
        let mut out = self.on_override_origin(integration, Cow::Borrowed(&url))?.into_owned();
        out.set_query(url.query());
        self.check_address(integration, &out, !template.is_static())?;
        Ok(out)
    }

    /// The operator's override of the integration's origin, parsed; one that does not parse
    /// is the error a call through it gets.
    fn override_origin(&self, integration: &Integration) -> Result<Option<&url::Url>, UpstreamError> {
        match self.overrides.get(integration.name()) {
            None => Ok(None),
            Some(Ok(origin)) => Ok(Some(origin)),
            Some(Err(text)) => Err(UpstreamError::BadUrl {
                integration: integration.name().to_string(),
                url: text.clone(),
            }),
        }
    }

    /// `url` on the operator's override of the integration's origin, if it has one, keeping
    /// its path; borrowed where nothing changes (no override, or the override's path is
    /// already `url`'s).
    fn on_override_origin<'a>(
        &'a self,
        integration: &Integration,
        url: Cow<'a, url::Url>,
    ) -> Result<Cow<'a, url::Url>, UpstreamError> {
        Ok(match self.override_origin(integration)? {
            None => url,
            Some(origin) if origin.path() == url.path() => Cow::Borrowed(origin),
            Some(origin) => {
                let mut out = origin.clone();
                out.set_path(url.path());
                Cow::Owned(out)
            }
        })
    }

    /// The integration's base URL for this account, checked against its allowed hosts,
    /// with the operator's override (if any) applied.
    pub fn base_url(&self, integration: &Integration, context: &Value) -> Result<url::Url, UpstreamError> {
        self.base_url_in(integration, &[("context", context)])
            .map(Cow::into_owned)
    }

    /// As [`Upstream::base_url`], with the `{context}` scope already built; borrowed where
    /// nothing is rendered (a static base URL, or the override's origin when the paths
    /// agree), so that a call copies the URL once, when its path is joined.
    fn base_url_in<'a>(
        &'a self,
        integration: &'a Integration,
        scope: &[(&str, &Value)],
    ) -> Result<Cow<'a, url::Url>, UpstreamError> {
        let name = || integration.name().to_string();
        let url =
            match &integration.static_base_url {
                // Most base URLs have no placeholder: parsed once, when the catalog was loaded.
                Some(url) => Cow::Borrowed(url),
                None => {
                    let rendered = integration.base_url.render_in(scope, Encoding::Raw).map_err(|source| {
                        UpstreamError::Template {
                            integration: name(),
                            source,
                        }
                    })?;
                    let url = url::Url::parse(&rendered).map_err(|_| UpstreamError::BadUrl {
                        integration: name(),
                        url: rendered.clone(),
                    })?;
                    if !crate::address_policy::host_allowed(&url, &integration.config.allowed_hosts) {
                        return Err(UpstreamError::ForbiddenHost {
                            integration: name(),
                            url: rendered,
                        });
                    }
                    Cow::Owned(url)
                }
            };
        let out = self.on_override_origin(integration, url)?;
        self.check_address(integration, &out, !integration.base_url.is_static())?;
        Ok(out)
    }

    /// A raw resource's own base URL (checked against the integration's hosts when the
    /// catalog was compiled), with the operator's override of the integration's origin
    /// applied as to the integration's base URL: every host of an integration goes to the
    /// same override (its emulator in tests and the sandbox), each keeping its path.
    fn resource_base_url<'a>(
        &'a self,
        integration: &Integration,
        own: &'a url::Url,
    ) -> Result<Cow<'a, url::Url>, UpstreamError> {
        let out = self.on_override_origin(integration, Cow::Borrowed(own))?;
        self.check_address(integration, &out, false)?;
        Ok(out)
    }

    /// Builds the request for `resource`. `scope` is what the path template sees, by name
    /// (`id`, `context`, `before`, ...).
    pub fn request(
        &self,
        integration: &Integration,
        resource: &Resource,
        context: &Value,
        scope: &[(&str, &Value)],
        outgoing: Outgoing,
    ) -> Result<UpstreamRequest, UpstreamError> {
        let name = integration.name();
        let template_err = |source| UpstreamError::Template {
            integration: name.to_string(),
            source,
        };
        let auth_scope: &[(&str, &Value)] = &[("context", context)];
        let base = match &resource.base_url {
            Some(own) => self.resource_base_url(integration, own)?,
            None => self.base_url_in(integration, auth_scope)?,
        };
        let url = match outgoing.url {
            Some(next) => {
                if next.host_str() != base.host_str() || next.port_or_known_default() != base.port_or_known_default() {
                    return Err(UpstreamError::ForeignPage {
                        integration: name.to_string(),
                        url: next.to_string(),
                    });
                }
                self.check_address(integration, &next, false)?;
                next
            }
            None => {
                let path = resource
                    .path
                    .render_in(scope, Encoding::PathSegment)
                    .map_err(template_err)?;
                let mut url = join_path(&base, &path).map_err(|url| UpstreamError::BadUrl {
                    integration: name.to_string(),
                    url,
                })?;
                {
                    let mut pairs = url.query_pairs_mut();
                    for (k, t) in &resource.query {
                        pairs.append_pair(k, &t.render_in(scope, Encoding::Raw).map_err(template_err)?);
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
        // Room for the transport's own three (`Host`, `User-Agent`, `Accept-Encoding`) on
        // top of the usual few: the map is not grown and rehashed on each send.
        let mut headers = HeaderMap::with_capacity(12);
        // A value rendered from a template with placeholders came from the account's
        // context (a credential with a line break): the client's to fix, not a provider
        // that cannot be reached.
        let mut add = |name: &http::HeaderName, value: String, account_config: bool| -> Result<(), UpstreamError> {
            let value = http::HeaderValue::try_from(value).map_err(|_| UpstreamError::InvalidHeader {
                integration: integration.name().to_string(),
                header: name.to_string(),
                account_config,
            })?;
            headers.append(name.clone(), value);
            Ok(())
        };
        for (h, t) in &integration.headers {
            add(
                h,
                t.render_in(auth_scope, Encoding::Raw).map_err(template_err)?,
                !t.is_static(),
            )?;
        }
        for (h, t) in &integration.optional_headers {
            if let Ok(v) = t.render_in(auth_scope, Encoding::Raw) {
                add(h, v, !t.is_static())?;
            }
        }
        // A resource's header replaces the integration's of the same name (MongoDB Atlas's
        // users endpoints need another versioned `Accept` than the rest of its API).
        for (h, _) in &resource.headers {
            headers.remove(h);
        }
        let mut add = |name: &http::HeaderName, value: String, account_config: bool| -> Result<(), UpstreamError> {
            let value = http::HeaderValue::try_from(value).map_err(|_| UpstreamError::InvalidHeader {
                integration: integration.name().to_string(),
                header: name.to_string(),
                account_config,
            })?;
            headers.append(name.clone(), value);
            Ok(())
        };
        for (h, t) in &resource.headers {
            add(
                h,
                t.render_in(scope, Encoding::Raw).map_err(template_err)?,
                !t.is_static(),
            )?;
        }
        for (h, v) in &outgoing.headers {
            add(h, v.clone(), false)?;
        }
        let mut digest = None;
        match &integration.authorization {
            Authorization::Header { name: h, value } => {
                add(
                    h,
                    value.render_in(auth_scope, Encoding::Raw).map_err(template_err)?,
                    !value.is_static(),
                )?;
            }
            Authorization::Basic { username, password } => {
                use base64::Engine as _;
                let pair = format!(
                    "{}:{}",
                    username.render_in(auth_scope, Encoding::Raw).map_err(template_err)?,
                    password.render_in(auth_scope, Encoding::Raw).map_err(template_err)?
                );
                let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
                add(&http::header::AUTHORIZATION, value, false)?;
            }
            Authorization::Query { name: q, value } => {
                let v = value.render_in(auth_scope, Encoding::Raw).map_err(template_err)?;
                url.query_pairs_mut().append_pair(q, &v);
            }
            // Sent bare; `send` answers the provider's challenge with these.
            Authorization::Digest { username, password } => {
                digest = Some(digest::Credentials {
                    username: username.render_in(auth_scope, Encoding::Raw).map_err(template_err)?,
                    password: password
                        .render_in(auth_scope, Encoding::Raw)
                        .map_err(template_err)?
                        .into(),
                });
            }
        }
        // Trace context is the gateway's own business: a caller's `traceparent` never reaches a
        // provider, even from a catalog that names one of these headers.
        // (Looked for first: removing a name parses and hashes it, about 1,000 instructions
        // a call for the three, and almost no catalog names one.)
        const TRACE_HEADERS: [&str; 3] = ["traceparent", "tracestate", "baggage"];
        if headers.keys().any(|k| TRACE_HEADERS.contains(&k.as_str())) {
            for h in TRACE_HEADERS {
                headers.remove(h);
            }
        }
        // Credentials are never logged (as reqwest marks them).
        if let Some(v) = headers.get_mut(http::header::AUTHORIZATION) {
            v.set_sensitive(true);
        }
        let mut body = Bytes::new();
        if let Some(value) = outgoing.body.as_ref().or(resource.body.as_ref()) {
            body = match resource.body_format {
                BodyFormat::Json => {
                    if !headers.contains_key(http::header::CONTENT_TYPE) {
                        headers.insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static("application/json"),
                        );
                    }
                    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
                }
                BodyFormat::Form => {
                    let pairs = match value {
                        Value::Object(m) => crate::query_pairs::flatten_pairs(m),
                        _ => Vec::new(),
                    };
                    let encoded = url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(pairs)
                        .finish();
                    headers.insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/x-www-form-urlencoded"),
                    );
                    Bytes::from(encoded)
                }
            };
        }
        let request = client::Request {
            method: resource.method.as_http(),
            url,
            headers,
            body,
            timeout: Duration::from_millis(integration.config.timeout_ms.unwrap_or(self.config.request_timeout_ms)),
        };
        Ok(UpstreamRequest {
            request,
            idempotent: matches!(resource.method, HttpMethod::Get | HttpMethod::Put | HttpMethod::Delete),
            digest,
            budget_key: None,
            parse: outgoing.parse,
        })
    }
}

/// The base URL with a rendered resource path appended (`https://h/v1` + `/orgs/x`); the
/// joined text when it is not a URL.
fn join_path(base: &url::Url, path: &str) -> Result<url::Url, String> {
    let plain = path.is_empty() || (path.starts_with('/') && !path.contains(['?', '#']));
    if plain && base.query().is_none() && base.fragment().is_none() {
        // The usual case: only the path changes, so the scheme, host (IDNA) and port are
        // not parsed again on every call. Same result as parsing the joined text.
        let mut url = base.clone();
        url.set_path(&[base.path().trim_end_matches('/'), path].concat());
        return Ok(url);
    }
    let joined = format!("{}{}", base.as_str().trim_end_matches('/'), path);
    url::Url::parse(&joined).map_err(|_| joined)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn joining_a_path_equals_parsing_the_joined_text() {
        let bases = [
            "https://api.github.com",
            "https://api.github.com/",
            "https://h.example/v1/",
            "http://127.0.0.1:8080/api",
            "https://bücher.example/x",
        ];
        let paths = [
            "",
            "/",
            "/orgs/octo-org",
            "/orgs/a%2Fb",
            "/a b/ü",
            "/a/../b",
            "/./c",
            "items",
            "/q?x=1",
            "/f#frag",
            "/%zz",
        ];
        for b in bases {
            let base = url::Url::parse(b).unwrap();
            for p in paths {
                let parsed = url::Url::parse(&format!("{}{}", base.as_str().trim_end_matches('/'), p)).unwrap();
                assert_eq!(join_path(&base, p).unwrap(), parsed, "{b} + {p}");
            }
        }
        let with_query = url::Url::parse("https://h.example/v1?key=1").unwrap();
        assert_eq!(
            join_path(&with_query, "/x").unwrap().as_str(),
            "https://h.example/v1?key=1/x"
        );
    }
}

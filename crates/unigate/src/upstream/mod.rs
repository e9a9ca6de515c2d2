//! Calls to providers: URL building (with host checks, and address checks against SSRF in
//! [`net`]), credentials on the wire, the account's request budget, retries within a count
//! and a total time, timeouts, body limits, and classification of every way a call can fail.

pub mod client;
pub mod digest;
pub mod link;
pub mod net;
pub mod range;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use rustls::pki_types::CertificateDer;
use secrecy::ExposeSecret as _;
use serde_json::Value;

use crate::catalog::registry::Authorization;
use crate::catalog::types::{BodyFormat, HttpMethod};
use crate::catalog::{Integration, Resource};
use crate::config::UpstreamConfig;
use crate::mapping::template::{Encoding, TemplateError};

/// Where a failure came from and what the client should be told.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{integration} did not answer within {timeout_ms} ms")]
    Timeout { integration: String, timeout_ms: u64 },
    #[error("could not reach {integration}{}", if *through_proxy { " through the outbound proxy (`upstream.proxy` or the environment's HTTPS_PROXY)" } else { "" })]
    Connect {
        integration: String,
        /// The call went to the configured outbound proxy, which is what could not be reached
        /// or did not pass the call on.
        through_proxy: bool,
        #[source]
        source: client::ClientError,
    },
    /// TLS refused the provider's certificate (its host's, or a TLS-inspecting proxy's).
    #[error("{integration}'s TLS certificate was refused ({reason}); {hint}", hint = client::CERTIFICATE_HINT)]
    Certificate { integration: String, reason: String },
    #[error("the connection to {integration} failed mid-answer")]
    Body {
        integration: String,
        #[source]
        source: client::ClientError,
    },
    #[error("{integration} answered more than {limit} bytes")]
    TooLarge { integration: String, limit: usize },
    /// The answers being held in memory across all calls reached `max_buffered_bytes`.
    #[error(
        "Unigate is holding {limit} bytes of provider answers, its limit, and cannot read {integration}'s answer now"
    )]
    MemoryFull { integration: String, limit: usize },
    #[error("{integration} answered {status} with a body that is not valid JSON{encoding}")]
    InvalidJson {
        integration: String,
        status: u16,
        snippet: String,
        /// Empty, or what the body's `Content-Encoding` explains.
        encoding: String,
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
    /// An address Unigate will not connect to (SSRF protection). `account_config`: the host
    /// came from the account's context (a client error), not from the catalog, a provider's
    /// link or DNS.
    /// A next-page URL (a `Link` header, a body's next link) on another host.
    #[error("{integration} gave a next-page URL on another host ({url}); Unigate only follows pages on the integration's own host")]
    ForeignPage { integration: String, url: String },
    #[error("refused to call {integration} at {host}: {reason}; Unigate does not connect to private, loopback, link-local or reserved addresses unless the integration lists them in `allowed_private_networks`")]
    PrivateAddress {
        integration: String,
        host: String,
        reason: String,
        account_config: bool,
    },
    #[error("{integration} answered {status}, a redirect to {location}, which Unigate does not follow")]
    Redirect {
        integration: String,
        status: u16,
        location: String,
    },
    /// The account's proactive request budget has no slot within the longest wait.
    #[error("this account's request budget for {integration} ({requests} per {per_ms} ms) is used up for the next {retry_after_ms} ms")]
    BudgetExhausted {
        integration: String,
        requests: u32,
        per_ms: u64,
        retry_after_ms: u64,
    },
    #[error("cannot reserve a request slot for {integration}")]
    Store {
        integration: String,
        #[source]
        source: crate::store::StoreError,
    },
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
    /// The body parsed as JSON (`null` when empty), as far as the request's [`Outgoing::parse`]
    /// asked.
    pub json: Value,
    pub url: url::Url,
    /// Normalized `ratelimit-*` headers to pass on to the client.
    pub ratelimit: Vec<(&'static str, String)>,
    /// The share of `max_buffered_bytes` this answer holds, given back when it is dropped.
    pub memory: Option<MemoryShare>,
}

/// All provider answers held in memory at once, across calls, are bounded by
/// `upstream.max_buffered_bytes`: a body takes its share as it arrives (in KiB), and a call
/// that finds none left is refused at once (503) rather than waiting, which could leave
/// many calls each holding part of what they need.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    kib: Arc<tokio::sync::Semaphore>,
    limit: usize,
}

/// A share of the [`MemoryBudget`], given back on drop.
#[derive(Debug)]
pub struct MemoryShare(tokio::sync::OwnedSemaphorePermit);

impl MemoryBudget {
    pub fn new(limit_bytes: usize) -> Self {
        // Rounded up, as each body's share is: an answer of exactly the limit fits.
        let kib = limit_bytes.div_ceil(1024).min(tokio::sync::Semaphore::MAX_PERMITS);
        MemoryBudget {
            kib: Arc::new(tokio::sync::Semaphore::new(kib)),
            limit: limit_bytes,
        }
    }

    /// Grows `share` to cover `bytes`; false when the budget has no room.
    fn cover(&self, share: &mut Option<MemoryShare>, bytes: usize) -> bool {
        let held = share.as_ref().map_or(0, |s| s.0.num_permits());
        let needed = bytes.div_ceil(1024);
        if needed <= held {
            return true;
        }
        let Ok(more) = u32::try_from(needed - held) else {
            return false;
        };
        match self.kib.clone().try_acquire_many_owned(more) {
            Ok(permit) => {
                match share {
                    Some(s) => s.0.merge(permit),
                    None => *share = Some(MemoryShare(permit)),
                }
                true
            }
            Err(_) => false,
        }
    }

    /// KiB free now (for tests and diagnostics).
    pub fn available_kib(&self) -> usize {
        self.kib.available_permits()
    }
}

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
    request: client::Request,
    /// GET, PUT or DELETE: safe to send again when its answer broke off.
    idempotent: bool,
    digest: Option<digest::Credentials>,
    /// The account whose request budget this call spends, if its integration has one.
    budget_key: Option<String>,
    parse: Parse,
}

impl UpstreamRequest {
    /// A copy to send again, when the method is idempotent (bodies here are in memory).
    fn copy_if_idempotent(&self) -> Option<UpstreamRequest> {
        if !self.idempotent {
            return None;
        }
        Some(UpstreamRequest {
            request: self.request.clone(),
            idempotent: true,
            digest: self.digest.clone(),
            budget_key: self.budget_key.clone(),
            parse: Parse::Whole,
        })
    }

    /// Makes the call spend `account_id`'s request budget (`rate_limit.budget`).
    pub fn for_account(mut self, account_id: &str) -> Self {
        self.budget_key = Some(format!("account:{account_id}"));
        self
    }
}

#[derive(Clone)]
pub struct Upstream {
    /// The client for integrations that reach public addresses only (nearly all).
    http: client::Client,
    /// Clients for integrations that declare private networks, by policy: each resolves
    /// names under its own policy and keeps its own connection pool, so a connection opened
    /// for one integration is never reused for another's host.
    private_clients: Arc<Mutex<HashMap<net::AddressPolicy, client::Client>>>,
    /// For OAuth token requests (reqwest: rare calls, form bodies).
    oauth_http: reqwest::Client,
    /// An outbound proxy is configured: provider calls go through reqwest, which implements it.
    proxied: bool,
    /// Host names of the operator's `base_url_overrides`, trusted as they resolve.
    trusted_hosts: Arc<HashSet<String>>,
    /// `upstream.ca_certificates`, read once.
    extra_roots: Arc<[CertificateDer<'static>]>,
    /// The operator's `base_url_overrides`, parsed once (an unparsable one stays a string
    /// error at call time, as before).
    overrides: Arc<HashMap<String, Result<url::Url, String>>>,
    /// Where request budgets are kept (shared by every instance on the store).
    budgets: Option<Arc<dyn crate::store::Store>>,
    /// What all buffered provider answers may hold at once.
    memory: MemoryBudget,
    config: Arc<UpstreamConfig>,
}

impl Upstream {
    pub fn new(config: UpstreamConfig) -> Result<Self, client::BoxError> {
        let mut trusted_hosts: HashSet<String> = config
            .base_url_overrides
            .values()
            .filter_map(|u| url::Url::parse(u).ok())
            .filter_map(|u| u.host_str().map(str::to_ascii_lowercase))
            .collect();
        // Proxies are named by the operator and usually sit on a private network.
        trusted_hosts.extend(client::env_proxy_hosts());
        trusted_hosts.extend(
            config
                .proxy
                .as_ref()
                .and_then(|p| client::proxy_host(p.expose_secret())),
        );
        let trusted_hosts = Arc::new(trusted_hosts);
        let overrides = config
            .base_url_overrides
            .iter()
            .map(|(name, u)| (name.clone(), url::Url::parse(u).map_err(|_| u.clone())))
            .collect();
        let proxied = config.proxy.is_some() || client::proxy_configured();
        if proxied {
            tracing::info!("an outbound proxy is configured: provider calls go through it");
        }
        let extra_roots = match &config.ca_certificates {
            Some(path) => client::load_ca_certificates(path)?,
            None => Arc::from([]),
        };
        let http = build_client(
            &config,
            net::AddressPolicy::default(),
            trusted_hosts.clone(),
            extra_roots.clone(),
            proxied,
        )?;
        let oauth_http = client::reqwest_client(settings(
            &config,
            net::AddressPolicy::default(),
            trusted_hosts.clone(),
            extra_roots.clone(),
        ))?;
        Ok(Upstream {
            http,
            private_clients: Arc::new(Mutex::new(HashMap::new())),
            oauth_http,
            proxied,
            trusted_hosts,
            extra_roots,
            overrides: Arc::new(overrides),
            budgets: None,
            memory: MemoryBudget::new(config.max_buffered_bytes),
            config: Arc::new(config),
        })
    }

    /// Enforces integrations' proactive request budgets through `store`.
    pub fn with_budgets(mut self, store: Arc<dyn crate::store::Store>) -> Self {
        self.budgets = Some(store);
        self
    }

    /// The client whose resolver applies `integration`'s address policy.
    fn client_for(&self, integration: &Integration) -> client::Client {
        let policy = &integration.address_policy;
        if policy.allowed_private.is_empty() {
            return self.http.clone();
        }
        let mut clients = self
            .private_clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = clients.get(policy) {
            return c.clone();
        }
        match build_client(
            &self.config,
            policy.clone(),
            self.trusted_hosts.clone(),
            self.extra_roots.clone(),
            self.proxied,
        ) {
            Ok(c) => {
                clients.insert(policy.clone(), c.clone());
                c
            }
            // Building a client only fails when TLS cannot initialize, which the shared
            // client (built at start) already survived; stay strict rather than fail open.
            Err(e) => {
                tracing::error!(integration = integration.name(), error = %e, "cannot build an HTTP client for private networks");
                self.http.clone()
            }
        }
    }

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
            .and_then(|o| o.ok())
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

    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    pub fn memory(&self) -> &MemoryBudget {
        &self.memory
    }

    /// The HTTP client for OAuth token requests.
    pub fn http(&self) -> &reqwest::Client {
        &self.oauth_http
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
        let scope = serde_json::json!({ "context": context });
        let rendered = template
            .render(&scope, Encoding::Raw)
            .map_err(|source| UpstreamError::Template {
                integration: name.clone(),
                source,
            })?;
        let url = url::Url::parse(&rendered).map_err(|_| UpstreamError::BadUrl {
            integration: name.clone(),
            url: rendered.clone(),
        })?;
        if !template.is_static() && !host_allowed(&url, &integration.config.allowed_hosts) {
            return Err(UpstreamError::ForbiddenHost {
                integration: name,
                url: rendered,
            });
        }
        let out = match self.override_origin(integration) {
            Some(origin) => {
                let mut out = origin.map_err(|origin| UpstreamError::BadUrl {
                    integration: name,
                    url: origin.clone(),
                })?;
                out.set_path(url.path());
                out.set_query(url.query());
                out
            }
            None => url,
        };
        self.check_address(integration, &out, !template.is_static())?;
        Ok(out)
    }

    /// The operator's override of the integration's origin, parsed (or the unparsable text).
    fn override_origin(&self, integration: &Integration) -> Option<Result<url::Url, &String>> {
        self.overrides.get(integration.name()).map(|o| o.as_ref().cloned())
    }

    /// The integration's base URL for this account, checked against its allowed hosts,
    /// with the operator's override (if any) applied.
    pub fn base_url(&self, integration: &Integration, context: &Value) -> Result<url::Url, UpstreamError> {
        self.base_url_in(integration, &crate::mapping::object([("context", context.clone())]))
    }

    /// As [`Upstream::base_url`], with the `{context}` scope already built.
    fn base_url_in(&self, integration: &Integration, scope: &Value) -> Result<url::Url, UpstreamError> {
        let name = || integration.name().to_string();
        let url =
            match &integration.static_base_url {
                // Most base URLs have no placeholder: parsed once, when the catalog was loaded.
                Some(url) => url.clone(),
                None => {
                    let rendered = integration.base_url.render(scope, Encoding::Raw).map_err(|source| {
                        UpstreamError::Template {
                            integration: name(),
                            source,
                        }
                    })?;
                    let url = url::Url::parse(&rendered).map_err(|_| UpstreamError::BadUrl {
                        integration: name(),
                        url: rendered.clone(),
                    })?;
                    if !host_allowed(&url, &integration.config.allowed_hosts) {
                        return Err(UpstreamError::ForbiddenHost {
                            integration: name(),
                            url: rendered,
                        });
                    }
                    url
                }
            };
        let out = match self.override_origin(integration) {
            Some(origin) => {
                let mut out = origin.map_err(|origin| UpstreamError::BadUrl {
                    integration: name(),
                    url: origin.clone(),
                })?;
                out.set_path(url.path());
                out
            }
            None => url,
        };
        self.check_address(integration, &out, !integration.base_url.is_static())?;
        Ok(out)
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
    ) -> Result<UpstreamRequest, UpstreamError> {
        let name = integration.name();
        let template_err = |source| UpstreamError::Template {
            integration: name.to_string(),
            source,
        };
        let auth_scope = crate::mapping::object([("context", context.clone())]);
        let base = self.base_url_in(integration, &auth_scope)?;
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
                    .render(scope, Encoding::PathSegment)
                    .map_err(template_err)?;
                let mut url = join_path(&base, &path).map_err(|url| UpstreamError::BadUrl {
                    integration: name.to_string(),
                    url,
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
        let mut headers = HeaderMap::new();
        let mut add = |name: &http::HeaderName, value: String| -> Result<(), UpstreamError> {
            let value = http::HeaderValue::try_from(value).map_err(|e| UpstreamError::Connect {
                integration: integration.name().to_string(),
                through_proxy: false,
                source: client::ClientError::Build(Box::new(e)),
            })?;
            headers.append(name.clone(), value);
            Ok(())
        };
        for (h, t) in &integration.headers {
            add(h, t.render(&auth_scope, Encoding::Raw).map_err(template_err)?)?;
        }
        for (h, t) in &integration.optional_headers {
            if let Ok(v) = t.render(&auth_scope, Encoding::Raw) {
                add(h, v)?;
            }
        }
        for (h, t) in &resource.headers {
            add(h, t.render(scope, Encoding::Raw).map_err(template_err)?)?;
        }
        for (h, v) in &outgoing.headers {
            add(h, v.clone())?;
        }
        let mut digest = None;
        match &integration.authorization {
            Authorization::Header { name: h, value } => {
                add(h, value.render(&auth_scope, Encoding::Raw).map_err(template_err)?)?;
            }
            Authorization::Basic { username, password } => {
                use base64::Engine as _;
                let pair = format!(
                    "{}:{}",
                    username.render(&auth_scope, Encoding::Raw).map_err(template_err)?,
                    password.render(&auth_scope, Encoding::Raw).map_err(template_err)?
                );
                let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
                add(&http::header::AUTHORIZATION, value)?;
            }
            Authorization::Query { name: q, value } => {
                let v = value.render(&auth_scope, Encoding::Raw).map_err(template_err)?;
                url.query_pairs_mut().append_pair(q, &v);
            }
            // Sent bare; `send` answers the provider's challenge with these.
            Authorization::Digest { username, password } => {
                digest = Some(digest::Credentials {
                    username: username.render(&auth_scope, Encoding::Raw).map_err(template_err)?,
                    password: password
                        .render(&auth_scope, Encoding::Raw)
                        .map_err(template_err)?
                        .into(),
                });
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
                        Value::Object(m) => crate::unified::query::flatten_pairs(m),
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

    /// Sends (see [`Upstream::send_with_retries`]); with HTTP Digest, a `401` carrying a challenge
    /// is answered once with the credentials and the same request sent again.
    pub async fn send(
        &self,
        integration: &Integration,
        req: UpstreamRequest,
    ) -> Result<client::Response, UpstreamError> {
        let request = req.request;
        let budget_key = req.budget_key.as_deref();
        let Some(credentials) = req.digest else {
            return Box::pin(self.send_with_retries(integration, request, budget_key)).await;
        };
        let mut again = request.clone();
        let response = Box::pin(self.send_with_retries(integration, request, budget_key)).await?;
        if response.status != http::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let answer = digest::answer(&response.headers, &credentials, again.method.as_str(), &again.url);
        match answer.and_then(|a| http::HeaderValue::from_str(&a).ok()) {
            Some(mut value) => {
                value.set_sensitive(true);
                again.headers.insert(http::header::AUTHORIZATION, value);
                Box::pin(self.send_with_retries(integration, again, budget_key)).await
            }
            None => Ok(response),
        }
    }

    /// Sends, with retries: connections that never opened and rate-limited answers (nothing
    /// was processed) for every method; broken connections and provider 502/503/504 only
    /// for idempotent methods (GET, PUT, DELETE), since a POST or PATCH may have been
    /// applied. Exponential backoff with full jitter; a provider `Retry-After` is honoured
    /// up to `max_retry_after_ms`. No retry starts whose wait would end more than
    /// `max_total_ms` after the first attempt. Every attempt first takes a slot of the
    /// account's request budget, if `budget_key` names one and the integration has one.
    /// Returns the last response with its body unread (for streaming), or the last failure.
    async fn send_with_retries(
        &self,
        integration: &Integration,
        request: client::Request,
        budget_key: Option<&str>,
    ) -> Result<client::Response, UpstreamError> {
        let name = integration.name().to_string();
        let idempotent = matches!(
            request.method,
            http::Method::GET | http::Method::PUT | http::Method::DELETE | http::Method::HEAD
        );
        let policy = &self.config.retry;
        let overrides = integration.config.retry.as_ref();
        let max_attempts = overrides.and_then(|r| r.max_attempts).unwrap_or(policy.max_attempts);
        let max_total = Duration::from_millis(overrides.and_then(|r| r.max_total_ms).unwrap_or(policy.max_total_ms));
        let client = self.client_for(integration);
        let started = Instant::now();
        let mut pending = Some(request);
        let mut previous: Option<Result<client::Response, client::ClientError>> = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Some(current) = pending.take() else {
                unreachable!("a request is pending on every attempt")
            };
            if let Err(e) = self.pace(integration, budget_key).await {
                // A retry that cannot get a slot in time: the last answer stands.
                return match previous {
                    Some(result) => self.settle(integration, result),
                    None => Err(e),
                };
            }
            // Bodies here are always in memory, so a clone exists whenever we may retry.
            let retry_copy = (attempt < max_attempts).then(|| current.clone());
            let result = client.execute(current).await;
            let wait = match &result {
                // A timeout is not retried: the client would wait several timeouts for a 504.
                Err(e) if e.is_timeout() => None,
                // An address we refuse stays refused, and so does a certificate.
                Err(e) if net::forbidden_address(e).is_some() || client::certificate_error(e).is_some() => None,
                // The connection never opened, so nothing was sent: safe for any method.
                Err(e) if e.is_connect() => Some(self.backoff(attempt)),
                // The request may have reached the provider: only idempotent ones again.
                Err(e) if idempotent && e.is_request() => Some(self.backoff(attempt)),
                Err(_) => None,
                Ok(resp) => {
                    let status = resp.status.as_u16();
                    // A rate-limited answer means "not processed": safe for any method.
                    match self.rate_limited(integration, status, &resp.headers) {
                        Some(Some(secs)) if secs * 1000 <= policy.max_retry_after_ms => Some(Duration::from_secs(secs)),
                        Some(Some(_)) => None,
                        Some(None) => Some(self.backoff(attempt)),
                        None if idempotent && matches!(status, 502..=504) => Some(self.backoff(attempt)),
                        None => None,
                    }
                }
            };
            let wait = wait.filter(|w| {
                let within = started.elapsed() + *w <= max_total;
                if !within {
                    tracing::info!(integration = %name, attempt, wait_ms = w.as_millis() as u64, max_total_ms = max_total.as_millis() as u64, "not retrying: the retry time budget would be exceeded");
                }
                within
            });
            match (wait, retry_copy) {
                (Some(wait), Some(copy)) => {
                    tracing::info!(integration = %name, attempt, wait_ms = wait.as_millis() as u64, "retrying provider call");
                    tokio::time::sleep(wait).await;
                    pending = Some(copy);
                    previous = Some(result);
                }
                _ => return self.settle(integration, result),
            }
        }
    }

    /// The outcome of the last attempt: failures classified, and a redirect refused (never
    /// followed: its target could be any host, and would get the account's credentials).
    fn settle(
        &self,
        integration: &Integration,
        result: Result<client::Response, client::ClientError>,
    ) -> Result<client::Response, UpstreamError> {
        let response = result.map_err(|e| self.classify(integration, e, true))?;
        let status = response.status;
        if status.is_redirection() && status != http::StatusCode::NOT_MODIFIED {
            let location = response
                .headers
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no Location)")
                .chars()
                .take(300)
                .collect();
            return Err(UpstreamError::Redirect {
                integration: integration.name().to_string(),
                status: status.as_u16(),
                location,
            });
        }
        Ok(response)
    }

    /// Waits for a slot of the account's proactive request budget (`rate_limit.budget`),
    /// shared by every instance on the store; a slot further away than the longest wait is
    /// a [`UpstreamError::BudgetExhausted`].
    async fn pace(&self, integration: &Integration, key: Option<&str>) -> Result<(), UpstreamError> {
        let (Some(store), Some(key), Some(budget)) = (&self.budgets, key, &integration.rate_limit.budget) else {
            return Ok(());
        };
        let lanes = crate::store::BudgetLanes::new(budget.requests, budget.per_ms);
        let max_wait = budget.max_wait_ms.unwrap_or(self.config.budget_max_wait_ms);
        let slot = store
            .reserve_rate_slot(key, lanes, max_wait)
            .await
            .map_err(|source| UpstreamError::Store {
                integration: integration.name().to_string(),
                source,
            })?;
        match slot {
            crate::store::RateSlot::Granted { wait_ms: 0 } => Ok(()),
            crate::store::RateSlot::Granted { wait_ms } => {
                tracing::debug!(
                    integration = integration.name(),
                    wait_ms,
                    "spacing a call to stay within the account's request budget"
                );
                tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                Ok(())
            }
            crate::store::RateSlot::Exhausted { retry_after_ms } => {
                tracing::info!(
                    integration = integration.name(),
                    retry_after_ms,
                    "the account's request budget is used up"
                );
                Err(UpstreamError::BudgetExhausted {
                    integration: integration.name().to_string(),
                    requests: budget.requests,
                    per_ms: budget.per_ms,
                    retry_after_ms,
                })
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
        let limited = match &rl.is_rate_limited {
            Some(expr) => matches!(
                expr.eval(&status_and_headers(expr, status, headers)),
                Ok(Some(Value::Bool(true)))
            ),
            None => status == 429,
        };
        if !limited {
            return None;
        }
        let number = |expr: &Option<crate::mapping::Expr>| -> Option<f64> {
            expr.as_ref()
                .and_then(|e| e.eval(&status_and_headers(e, status, headers)).ok().flatten())
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
        let pick = |expr: &Option<crate::mapping::Expr>, fallbacks: &[&str]| -> Option<String> {
            let v = match expr {
                Some(e) => e.eval(&status_and_headers(e, status, headers)).ok().flatten(),
                None => fallbacks
                    .iter()
                    .find_map(|h| header_text(headers, h).map(Value::String)),
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

    fn classify(&self, integration: &Integration, e: client::ClientError, connecting: bool) -> UpstreamError {
        let timeout_ms = integration.config.timeout_ms.unwrap_or(self.config.request_timeout_ms);
        let integration = integration.name();
        if let Some(f) = net::forbidden_address(&e) {
            return UpstreamError::PrivateAddress {
                integration: integration.to_string(),
                host: f.host.clone(),
                reason: f.to_string(),
                account_config: false,
            };
        }
        if let Some(reason) = client::certificate_error(&e) {
            return UpstreamError::Certificate {
                integration: integration.to_string(),
                reason,
            };
        }
        if e.is_timeout() {
            UpstreamError::Timeout {
                integration: integration.to_string(),
                timeout_ms,
            }
        } else if connecting {
            UpstreamError::Connect {
                integration: integration.to_string(),
                through_proxy: self.proxied,
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
    ///
    /// An idempotent request whose answer breaks off after its headers (the connection
    /// closed mid-body) is sent once more: nothing of that answer was used.
    pub async fn call(&self, integration: &Integration, mut req: UpstreamRequest) -> Result<Reply, UpstreamError> {
        let name = integration.name().to_string();
        let parse = std::mem::take(&mut req.parse);
        let mut again = req.copy_if_idempotent();
        let BodyRead {
            status,
            headers,
            url,
            body,
            share,
        } = loop {
            let response = Box::pin(self.send(integration, req)).await?;
            match self.read_body(integration, response).await {
                Ok(read) => break read,
                Err(e @ UpstreamError::Body { .. }) => match again.take() {
                    Some(copy) => {
                        tracing::info!(integration = %name, error = %e, "the provider's answer broke off; sending the request again");
                        req = copy;
                    }
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            }
        };
        let parsed = match parse {
            _ if is_blank(&body) => Ok(Value::Null),
            Parse::For(expr) if status < 400 => expr.parse_input_field("response", &body),
            Parse::Check if status < 400 => crate::mapping::reads::check(&body).map(|()| Value::Null),
            _ => serde_json::from_slice::<Value>(&body),
        };
        if status >= 400 {
            let json = parsed
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body[..body.len().min(4096)]).into_owned()));
            let message = error_message(integration, status, &headers, &json);
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
                memory: share,
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
                encoding: match headers.get(http::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) {
                    Some(e) if !e.eq_ignore_ascii_case("identity") => format!(
                        " (it is `Content-Encoding: {e}`, which Unigate does not decode; it asks for `Accept-Encoding: identity`)"
                    ),
                    _ => String::new(),
                },
            }),
        }
    }

    /// The status, headers, final URL and whole body (bounded by `max_response_bytes`) of an
    /// answer; a body that breaks off is an [`UpstreamError::Body`].
    async fn read_body(
        &self,
        integration: &Integration,
        mut response: client::Response,
    ) -> Result<BodyRead, UpstreamError> {
        let status = response.status.as_u16();
        let headers = std::mem::take(&mut response.headers);
        let url = response.url.clone();
        let limit = self.config.max_response_bytes;
        let too_large = || UpstreamError::TooLarge {
            integration: integration.name().to_string(),
            limit,
        };
        let memory_full = || UpstreamError::MemoryFull {
            integration: integration.name().to_string(),
            limit: self.memory.limit,
        };
        let mut share = None;
        // A declared length is checked, and its share taken, at once (one acquisition
        // instead of one per chunk).
        if let Some(n) = response.content_length() {
            if n as usize > limit {
                return Err(too_large());
            }
            if !self.memory.cover(&mut share, n as usize) {
                return Err(memory_full());
            }
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await {
            let chunk = chunk.map_err(|e| self.classify(integration, e, false))?;
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            if !self.memory.cover(&mut share, body.len() + chunk.len()) {
                return Err(memory_full());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(BodyRead {
            status,
            headers,
            url,
            body: Bytes::from(body),
            share,
        })
    }
}

/// Whether an answer's body is empty (or whitespace only): no JSON at all, not even `null`.
pub fn is_blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// An answer read whole, with its share of the memory budget.
struct BodyRead {
    status: u16,
    headers: HeaderMap,
    url: url::Url,
    body: Bytes,
    share: Option<MemoryShare>,
}

/// The provider's own error message in a failed answer, by the integration's `error`
/// expression.
pub fn error_message(integration: &Integration, status: u16, headers: &HeaderMap, json: &Value) -> Option<String> {
    let expr = integration.error_message.as_ref()?;
    let (status, headers) = (Value::from(status), headers_json(headers));
    let input = [("status", &status), ("headers", &headers), ("response", json)];
    expr.eval_fields(input).ok().flatten().and_then(|v| match v {
        Value::String(s) if !s.is_empty() => Some(s),
        _ => None,
    })
}

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

/// An HTTP client for provider calls: no redirects followed, and a resolver that refuses
/// addresses `policy` forbids (names in `trusted_hosts` excepted).
fn build_client(
    config: &UpstreamConfig,
    policy: net::AddressPolicy,
    trusted_hosts: Arc<HashSet<String>>,
    extra_roots: Arc<[CertificateDer<'static>]>,
    proxied: bool,
) -> Result<client::Client, client::BoxError> {
    client::Client::new(settings(config, policy, trusted_hosts, extra_roots), proxied)
}

fn settings(
    config: &UpstreamConfig,
    policy: net::AddressPolicy,
    trusted_hosts: Arc<HashSet<String>>,
    extra_roots: Arc<[CertificateDer<'static>]>,
) -> client::Settings {
    client::Settings {
        connect_timeout: Duration::from_millis(config.connect_timeout_ms),
        resolver: net::GuardedResolver { policy, trusted_hosts },
        proxy: config.proxy.as_ref().map(|p| p.expose_secret().to_owned()),
        extra_roots,
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
        url.set_path(&format!("{}{}", base.path().trim_end_matches('/'), path));
        return Ok(url);
    }
    let joined = format!("{}{}", base.as_str().trim_end_matches('/'), path);
    url::Url::parse(&joined).map_err(|_| joined)
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

/// A header's value; a repeated header's values joined with `, `.
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut values = headers.get_all(name).iter();
    let mut out = String::from_utf8_lossy(values.next()?.as_bytes()).into_owned();
    for v in values {
        out.push_str(", ");
        out.push_str(&String::from_utf8_lossy(v.as_bytes()));
    }
    Some(out)
}

/// Header map as a JSON object (lowercase names; repeated headers joined with `, `).
pub fn headers_json(headers: &HeaderMap) -> Value {
    Value::Object(
        headers
            .keys()
            .filter_map(|name| {
                header_text(headers, name.as_str()).map(|v| (name.as_str().to_string(), Value::String(v)))
            })
            .collect(),
    )
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
    fn the_memory_budget_grows_shares_refuses_past_its_limit_and_gets_them_back() {
        let budget = MemoryBudget::new(10 * 1024);
        let mut a = None;
        assert!(budget.cover(&mut a, 4 * 1024));
        assert!(budget.cover(&mut a, 6 * 1024 + 1), "grows to 7 KiB");
        assert_eq!(budget.available_kib(), 3);
        let mut b = None;
        assert!(!budget.cover(&mut b, 4 * 1024), "4 KiB do not fit in 3");
        assert!(b.is_none());
        assert!(budget.cover(&mut b, 3 * 1024));
        assert_eq!(budget.available_kib(), 0);
        drop(a);
        assert_eq!(budget.available_kib(), 7);
        drop(b);
        assert_eq!(budget.available_kib(), 10);

        // A limit that is not a whole number of KiB still holds one answer of that size.
        let odd = MemoryBudget::new(1000);
        let mut c = None;
        assert!(odd.cover(&mut c, 1000));
        assert!(!odd.cover(&mut None, 1));
    }

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
    }

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

//! Calls to providers: URL building (with host checks, and address checks against SSRF in
//! [`net`]), credentials on the wire, the account's request budget, retries within a count
//! and a total time, timeouts, body limits, and classification of every way a call can fail.
//!
//! - `mod.rs`: [`Upstream`] (clients, the call that reads an answer whole), [`Reply`].
//! - [`error`]: [`UpstreamError`], where a failure came from, whether it may be retried.
//! - [`memory`]: the budget of answer bytes held at once.
//! - [`request`]: building the provider request.
//! - [`retry`]: retries, backoff and the proactive request budget (pacing).
//! - [`ratelimit`]: reading providers' rate-limit headers.
//! - [`client`], [`net`], [`digest`]: the HTTP client, address checks, HTTP Digest.

pub mod client;
pub mod digest;
pub mod error;
pub mod memory;
pub mod net;
mod pool;
pub mod ratelimit;
pub mod request;
pub mod retry;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use rustls::pki_types::CertificateDer;
use secrecy::ExposeSecret as _;
use serde_json::Value;

use crate::catalog::Integration;
use crate::config::UpstreamConfig;
use crate::mapping::headers_json;
pub use error::{Origin, Retry, UpstreamError};
pub use memory::{MemoryBudget, MemoryShare};
pub use ratelimit::is_retry_after;
pub use request::{Outgoing, Parse, UpstreamRequest};

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
    overrides: Arc<hashbrown::HashMap<String, Result<url::Url, String>>>,
    /// Where request budgets are kept (shared by every instance on the store).
    budgets: Option<Arc<dyn crate::store::Store>>,
    /// What all buffered provider answers may hold at once.
    memory: MemoryBudget,
    config: Arc<UpstreamConfig>,
    /// The application's metrics (attempts, failures, retries, rate limits, budget waits).
    metrics: Arc<crate::metrics::Metrics>,
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
            metrics: Arc::default(),
        })
    }

    /// Counts into `metrics` (the application's) instead of a registry of its own.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The metrics this client counts into.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
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
        // An answer that breaks off is asked for once more, with the same request.
        let mut again = req.idempotent;
        let BodyRead {
            status,
            headers,
            url,
            body,
            share,
        } = loop {
            let response = Box::pin(self.send(integration, &req)).await?;
            match self.read_body(integration, response).await {
                Ok(read) => break read,
                Err(e @ UpstreamError::Body { .. }) if again => {
                    tracing::info!(integration = %name, error = %e, "the provider's answer broke off; sending the request again");
                    again = false;
                }
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
            let rate_limited = self.rate_limited(integration, status, &headers, Some(&json));
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
        let declared = response.content_length();
        if let Some(n) = declared {
            if n as usize > limit {
                return Err(too_large());
            }
            if !self.memory.cover(&mut share, n as usize) {
                return Err(memory_full());
            }
        }
        // A body of one piece (most are) is kept as it came, not copied (`Joined`).
        let mut body = client::Joined::default();
        while let Some(chunk) = response.chunk().await {
            let chunk = chunk.map_err(|e| self.classify(integration, e, false))?;
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            if !self.memory.cover(&mut share, body.len() + chunk.len()) {
                return Err(memory_full());
            }
            // The declared length was checked against the limit above.
            body.push(chunk, declared.map_or(0, |n| n as usize));
        }
        Ok(BodyRead {
            status,
            headers,
            url,
            body: body.into_bytes(),
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

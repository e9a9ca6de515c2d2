//! Configuration: documented defaults in code, then an optional TOML file, then
//! `UNIGATE_*` environment variables (nested keys with `__`, e.g.
//! `UNIGATE_UPSTREAM__REQUEST_TIMEOUT_MS=10000`). Validated once at start.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server binds. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// A second address serving only `GET /metrics`, without a token (keep it off the
    /// public network: Prometheus scrapes it). Off by default; `/metrics` on `listen`
    /// always needs an admin API token.
    pub metrics_listen: Option<SocketAddr>,
    /// Where the SQLite database and the generated master key live. Created on first
    /// start. Default `./unigate-data`.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; default `sqlite://<data_dir>/unigate.db`.
    /// With PostgreSQL, any number of instances can share one database.
    pub database_url: Option<String>,
    pub database: DatabaseConfig,
    /// A catalog directory overriding or extending the built-in catalog. It is watched:
    /// a change is validated and swapped in whole, an invalid one logged and left out.
    pub catalog_dir: Option<PathBuf>,
    /// How often `catalog_dir` is checked for changes, in milliseconds; 0 turns the watch
    /// off (`POST /integration/reload` still reloads on demand). Default 1000.
    pub catalog_watch_interval_ms: u64,
    /// On SIGTERM, how long `GET /ready` answers 503 while calls are still served, before
    /// the listener closes: the time a load balancer needs to stop sending new calls here.
    /// Default 0.
    pub shutdown_delay_ms: u64,
    /// The master key (32 bytes, base64) that encrypts credentials at rest. When unset, a
    /// key is generated into `<data_dir>/master.key` (mode 0600) on first start.
    #[serde(skip_serializing)]
    pub encryption_key: Option<SecretString>,
    /// Keys that sealed values before the current one: still accepted for opening, never
    /// used for sealing. Rotation: make the new key `encryption_key`, list the old one
    /// here on every instance, run `unigate keys rotate`, then remove the old key.
    #[serde(skip_serializing)]
    pub previous_encryption_keys: Vec<SecretString>,
    /// The largest request body accepted, in bytes. Default 1 MiB.
    pub max_request_body_bytes: usize,
    pub upstream: UpstreamConfig,
    /// The URL browsers and clients reach this instance at: link-token URLs and the OAuth
    /// redirect URI (`<public_url>/connect/oauth/callback`) are built on it. Default
    /// `http://<listen>`. Behind a load balancer, set it to the balancer's URL.
    pub public_url: Option<String>,
    /// The origins allowed to show the connect page (`/connect`) in a frame, as CSP
    /// `frame-ancestors` sources: `https://app.example.com`, `https://*.example.com` or
    /// `'self'`. Default none: no site can frame the page where customers type credentials.
    pub connect_frame_ancestors: Vec<String>,
    pub oauth: OAuthConfig,
    pub request_log: RequestLogConfig,
    pub webhooks: WebhooksConfig,
    /// `text` (default) or `json` log lines.
    pub log_format: LogFormat,
    /// Threads running requests. Default: one per CPU this process may use (CPU affinity
    /// and cgroup quota included). With one, the gateway runs on tokio's current-thread
    /// runtime.
    pub worker_threads: Option<usize>,
    /// OpenTelemetry traces over OTLP/HTTP (docs/traces.md); off unless `otlp_endpoint` is set.
    pub traces: TracesConfig,
}

/// OpenTelemetry trace export (`telemetry.rs`): one span per call, with children for the
/// account, the mappings, each provider attempt and the store. Off by default; when off no
/// exporter exists and the call's spans are disabled at their call sites.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracesConfig {
    /// The OTLP/HTTP collector's base URL (`http://otel-collector:4318`); spans are POSTed as
    /// protobuf to `<otlp_endpoint>/v1/traces` (a URL already ending in `/v1/traces` is used
    /// as it is). Unset (the default): no traces.
    pub otlp_endpoint: Option<String>,
    /// Headers sent with every export (a hosted collector's API key). Never logged.
    #[serde(skip_serializing)]
    pub otlp_headers: HashMap<String, SecretString>,
    /// `service.name` of the exported spans. Default `unigate`.
    pub service_name: String,
    /// The share of calls traced, from 0 to 1, when the caller sent no `traceparent`; a call
    /// with one follows its sampled flag. Default 1.
    pub sample_ratio: f64,
    /// How long one export may take before it is given up. Default 10000.
    pub export_timeout_ms: u64,
}

impl Default for TracesConfig {
    fn default() -> Self {
        TracesConfig {
            otlp_endpoint: None,
            otlp_headers: HashMap::new(),
            service_name: "unigate".into(),
            sample_ratio: 1.0,
            export_timeout_ms: 10_000,
        }
    }
}

impl TracesConfig {
    /// The URL spans are POSTed to, when traces are on.
    pub fn traces_url(&self) -> Option<String> {
        let base = self.otlp_endpoint.as_deref()?.trim_end_matches('/');
        Some(if base.ends_with("/v1/traces") {
            base.to_string()
        } else {
            format!("{base}/v1/traces")
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// PostgreSQL pool size per instance. Default 16.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before answering 503. Default 5000.
    pub acquire_timeout_ms: u64,
    /// PostgreSQL `statement_timeout`. Default 10000.
    pub statement_timeout_ms: u64,
    /// PostgreSQL: keep the accounts unified calls read in memory, forgotten when the
    /// database notifies a change (`store/account_cache.rs`; a change made through another
    /// instance is seen once its notification arrives, normally well under a millisecond).
    /// SQLite: ask SQLite whether accounts changed after this instance's own writes and at
    /// most a millisecond apart otherwise (`store/sqlite/fast_reads.rs`; a change made by
    /// another process on the same file is seen within that millisecond). `false` reads the
    /// account from PostgreSQL, or asks SQLite, on every call. Default true.
    pub account_cache: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            max_connections: 16,
            acquire_timeout_ms: 5_000,
            statement_timeout_ms: 10_000,
            account_cache: true,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// TCP connect timeout to a provider. Default 5000.
    pub connect_timeout_ms: u64,
    /// Timeout of one provider request, headers and body. Default 30000.
    pub request_timeout_ms: u64,
    /// The largest provider body Unigate buffers for mapping, in bytes. Default 16 MiB.
    /// (`stream` answers are not buffered and have no such limit.)
    pub max_response_bytes: usize,
    /// The most bytes of provider answers held in memory at once, across all calls; a call
    /// whose answer does not fit is answered 503 with `Retry-After`. Counts the bodies as
    /// received (their parsed form takes a few times more). At least `max_response_bytes`.
    /// Default 256 MiB.
    pub max_buffered_bytes: usize,
    /// The most pages one `stream` list follows. Default 100000.
    pub max_stream_pages: u64,
    /// Retries of idempotent provider calls (GET, PUT, DELETE).
    pub retry: RetryConfig,
    /// Replaces the scheme, host and port of an integration's base URL, keeping its path:
    /// `{ github = "http://127.0.0.1:9001" }`. For sandboxes, tests and private mirrors.
    pub base_url_overrides: HashMap<String, String>,
    /// The longest a call waits for its account's proactive request budget
    /// (`rate_limit.budget` in an integration) before Unigate answers 429 with
    /// `Retry-After` instead. An integration's `rate_limit.budget.max_wait_ms` overrides it.
    /// Default 10000.
    pub budget_max_wait_ms: u64,
    /// An HTTP(S) proxy for every provider call and OAuth token request:
    /// `http://proxy.internal:3128`, with `user:password@` before the host if it asks for
    /// credentials. Hosts listed in `NO_PROXY` bypass it. Default: the environment's proxy
    /// (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`), if any. The proxy's host name is trusted
    /// by the private-address check (a proxy usually sits on a private network). Never
    /// logged or returned.
    #[serde(skip_serializing)]
    pub proxy: Option<SecretString>,
    /// A PEM file of certificate authorities trusted for provider connections (and OAuth
    /// token requests) besides the built-in ones (Mozilla's, from webpki-roots): the private
    /// CA of a self-hosted provider, or a TLS-inspecting egress proxy's. Read at start: a file
    /// that cannot be read or holds no usable certificate stops it, naming the file.
    pub ca_certificates: Option<PathBuf>,
}

/// The request log (`GET /request-log`): one entry per unified or proxy call, stored in
/// batches (`store::log_batches`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestLogConfig {
    /// Default true.
    pub enabled: bool,
    /// Entries older than this are deleted (hourly). Default 168 (7 days).
    pub retention_hours: u64,
    /// At most this many entries are kept per environment: the oldest beyond it are
    /// deleted every minute, a stored batch at a time (so up to one batch of 64 fewer are
    /// kept), whatever their age, so a busy gateway's log cannot outgrow its disk within the
    /// retention (an entry is about 200 bytes in SQLite: the default keeps about 200 MB per
    /// environment). 0: no cap. Default 1,000,000.
    pub max_rows_per_environment: u64,
    /// The share of successful calls (status below 400) logged, from 0 to 1: 0.1 logs one
    /// in ten, evenly spread. Failed calls are always logged. Default 1 (all).
    pub success_sample_rate: f64,
}

impl Default for RequestLogConfig {
    fn default() -> Self {
        RequestLogConfig {
            enabled: true,
            retention_hours: 168,
            max_rows_per_environment: 1_000_000,
            success_sample_rate: 1.0,
        }
    }
}

/// Outbound webhooks (`docs/webhooks.md`): how events are delivered.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Whether this instance runs a delivery worker. Default true. Events are written to
    /// the outbox either way; any instance with a worker on the same database sends them.
    pub delivery: bool,
    /// How long one attempt may take, connecting included. Default 10000.
    pub timeout_ms: u64,
    /// The waits before each retry, in seconds: one more attempt than waits in all, then
    /// the delivery is marked failed. Each wait varies by up to a fifth either way
    /// (jitter). Default Svix's: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    pub retry_schedule_secs: Vec<u64>,
    /// After this many failed attempts in a row (across deliveries), the webhook is set
    /// inactive. Default 50; 0 never.
    pub disable_after_failures: u32,
    /// Private, loopback or link-local networks webhook targets may be in (CIDR, e.g.
    /// `10.0.0.0/8`, `127.0.0.1`). Default none: such targets are refused.
    pub allowed_private_networks: Vec<String>,
    /// Accept `http://` targets (development and tests). Default false: HTTPS only.
    pub allow_http: bool,
    /// How often the worker looks for due deliveries. Default 500.
    pub poll_interval_ms: u64,
    /// Deliveries one instance sends at once. Default 16.
    pub concurrency: u32,
    /// Events whose deliveries are all finished are deleted after this. Default 72.
    pub retention_hours: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            delivery: true,
            timeout_ms: 10_000,
            retry_schedule_secs: vec![5, 300, 1800, 7200, 18_000, 36_000, 36_000],
            disable_after_failures: 50,
            allowed_private_networks: Vec::new(),
            allow_http: false,
            poll_interval_ms: 500,
            concurrency: 16,
            retention_hours: 72,
        }
    }
}

/// OAuth2 token handling and the OAuth apps of the connect flow.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// Refresh an access token this long before it expires. Default 300000 (5 minutes).
    pub refresh_margin_ms: u64,
    /// How long one instance may hold an account's refresh lock; past it (the instance
    /// crashed mid-refresh) another may take over. Default 60000.
    pub refresh_lock_ms: u64,
    /// How long a request waits for a refresh of its account running elsewhere before
    /// answering 503. Default 30000.
    pub refresh_wait_ms: u64,
    /// The OAuth app (client) registered with each provider, by integration name (`-` may
    /// be written `_`): `[oauth.apps.github] client_id = "...", client_secret = "..."`, or
    /// `UNIGATE_OAUTH__APPS__GITHUB__CLIENT_ID`. An account's own `client_id` and
    /// `client_secret` context values (client credentials) take precedence.
    pub apps: HashMap<String, OAuthApp>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthApp {
    pub client_id: String,
    #[serde(skip_serializing)]
    pub client_secret: SecretString,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            refresh_margin_ms: 300_000,
            refresh_lock_ms: 60_000,
            refresh_wait_ms: 30_000,
            apps: HashMap::new(),
        }
    }
}

impl OAuthConfig {
    /// The app configured for an integration.
    pub fn app(&self, integration: &str) -> Option<&OAuthApp> {
        self.apps
            .get(integration)
            .or_else(|| self.apps.get(&integration.replace('-', "_")))
    }
}

/// A CSP source that names an origin: `'self'`, or `http(s)://host[:port]` where the host may
/// start with `*.`. Nothing that could end the directive or add another.
fn is_frame_ancestor(origin: &str) -> bool {
    if origin == "'self'" {
        return true;
    }
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = rest.split_once(':').unwrap_or((rest, "80"));
    let host = host.strip_prefix("*.").unwrap_or(host);
    !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: None,
            data_dir: PathBuf::from("./unigate-data"),
            database_url: None,
            database: DatabaseConfig::default(),
            catalog_dir: None,
            catalog_watch_interval_ms: 1000,
            shutdown_delay_ms: 0,
            encryption_key: None,
            previous_encryption_keys: Vec::new(),
            max_request_body_bytes: 1024 * 1024,
            upstream: UpstreamConfig::default(),
            public_url: None,
            connect_frame_ancestors: Vec::new(),
            oauth: OAuthConfig::default(),
            request_log: RequestLogConfig::default(),
            webhooks: WebhooksConfig::default(),
            log_format: LogFormat::Text,
            worker_threads: None,
            traces: TracesConfig::default(),
        }
    }
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            connect_timeout_ms: 5_000,
            request_timeout_ms: 30_000,
            max_response_bytes: 16 * 1024 * 1024,
            max_buffered_bytes: 256 * 1024 * 1024,
            max_stream_pages: 100_000,
            retry: RetryConfig::default(),
            base_url_overrides: HashMap::new(),
            budget_max_wait_ms: 10_000,
            proxy: None,
            ca_certificates: None,
        }
    }
}

/// Which failures are retried: for every method, connections that never opened and
/// rate-limited answers (nothing was processed); for idempotent methods (GET, PUT, DELETE)
/// only, broken connections and provider 502/503/504 (a POST or PATCH that failed mid-way
/// might have been applied: clients make those safe to retry with `Idempotency-Key`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts in all, the first included. Default 3 (1 disables retries).
    pub max_attempts: u32,
    /// First backoff; doubles each attempt, with full jitter. Default 100.
    pub base_delay_ms: u64,
    /// Largest backoff between attempts. Default 2000.
    pub max_delay_ms: u64,
    /// The longest provider `Retry-After` Unigate waits out itself; a longer one is
    /// answered at once as 429 with that `Retry-After`. Default 5000.
    pub max_retry_after_ms: u64,
    /// The total time a call may spend on retries, from its first attempt: no retry starts
    /// whose wait would end past it. Default 10000. An integration's `retry.max_total_ms`
    /// overrides it.
    pub max_total_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            base_delay_ms: 100,
            max_delay_ms: 2_000,
            max_retry_after_ms: 5_000,
            max_total_ms: 10_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then `file` (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        // UNIGATE_CONFIG and UNIGATE_LOG belong to the command line, and UNIGATE_TOKEN to the
        // shell of a user calling the API (the sandbox suggests it): not to this struct.
        figment = figment.merge(
            Env::prefixed("UNIGATE_")
                .ignore(&["CONFIG", "LOG", "TOKEN"])
                .split("__"),
        );
        let config: Config = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// `worker_threads`, or the CPUs this process may use.
    pub fn worker_threads(&self) -> usize {
        self.worker_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.upstream.retry.max_attempts == 0 {
            return Err(ConfigError::Invalid(
                "upstream.retry.max_attempts must be at least 1".into(),
            ));
        }
        if self.upstream.request_timeout_ms == 0 || self.upstream.connect_timeout_ms == 0 {
            return Err(ConfigError::Invalid("upstream timeouts must be above 0".into()));
        }
        if self.upstream.max_buffered_bytes < self.upstream.max_response_bytes {
            return Err(ConfigError::Invalid(format!(
                "upstream.max_buffered_bytes ({}) must be at least upstream.max_response_bytes ({}): one answer of the largest size must fit",
                self.upstream.max_buffered_bytes, self.upstream.max_response_bytes
            )));
        }
        if self.worker_threads == Some(0) {
            return Err(ConfigError::Invalid("worker_threads must be at least 1".into()));
        }
        if self.max_request_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_request_body_bytes must be at least 1024".into(),
            ));
        }
        if let Some(url) = &self.database_url {
            if !["sqlite:", "postgres:", "postgresql:"]
                .iter()
                .any(|p| url.starts_with(p))
            {
                return Err(ConfigError::Invalid(format!(
                    "database_url must start with sqlite:, postgres: or postgresql:, got `{}`",
                    // Never echo a password.
                    url.split('@').next_back().unwrap_or(url)
                )));
            }
        }
        if self.database_url().starts_with("postgres") && self.encryption_key.is_none() {
            // A key generated into one instance's data directory would make the accounts
            // it seals unreadable to every other instance sharing the database.
            return Err(ConfigError::Invalid(
                "with PostgreSQL, set encryption_key (UNIGATE_ENCRYPTION_KEY, 32 bytes base64, e.g. `openssl rand -base64 32`) to the same value on every instance".into(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid("database.max_connections must be above 0".into()));
        }
        if let Some(url) = &self.public_url {
            url::Url::parse(url).map_err(|e| ConfigError::Invalid(format!("public_url: {e}")))?;
        }
        if !(0.0..=1.0).contains(&self.request_log.success_sample_rate) {
            return Err(ConfigError::Invalid(
                "request_log.success_sample_rate must be between 0 and 1".into(),
            ));
        }
        for origin in &self.connect_frame_ancestors {
            if !is_frame_ancestor(origin) {
                return Err(ConfigError::Invalid(format!(
                    "connect_frame_ancestors: `{origin}` is not an origin such as https://app.example.com, https://*.example.com or 'self'"
                )));
            }
        }
        if self.oauth.refresh_lock_ms < 1000 {
            return Err(ConfigError::Invalid(
                "oauth.refresh_lock_ms must be at least 1000".into(),
            ));
        }
        if let Some(proxy) = &self.upstream.proxy {
            // The URL may hold a password: the messages never repeat it.
            let url = url::Url::parse(proxy.expose_secret())
                .map_err(|e| ConfigError::Invalid(format!("upstream.proxy is not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(ConfigError::Invalid(
                    "upstream.proxy must be an http:// or https:// URL with a host".into(),
                ));
            }
        }
        if self.webhooks.timeout_ms == 0 || self.webhooks.poll_interval_ms == 0 || self.webhooks.concurrency == 0 {
            return Err(ConfigError::Invalid(
                "webhooks.timeout_ms, webhooks.poll_interval_ms and webhooks.concurrency must be above 0".into(),
            ));
        }
        if let Some(endpoint) = &self.traces.otlp_endpoint {
            let url = url::Url::parse(endpoint)
                .map_err(|e| ConfigError::Invalid(format!("traces.otlp_endpoint is not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(ConfigError::Invalid(
                    "traces.otlp_endpoint must be an http:// or https:// URL with a host".into(),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.traces.sample_ratio) {
            return Err(ConfigError::Invalid(format!(
                "traces.sample_ratio must be between 0 and 1, got {}",
                self.traces.sample_ratio
            )));
        }
        if self.traces.service_name.trim().is_empty() || self.traces.export_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "traces.service_name must not be empty and traces.export_timeout_ms must be above 0".into(),
            ));
        }
        for (name, url) in &self.upstream.base_url_overrides {
            url::Url::parse(url)
                .map_err(|e| ConfigError::Invalid(format!("upstream.base_url_overrides.{name}: {e}")))?;
        }
        Ok(())
    }

    /// Where this instance is reached, without a trailing `/`.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{bound}"),
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("unigate.db").display()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_file_overrides_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("unigate.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\n[upstream]\nrequest_timeout_ms = 1234\n[upstream.base_url_overrides]\ngithub = \"http://127.0.0.1:1\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&file)).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.upstream.request_timeout_ms, 1234);
        assert_eq!(c.upstream.connect_timeout_ms, 5000);
        assert_eq!(c.upstream.base_url_overrides["github"], "http://127.0.0.1:1");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("unigate.toml");
        std::fs::write(&file, "listn = \"0.0.0.0:9000\"\n").unwrap();
        assert!(Config::load(Some(&file)).unwrap_err().to_string().contains("listn"));
        std::fs::write(&file, "[upstream]\nrequest_timeout_ms = 0\n").unwrap();
        assert!(Config::load(Some(&file)).is_err());
        assert!(Config::load(Some(&dir.path().join("missing.toml"))).is_err());
    }

    #[test]
    fn worker_threads_default_to_the_cpus_this_process_may_use() {
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert_eq!(Config::default().worker_threads(), cpus);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("unigate.toml");
        std::fs::write(&file, "worker_threads = 3\n").unwrap();
        assert_eq!(Config::load(Some(&file)).unwrap().worker_threads(), 3);
        std::fs::write(&file, "worker_threads = 0\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("worker_threads must be at least 1"), "{err}");
    }

    #[test]
    fn a_proxy_must_be_an_http_url_and_its_password_is_never_repeated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("unigate.toml");
        std::fs::write(&file, "[upstream]\nproxy = \"http://u:hunter2@proxy.internal:3128\"\n").unwrap();
        let c = Config::load(Some(&file)).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        for bad in [
            "ftp://u:hunter2@proxy.internal",
            "u:hunter2@proxy.internal:3128",
            "http://",
        ] {
            std::fs::write(&file, format!("[upstream]\nproxy = \"{bad}\"\n")).unwrap();
            let err = Config::load(Some(&file)).unwrap_err().to_string();
            assert!(
                err.contains("upstream.proxy") && !err.contains("hunter2"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_encryption_key_never_prints() {
        let c = Config {
            encryption_key: Some(SecretString::from("c2VjcmV0")),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn traces_are_off_by_default_and_their_settings_are_checked() {
        assert!(Config::default().traces.traces_url().is_none());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("unigate.toml");
        std::fs::write(
            &file,
            "[traces]\notlp_endpoint = \"http://collector:4318/\"\n[traces.otlp_headers]\nx-api-key = \"hunter2\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&file)).unwrap();
        assert_eq!(c.traces.traces_url().unwrap(), "http://collector:4318/v1/traces");
        assert!(!format!("{c:?}").contains("hunter2"));
        for bad in [
            "otlp_endpoint = \"collector:4318\"",
            "sample_ratio = 1.5",
            "service_name = \" \"",
            "export_timeout_ms = 0",
        ] {
            std::fs::write(&file, format!("[traces]\n{bad}\n")).unwrap();
            let err = Config::load(Some(&file)).unwrap_err().to_string();
            assert!(err.contains("traces."), "{bad}: {err}");
        }
    }
}

//! Prometheus metrics: every family Unigate exports, defined here once, and the text that
//! `GET /metrics` answers (served by `http::metrics`; the list with labels in
//! docs/metrics.md).
//!
//! One [`Metrics`] per application, held by the state and shared with the provider client
//! and the OAuth refresher, not a process-global recorder (the `metrics` crate's design):
//! the API tests run many gateways in one process, and a global recorder would add their
//! counters together. The `prometheus` crate's `Registry` is a plain value, so each gateway
//! has its own.
//!
//! Labels are bounded by construction: an API from a fixed list, an HTTP method from a
//! fixed list, a status class, and integration and resource names that the unified
//! pipeline checked against the catalog (anything else is `unknown`). Never an account,
//! environment or tenant id, and never a path's id.
//!
//! Cost on the hot path: a call's labels are `&'static str` and the two names the pipeline
//! noted (one small copy each, no formatting); a family's lookup hashes them (FNV) under a
//! read lock and clones the series' handle.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use prometheus::{
    CounterVec, Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// The label of a call that concerns no integration (admin and meta endpoints).
pub const NONE: &str = "none";
/// The label of a name the catalog does not know, or a call that failed before it was known.
pub const UNKNOWN: &str = "unknown";

/// The Content-Type of [`Metrics::encode`]'s text (Prometheus' text format 0.0.4, which
/// `promtool check metrics` reads; prometheus-client writes only OpenMetrics, whose counter
/// families that checker rejects).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which API a call was for.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Api {
    Unified,
    Proxy,
    Admin,
    /// `POST /mcp/{token}` (its tool calls are counted again as the unified calls they make).
    Mcp,
    /// `/health`, `/ready`, `/ping`, `/metrics`, `/openapi.json`, `/docs`.
    Meta,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Unified => "unified",
            Api::Proxy => "proxy",
            Api::Admin => "admin",
            Api::Mcp => "mcp",
            Api::Meta => "meta",
        }
    }
}

/// An HTTP method as a label: the standard ones by name, anything else `other`.
pub fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `2xx`, `4xx`, ...
pub fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// Seconds, from 1 ms to 30 s: a gateway's own work is around a millisecond, a provider's
/// answer tens to hundreds, a slow list page seconds.
const SECONDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// What a database pool holds now ([`Metrics::set_pool`]).
#[derive(Debug, Clone, Copy)]
pub struct PoolUse {
    pub backend: &'static str,
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

/// Every metric of one application.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    provider_duration: HistogramVec,
    provider_errors: IntCounterVec,
    retries: IntCounterVec,
    rate_limited: IntCounterVec,
    budget_waits: IntCounterVec,
    budget_wait_seconds: CounterVec,
    budget_exhausted: IntCounterVec,
    token_refreshes: IntCounterVec,
    request_log_queue: IntGauge,
    request_log_dropped: IntCounter,
    /// Serializes scrapes' updates of `request_log_dropped` and of the account cache's
    /// lookups (counts kept elsewhere, added to the counters as differences).
    dropped_seen: Mutex<()>,
    pool: IntGaugeVec,
    account_cache: IntGaugeVec,
    account_cache_lookups: IntCounterVec,
    webhook_outbox: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Registers `metric` (the names and labels are this file's constants: an error is a bug
/// caught by the first test that builds an app).
fn registered<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    if let Err(e) = registry.register(Box::new(metric.clone())) {
        tracing::error!(error = %e, "a metric could not be registered");
    }
    metric
}

fn counters(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    match IntCounterVec::new(Opts::new(name, help), labels) {
        Ok(m) => registered(registry, m),
        Err(e) => unreachable!("invalid metric {name}: {e}"),
    }
}

fn histograms(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    match HistogramVec::new(HistogramOpts::new(name, help).buckets(SECONDS.to_vec()), labels) {
        Ok(m) => registered(registry, m),
        Err(e) => unreachable!("invalid metric {name}: {e}"),
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = match Registry::new_custom(Some("unigate".into()), None) {
            Ok(r) => r,
            Err(e) => unreachable!("a valid prefix: {e}"),
        };
        let r = &registry;
        let integration = &["integration"];
        let gauge = |name: &str, help: &str| match IntGauge::new(name, help) {
            Ok(m) => registered(r, m),
            Err(e) => unreachable!("invalid metric {name}: {e}"),
        };
        let metrics = Metrics {
            requests: counters(
                r,
                "requests_total",
                "Calls answered, by API, integration, resource, HTTP method and status class",
                &["api", "integration", "resource", "method", "status"],
            ),
            request_duration: histograms(
                r,
                "request_duration_seconds",
                "Time to answer a call, from its arrival to its answer's head, by API and integration",
                &["api", "integration"],
            ),
            provider_duration: histograms(
                r,
                "provider_request_duration_seconds",
                "Time of one attempt at a provider, until its answer's head or its failure",
                integration,
            ),
            provider_errors: counters(
                r,
                "provider_errors_total",
                "Failed provider attempts, by kind: an error status (http_4xx, http_5xx) or a failure of the exchange (timeout, connect, ...)",
                &["integration", "kind"],
            ),
            retries: counters(r, "provider_retries_total", "Provider attempts made again", integration),
            rate_limited: counters(
                r,
                "provider_rate_limited_total",
                "Provider answers that said the account is rate limited",
                integration,
            ),
            budget_waits: counters(
                r,
                "budget_waits_total",
                "Provider attempts delayed to stay within the account's request budget",
                integration,
            ),
            budget_wait_seconds: match CounterVec::new(
                Opts::new("budget_wait_seconds_total", "Time spent waiting for the account's request budget"),
                integration,
            ) {
                Ok(m) => registered(r, m),
                Err(e) => unreachable!("invalid metric: {e}"),
            },
            budget_exhausted: counters(
                r,
                "budget_exhausted_total",
                "Provider attempts refused because the account's request budget was used up",
                integration,
            ),
            token_refreshes: counters(
                r,
                "token_refreshes_total",
                "OAuth token refreshes, by outcome (success; needs_reauth: the provider refused the grant; error: the token endpoint failed)",
                &["integration", "outcome"],
            ),
            request_log_queue: gauge("request_log_queue_depth", "Request log entries waiting to be written"),
            request_log_dropped: match IntCounter::new(
                "request_log_dropped_total",
                "Request log entries dropped because the queue was full",
            ) {
                Ok(m) => registered(r, m),
                Err(e) => unreachable!("invalid metric: {e}"),
            },
            dropped_seen: Mutex::new(()),
            pool: match IntGaugeVec::new(
                Opts::new(
                    "db_pool_connections",
                    "Database connections of the pool: in_use, idle, and max (the pool's size limit)",
                ),
                &["backend", "state"],
            ) {
                Ok(m) => registered(r, m),
                Err(e) => unreachable!("invalid metric: {e}"),
            },
            account_cache: match IntGaugeVec::new(
                Opts::new(
                    "account_cache",
                    "PostgreSQL's account cache: live (1 while its change listener is connected and calls use it) and entries",
                ),
                &["state"],
            ) {
                Ok(m) => registered(r, m),
                Err(e) => unreachable!("invalid metric: {e}"),
            },
            account_cache_lookups: match IntCounterVec::new(
                Opts::new(
                    "account_cache_lookups_total",
                    "Calls' account reads while PostgreSQL's account cache was live, by result (hit, miss)",
                ),
                &["result"],
            ) {
                Ok(m) => registered(r, m),
                Err(e) => unreachable!("invalid metric: {e}"),
            },
            webhook_outbox: gauge(
                "webhook_outbox_depth",
                "Webhook deliveries pending (due or waiting for a retry)",
            ),
            registry: registry.clone(),
        };
        let build = match IntGaugeVec::new(Opts::new("build_info", "The running build (always 1)"), &["version"]) {
            Ok(m) => registered(&registry, m),
            Err(e) => unreachable!("invalid metric: {e}"),
        };
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        metrics
    }

    /// One answered call. `target` is what the pipeline noted ([`scoped`]); a call that
    /// concerns no integration (admin, meta) passes `None`, and its route's `resource`.
    pub fn record_call(
        &self,
        api: Api,
        target: Option<&Target>,
        resource: Option<&str>,
        method: &http::Method,
        status: u16,
        took: Duration,
    ) {
        let (integration, noted_resource) = match target {
            Some(t) => (
                t.integration.as_deref().unwrap_or(UNKNOWN),
                t.resource.as_deref().unwrap_or(UNKNOWN),
            ),
            None => (NONE, NONE),
        };
        let resource = resource.unwrap_or(noted_resource);
        self.request_duration
            .with_label_values(&[api.as_str(), integration])
            .observe(took.as_secs_f64());
        self.requests
            .with_label_values(&[
                api.as_str(),
                integration,
                resource,
                method_label(method),
                status_class(status),
            ])
            .inc();
    }

    /// One attempt at a provider: how long it took, and how it failed if it did (`kind`).
    pub fn record_attempt(&self, integration: &str, took: Duration, failure: Option<&'static str>) {
        if let Some(kind) = failure {
            self.provider_errors.with_label_values(&[integration, kind]).inc();
        }
        self.provider_duration
            .with_label_values(&[integration])
            .observe(took.as_secs_f64());
    }

    pub fn record_retry(&self, integration: &str) {
        self.retries.with_label_values(&[integration]).inc();
    }

    pub fn record_rate_limited(&self, integration: &str) {
        self.rate_limited.with_label_values(&[integration]).inc();
    }

    pub fn record_budget_wait(&self, integration: &str, waited: Duration) {
        self.budget_waits.with_label_values(&[integration]).inc();
        self.budget_wait_seconds
            .with_label_values(&[integration])
            .inc_by(waited.as_secs_f64());
    }

    pub fn record_budget_exhausted(&self, integration: &str) {
        self.budget_exhausted.with_label_values(&[integration]).inc();
    }

    /// `outcome`: `success`, `needs_reauth` or `error`.
    pub fn record_refresh(&self, integration: &str, outcome: &'static str) {
        self.token_refreshes.with_label_values(&[integration, outcome]).inc();
    }

    /// The request log's queue now, and how many entries it dropped since the start.
    pub fn set_request_log(&self, queued: usize, dropped: u64) {
        self.request_log_queue.set(i64::try_from(queued).unwrap_or(i64::MAX));
        let _one_at_a_time = self
            .dropped_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seen = self.request_log_dropped.get();
        self.request_log_dropped.inc_by(dropped.saturating_sub(seen));
    }

    pub fn set_pool(&self, pool: PoolUse) {
        for (state, n) in [("in_use", pool.in_use), ("idle", pool.idle), ("max", pool.max)] {
            self.pool.with_label_values(&[pool.backend, state]).set(i64::from(n));
        }
    }

    /// The account cache's state, sampled at scrape time; the lookup counters move by what
    /// the cache counted since (scrapes are serialized by `dropped_seen`).
    pub fn set_account_cache(&self, live: bool, entries: usize, hits: u64, misses: u64) {
        let _serial = self
            .dropped_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.account_cache.with_label_values(&["live"]).set(i64::from(live));
        self.account_cache
            .with_label_values(&["entries"])
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
        for (result, total) in [("hit", hits), ("miss", misses)] {
            let counter = self.account_cache_lookups.with_label_values(&[result]);
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }

    pub fn set_webhook_outbox(&self, pending: u64) {
        self.webhook_outbox.set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// Every metric in Prometheus' text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = Vec::with_capacity(16 * 1024);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            // Writing into memory fails only on a malformed family; never expected.
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The integration and resource a unified or proxy call turned out to concern, noted by the
/// pipeline once it has checked them against the catalog ([`note_integration`],
/// [`note_resource`]) and read by the middleware that counts the call ([`scoped`]).
#[derive(Debug, Default, Clone)]
pub struct Target {
    pub integration: Option<String>,
    pub resource: Option<String>,
}

tokio::task_local! {
    // A task-local, not a field threaded through every handler: the pipeline learns the
    // integration deep inside (the account's record) and may fail after it, as an `ApiError`
    // that carries no such field; the middleware runs the handler in the same task.
    static TARGET: RefCell<Target>;
}

/// Runs `call` with a [`Target`] that the pipeline can fill in; returns its output and what
/// was noted.
pub async fn scoped<F: Future>(call: F) -> (F::Output, Target) {
    TARGET
        .scope(RefCell::new(Target::default()), async move {
            let out = call.await;
            let target = TARGET.with(|t| std::mem::take(&mut *t.borrow_mut()));
            (out, target)
        })
        .await
}

/// Notes the call's integration (a catalog name); nothing outside [`scoped`].
pub fn note_integration(name: &str) {
    let _ = TARGET.try_with(|t| t.borrow_mut().integration = Some(name.to_owned()));
}

/// Notes the call's resource (a name the catalog knows); nothing outside [`scoped`].
pub fn note_resource(name: &str) {
    let _ = TARGET.try_with(|t| t.borrow_mut().resource = Some(name.to_owned()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_notes_its_target_and_nothing_leaks_outside() {
        note_integration("outside");
        let ((), target) = scoped(async {
            note_resource("users");
            tokio::task::yield_now().await;
            note_integration("github");
        })
        .await;
        assert_eq!(target.integration.as_deref(), Some("github"));
        assert_eq!(target.resource.as_deref(), Some("users"));
    }

    #[test]
    fn the_text_has_the_families_and_their_labels() {
        let m = Metrics::new();
        m.record_call(
            Api::Unified,
            Some(&Target {
                integration: Some("github".into()),
                resource: None,
            }),
            None,
            &http::Method::GET,
            200,
            Duration::from_millis(3),
        );
        let text = m.encode();
        assert!(
            text.contains(r#"unigate_requests_total{api="unified",integration="github",method="GET",resource="unknown",status="2xx"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"unigate_build_info{version=""#), "{text}");
    }
}

//! The state every handler, extractor and middleware works with, built once by `startup`.
//!
//! Its own module so that the layers that read it (`auth`, `http`, `unified`) depend on
//! what it holds, not on the code that builds and runs the server.

use std::sync::Arc;

use crate::accounts::oauth::OAuth;
use crate::catalog::overrides::OverrideCache;
use crate::catalog::Registry;
use crate::config::Config;
use crate::crypto::Keyring;
use crate::request_log::RequestLog;
use crate::store::Store;
use crate::tokens::TokenCache;
use crate::upstream::Upstream;
use crate::webhooks::{TargetPolicy, Worker};

/// Shared, immutable-after-start state of the server: one `Arc`, so the clones axum makes
/// for every extractor and middleware of a request cost one reference count, not one per
/// field.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl AppState {
    pub fn new(inner: AppStateInner) -> AppState {
        AppState(Arc::new(inner))
    }

    /// A reference that does not keep the state alive (a background task's).
    pub fn downgrade(&self) -> std::sync::Weak<AppStateInner> {
        Arc::downgrade(&self.0)
    }
}

impl AppStateInner {
    /// The catalog now (one atomic load and a reference count).
    pub fn registry(&self) -> Arc<Registry> {
        self.catalog.load_full()
    }

    /// Builds the catalog again from its sources (the built-in one, overlaid with
    /// `catalog_dir`) and swaps it in whole; on any error the running catalog stays and every
    /// error comes back. Compiled overrides are dropped with the catalog they were built on.
    pub fn reload_catalog(&self) -> Result<Arc<Registry>, crate::catalog::LoadError> {
        let fresh = Arc::new(crate::catalog::load_registry(self.config.catalog_dir.as_deref())?);
        self.catalog.store(fresh.clone());
        self.overrides.clear();
        Ok(fresh)
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

pub struct AppStateInner {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    /// The catalog in use; [`AppStateInner::registry`] gives the current one. A reload
    /// swaps it whole: a call keeps the version it took.
    pub catalog: arc_swap::ArcSwap<Registry>,
    pub keyring: Arc<Keyring>,
    pub upstream: Upstream,
    /// API token -> environment, for one second (`tokens::TokenCache`).
    pub tokens: Arc<TokenCache>,
    /// OAuth token exchange and refresh.
    pub oauth: Arc<OAuth>,
    /// Where browsers reach this instance (`Config::public_url`), without a trailing `/`.
    pub public_url: Arc<str>,
    pub request_log: Arc<RequestLog>,
    /// The webhook delivery worker of this instance.
    pub webhooks: Arc<Worker>,
    /// Which webhook target URLs are accepted (`webhooks.allowed_private_networks`, `allow_http`).
    pub webhook_targets: TargetPolicy,
    /// Environments' mapping overrides and the effective mappings compiled from them, by
    /// version (`catalog::overrides`).
    pub overrides: Arc<OverrideCache>,
    /// The accounts calls loaded, decrypted, for the next call on the same record
    /// (`accounts::Opened`).
    pub opened: crate::accounts::Opened,
    /// This application's Prometheus metrics (`GET /metrics`), shared with `upstream` and
    /// `oauth`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Set when a shutdown begins: `GET /ready` answers 503 from then on.
    pub draining: std::sync::atomic::AtomicBool,
}

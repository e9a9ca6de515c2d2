//! Building and running the application: the same function serves production and tests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use serde_json::{Map, Value};
use tokio::net::TcpListener;

use crate::catalog::{load_registry, Registry};
use crate::config::Config;
use crate::crypto::Keyring;
use crate::state::{AppState, AppStateInner};
use crate::store::postgres::{PgOptions, PgStore};
use crate::store::sqlite::{Recheck, SqliteStore};
use crate::store::{AccountFilter, Store, TokenScope};
use crate::tokens;
use crate::upstream::Upstream;

/// A sandbox account created at start.
#[derive(Debug, Clone)]
pub struct SandboxAccount {
    pub integration: String,
    pub account_id: String,
    pub example_id: Option<String>,
    /// Whether the integration supports the unified `list` of organizations.
    pub can_list: bool,
    /// The unified `list` of users, when the integration supports it: the query it needs
    /// beyond the account (`&organization_id=...`, from each required parameter's `example`).
    pub users_query: Option<String>,
    /// Every resource the integration lists ([`sandbox_lists`]).
    pub lists: Vec<SandboxList>,
}

/// A unified `list` an integration supports, and the query it needs beyond the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxList {
    pub model: String,
    pub resource: String,
    /// `&name=example` for each required parameter.
    pub query: String,
}

impl SandboxList {
    /// The curl line of this list on `account`, the token in `$UNIGATE_TOKEN`.
    pub fn curl(&self, base: &str, account: &str) -> String {
        format!(
            "curl -s -H \"Authorization: Bearer $UNIGATE_TOKEN\" '{base}/unified/{}/{}?integrated_account_id={account}{}'",
            self.model, self.resource, self.query
        )
    }
}

/// Every unified `list` an integration supports, in the models' resource order.
pub fn sandbox_lists(registry: &Registry, integration: &str) -> Vec<SandboxList> {
    let Some(i) = registry.integration(integration) else {
        return Vec::new();
    };
    registry
        .models
        .values()
        .flat_map(|m| m.config.resources.keys().map(move |r| (m, r)))
        .filter_map(|(m, r)| {
            let mapping = i.unified(&m.config.name, r, crate::catalog::types::UnifiedMethod::List)?;
            Some(SandboxList {
                model: m.config.name.clone(),
                resource: r.clone(),
                query: mapping.required_query_example(),
            })
        })
        .collect()
}

pub struct Application {
    listener: TcpListener,
    /// `metrics_listen`'s, when set: `GET /metrics` without a token.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    /// The admin token minted on the very first start (shown once, stored hashed).
    pub bootstrap_token: Option<String>,
    /// With `--sandbox`: a token for this run, and the sandbox accounts.
    pub sandbox_token: Option<String>,
    pub sandbox_accounts: Vec<SandboxAccount>,
    /// Kept alive for the lifetime of the server.
    _emulators: Vec<unigate_emulator::RunningEmulator>,
}

/// The name of the token `--sandbox` mints for each run (the previous run's is deleted).
pub const SANDBOX_TOKEN_NAME: &str = "sandbox";

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Start the provider emulators in-process and create sandbox accounts on them.
    pub sandbox: bool,
}

/// The runtime requests run on: `workers` threads, and with one, tokio's current-thread
/// runtime. A one-worker multi-thread runtime hands every wake-up to its worker through
/// shared queues; on one CPU that costs about a fifth of a unified call's CPU
/// (`bench/ANALYSIS.md`, ninth pass).
pub fn runtime(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if workers <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
}

/// The backend named by `database_url`: SQLite (default) or PostgreSQL.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let url = config.database_url();
    if url.starts_with("postgres") {
        let opts = PgOptions {
            max_connections: config.database.max_connections,
            acquire_timeout: std::time::Duration::from_millis(config.database.acquire_timeout_ms),
            statement_timeout_ms: config.database.statement_timeout_ms,
            account_cache: config.database.account_cache,
        };
        let store = PgStore::connect(&url, &opts)
            .await
            .context("cannot open the PostgreSQL database")?;
        return Ok(Arc::new(store));
    }
    let recheck = if config.database.account_cache {
        Recheck::default()
    } else {
        Recheck::Always
    };
    let store = SqliteStore::connect_with(&url, recheck)
        .await
        .context("cannot open the SQLite database")?;
    Ok(Arc::new(store))
}

impl Application {
    pub async fn build(mut config: Config, options: BuildOptions) -> anyhow::Result<Application> {
        config.validate()?;
        let registry = load_registry(config.catalog_dir.as_deref())?;
        let store = open_store(&config).await?;
        let keyring = Keyring::load(
            config.encryption_key.as_ref(),
            &config.previous_encryption_keys,
            &config.data_dir,
        )
        .context("cannot load the master key")?;

        let bootstrap_token = match store.first_environment().await? {
            Some(_) => None,
            None => {
                let env = store.create_environment("default").await?;
                let token = tokens::generate_token();
                store
                    .create_api_token(&env.id, "admin", &tokens::hash_token(&token), TokenScope::Admin)
                    .await?;
                Some(token)
            }
        };

        let mut emulators = Vec::new();
        let mut sandbox_specs = Vec::new();
        if options.sandbox {
            for (name, src) in &registry.emulators {
                let spec = unigate_emulator::EmulatorSpec::from_yaml(name, src)
                    .with_context(|| format!("invalid emulator for {name}"))?;
                let creds = spec.credentials().clone();
                let oauth_client = spec.oauth_client();
                let running = unigate_emulator::start(spec)
                    .await
                    .with_context(|| format!("cannot start the {name} emulator"))?;
                config
                    .upstream
                    .base_url_overrides
                    .insert(name.clone(), running.base_url());
                // The sandbox's OAuth apps are the ones its emulators know.
                if let Some((client_id, secret)) = oauth_client {
                    config
                        .oauth
                        .apps
                        .entry(name.clone())
                        .or_insert(crate::config::OAuthApp {
                            client_id,
                            client_secret: secret.into(),
                        });
                }
                sandbox_specs.push((name.clone(), creds, running.clone()));
                emulators.push(running);
            }
        }

        let metrics = Arc::new(crate::metrics::Metrics::new());
        let upstream = Upstream::new(config.upstream.clone())
            .map_err(anyhow::Error::from_boxed)
            .context("cannot build the HTTP client")?
            .with_budgets(store.clone())
            .with_metrics(metrics.clone());
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (metrics_listen)"))?,
            ),
            None => None,
        };
        let keyring = Arc::new(keyring);
        let oauth = Arc::new(crate::accounts::oauth::OAuth::new(
            store.clone(),
            keyring.clone(),
            upstream.clone(),
            config.oauth.clone(),
        ));
        let public_url: Arc<str> = config
            .public_url(listener.local_addr().context("cannot read the bound address")?)
            .into();
        let request_log = Arc::new(
            crate::request_log::RequestLog::start(
                store.clone(),
                config.request_log.enabled,
                config.request_log.retention_hours,
                config.request_log.max_rows_per_environment,
            )
            .with_success_sampling(config.request_log.success_sample_rate),
        );
        let webhook_targets = crate::webhooks::TargetPolicy::from_config(&config.webhooks)
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        let webhook_roots = match &config.upstream.ca_certificates {
            Some(path) => crate::upstream::client::load_ca_certificates(path).map_err(anyhow::Error::msg)?,
            None => Arc::from([]),
        };
        let webhooks = Arc::new(
            crate::webhooks::Worker::start(
                store.clone(),
                keyring.clone(),
                config.webhooks.clone(),
                webhook_targets.clone(),
                webhook_roots,
            )
            .map_err(anyhow::Error::from_boxed)
            .context("cannot build the webhook HTTP client")?,
        );
        let state = AppState::new(AppStateInner {
            webhooks,
            webhook_targets,
            request_log,
            public_url,
            config: Arc::new(config),
            store,
            catalog: arc_swap::ArcSwap::from_pointee(registry),
            keyring,
            upstream,
            tokens: Arc::default(),
            oauth,
            overrides: Arc::default(),
            opened: crate::accounts::Opened::default(),
            metrics,
            draining: std::sync::atomic::AtomicBool::new(false),
        });
        if let (Some(dir), interval @ 1..) = (&state.config.catalog_dir, state.config.catalog_watch_interval_ms) {
            tokio::spawn(watch_catalog(
                state.downgrade(),
                dir.clone(),
                std::time::Duration::from_millis(interval),
            ));
        }

        let mut sandbox_token = None;
        let mut sandbox_accounts = Vec::new();
        if options.sandbox {
            let env = state.store.first_environment().await?.context("no environment")?;
            // One sandbox token at a time: this run's replaces the last run's, so restarts
            // do not pile up admin tokens nobody holds any more.
            for old in state.store.list_api_tokens(&env.id).await? {
                if old.name == SANDBOX_TOKEN_NAME {
                    state.store.delete_api_token(&env.id, &old.id).await?;
                }
            }
            let token = tokens::generate_token();
            state
                .store
                .create_api_token(
                    &env.id,
                    SANDBOX_TOKEN_NAME,
                    &tokens::hash_token(&token),
                    TokenScope::Admin,
                )
                .await?;
            sandbox_token = Some(token);
            for (name, creds, running) in sandbox_specs {
                let account_id = ensure_sandbox_account(&state, &env.id, &name, creds).await?;
                let example_id = running
                    .collections()
                    .first()
                    .and_then(|c| running.records(c).into_iter().next())
                    .and_then(|r| example_id(&state.registry(), &name, &r));
                let lists = |resource: &str| {
                    state.registry().integration(&name).is_some_and(|i| {
                        i.unified("user-directory", resource, crate::catalog::types::UnifiedMethod::List)
                            .is_some()
                    })
                };
                let can_list = lists("organizations");
                let users_query = state.registry().integration(&name).and_then(|i| {
                    i.unified("user-directory", "users", crate::catalog::types::UnifiedMethod::List)
                        .map(|m| m.required_query_example())
                });
                sandbox_accounts.push(SandboxAccount {
                    lists: sandbox_lists(&state.registry(), &name),
                    can_list,
                    users_query,
                    integration: name,
                    account_id,
                    example_id,
                });
            }
        }

        Ok(Application {
            listener,
            metrics_listener,
            state,
            bootstrap_token,
            sandbox_token,
            sandbox_accounts,
            _emulators: emulators,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Where `metrics_listen` serves, when set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        // The scrape-only listener ends with the process; it holds no call worth draining.
        let metrics_server = self.metrics_listener.map(|listener| {
            let router = crate::http::metrics::scrape_router(self.state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            })
        });
        // First not ready (load balancers stop sending), then no new connections.
        let state = self.state.clone();
        let shutdown = async move {
            shutdown.await;
            state.draining.store(true, std::sync::atomic::Ordering::SeqCst);
            let delay = state.config.shutdown_delay_ms;
            if delay > 0 {
                tracing::info!(
                    delay_ms = delay,
                    "not ready any more; still serving until the delay ends"
                );
                tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            }
        };
        let result = crate::http::serve(crate::http::EdgeListener(self.listener), self.state.clone(), shutdown).await;
        if let Some(server) = metrics_server {
            server.abort();
        }
        // No call is running any more: what the request log still queues is written now.
        let started = std::time::Instant::now();
        self.state
            .request_log
            .flush_and_stop(std::time::Duration::from_secs(10))
            .await;
        // Sends under way finish (or are sent again later by any instance: the outbox).
        self.state.webhooks.stop(std::time::Duration::from_secs(5)).await;
        tracing::info!(
            flush_ms = started.elapsed().as_millis() as u64,
            "stopped: every call under way finished, the request log was flushed and webhook sends ended"
        );
        drop(self._emulators);
        result
    }
}

/// Reloads the catalog when a file under `dir` changes, until the server is gone. Polling
/// file times instead of OS notifications (the `notify` crate): one code path on every
/// platform and file system (containers' bind mounts, network shares), editors' save-by-rename
/// seen like any write, and a burst of writes read as one change after it settles.
async fn watch_catalog(state: std::sync::Weak<AppStateInner>, dir: std::path::PathBuf, every: std::time::Duration) {
    let look = |dir: std::path::PathBuf| async move {
        tokio::task::spawn_blocking(move || crate::catalog::fingerprint(&dir).ok())
            .await
            .ok()
            .flatten()
    };
    let mut seen = look(dir.clone()).await;
    loop {
        tokio::time::sleep(every).await;
        let now = look(dir.clone()).await;
        if now == seen {
            continue;
        }
        // Still being written: wait until two looks agree.
        tokio::time::sleep(every).await;
        let settled = look(dir.clone()).await;
        if settled != now {
            seen = None;
            continue;
        }
        seen = settled;
        let Some(state) = state.upgrade() else { return };
        match tokio::task::spawn_blocking(move || state.reload_catalog()).await {
            Ok(Ok(registry)) => tracing::info!(
                dir = %dir.display(),
                integrations = registry.integrations.len(),
                "catalog changed on disk: reloaded"
            ),
            Ok(Err(crate::catalog::LoadError::Invalid(errors))) => {
                for e in &errors {
                    tracing::error!(error = %e, "catalog change refused");
                }
                tracing::error!(dir = %dir.display(), errors = errors.len(), "catalog changed on disk but is invalid: the running catalog stays");
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "catalog changed on disk but cannot be read: the running catalog stays")
            }
            Err(e) => tracing::error!(error = %e, "catalog reload failed"),
        }
    }
}

/// The unified id of an emulator's first organization, found by running the
/// integration's own `get` mapping over the record (so no provider is special-cased).
fn example_id(registry: &Registry, integration: &str, record: &Value) -> Option<String> {
    let mapping = registry.integration(integration)?.unified(
        "user-directory",
        "organizations",
        crate::catalog::types::UnifiedMethod::Get,
    )?;
    let input = serde_json::json!({ "response": record, "before": {}, "context": {} });
    let mapped = mapping.response_mapping.as_ref()?.eval(&input).ok()??;
    match mapped.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One sandbox account per integration, reused across restarts.
async fn ensure_sandbox_account(
    state: &AppState,
    env_id: &str,
    integration_name: &str,
    creds: Map<String, Value>,
) -> anyhow::Result<String> {
    let registry = state.registry();
    let integration = registry
        .integration(integration_name)
        .with_context(|| format!("emulator {integration_name} has no integration"))?;
    let filter = AccountFilter {
        tenant_id: Some("sandbox".into()),
        integration: Some(integration_name.into()),
        status: None,
        is_sandbox: Some(true),
    };
    let existing = state.store.list_accounts(env_id, &filter, None, 1).await?;
    if let Some(a) = existing.first() {
        return Ok(a.id.clone());
    }
    let mut context = creds;
    // Required non-secret values (a tenant host, say) get a placeholder: the sandbox
    // override points the integration at the emulator whatever the host.
    for field in &integration.config.credentials.fields {
        if field.required && !context.contains_key(&field.name) {
            context.insert(field.name.clone(), Value::String("sandbox".into()));
        }
    }
    let record =
        crate::accounts::new_record(&state.keyring, integration, env_id, "sandbox", context, true).map_err(|e| {
            anyhow::anyhow!(
                "cannot create the sandbox account for {integration_name}: {}",
                e.message
            )
        })?;
    state.store.insert_account(&record).await?;
    Ok(record.id)
}

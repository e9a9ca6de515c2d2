//! The `unigate` command line. Only parsing and wiring live here; the library does the work.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use unigate::config::Config;
use unigate::startup::{self, Application, BuildOptions};
use unigate::store::TokenScope;

/// mimalloc instead of glibc's malloc: a unified call makes hundreds of small allocations
/// (JSON values, headers, mapping inputs), and glibc's were a third of its instructions
/// (`bench/ANALYSIS.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "unigate",
    version,
    about = "A self-hostable unified API gateway, wire-compatible with Truto"
)]
struct Cli {
    /// A TOML configuration file (keys as in `Config`; `UNIGATE_*` variables override it).
    #[arg(long, global = true, env = "UNIGATE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Also start the provider emulators in-process, with one sandbox account each.
        #[arg(long)]
        sandbox: bool,
        /// Address to listen on (overrides `listen`).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Data directory (overrides `data_dir`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// A catalog directory that overrides or extends the built-in catalog.
        #[arg(long)]
        catalog: Option<PathBuf>,
    },
    /// Check a catalog: every file parsed, every expression compiled, every reference resolved.
    Validate {
        /// The catalog directory (default: the built-in catalog).
        dir: Option<PathBuf>,
        /// Fail on warnings too (mapping keys the model does not have).
        #[arg(long)]
        strict: bool,
    },
    /// Print which integrations support each unified method and field, computed from the
    /// catalog (`docs/coverage.md` is its Markdown output).
    Coverage {
        /// Output format.
        #[arg(long, value_enum, default_value_t = CoverageFormat::Markdown)]
        format: CoverageFormat,
        /// A catalog directory overlaid on the built-in catalog, as for `validate`.
        dir: Option<PathBuf>,
    },
    /// Print the OpenAPI 3.1 document that `GET /openapi.json` serves.
    Openapi {
        /// Keep only the unified operations this integration supports.
        #[arg(long)]
        integration: Option<String>,
        /// A catalog directory overlaid on the built-in catalog, as for `validate`.
        dir: Option<PathBuf>,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Environments: each has its own accounts, tokens and request log.
    Environment {
        #[command(subcommand)]
        command: EnvironmentCommand,
    },
    /// Encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print a curl line for each unified list of each sandbox account (those `serve
    /// --sandbox` made), for every resource; the token is `$UNIGATE_TOKEN`.
    SandboxCurls {
        /// Only this integration's account.
        #[arg(long)]
        integration: Option<String>,
        /// Where the gateway listens (default: `listen`).
        #[arg(long)]
        base_url: Option<String>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The catalog directory the gateway runs with, if any.
        #[arg(long)]
        catalog: Option<PathBuf>,
    },
    /// Create the database if needed and apply pending migrations.
    Migrate {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CoverageFormat {
    Markdown,
    Json,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Re-seal every account's credentials under `encryption_key`, opening old values with
    /// `previous_encryption_keys`. Safe to re-run; remove the old key once it reports done.
    Rotate {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Mint a new API token and print it once.
    Create {
        #[arg(long, default_value = "cli")]
        name: String,
        /// The environment, by name or id (default: the first one, created if none exists).
        #[arg(long)]
        environment: Option<String>,
        /// `admin` (may also manage API tokens) or `api`. Default: `admin` for an
        /// environment's first token, `api` after that.
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// List an environment's API tokens: id, name, scope, creation time (never a token).
    List {
        #[arg(long)]
        environment: Option<String>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Delete an API token by id (from `token list`); running gateways refuse it within a second.
    Revoke {
        id: String,
        #[arg(long)]
        environment: Option<String>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum EnvironmentCommand {
    /// Create an environment (names are unique) and print its id.
    Create {
        name: String,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// List environments: id, name, creation time.
    List {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Delete an environment with its tokens and request log. One that still has
    /// integrated accounts is refused unless `--force` (which deletes them too).
    Delete {
        /// Name or id.
        environment: String,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

/// The environment named (by name or id), or without a name the first one (created as
/// `default` when `create_default` and there is none).
async fn find_environment(
    store: &dyn unigate::store::Store,
    name: Option<&str>,
    create_default: bool,
) -> anyhow::Result<unigate::store::Environment> {
    match name {
        Some(name) => store
            .list_environments()
            .await?
            .into_iter()
            .find(|e| e.name == name || e.id == name)
            .with_context(|| format!("no environment named `{name}` (see `unigate environment list`)")),
        None => match store.first_environment().await? {
            Some(env) => Ok(env),
            None if create_default => Ok(store.create_environment("default").await?),
            None => anyhow::bail!("no environment yet"),
        },
    }
}

/// The store of `config`, in `data_dir` when the command was given one.
async fn open_store(
    config: &mut Config,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<std::sync::Arc<dyn unigate::store::Store>> {
    if let Some(d) = data_dir {
        config.data_dir = d;
    }
    startup::open_store(config).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    let signal = tokio::select! { _ = ctrl_c => "interrupt", _ = term => "SIGTERM" };
    tracing::info!(
        signal,
        "shutting down: no new connections; waiting for the calls under way"
    );
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    let workers = config.worker_threads();
    let runtime = startup::runtime(workers)?;
    // Traces are for the server; the other commands only log.
    let traces = match &cli.command {
        Command::Serve { .. } => config.traces.clone(),
        _ => Default::default(),
    };
    let telemetry = unigate::telemetry::init(config.log_format, &traces, runtime.handle())?;
    runtime.block_on(async move {
        let result = run(cli, config, workers).await;
        telemetry.shutdown().await;
        result
    })
}

async fn run(cli: Cli, mut config: Config, workers: usize) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            sandbox,
            listen,
            data_dir,
            catalog,
        } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            if let Some(d) = data_dir {
                config.data_dir = d;
            }
            if let Some(c) = catalog {
                config.catalog_dir = Some(c);
            }
            let app = Application::build(config, BuildOptions { sandbox }).await?;
            let base = format!("http://{}", app.local_addr());
            if let Some(token) = &app.bootstrap_token {
                println!("Created the default environment. Its admin API token (shown only this once):\n\n  {token}\n");
            }
            if let Some(token) = &app.sandbox_token {
                println!("Sandbox: provider emulators are running in-process. A token for this run:\n\n  export UNIGATE_TOKEN={token}\n");
                println!("Try the unified API on each sandbox account:\n");
                for a in &app.sandbox_accounts {
                    println!("# {}", a.integration);
                    if a.can_list {
                        println!(
                            "curl -s -H \"Authorization: Bearer $UNIGATE_TOKEN\" '{base}/unified/user-directory/organizations?integrated_account_id={}'",
                            a.account_id
                        );
                    }
                    if let Some(id) = &a.example_id {
                        println!(
                            "curl -s -H \"Authorization: Bearer $UNIGATE_TOKEN\" '{base}/unified/user-directory/organizations/{id}?integrated_account_id={}'",
                            a.account_id
                        );
                    }
                    if let Some(extra) = &a.users_query {
                        println!(
                            "curl -s -H \"Authorization: Bearer $UNIGATE_TOKEN\" '{base}/unified/user-directory/users?integrated_account_id={}{extra}'",
                            a.account_id
                        );
                    }
                    let more: Vec<&str> = a
                        .lists
                        .iter()
                        .map(|l| l.resource.as_str())
                        .filter(|r| !["organizations", "users"].contains(r))
                        .collect();
                    if !more.is_empty() {
                        println!(
                            "# also {}: unigate sandbox-curls --integration {}",
                            more.join(", "),
                            a.integration
                        );
                    }
                    println!();
                }
            }
            // What the runtime itself reports, so a log reader (and the CLI test) sees the
            // runtime that was built, not the setting that asked for it.
            let runtime = tokio::runtime::Handle::current();
            let flavor = match runtime.runtime_flavor() {
                tokio::runtime::RuntimeFlavor::CurrentThread => "current_thread",
                _ => "multi_thread",
            };
            tracing::info!(
                address = %base,
                worker_threads = workers,
                runtime = flavor,
                runtime_workers = runtime.metrics().num_workers(),
                "unigate is listening"
            );
            app.run_until_stopped(shutdown_signal()).await?;
        }
        Command::SandboxCurls {
            integration,
            base_url,
            data_dir,
            catalog,
        } => {
            let registry = unigate::catalog::load_registry(catalog.as_deref())?;
            let store = open_store(&mut config, data_dir).await?;
            let env = store
                .first_environment()
                .await?
                .context("no environment yet: run `unigate serve --sandbox` first")?;
            let filter = unigate::store::AccountFilter {
                integration: integration.clone(),
                is_sandbox: Some(true),
                ..Default::default()
            };
            let accounts = store.list_accounts(&env.id, &filter, None, 1000).await?;
            if accounts.is_empty() {
                anyhow::bail!(
                    "no sandbox account{}: run `unigate serve --sandbox` with this data directory first",
                    integration.map(|i| format!(" of `{i}`")).unwrap_or_default()
                );
            }
            let base = base_url.unwrap_or_else(|| format!("http://{}", config.listen));
            for a in accounts {
                println!("# {}", a.integration);
                for list in startup::sandbox_lists(&registry, &a.integration) {
                    println!("{}", list.curl(&base, &a.id));
                }
                println!();
            }
        }
        Command::Validate { dir, strict } => {
            let (registry, warnings) = unigate::catalog::load_and_lint(dir.as_deref())?;
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            if strict && !warnings.is_empty() {
                anyhow::bail!("{} warning(s), refused with --strict", warnings.len());
            }
            println!(
                "catalog OK: {} unified model(s), {} integration(s), {} emulator(s)",
                registry.models.len(),
                registry.integrations.len(),
                registry.emulators.len()
            );
            for (name, src) in &registry.emulators {
                unigate_emulator::EmulatorSpec::from_yaml(name, src)
                    .with_context(|| format!("integrations/{name}/emulator.yaml"))?;
            }
        }
        Command::Coverage { format, dir } => {
            let registry = unigate::catalog::load_registry(dir.as_deref())?;
            let coverage = unigate::catalog::coverage::Coverage::compute(&registry);
            match format {
                CoverageFormat::Markdown => print!("{}", coverage.to_markdown()),
                CoverageFormat::Json => println!("{}", serde_json::to_string_pretty(&coverage.to_json())?),
            }
        }
        Command::Openapi { integration, dir } => {
            let registry = unigate::catalog::load_registry(dir.as_deref())?;
            if let Some(name) = integration.as_deref() {
                if registry.integration(name).is_none() {
                    anyhow::bail!("there is no integration named `{name}` in the catalog");
                }
            }
            let doc = unigate::catalog::openapi::document(&registry, integration.as_deref());
            // Written, not `println!`ed: a closed pipe (`| head`) is an error, not a panic.
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &doc)?;
            std::io::Write::write_all(&mut out, b"\n")?;
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    name,
                    environment,
                    scope,
                    data_dir,
                },
        } => {
            let store = open_store(&mut config, data_dir).await?;
            let env = find_environment(store.as_ref(), environment.as_deref(), true).await?;
            let scope = match scope.as_deref() {
                Some(s) => TokenScope::parse(s).with_context(|| format!("`--scope` is `admin` or `api`, not `{s}`"))?,
                None if store.list_api_tokens(&env.id).await?.is_empty() => TokenScope::Admin,
                None => TokenScope::Api,
            };
            let token = unigate::tokens::generate_token();
            store
                .create_api_token(&env.id, &name, &unigate::tokens::hash_token(&token), scope)
                .await?;
            println!("{token}");
        }
        Command::Token {
            command: TokenCommand::List { environment, data_dir },
        } => {
            let store = open_store(&mut config, data_dir).await?;
            if let Ok(env) = find_environment(store.as_ref(), environment.as_deref(), false).await {
                for t in store.list_api_tokens(&env.id).await? {
                    println!(
                        "{}\t{}\t{}\t{}",
                        t.id,
                        t.name,
                        t.scope.as_str(),
                        t.created_at.to_rfc3339()
                    );
                }
            }
        }
        Command::Token {
            command:
                TokenCommand::Revoke {
                    id,
                    environment,
                    data_dir,
                },
        } => {
            let store = open_store(&mut config, data_dir).await?;
            let env = find_environment(store.as_ref(), environment.as_deref(), false)
                .await
                .context("nothing to revoke")?;
            if !store.delete_api_token(&env.id, &id).await? {
                anyhow::bail!(
                    "no API token with id `{id}` in `{}` (see `unigate token list`)",
                    env.name
                );
            }
            println!("revoked {id}");
        }
        Command::Environment {
            command: EnvironmentCommand::Create { name, data_dir },
        } => {
            let store = open_store(&mut config, data_dir).await?;
            if store.list_environments().await?.iter().any(|e| e.name == name) {
                anyhow::bail!("an environment named `{name}` exists already");
            }
            let env = store.create_environment(&name).await?;
            println!("{}", env.id);
        }
        Command::Environment {
            command: EnvironmentCommand::List { data_dir },
        } => {
            let store = open_store(&mut config, data_dir).await?;
            for e in store.list_environments().await? {
                println!("{}\t{}\t{}", e.id, e.name, e.created_at.to_rfc3339());
            }
        }
        Command::Environment {
            command:
                EnvironmentCommand::Delete {
                    environment,
                    force,
                    data_dir,
                },
        } => {
            let store = open_store(&mut config, data_dir).await?;
            let env = find_environment(store.as_ref(), Some(&environment), false).await?;
            let accounts = store.count_accounts(&env.id).await?;
            if accounts > 0 && !force {
                anyhow::bail!(
                    "`{}` still has {accounts} integrated account(s); delete them first, or pass `--force` to delete them with it",
                    env.name
                );
            }
            store.delete_environment(&env.id).await?;
            println!("deleted {} ({})", env.name, env.id);
        }
        Command::Keys {
            command: KeysCommand::Rotate { data_dir },
        } => {
            let store = open_store(&mut config, data_dir).await?;
            let keyring = unigate::crypto::Keyring::load(
                config.encryption_key.as_ref(),
                &config.previous_encryption_keys,
                &config.data_dir,
            )?;
            let report = unigate::accounts::rotate_all(store.as_ref(), &keyring).await?;
            println!(
                "re-sealed {} of {} account(s) under key {}; no account needs an older key now",
                report.resealed,
                report.accounts,
                keyring.primary_key_id()
            );
            let hooks = unigate::webhooks::reseal_all(store.as_ref(), &keyring).await?;
            println!(
                "re-sealed {} of {} webhook secret(s) under key {}",
                hooks.resealed,
                hooks.webhooks,
                keyring.primary_key_id()
            );
        }
        Command::Migrate { data_dir } => {
            if let Some(d) = data_dir {
                config.data_dir = d;
            }
            startup::open_store(&config).await?;
            println!("database is up to date: {}", config.database_url());
        }
    }
    Ok(())
}

//! `unigate-emulator`: serve provider emulators from a catalog folder.
//!
//! ```text
//! unigate-emulator --catalog catalog/integrations --listen 127.0.0.1:0
//! unigate-emulator --catalog catalog/integrations --provider github --port 9001
//! ```
//!
//! Prints one `name base_url` line per started emulator, then serves until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Parser;
use unigate_emulator::{start_on, EmulatorSpec};

#[derive(Debug, Parser)]
#[command(version, about = "Serve Unigate's provider emulators")]
struct Cli {
    /// Folder with one sub-folder per provider; those with an `emulator.yaml` are served.
    #[arg(long, default_value = "catalog/integrations")]
    catalog: PathBuf,
    /// Address to bind. With port 0 every emulator gets its own free port; with a fixed port
    /// and several providers, they take consecutive ports.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve only this provider.
    #[arg(long)]
    provider: Option<String>,
    /// Port to bind (overrides the port of `--listen`).
    #[arg(long)]
    port: Option<u16>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let specs = load_specs(&cli)?;
    let mut addr = cli.listen;
    if let Some(port) = cli.port {
        addr.set_port(port);
    }
    let mut running = Vec::new();
    for (i, spec) in specs.into_iter().enumerate() {
        let mut bind = addr;
        if addr.port() != 0 {
            let offset = u16::try_from(i).context("too many providers for consecutive ports")?;
            bind.set_port(addr.port().checked_add(offset).context("port out of range")?);
        }
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot bind {bind} for {}", spec.name()))?;
        let emulator = start_on(spec, listener).await?;
        println!("{} {}", emulator.name(), emulator.base_url());
        running.push(emulator);
    }
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    for emulator in running {
        emulator.shutdown().await;
    }
    Ok(())
}

fn load_specs(cli: &Cli) -> anyhow::Result<Vec<EmulatorSpec>> {
    if let Some(provider) = &cli.provider {
        let path = cli.catalog.join(provider).join("emulator.yaml");
        return Ok(vec![EmulatorSpec::from_file(&path)?]);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&cli.catalog)
        .with_context(|| format!("cannot read catalog folder {}", cli.catalog.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.join("emulator.yaml").is_file())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        bail!("no emulator.yaml under {}", cli.catalog.display());
    }
    // Report every broken file at once rather than the first only.
    let (specs, errors): (Vec<_>, Vec<_>) = dirs
        .iter()
        .map(|d| EmulatorSpec::from_file(&d.join("emulator.yaml")))
        .partition(Result::is_ok);
    if !errors.is_empty() {
        for error in errors.into_iter().filter_map(Result::err) {
            eprintln!("error: {error}");
        }
        bail!("invalid emulator definitions");
    }
    Ok(specs.into_iter().filter_map(Result::ok).collect())
}

//! `periscope-agent --config agent.toml`: parses the command line, loads and validates the
//! config, runs the agent until Ctrl-C or SIGTERM, and reloads the sink token on SIGHUP.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use periscope_agent::Config;
use periscope_agent::sink::Credentials;

const USAGE: &str = "\
periscope-agent: tails log files and receives local OTLP, and forwards both to Periscope

usage: periscope-agent [--config PATH] [--check-config | --print-config]

  --config PATH     config file (default /etc/periscope-agent/agent.toml)
  --check-config    validate the config and exit
  --print-config    print the config with every default filled in, and exit
  --version         print the version
  --help            this text

Docs: docs/agent.md. Logging: RUST_LOG (default info).";

fn main() -> std::process::ExitCode {
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("periscope-agent: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let mut config_path = PathBuf::from("/etc/periscope-agent/agent.toml");
    let mut check = false;
    let mut print = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => config_path = args.next().context("--config needs a path")?.into(),
            "--check-config" => check = true,
            "--print-config" => print = true,
            "--version" | "-V" => {
                println!("periscope-agent {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    let config =
        Config::load(&config_path).with_context(|| format!("config {}", config_path.display()))?;
    if print {
        print!("{}", config.to_toml_redacted());
        return Ok(());
    }
    if check {
        println!("config {} is valid", config_path.display());
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let credentials = Arc::new(Credentials::new(read_token(&config)?));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // The agent is a guest on the host: two workers are plenty for its async parts
        // (file reading runs on one thread per source).
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let reload = tokio::spawn(reload_on_sighup(config_path.clone(), credentials.clone()));
        let result = periscope_agent::run::run(config, credentials, shutdown_signal()).await;
        reload.abort();
        result
    })?;
    Ok(())
}

fn read_token(config: &Config) -> anyhow::Result<Option<String>> {
    if let Some(path) = &config.sink.bearer_token_file {
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("bearer_token_file {}", path.display()))?;
        return Ok(Some(token.trim().to_string()));
    }
    Ok(config.sink.bearer_token.clone())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGTERM; only ctrl-c stops the agent");
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

/// SIGHUP re-reads the config file's sink token (a 401 / 403 pause ends with it).
async fn reload_on_sighup(config_path: PathBuf, credentials: Arc<Credentials>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        match Config::load(&config_path)
            .map_err(anyhow::Error::from)
            .and_then(|c| read_token(&c))
        {
            Ok(token) => {
                credentials.replace(token);
                tracing::info!("reloaded the sink token");
            }
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), "config reload failed; keeping the old token")
            }
        }
    }
}

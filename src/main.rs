//! The `periscope` command: parse, load config, run until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use periscope::cli::{self, Command, USAGE};
use tracing_subscriber::EnvFilter;

/// See the comment on `mimalloc` in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before any thread exists (the runtime, the log writer): see src/allocator.rs.
    periscope::allocator::keep_freed_memory_for(periscope::allocator::KEEP_FREED_MEMORY);
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("periscope: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    match cli::parse(std::env::args().skip(1))? {
        Command::Help => print!("{USAGE}"),
        Command::Version => println!("periscope {}", env!("CARGO_PKG_VERSION")),
        Command::Bench(args) => periscope::bench::main(args)?,
        Command::Demo(args) => periscope::demo::main(args)?,
        Command::Serve {
            config,
            print_config: true,
        } => print!("{}", toml::to_string(&config)?),
        Command::Serve {
            config,
            print_config: false,
        } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(periscope::run(*config, shutdown_signal()))?;
        }
    }
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM, whichever comes first.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

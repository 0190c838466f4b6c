//! Command-line parsing, by hand: a handful of flags do not justify a parser dependency's
//! build time (ripgrep's reasoning).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::config::Config;

/// Usage text for `--help`.
pub const USAGE: &str = "\
periscope: traces, logs and metrics in one binary

USAGE:
    periscope serve [OPTIONS]
    periscope demo [OPTIONS]              (see `periscope demo --help`)
    periscope bench run|gen [OPTIONS]     (see `periscope bench --help`)

OPTIONS (serve):
    --config <FILE>           TOML configuration (see docs/configuration.md)
    --data-dir <DIR>          where data is kept [default: ./data]
    --listen <IP>             listen on this IP for all three ports [default: 127.0.0.1]
    --otlp-grpc-addr <ADDR>   OTLP/gRPC listener [default: 127.0.0.1:4317]
    --otlp-http-addr <ADDR>   OTLP/HTTP listener [default: 127.0.0.1:4318]
    --http-addr <ADDR>        API listener [default: 127.0.0.1:8080]
    --print-config            print the effective configuration and exit

    -h, --help                print this help
    -V, --version             print the version

ENVIRONMENT:
    PERISCOPE_<SECTION>_<KEY>  overrides a config key, e.g. PERISCOPE_STORAGE_FLUSH_INTERVAL_SECS=10
    RUST_LOG                   log filter [default: info]
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Run the server.
    Serve {
        /// The effective configuration.
        config: Box<Config>,
        /// Print it instead of running.
        print_config: bool,
    },
    /// Simulated shop traffic to a running server; the arguments after `demo`.
    Demo(Vec<String>),
    /// Load generator and benchmark suite; the arguments after `bench`.
    Bench(Vec<String>),
    /// Print usage.
    Help,
    /// Print the version.
    Version,
}

fn value(args: &mut impl Iterator<Item = String>, flag: &str) -> anyhow::Result<String> {
    args.next().with_context(|| format!("{flag} needs a value"))
}

fn address(text: &str, flag: &str) -> anyhow::Result<SocketAddr> {
    text.parse()
        .with_context(|| format!("{flag} takes an address like 127.0.0.1:4317, got {text:?}"))
}

/// Parses arguments (without the program name) and loads the configuration.
pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Command> {
    let mut args = args.into_iter();
    let Some(subcommand) = args.next() else {
        return Ok(Command::Help);
    };
    match subcommand.as_str() {
        "-h" | "--help" | "help" => return Ok(Command::Help),
        "-V" | "--version" => return Ok(Command::Version),
        "serve" => {}
        "bench" => return Ok(Command::Bench(args.collect())),
        "demo" => return Ok(Command::Demo(args.collect())),
        other => bail!(
            "unknown command {other:?}; try `periscope serve`, `periscope demo`, `periscope bench` or `periscope --help`"
        ),
    }
    let mut config_path: Option<PathBuf> = None;
    let mut data_dir = None;
    let mut listen_ip: Option<IpAddr> = None;
    let mut grpc = None;
    let mut otlp_http = None;
    let mut http = None;
    let mut print_config = false;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--config" => config_path = Some(PathBuf::from(value(&mut args, &flag)?)),
            "--data-dir" => data_dir = Some(PathBuf::from(value(&mut args, &flag)?)),
            "--listen" => {
                let text = value(&mut args, &flag)?;
                listen_ip = Some(
                    text.parse()
                        .with_context(|| format!("--listen takes an IP address, got {text:?}"))?,
                );
            }
            "--otlp-grpc-addr" => grpc = Some(address(&value(&mut args, &flag)?, &flag)?),
            "--otlp-http-addr" => otlp_http = Some(address(&value(&mut args, &flag)?, &flag)?),
            "--http-addr" => http = Some(address(&value(&mut args, &flag)?, &flag)?),
            "--print-config" => print_config = true,
            "-h" | "--help" => return Ok(Command::Help),
            other => bail!("unknown option {other:?} for serve; see `periscope --help`"),
        }
    }
    let mut config = crate::config::load(config_path.as_deref(), std::env::vars())?;
    let server = &mut config.server;
    if let Some(ip) = listen_ip {
        server.otlp_grpc_addr.set_ip(ip);
        server.otlp_http_addr.set_ip(ip);
        server.http_addr.set_ip(ip);
    }
    if let Some(dir) = data_dir {
        server.data_dir = dir;
    }
    server.otlp_grpc_addr = grpc.unwrap_or(server.otlp_grpc_addr);
    server.otlp_http_addr = otlp_http.unwrap_or(server.otlp_http_addr);
    server.http_addr = http.unwrap_or(server.http_addr);
    config.validate()?;
    Ok(Command::Serve {
        config: Box::new(config),
        print_config,
    })
}

//! The server configuration: one TOML file, every key documented with its default
//! (docs/configuration.md), unknown keys rejected by name, `PERISCOPE_<SECTION>_<KEY>`
//! environment variables applied on top, then command-line flags, then validation.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use periscope_collector::IngestConfig;
use periscope_query::QueryConfig;
use periscope_storage::StorageConfig;
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listeners, data directory, shutdown.
    #[serde(default)]
    pub server: ServerConfig,
    /// WAL, flushing, files.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Ingest limits.
    #[serde(default)]
    pub ingest: IngestConfig,
    /// Query limits.
    #[serde(default)]
    pub query: QueryConfig,
}

/// The `[server]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Where everything is stored.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// OTLP/gRPC listener.
    #[serde(default = "default_otlp_grpc_addr")]
    pub otlp_grpc_addr: SocketAddr,
    /// OTLP/HTTP listener.
    #[serde(default = "default_otlp_http_addr")]
    pub otlp_http_addr: SocketAddr,
    /// Query API (and, later, the web UI) listener.
    #[serde(default = "default_http_addr")]
    pub http_addr: SocketAddr,
    /// Listening beyond loopback without authentication must be asked for explicitly.
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// How long a graceful shutdown may take before in-flight requests are dropped.
    #[serde(default = "default_shutdown_timeout_secs")]
    pub shutdown_timeout_secs: u64,
    /// Host names the UI/API answers to besides localhost and IP addresses (DNS-rebinding
    /// defence). A TOML list, or comma-separated in `PERISCOPE_SERVER_ALLOWED_HOSTS`.
    #[serde(default, deserialize_with = "names")]
    pub allowed_hosts: Vec<String>,
}

/// A list of names, or one comma-separated string (what an environment variable can hold).
fn names<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Names::deserialize(deserializer)? {
        Names::List(list) => list,
        Names::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}
fn default_otlp_grpc_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4317))
}
fn default_otlp_http_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4318))
}
fn default_http_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_shutdown_timeout_secs() -> u64 {
    30
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data_dir: default_data_dir(),
            otlp_grpc_addr: default_otlp_grpc_addr(),
            otlp_http_addr: default_otlp_http_addr(),
            http_addr: default_http_addr(),
            allow_unauthenticated: false,
            shutdown_timeout_secs: default_shutdown_timeout_secs(),
            allowed_hosts: Vec::new(),
        }
    }
}

const SECTIONS: [&str; 4] = ["server", "storage", "ingest", "query"];

/// Reads `PERISCOPE_<SECTION>_<KEY>=value` into the TOML table (numbers, booleans and
/// strings as TOML would read them). `<SECTION>` is server, storage, ingest or query; an
/// unknown `<KEY>` is then rejected by name like one in the file.
fn apply_env(
    table: &mut toml::Table,
    vars: impl Iterator<Item = (String, String)>,
) -> anyhow::Result<()> {
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("PERISCOPE_") else {
            continue;
        };
        let lower = rest.to_ascii_lowercase();
        // Other PERISCOPE_ variables (PERISCOPE_TEST_SEED, …) are not configuration.
        let Some((section, key)) = lower.split_once('_') else {
            continue;
        };
        if !SECTIONS.contains(&section) {
            continue;
        }
        let parsed = value
            .parse::<i64>()
            .map(toml::Value::Integer)
            .or_else(|_| value.parse::<f64>().map(toml::Value::Float))
            .or_else(|_| value.parse::<bool>().map(toml::Value::Boolean))
            .unwrap_or_else(|_| toml::Value::String(value.clone()));
        let section_table = table
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(section_table) = section_table else {
            bail!("config section [{section}] is not a table");
        };
        section_table.insert(key.to_string(), parsed);
    }
    Ok(())
}

/// Loads the file (if any) and the environment; `vars` is `std::env::vars()` in production.
pub fn load(
    path: Option<&std::path::Path>,
    vars: impl Iterator<Item = (String, String)>,
) -> anyhow::Result<Config> {
    let mut table = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            text.parse::<toml::Table>()
                .with_context(|| format!("config file {} is not valid TOML", path.display()))?
        }
        None => toml::Table::new(),
    };
    apply_env(&mut table, vars)?;
    let config: Config = toml::Value::Table(table)
        .try_into()
        .map_err(|err: toml::de::Error| {
            anyhow::anyhow!("invalid configuration: {}", err.message())
        })?;
    Ok(config)
}

impl Config {
    /// Checks every section; messages name the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.storage.validate()?;
        self.ingest.validate()?;
        self.query.validate()?;
        let server = &self.server;
        let addresses = [
            ("server.otlp_grpc_addr", server.otlp_grpc_addr),
            ("server.otlp_http_addr", server.otlp_http_addr),
            ("server.http_addr", server.http_addr),
        ];
        for (key, address) in addresses {
            if !address.ip().is_loopback() && !server.allow_unauthenticated {
                bail!(
                    "{key} = {address} is not a loopback address and Periscope has no authentication yet; \
                     set server.allow_unauthenticated = true to listen there anyway"
                );
            }
        }
        if server.shutdown_timeout_secs == 0 {
            bail!("server.shutdown_timeout_secs must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn defaults_are_valid() {
        let config = load(None, vars(&[])).unwrap();
        config.validate().unwrap();
        assert_eq!(config.server.otlp_grpc_addr.port(), 4317);
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "[storage]\nflush_intervall_secs = 3\n").unwrap();
        let err = load(Some(&path), vars(&[])).unwrap_err().to_string();
        assert!(err.contains("flush_intervall_secs"), "{err}");
    }

    #[test]
    fn allowed_hosts_come_as_a_list_or_comma_separated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "[server]\nallowed_hosts = [\"a.example\"]\n").unwrap();
        let config = load(Some(&path), vars(&[])).unwrap();
        assert_eq!(config.server.allowed_hosts, ["a.example"]);
        let config = load(
            Some(&path),
            vars(&[("PERISCOPE_SERVER_ALLOWED_HOSTS", "b.example, c.example")]),
        )
        .unwrap();
        assert_eq!(config.server.allowed_hosts, ["b.example", "c.example"]);
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "[storage]\nflush_interval_secs = 3\n").unwrap();
        let config = load(
            Some(&path),
            vars(&[
                ("PERISCOPE_STORAGE_FLUSH_INTERVAL_SECS", "9"),
                ("PERISCOPE_SERVER_DATA_DIR", "/tmp/x"),
            ]),
        )
        .unwrap();
        assert_eq!(config.storage.flush_interval_secs, 9);
        assert_eq!(config.server.data_dir, PathBuf::from("/tmp/x"));
        let err = load(None, vars(&[("PERISCOPE_STORAGE_NOPE", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
        assert!(load(None, vars(&[("PERISCOPE_TEST_SEED", "1")])).is_ok());
    }

    #[test]
    fn bad_values_and_public_binds_are_refused() {
        let config = load(
            None,
            vars(&[("PERISCOPE_STORAGE_PARQUET_ZSTD_LEVEL", "99")]),
        )
        .unwrap();
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("parquet_zstd_level")
        );
        let config = load(
            None,
            vars(&[("PERISCOPE_SERVER_HTTP_ADDR", "0.0.0.0:8080")]),
        )
        .unwrap();
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("server.http_addr")
        );
    }
}
